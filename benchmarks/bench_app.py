"""The app under an artist's hands: 100 start/stop cycles of a real style job through the real window and
job runner, measured in one run.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_app.py [--cycles 100] [--size 128] [--run-s 0.4]

Each cycle presses Run, lets the job run (until its first progress, then ``--run-s`` more), presses Stop,
and waits for the job to end. Printed:
- cancel latency (Stop to the job's end, with its picture in the history): p50, p90, max;
- resident memory after the warm-up cycles and after the last one (growth in per cent; the target is 5);
- the UI event loop's longest stall while jobs run: a 5 ms timer's largest gap beyond its interval
  (target 50 ms), and its 99th percentile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--run-s", type=float, default=0.4)
    ap.add_argument("--no-freeze", action="store_true", help="leave the garbage collector as Python sets it")
    ap.add_argument("--preload", action="store_true", help="import the style engine before the first cycle")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="studio-bench-app-"))
    os.environ.update(STUDIO_SETTINGS=str(folder / "s.ini"), STUDIO_DATA_DIR=str(folder / "data"))

    import torch
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from studio.app import keep_collections_short, ui_friendly_threads
    from studio.paths import session_dir
    from studio.session import SessionStore
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import open_settings

    _app = QApplication([sys.argv[0]])  # kept alive for the run
    torch.set_num_threads(ui_friendly_threads(torch.get_num_threads()))
    win = MainWindow(open_settings(), load_demo=True, session=SessionStore(session_dir()))
    win.show()
    if not args.no_freeze:
        keep_collections_short(win)  # as studio.app does
    ws = win.workspace("style")
    ws.edit_params({"size": args.size, "iterations": 100000, "scales": 1, "preview_every": 5}, "bench")

    if args.preload:
        import studio.engines.style.run  # noqa: F401
        import studio.weights  # noqa: F401
    import gc

    collections: list[tuple[float, int]] = []  # (ms, generation) of the garbage collector's runs
    gc_start = [0.0]

    def on_gc(step: str, info: dict) -> None:
        if step == "start":
            gc_start[0] = time.perf_counter()
        else:
            collections.append(((time.perf_counter() - gc_start[0]) * 1000, info["generation"]))

    gc.callbacks.append(on_gc)
    gaps: list[float] = []
    where: list[tuple[float, int, str]] = []  # (gap, cycle, phase) of each tick
    phase = {"cycle": -1, "name": "idle"}
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]
    ticker = QTimer()
    ticker.setInterval(5)

    def tick() -> None:
        now = clock.nsecsElapsed()
        if win.runner.is_running():
            gaps.append((now - last[0]) / 1e6 - 5.0)
            where.append((gaps[-1], phase["cycle"], phase["name"]))
        last[0] = now

    ticker.timeout.connect(tick)
    ticker.start()

    def wait(until, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        loop = QEventLoop()
        poll = QTimer()
        poll.setInterval(2)
        poll.timeout.connect(lambda: (until() or time.monotonic() > deadline) and loop.quit())
        poll.start()
        loop.exec()
        poll.stop()
        return bool(until())

    latencies: list[float] = []
    rss_after_warmup = None
    t_all = time.perf_counter()
    for cycle in range(args.cycles):
        if cycle == args.warmup:
            rss_after_warmup = rss_mb()
        before = len(win.desk("style").history.entries())
        phase.update(cycle=cycle, name="starting")
        job = win.run()
        assert job is not None
        wait(lambda j=job: j.last_progress is not None, 120)
        phase["name"] = "running"
        wait(lambda: False, args.run_s)
        phase["name"] = "stopping"
        t0 = time.perf_counter()
        win.stop()
        wait(lambda j=job: j.done, 60)
        latencies.append(time.perf_counter() - t0)
        if len(win.desk("style").history.entries()) <= before and not job.done:
            print(f"cycle {cycle}: the job did not end", file=sys.stderr)
        if cycle % 10 == 9:
            print(f"  cycle {cycle + 1}/{args.cycles}: cancel {latencies[-1] * 1000:.0f} ms, RSS {rss_mb():.0f} MB",
                  flush=True)
    total = time.perf_counter() - t_all
    rss_end = rss_mb()
    ticker.stop()
    lat = sorted(latencies)
    gaps.sort()
    p = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))]  # noqa: E731
    growth = (rss_end - rss_after_warmup) / rss_after_warmup * 100 if rss_after_warmup else float("nan")
    print(f"\n{args.cycles} start/stop cycles of a {args.size} px style job in {total:.0f} s "
          f"(torch threads {torch.get_num_threads()}, {os.cpu_count()} cores)")
    print(f"cancel latency: p50 {statistics.median(lat) * 1000:.0f} ms, p90 {p(lat, 0.9) * 1000:.0f} ms, "
          f"max {lat[-1] * 1000:.0f} ms")
    print(f"memory: {rss_after_warmup:.0f} MB after {args.warmup} cycles, {rss_end:.0f} MB after {args.cycles} "
          f"({growth:+.1f} %; target under 5 %)")
    print(f"UI stall while jobs ran: longest {gaps[-1]:.1f} ms, p99 {p(gaps, 0.99):.1f} ms "
          f"over {len(gaps)} ticks (target 50 ms)")
    later = sorted(g for g, c, _n in where if c > 0)
    if later:
        print(f"  after the first job's start: longest {later[-1]:.1f} ms, p99 {p(later, 0.99):.1f} ms")
    slow_gc = sorted(collections, reverse=True)[:3]
    print("slowest garbage collections: " + ", ".join(f"{ms:.0f} ms (generation {g})" for ms, g in slow_gc))
    worst = sorted(where, reverse=True)[:5]
    print("longest stalls: " + ", ".join(f"{g:.0f} ms (cycle {c + 1}, {n})" for g, c, n in worst))
    print(f"history: {len(win.desk('style').history.entries())} results kept")
    win._closing_confirmed = True
    win.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
