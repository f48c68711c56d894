"""Compare coarse-to-fine schedules at equal cost with a clock the machine's load cannot disturb.

    python benchmarks/style_schedule.py 60 base growth=9,content=3 growth=6,gain=3,period=32 scales=1

The engine's time budget is read from a virtual clock that advances by a cost model for each
loss evaluation (seconds per evaluation at 512x384, scaled by pixel count; set with --eval-s),
so runs are repeatable and two schedules can be told apart by a few percent, which wall-clock
runs on a shared 2-core machine cannot. ``base`` is the plain single-scale L-BFGS run from the content;
``gain=0`` turns the preconditioner off.
Scores as bench_style.py does (lower is better).
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

from studio.engines.events import Finished
from studio.engines.pixels import resize_long_side
from studio.engines.style import objective
from studio.engines.style import run as style
from studio.engines.style.metrics import StyleScorer
from studio.engines.style.params import StyleParams
from studio.imageio import load_image
from studio.weights import load_feature_network

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "images"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("budget", type=float, help="seconds of the virtual clock")
    ap.add_argument("configs", nargs="+",
                    help="base, or key=value pairs: growth (time-share growth), content (coarse content factor), "
                         "gain and period (preconditioner), scales")
    ap.add_argument("--eval-s", type=float, default=1.3,
                    help="seconds per evaluation at 512x384 (measured in runs with Winograd: 1.2-1.35)")
    args = ap.parse_args()
    if not (SHARED / "content" / "tubingen.jpg").is_file():
        print("needs ../shared/images (tubingen + starry night)")
        return 2
    net = load_feature_network("auto", "cpu")
    content = resize_long_side(load_image(SHARED / "content" / "tubingen.jpg").rgb, 512)
    paint = load_image(SHARED / "style" / "starry_night.jpg").rgb
    scorer = StyleScorer(net, content, paint)

    clock = {"t": 0.0}
    style.time = types.SimpleNamespace(perf_counter=lambda: clock["t"])  # type: ignore[assignment]
    evaluate = style.Objective.__call__

    def counted(self: style.Objective, x):  # type: ignore[no-untyped-def]
        clock["t"] += 0.02 + args.eval_s * x.shape[-1] * x.shape[-2] / (512 * 384)
        return evaluate(self, x)

    style.Objective.__call__ = counted  # type: ignore[method-assign]
    knobs = {"growth": (style, "_TIME_SHARE_GROWTH"), "gain": (objective, "_BOOST_GAIN"),
             "period": (objective, "_BOOST_PERIOD")}
    defaults = {k: getattr(module, name) for k, (module, name) in knobs.items()}
    for cfg in args.configs:
        clock["t"] = 0.0
        if cfg == "base":
            params = StyleParams(size=512, scales=1, iterations=100_000, precondition=False,
                                 max_seconds=args.budget)
        else:
            kv = dict(item.split("=") for item in cfg.split(","))
            for k, (module, name) in knobs.items():
                setattr(module, name, float(kv.get(k, defaults[k])))
            params = StyleParams(size=512, iterations=100_000, max_seconds=args.budget,
                                 scales=int(kv.get("scales", 3)), precondition=kv.get("gain") != "0",
                                 coarse_content=float(kv.get("content", StyleParams().coarse_content)))
        fin = [ev for ev in style.run_style(content, [paint], params, network=net) if isinstance(ev, Finished)][0]
        s = scorer.score(fin.image)
        print(f"{args.budget:.0f}s {cfg:24s} {fin.iterations:4d} it  style@1 {s['style@1']:.4f}  "
              f"@1/2 {s['style@1/2']:.4f}  @1/4 {s['style@1/4']:.4f}  content {s['content']:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
