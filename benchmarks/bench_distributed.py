"""GAN training on one process against several (torchrun, gloo on the CPU), in one run.

    python benchmarks/bench_distributed.py [--procs 2] [--threads 2] [--iterations 30] [--size 32]

Trains ``studio train-gan`` (dcgan loss, batch 16 a rank) on synthetic images for ``--iterations`` generator
steps: once as one process with ``--threads`` threads, once as ``--procs`` processes under torchrun with
``--threads / --procs`` threads each (the same cores). Prints the generator steps a second of each (from the
time between the first and the last step, so start-up is left out), the images a second (steps x batch x
ranks) and their ratios.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BATCH = 16


def _images(folder: Path, n: int = 64) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        a = cv2.GaussianBlur((rng.random((96, 96, 3)) * 255).astype(np.uint8), (15, 15), 5)
        cv2.imwrite(str(folder / f"{i}.png"), a)


def _run(folder: Path, out: Path, procs: int, threads: int, iterations: int, size: int) -> float:
    """Generator steps a second of one run, from its Progress lines' elapsed times."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    args = ["-m", "studio", "train-gan", str(folder), "--out", str(out), "--size", str(size), "--loss", "dcgan",
            "--iterations", str(iterations), "--batch-size", str(BATCH), "--sample-every", str(10**6),
            "--checkpoint-every", str(10**6), "--force"]
    cmd = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}", *args]
           if procs > 1 else [sys.executable, *args])
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    # the bar prints every 5 s off a terminal: "train-gan |...| N/TOTAL ... elapsed MM:SS"
    marks = [(int(m[1]), _seconds(m[2])) for m in re.finditer(r"\| (\d+)/\d+ .*?elapsed (\d+:\d+(?::\d+)?)", r.stderr)]
    (i0, t0), (i1, t1) = marks[0], marks[-1]
    return (i1 - i0) / max(1e-9, t1 - t0)


def _seconds(text: str) -> float:
    s = 0.0
    for part in text.split(":"):
        s = s * 60 + float(part)
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="threads in all (each process gets threads / procs)")
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--size", type=int, default=32)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "imgs"
        _images(folder)
        one = _run(folder, Path(tmp) / "one", 1, a.threads, a.iterations, a.size)
        many = _run(folder, Path(tmp) / "many", a.procs, max(1, a.threads // a.procs), a.iterations, a.size)
    print(f"1 process x {a.threads} threads: {one:.2f} steps/s, {one * BATCH:.0f} images/s")
    print(f"{a.procs} processes x {max(1, a.threads // a.procs)} threads: {many:.2f} steps/s, "
          f"{many * BATCH * a.procs:.0f} images/s")
    print(f"ratio {a.procs} processes / 1: steps/s {many / one:.2f}, images/s {many * a.procs / one:.2f}")


if __name__ == "__main__":
    main()
