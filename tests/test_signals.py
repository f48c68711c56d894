"""SIGTERM is handled like Ctrl-C: the command exits with 143 and no temporary file is left; stale temporary
files of studio's own (a kill's leftovers) are removed at the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.engines.files import remove_stale_temporaries, temp_path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, time
from studio.cli import EXIT_TERMINATED, Terminated, handle_sigterm
from studio.engines.files import atomic_write
handle_sigterm()
def slow(f):
    f.write(b"x" * 1000)
    print("WRITING", flush=True)
    time.sleep(30)
try:
    atomic_write(sys.argv[1], slow)
except Terminated:
    sys.exit(EXIT_TERMINATED)
"""


def test_sigterm_during_a_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.png"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(target)], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert child.stdout.readline().strip() == "WRITING"
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())  # the write is under way
    child.send_signal(signal.SIGTERM)
    assert child.wait(30) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_stale_temporaries_go_and_fresh_ones_and_other_files_stay(tmp_path):
    old = temp_path(tmp_path / "weights.pth")
    old.write_bytes(b"half")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    fresh = temp_path(tmp_path / "other.png")
    fresh.write_bytes(b"in progress")
    mine = tmp_path / ".notes.tmp"  # not a name studio makes
    mine.write_bytes(b"keep")
    os.utime(mine, (time.time() - 7200, time.time() - 7200))
    assert remove_stale_temporaries(tmp_path) == 1
    assert not old.exists() and fresh.exists() and mine.exists()


@pytest.mark.parametrize("save_every", [False, True])
def test_sigterm_stops_a_stylize_run_with_143_and_writes_nothing(tmp_path, default_net, save_every):
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[0:48, 0:64]
    Image.fromarray(np.stack([xx * 4, yy * 5, 128 + 0 * xx], -1).astype(np.uint8)).save(tmp_path / "c.png")
    Image.fromarray((np.sin(xx / 3.0)[..., None] * 100 + 120 + 0 * yy[..., None]).repeat(3, 2).astype(np.uint8)
                    ).save(tmp_path / "s.png")
    out = tmp_path / "out.png"
    child = subprocess.Popen([sys.executable, "-m", "studio.cli", "stylize", str(tmp_path / "c.png"),
                              str(tmp_path / "s.png"), "-o", str(out), "--size", "64", "--iterations", "100000",
                              "--scales", "1", *(["--save-every", "1"] if save_every else [])],
                             stderr=subprocess.PIPE, text=True, cwd=ROOT,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = child.stderr.readline()
            if "|" in line or not line:  # the progress bar: the run is under way
                break
        while save_every and not any(tmp_path.glob("out_iter*.png")) and time.monotonic() < deadline:
            time.sleep(0.05)  # a snapshot is written
        child.send_signal(signal.SIGTERM)
        rest = child.stderr.read()
        assert child.wait(60) == 128 + signal.SIGTERM, rest[-2000:]
    finally:
        if child.poll() is None:
            child.kill()
    assert "Traceback" not in rest
    left = sorted(p.name for p in tmp_path.iterdir())
    if not save_every:
        assert "nothing was written" in rest and left == ["c.png", "s.png"]
        return
    # the snapshots written before the signal are whole files, and the message says they are there
    snapshots = [n for n in left if n.startswith("out_iter")]
    assert snapshots and left == ["c.png", *snapshots, "s.png"], left
    assert f"{out} was not written (the " in rest and "of --save-every" in rest and "nothing was written" not in rest
    last = max(snapshots, key=lambda n: int(n[len("out_iter"):-4]))
    assert rest.rstrip().endswith(f"the last {tmp_path / last})"), rest[-300:]
