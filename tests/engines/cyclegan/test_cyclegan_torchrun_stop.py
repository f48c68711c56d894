"""Ctrl-C on a two-process CycleGAN run (torchrun hands the SIGINT to every rank): both ranks stop at the same
step, rank 0 saves where they are and says how to go on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[3]


def _folder(root: Path, name: str, n: int, seed: int) -> Path:
    d = root / name
    d.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        cv2.imwrite(str(d / f"{i}.png"), cv2.GaussianBlur((rng.random((40, 40, 3)) * 255).astype(np.uint8), (9, 9), 3))
    return d


def test_ctrl_c_under_torchrun_stops_every_rank_at_one_step_and_saves(tmp_path: Path) -> None:
    a, b = _folder(tmp_path, "A", 8, 1), _folder(tmp_path, "B", 6, 2)
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    log = tmp_path / "log.txt"
    with log.open("w") as f:
        p = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                              "-m", "studio", "train-cyclegan", str(a), str(b), "-o", str(out), "--ngf", "4",
                              "--ndf", "4", "--blocks", "1", "--crop-size", "32", "--load-size", "36"],
                             stdout=f, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
        try:
            deadline = time.monotonic() + 120
            while "training on" not in log.read_text() and time.monotonic() < deadline and p.poll() is None:
                time.sleep(0.2)
            time.sleep(2.0)  # some steps
            p.send_signal(signal.SIGINT)  # Ctrl-C reaches the agent, which hands it to each rank
            p.wait(90)  # ranks that stopped at different steps would wait for each other until killed
        finally:
            if p.poll() is None:
                p.kill()
    text = log.read_text().replace("\r", "\n")
    assert "stopped after" in text and "--resume" in text, text[-3000:]
    assert "Unable to shutdown process" not in text  # no rank had to be killed
    state = torch.load(out / "latest_train_state.pth", weights_only=True)
    assert state["iteration"] > 0 and "epoch_fraction" in state
