"""Print size: peak memory and time of a style run against its size, tiled and in one pass, and the seam.

    python benchmarks/bench_tiles.py [--sizes 1024,2048,3000,4000] [--one-pass-up-to 2048] [--out bench-out]

Each measurement runs in a fresh process (so its peak resident memory is its own): a single-scale run of
``--iterations`` L-BFGS iterations at that long side (4:3, Tübingen x The Starry Night from ../shared, else
the demo pair), in the tiles the engine takes for a picture too large for one pass (at every size, so
the ratio is measured where both fit) and forced to one pass (``tile`` 8192) where that fits.
It prints the peak memory, the seconds an evaluation takes per megapixel, their ratio tiled / one pass
measured in the same run, the number of tiles, and the L-BFGS history the run keeps (measured after only a few
steps, so the memory the rest of the history will take is printed beside it).

The seam measure: one tiled and one single-pass evaluation of the same picture (at the largest size both
fit); the gradient's difference next to the tile borders against its difference inside the tiles, and the
relative difference of the two gradients (float rounding alone is about 1e-5).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from studio.engines.events import Finished, Info, Progress
from studio.engines.pixels import resize_long_side
from studio.engines.style.objective import Objective
from studio.engines.style.params import StyleParams
from studio.engines.style.run import image_tensor, run_style
from studio.imageio import load_image
from studio.weights import load_feature_network

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "images"


def _pair() -> tuple[np.ndarray, np.ndarray]:
    c, s = SHARED / "content" / "tubingen.jpg", SHARED / "style" / "starry_night.jpg"
    if c.exists() and s.exists():
        return load_image(c).rgb, load_image(s).rgb
    from studio.demo import demo_content, demo_style

    return demo_content(), demo_style()


def _photo(side: int) -> np.ndarray:
    """The photo at ``side`` on its long side, 4:3 (an upscale past the file's own size, as a print is)."""
    import cv2

    content, _ = _pair()
    h = side * 3 // 4
    return cv2.resize(content, (side, h), interpolation=cv2.INTER_CUBIC).clip(0, 1).astype(np.float32)


def child(side: int, tile: int, iterations: int) -> dict[str, float | int | str]:
    """One measurement in this process."""
    torch.set_num_threads(torch.get_num_threads())
    net = load_feature_network("auto")
    content = _photo(side)
    _, style = _pair()
    if tile < 0:  # the tiles the engine takes for a picture too large for one pass, at any size
        from studio.engines.style.tiles import core_side_for, free_memory, geometry

        tile = core_side_for(free_memory(torch.device("cpu")), geometry(net, ["relu4_2", "relu5_1"]))
    params = StyleParams(size=side, scales=1, iterations=iterations, tile=tile, preview_every=10**6)
    times: list[float] = []
    tiles, history, half = 1, 50, False
    last = time.perf_counter()
    evals = 0
    for ev in run_style(content, [style], params, network=net):
        if isinstance(ev, Info) and "tiles" in ev.fields:
            tiles = int(ev.fields["tiles"])
        if isinstance(ev, Info) and "history" in ev.fields:
            history = int(ev.fields["history"])
            half = ev.fields.get("history_precision") == "float16"
        if isinstance(ev, Progress):
            now = time.perf_counter()
            times.append(now - last)
            last = now
        if isinstance(ev, Finished):
            evals = ev.iterations
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    h, w = content.shape[:2]
    numel = 3 * h * w
    # seconds an evaluation takes: time a few more outside L-BFGS (its iterations take varying evaluations)
    objective = Objective(net, image_tensor(content, torch.device("cpu")),
                          [image_tensor(resize_long_side(style, side), torch.device("cpu"))], params,
                          core_side=None if tile >= 8192 else _core(params, net, (h, w)))
    x = image_tensor(content, torch.device("cpu"))
    objective.evaluate(x)
    t0 = time.perf_counter()
    objective.evaluate(x)
    per_eval = time.perf_counter() - t0
    stored = min(history, max(0, evals))  # steps L-BFGS holds after this short run (allocated as they fill)
    return {"side": side, "tile": tile, "w": w, "h": h, "peak_gb": peak / 1024**3, "tiles": tiles,
            "history": history, "history_precision": "float16" if half else "float32",
            "history_left_gb": (history - stored) * (4 if half else 8) * numel / 1024**3,
            "s_per_eval_per_mp": per_eval / (h * w / 1e6), "iterations": evals}


def _core(params: StyleParams, net, hw: tuple[int, int]) -> int | None:
    from studio.engines.style.run import _deepest_layers
    from studio.engines.style.tiles import geometry, tile_side

    return tile_side(hw, params.tile, torch.device("cpu"), geometry(net, _deepest_layers(params)))


def seam(side: int) -> dict[str, float]:
    """The tiled gradient against the single pass's, next to the tile borders and inside the tiles."""
    net = load_feature_network("auto")
    content = _photo(side)
    _, style = _pair()
    params = StyleParams(size=side)
    cpu = torch.device("cpu")
    c = image_tensor(content, cpu)
    s = image_tensor(resize_long_side(style, side), cpu)
    x = (c + 0.05 * torch.randn(c.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    core = max(128, side // 3 // 16 * 16)
    tiled = Objective(net, c, [s], params, core_side=core)
    one = Objective(net, c, [s], params)
    _, g_tiled, _ = tiled.evaluate(x)
    _, g_one, _ = one.evaluate(x)
    d = (g_tiled - g_one).abs()[0].sum(0).numpy()
    ref = g_one.abs()[0].sum(0).numpy()
    border = np.zeros(d.shape, bool)
    assert tiled.tiles is not None
    for t in tiled.tiles:
        y0, y1, x0, x1 = t.core
        for y in (y0, y1):
            border[max(0, y - 2):y + 2, x0:x1] = True
        for xx in (x0, x1):
            border[y0:y1, max(0, xx - 2):xx + 2] = True
    return {"side": side, "tiles": len(tiled.tiles), "core": core,
            "relative_difference": float(d.sum() / ref.sum()),
            "border_difference": float(d[border].mean() / ref[border].mean()),
            "interior_difference": float(d[~border].mean() / ref[~border].mean())}


def _spawn(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"rc {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1024,2048,3000,4000")
    ap.add_argument("--one-pass-up-to", type=int, default=2048, help="largest side also run in one pass")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--seam-side", type=int, default=1024)
    ap.add_argument("--child", nargs=3, type=int, metavar=("SIDE", "TILE", "ITERATIONS"), help=argparse.SUPPRESS)
    ap.add_argument("--seam", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(*a.child)))
        return
    if a.seam:
        print(json.dumps(seam(a.seam)))
        return
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'size':>10} {'mode':>8} {'tiles':>5} {'peak GB':>8} {'+history GB':>11} {'s/eval/MP':>9} {'history':>7}")
    per_mp: dict[tuple[int, str], float] = {}
    for side in (int(v) for v in a.sizes.split(",")):
        modes = [("tiled", -1)] + ([("one pass", 8192)] if side <= a.one_pass_up_to else [])
        for name, tile in modes:
            r = _spawn("--child", str(side), str(tile), str(a.iterations))
            if "error" in r:
                print(f"{side:>10} {name:>8}  failed: {r['error']}")
                continue
            per_mp[(side, name)] = float(r["s_per_eval_per_mp"])
            print(f"{r['w']}x{r['h']:<5} {name:>8} {r['tiles']:>5} {r['peak_gb']:>8.2f} {r['history_left_gb']:>11.2f} "
                  f"{r['s_per_eval_per_mp']:>9.2f} {r['history']:>7} {r['history_precision']}", flush=True)
        if (side, "tiled") in per_mp and (side, "one pass") in per_mp:
            print(f"{'':>10} time per megapixel, tiled / one pass: "
                  f"{per_mp[(side, 'tiled')] / per_mp[(side, 'one pass')]:.2f}", flush=True)
    if a.seam_side:
        r = _spawn("--seam", str(a.seam_side))
        print(f"seam at {a.seam_side} px: {r}")


if __name__ == "__main__":
    main()
