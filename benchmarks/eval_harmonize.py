"""Evaluate studio's painterly harmonization on the paper's cases in ../shared/harmonization.

For each case N (N_target.jpg, N_naive.jpg, N_c_mask.jpg, N_c_mask_dilated.jpg, N_paper.png) it
runs studio, writes a side-by-side sheet ``N_sheet.jpg`` (naive | studio | paper) and the result
``N_studio.png`` to --out, and prints, for the naive composite, studio's result and the paper's:
the style distance between the pasted region and the rest of the painting, the content distance
to the naive composite inside the mask, the seam measure along the mask border (see
studio.engines.harmonize.metrics; lower is better for each), and studio's time. The figures are computed
with the network the run optimises unless --judge names another: a figure from the network the engine
optimises flatters it, so --judge vgg16-lpips (the ImageNet VGG16, which harmonization never runs on) is the
fairer one for comparing runs.

    .venv/bin/python benchmarks/eval_harmonize.py --out /tmp/harmonize-eval [--size 0] [--mode dph]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.engines.events import Finished, Info, Progress  # noqa: E402
from studio.engines.harmonize.metrics import HarmonizeScorer  # noqa: E402
from studio.engines.harmonize.params import MODES, HarmonizeParams  # noqa: E402
from studio.engines.harmonize.run import run_harmonize  # noqa: E402
from studio.image_save import save_image  # noqa: E402
from studio.imageio import load_image  # noqa: E402
from studio.weights import load_feature_network  # noqa: E402

DEFAULT_SHARED = ROOT.parent / "shared" / "harmonization"
#: the style strength the paper's (unpublished) painting classifier gave each case, as listed in
#: data/wikiart_output.txt of luanfujun/deep-painterly-harmonization; used unless --tau is given
PAPER_TAU = {"3": 5.498, "10": 1.340, "12": 7.319, "14": 1.295, "19": 1.003, "24": 4.801, "27": 5.001, "31": 4.984}


def find_cases(folder: Path) -> list[str]:
    names = sorted({p.name.split("_")[0] for p in folder.glob("*_target.jpg")}, key=lambda s: int(s) if s.isdigit()
                   else 0)
    return [n for n in names if all((folder / f"{n}_{s}").is_file() for s in ("naive.jpg", "c_mask.jpg"))]


def _mask(path: Path) -> np.ndarray:
    return load_image(path).rgb.mean(axis=2).astype(np.float32)


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8).copy()
    cv2.putText(out, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(out, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def sheet(panels: list[tuple[str, np.ndarray]], height: int = 512) -> np.ndarray:
    row = []
    for name, img in panels:
        k = height / img.shape[0]
        r = cv2.resize(img, (round(img.shape[1] * k), height), interpolation=cv2.INTER_AREA)
        row.append(_label(r, name))
        row.append(np.full((height, 6, 3), 255, np.uint8))
    return np.hstack(row[:-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="folder with the cases")
    ap.add_argument("--out", type=Path, required=True, help="folder for the sheets and results")
    ap.add_argument("--cases", help="comma-separated case numbers (default: all)")
    ap.add_argument("--mode", choices=MODES, default="dph")
    ap.add_argument("--size", type=int, default=0, help="long side the engine works at (0: the painting's own)")
    ap.add_argument("--tau", type=float, default=None)
    ap.add_argument("--tau-scale", type=float, default=1.0,
                    help="multiply each case's tau by this (1): does studio's strength scale match the paper's?")
    ap.add_argument("--pass1-iterations", type=int, default=None)
    ap.add_argument("--pass2-iterations", type=int, default=None)
    ap.add_argument("--gatys-iterations", type=int, default=None)
    ap.add_argument("--pass2-init", choices=["composite", "pass1"], default=None)
    ap.add_argument("--tv-factor", type=float, default=None, help="scale of the paper's pass-2 TV weight")
    ap.add_argument("--weights", default="auto")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    ap.add_argument("--score-size", type=int, default=512, help="long side the figures are computed at")
    ap.add_argument("--judge", default=None,
                    help="the network the figures are computed with (default: the one the run optimises)")
    args = ap.parse_args(argv)

    if not 0 < args.tau_scale <= 100:
        print(f"--tau-scale {args.tau_scale:g} is out of range: give a number above 0 and at most 100", file=sys.stderr)
        return 2
    if not args.shared.is_dir():
        print(f"no cases: {args.shared} does not exist", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    cases = args.cases.split(",") if args.cases else find_cases(args.shared)
    changes = {k: getattr(args, k) for k in ("pass1_iterations", "pass2_iterations", "gatys_iterations",
                                             "pass2_init", "tv_factor") if getattr(args, k) is not None}
    params = HarmonizeParams(mode=args.mode, size=args.size, weights=args.weights, device=args.device, **changes)
    # the network the app and the CLI run harmonization on: for auto, VGG16-hed first (AUTO_FIRST), not the
    # style runs' default
    device = "cpu" if args.device == "auto" and not torch.cuda.is_available() else (
        "cuda" if args.device == "auto" else args.device)
    net = load_feature_network(args.weights, device, first=HarmonizeParams.AUTO_FIRST)
    judge = load_feature_network(args.judge, device) if args.judge else net
    tau_text = f"{args.tau:g}" if args.tau is not None else "the paper's per case"
    if args.tau_scale != 1:
        tau_text += f" x {args.tau_scale:g}"
    print(f"mode {params.mode}, size {params.size}, tau {tau_text}, iterations {params.pass1_iterations}+"
          f"{params.pass2_iterations}, tv factor {params.tv_factor:g}, network {net.source}, judge {judge.source}, "
          f"threads {args.threads}")
    header = f"{'case':>4} {'image':>6} {'style':>8} {'content':>8} {'seam':>6} {'time':>7}"
    print(header)
    rows: dict[str, list[list[float]]] = {"naive": [], "studio": [], "paper": []}
    for n in cases:
        d = args.shared
        painting = load_image(d / f"{n}_target.jpg").rgb
        naive = load_image(d / f"{n}_naive.jpg").rgb
        tight = _mask(d / f"{n}_c_mask.jpg")
        loose_path = d / f"{n}_c_mask_dilated.jpg"
        loose = _mask(loose_path) if loose_path.is_file() else None
        paper_path = d / f"{n}_paper.png"
        paper = load_image(paper_path).rgb if paper_path.is_file() else None
        if paper is not None and paper.shape != painting.shape:
            paper = np.clip(cv2.resize(paper, (painting.shape[1], painting.shape[0]), interpolation=cv2.INTER_AREA),
                            0, 1)
        tau = (args.tau if args.tau is not None else PAPER_TAU.get(n, params.tau)) * args.tau_scale
        t0 = time.perf_counter()
        result: Finished | None = None
        for ev in run_harmonize(painting, naive, tight, loose, params.with_changes(tau=tau), network=net):
            if isinstance(ev, Finished):
                result = ev
            elif isinstance(ev, Info) and ev.message.startswith("Pass 2"):
                print(f"     tau {tau:g}; {ev.message}", flush=True)
            elif isinstance(ev, Progress) and ev.iteration == 1:
                print(f"     first iteration {ev.elapsed_s:.1f} s, ETA {ev.eta_s or 0:.0f} s", flush=True)
        seconds = time.perf_counter() - t0
        assert result is not None
        save_image(args.out / f"{n}_studio.png", result.image)
        if "pass1" in result.extra:
            save_image(args.out / f"{n}_pass1.jpg", result.extra["pass1"])
        scorer = HarmonizeScorer(judge, naive, tight, size=args.score_size)
        panels = [("naive", naive), (f"studio {params.mode}", result.image)]
        images = [("naive", naive, None), ("studio", result.image, seconds)]
        if paper is not None:
            panels.append(("paper", paper))
            images.append(("paper", paper, None))
        cv2.imwrite(str(args.out / f"{n}_sheet.jpg"), cv2.cvtColor(sheet(panels), cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
        for name, img, secs in images:
            s = scorer.score(img)
            rows[name].append([s["style"], s["content"], s["seam"]])
            t = f"{secs:6.0f}s" if secs is not None else ""
            print(f"{n:>4} {name:>6} {s['style']:8.4f} {s['content']:8.4f} {s['seam']:6.2f} {t:>7}", flush=True)
    # peak memory of this process (run one case a process for per-case figures)
    print(f"peak memory (max RSS) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GB")
    print("mean over cases (style, content, seam):")
    for name, r in rows.items():
        if r:
            m = np.nanmean(np.array(r), axis=0)
            print(f"     {name:>6} {m[0]:8.4f} {m[1]:8.4f} {m[2]:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
