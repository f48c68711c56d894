"""Style engine benchmark: speed against the machine's matmul rate, first preview, and
quality at equal wall-clock time against a plain single-scale L-BFGS run.

    python benchmarks/bench_style.py [--size 512] [--budgets 60,180] [--out bench-out]

Prints figures measured in this one run (the machine is shared and noisy, so ratios are
taken against rates measured alternately in the same run). Uses ../shared/images when
present (tubingen + starry night), else the embedded demo pair.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from studio.engines.cpu_memory import keep_large_blocks
from studio.engines.events import Finished, Progress
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.pixels import resize_long_side
from studio.engines.style.metrics import StyleScorer
from studio.engines.style.params import StyleParams
from studio.engines.style.run import Objective, image_tensor, run_style
from studio.image_save import save_image
from studio.imageio import load_image
from studio.weights import load_feature_network

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "images"


def matmul_rate(n: int = 2048, reps: int = 3) -> float:
    """float32 FLOP/s of one n x n matmul, best of ``reps``."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def eval_time(objective: Objective, x: torch.Tensor) -> float:
    """Seconds for one loss evaluation as the engine makes it: the network's forward pass, the
    content and Gram losses, and the input gradient."""

    def once() -> None:
        x.grad = None
        loss, _ = objective(x)
        loss.backward()

    once()
    t = time.perf_counter()
    once()
    return time.perf_counter() - t


def speed(net: FeatureNetwork, content: np.ndarray, style: np.ndarray, rounds: int) -> None:
    keep_large_blocks()  # as run_style does on the CPU
    h, w = content.shape[:2]
    params = StyleParams(size=max(h, w))
    objective = Objective(net, image_tensor(content, torch.device("cpu")),
                          [image_tensor(resize_long_side(style, max(h, w)), torch.device("cpu"))], params)
    x = image_tensor(content, torch.device("cpu")).requires_grad_(True)
    flop = 2 * net.flops(h, w, objective.layers)  # forward + input gradient (parameters are frozen)
    evals, direct, rates = [], [], []
    bank = net.conv_bank
    for _ in range(rounds):  # alternate, so all three see the same machine load
        rates.append(matmul_rate())
        evals.append(eval_time(objective, x))
        bank.winograd = False
        try:
            direct.append(eval_time(objective, x))
        finally:
            bank.winograd = True
    best_eval, best_direct, best_rate = min(evals), min(direct), max(rates)
    print(f"network: {net.source} to {net.truncated_specs(objective.layers)[-1].name} at {w}x{h}: "
          f"{flop / 1e9:.0f} GFLOP per forward + input-gradient pass (direct convolution)")
    print(f"seconds per loss evaluation (network, Gram and content losses, input gradient): "
          f"best {best_eval:.3f} s, median {np.median(evals):.3f} s of {rounds}")
    print(f"  the same with every convolution direct (no Winograd): best {best_direct:.3f} s, "
          f"median {np.median(direct):.3f} s ({best_direct / best_eval:.2f}x the time)")
    print(f"matmul rate (2048^2 float32, best of {3 * rounds}): {best_rate / 1e9:.1f} GFLOP/s")
    print(f"network rate: {flop / best_eval / 1e9:.1f} GFLOP/s = {flop / best_eval / best_rate:.2f} of the matmul rate"
          f" (all direct: {flop / best_direct / best_rate:.2f}); the FLOPs are a direct convolution's, Winograd"
          " does fewer multiplies, and the loss terms' own products are not counted")


def first_preview(net: FeatureNetwork, content: np.ndarray, style: np.ndarray, size: int) -> float:
    t = time.perf_counter()
    for ev in run_style(content, [style], StyleParams(size=size), network=net):
        if isinstance(ev, Progress) and ev.preview is not None:
            return time.perf_counter() - t
    return float("nan")


def timed_run(net: FeatureNetwork, content: np.ndarray, style: np.ndarray,
              params: StyleParams) -> tuple[np.ndarray, int, float]:
    t = time.perf_counter()
    for ev in run_style(content, [style], params, network=net):
        if isinstance(ev, Finished):
            return ev.image, ev.iterations, time.perf_counter() - t
    raise RuntimeError("no result")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--budgets", default="60,180", help="comma-separated seconds")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default="bench-out", help="folder for the result images")
    ap.add_argument("--weights", default="auto")
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args()

    torch.manual_seed(0)
    net = load_feature_network(args.weights, "cpu")
    if (SHARED / "content" / "tubingen.jpg").is_file():
        content = load_image(SHARED / "content" / "tubingen.jpg").rgb
        style = load_image(SHARED / "style" / "starry_night.jpg").rgb
        print("images: tubingen.jpg + starry_night.jpg from ../shared")
    else:
        from studio.demo import demo_content, demo_style

        content, style = demo_content(), demo_style()
        print("images: the embedded demo pair (../shared not found)")
    content = resize_long_side(content, args.size)
    h, w = content.shape[:2]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    speed(net, content, style, args.rounds)
    fp = [first_preview(net, content, style, args.size) for _ in range(2)]
    print(f"time from Run to the first preview (network loaded): {min(fp):.2f} s (best of 2)")

    if args.skip_quality:
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scorer = StyleScorer(net, content, style)
    print("\nquality at equal wall-clock time (lower is better; distances relative to the target's energy)")
    print(f"{'run':34s} {'iters':>5s} {'secs':>6s} {'style@1':>8s} {'style@1/2':>9s} {'style@1/4':>9s} {'content':>8s}")
    for budget in (float(b) for b in args.budgets.split(",")):
        # Both run until the budget is spent (studio's default 100 iterations per scale would end
        # its run early at long budgets, leaving it less time than the baseline).
        runs = {
            "studio default": StyleParams(size=args.size, iterations=100_000, max_seconds=budget),
            "baseline plain L-BFGS, one scale": StyleParams(size=args.size, scales=1, iterations=100_000,
                                                              precondition=False, max_seconds=budget),
        }
        scores = {}
        for name, params in runs.items():
            img, iters, secs = timed_run(net, content, style, params)
            s = scorer.score(img)
            scores[name] = s
            save_image(out / f"{name.split()[0]}_{int(budget)}s.png", img)
            print(f"{name + f' ({int(budget)} s)':34s} {iters:5d} {secs:6.1f} {s['style@1']:8.4f} "
                  f"{s['style@1/2']:9.4f} {s['style@1/4']:9.4f} {s['content']:8.4f}")
        a, b = scores["studio default"], scores["baseline plain L-BFGS, one scale"]
        verdict = {k: "no worse" if a[k] <= b[k] else "WORSE" for k in a}
        print(f"  studio vs baseline at {int(budget)} s: " + ", ".join(f"{k} {v} ({a[k] / b[k]:.2f}x)"
                                                                        for k, v in verdict.items()))
    print(f"result images in {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
