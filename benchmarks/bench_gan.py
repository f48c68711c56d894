"""Latent workspace benchmark: slider to new frame at 64 px on this CPU (target: at most 30 ms).

    python benchmarks/bench_gan.py [--steps 60] [--model PATH]

Measures, with the torch threads the app uses (all cores but one):
1. the generator alone: one latent -> one 64 px image (studio's default model and a standard
   ngf 64 DCGAN, random weights), median / 90th percentile / max;
2. the whole path in the app: a principal-direction slider step -> new latent -> generator ->
   enlarged frame -> QImage -> canvas repaint (offscreen main window, events processed);
3. principal directions: first computation and the cached load.
Prints figures only (no pass/fail); the machine is shared, so the spread matters as much as the median.
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

from studio.app import ui_friendly_threads  # noqa: E402
from studio.engines.gan.checkpoints import load_generator  # noqa: E402
from studio.engines.gan.latent import render, sample_latents  # noqa: E402
from studio.engines.gan.models import DCGAN_G, FusedGenerator, GanArch  # noqa: E402
from studio.generators import load_default_generator  # noqa: E402

TARGET_MS = 30.0


def summary(name: str, times_s: list[float], cpu_s: list[float] | None = None) -> float:
    """Wall-clock median / p90 / max; and the median CPU time of this thread (what the step costs when the
    machine is not shared: on a loaded machine wall time also counts the waits for a core)."""
    ms = sorted(t * 1000 for t in times_s)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    med = statistics.median(ms)
    cpu = f"   cpu {statistics.median(cpu_s) * 1000:6.2f} ms" if cpu_s else ""
    print(f"{name:<48} wall median {med:6.2f} ms  p90 {p90:6.2f}  max {ms[-1]:6.2f}{cpu}   "
          f"(budget {TARGET_MS:.0f} ms)")
    return med


class Timer:
    """Wall-clock and thread CPU time of each ``with`` block."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __enter__(self) -> Timer:
        self._w, self._c = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall.append(time.perf_counter() - self._w)
        self.cpu.append(time.thread_time() - self._c)


def bench_generator(model: torch.nn.Module, nz: int, steps: int, name: str) -> float:
    z = sample_latents(steps + 5, nz, seed=1)
    for i in range(5):
        render(model, z[i])
    timer = Timer()
    for i in range(5, steps + 5):
        with timer:
            render(model, z[i])
    return summary(name, timer.wall, timer.cpu)


def bench_ui(steps: int, model_path: str | None) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from studio.ui.latent.panel import SIGMA_STEPS
    from studio.ui.latent.workspace import LatentWorkspace
    from studio.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    tmp = tempfile.mkdtemp(prefix="bench-gan-")
    os.environ["STUDIO_CACHE_DIR"] = tmp  # a cold directions cache
    settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
    if model_path:
        os.environ["STUDIO_GAN_MODEL"] = model_path
    win = MainWindow(settings, workspaces=(LatentWorkspace,), load_demo=False)
    win.resize(1400, 900)
    win.show()
    app.processEvents()
    ws: LatentWorkspace = win.workspace("latent")
    t = time.perf_counter()
    ws.directions()
    cold = time.perf_counter() - t
    ws._dirs = None
    t = time.perf_counter()
    d = ws.directions()
    warm = time.perf_counter() - t
    print(f"{'principal directions (6, 1024 samples): first / cached':<52} {cold * 1000:8.1f} ms / "
          f"{warm * 1000:.1f} ms (from cache: {d.from_cache})")
    slider = ws.panel().dir_sliders[0]
    values = [int(v) for v in np.round(np.sin(np.linspace(0, 6 * np.pi, steps + 5)) * 3 * SIGMA_STEPS)]
    timer = Timer()
    for v in values:
        if v == slider.value():
            v += 1
        with timer:
            slider.setValue(v)  # -> edit -> frame -> state_changed -> canvas.set_before
            win.canvas.repaint()  # paint now (synchronously), as the next display frame would
            app.processEvents()
    summary("app: PC1 slider step -> frame on the canvas", timer.wall[5:], timer.cpu[5:])
    raw = ws.panel().raw_slider
    timer = Timer()
    for i in range(steps):
        with timer:
            raw.setValue((i % 60) - 30)
            win.canvas.repaint()
            app.processEvents()
    summary("app: raw z slider step -> frame on the canvas", timer.wall, timer.cpu)
    win.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--model", help="generator to time (default: the shipped one)")
    args = ap.parse_args()
    torch.set_num_threads(ui_friendly_threads(torch.get_num_threads()))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} cores")
    gen = load_generator(args.model) if args.model else load_default_generator()
    a = gen.arch
    print(f"model: {gen.name} ({a.image_size} px, nz {a.nz}, ngf {a.ngf})")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (above the core count = shared, "
          "wall times inflated)")
    bench_generator(gen.model, a.nz, args.steps, f"G forward, 1 latent ({a.image_size} px, ngf {a.ngf})")
    bench_generator(FusedGenerator(gen.model), a.nz, args.steps, f"G forward, BN folded (ngf {a.ngf}, as the app)")
    ref = DCGAN_G(GanArch()).eval()
    bench_generator(ref, 100, args.steps, "G forward, 1 latent (64 px, ngf 64 DCGAN)")
    bench_generator(FusedGenerator(ref), 100, args.steps, "G forward, BN folded (64 px, ngf 64 DCGAN)")
    bench_ui(args.steps, args.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
