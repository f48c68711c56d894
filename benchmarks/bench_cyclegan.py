"""CycleGAN engine benchmark: generator speed against the machine's matmul rate, tiled vs untiled
agreement, and memory when translating a 4000 px image in tiles.

    python benchmarks/bench_cyclegan.py [--model PATH] [--threads 1] [--size 512] [--rounds 3] [--big 4000]

Speed: seconds per megapixel of the official-size generator (ngf 64, 9 blocks) and of the model given
(default: studio's shipped translator), and FLOP/s as a fraction of an n x n float32 matmul measured
alternately in the same run (the machine is shared and noisy: best of several rounds each).
Tiles: the same photo translated whole and in tiles (512 px, 64 px overlap), with instance-norm statistics
of the whole image (studio's default) or of each tile: mean/max absolute difference over the image, inside
16 px bands around the tile seams, and elsewhere (0-255 scale).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from studio.cyclegan_catalogue import default_model_path
from studio.engines.cyclegan.infer import forward_any_size, tile_starts, translate
from studio.engines.cyclegan.io import load_generator
from studio.engines.cyclegan.models import ResnetGenerator
from studio.engines.cyclegan.params import TranslateParams
from studio.engines.pixels import resize_long_side
from studio.imageio import load_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_style import matmul_rate  # noqa: E402  (the same matmul yardstick as the style benchmark)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "images"


def forward_time(net: ResnetGenerator, h: int, w: int) -> float:
    x = torch.rand(1, 3, h, w) * 2 - 1
    forward_any_size(net, x)
    t = time.perf_counter()
    forward_any_size(net, x)
    return time.perf_counter() - t


def speed(label: str, net: ResnetGenerator, size: int, rounds: int) -> None:
    flop = net.flops(size, size)
    times, rates = [], []
    for _ in range(rounds):  # alternate, so both see the same machine load
        rates.append(matmul_rate())
        times.append(forward_time(net, size, size))
    t, r = min(times), max(rates)
    mp = size * size / 1e6
    print(f"{label}: {size}x{size} forward {t:.2f} s = {t / mp:.2f} s/MP; {flop / 1e9:.1f} GFLOP -> "
          f"{flop / t / 1e9:.1f} GFLOP/s = {flop / t / r:.0%} of the matmul rate ({r / 1e9:.1f} GFLOP/s)")


def seam_mask(h: int, w: int, tile: int, overlap: int, band: int = 8) -> np.ndarray:
    m = np.zeros((h, w), bool)
    for starts, size, axis in ((tile_starts(h, tile, overlap), h, 0), (tile_starts(w, tile, overlap), w, 1)):
        for s in starts[1:]:
            for edge in (s, min(size, s + overlap)):  # the tile's first pixel and the end of the blend ramp
                lo, hi = max(0, edge - band), min(size, edge + band)
                if axis == 0:
                    m[lo:hi] = True
                else:
                    m[:, lo:hi] = True
    return m


def tiles(net: ResnetGenerator, img: np.ndarray, tile: int, overlap: int) -> None:
    h, w = img.shape[:2]
    t = time.perf_counter()
    whole = translate(net, img, TranslateParams(tile=0))
    t_whole = time.perf_counter() - t
    seams = seam_mask(h, w, tile, overlap)
    print(f"tiled vs whole on {w}x{h}, tile {tile}, overlap {overlap} (whole image: {t_whole:.1f} s); "
          "abs difference in 0-255 units:")
    for label, params in (("whole-image stats", TranslateParams(tile=tile, overlap=overlap)),
                          ("stats on a 512 px copy", TranslateParams(tile=tile, overlap=overlap, stats_side=512)),
                          ("per-tile stats", TranslateParams(tile=tile, overlap=overlap, norm_stats="tile"))):
        t = time.perf_counter()
        out = translate(net, img, params)
        dt = time.perf_counter() - t
        d = np.abs(out - whole).mean(axis=2) * 255
        print(f"  {label:24s} mean {d.mean():5.2f} max {d.max():6.1f} | seam bands mean {d[seams].mean():5.2f} "
              f"p99 {np.percentile(d[seams], 99):5.1f} | elsewhere mean {d[~seams].mean():5.2f} "
              f"p99 {np.percentile(d[~seams], 99):5.1f} | {dt:.1f} s")


def big(net: ResnetGenerator, side: int) -> None:
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rng = np.random.default_rng(0)
    small = rng.random((side // 64, side * 3 // 4 // 64, 3)).astype(np.float32)
    img = cv2.resize(small, (side, side * 3 // 4), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    t = time.perf_counter()
    out = translate(net, img, TranslateParams(tile=512, overlap=64))
    dt = time.perf_counter() - t
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{side}x{side * 3 // 4} in 512 px tiles: {dt:.1f} s ({dt / (img.shape[0] * img.shape[1] / 1e6):.2f} s/MP), "
          f"peak RSS {rss1:.0f} MiB (before: {rss0:.0f} MiB; the image itself is "
          f"{img.nbytes / 2**20:.0f} MiB as float32), output {out.shape}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="generator .pth (default: studio's shipped translator)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tile-image", type=int, default=1024, help="long side of the photo for the tile comparison")
    ap.add_argument("--big", type=int, default=4000, help="side of the bounded-memory run (0: skip)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    path = Path(args.model) if args.model else default_model_path()
    net = load_generator(path) if path.is_file() else None
    speed("official size (ngf 64, 9 blocks)", ResnetGenerator().eval(), args.size, args.rounds)
    if net is not None:
        speed(f"{path.name} (ngf {net.ngf}, {net.n_blocks} blocks)", net.eval(), args.size, args.rounds)
    else:
        print(f"no model at {path}; the tile figures use a randomly initialised small generator", file=sys.stderr)
        torch.manual_seed(0)
        net = ResnetGenerator(ngf=32, n_blocks=6).eval()
    photo = SHARED / "content" / "tubingen.jpg"
    if photo.is_file():
        img = resize_long_side(load_image(photo).rgb, args.tile_image)
    else:
        import skimage.data

        img = resize_long_side(skimage.data.astronaut().astype(np.float32) / 255, args.tile_image)
    tiles(net, img, 512, 64)
    tiles(net, img, 256, 64)
    if args.big:
        big(net, args.big)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
