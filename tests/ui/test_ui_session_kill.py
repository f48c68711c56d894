"""Killed mid-session (SIGKILL, a real child process), the app's next start brings back the inputs, the
settings and the history, and says that the last session did not end with a quit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

CHILD = Path(__file__).with_name("session_child.py")
ROOT = Path(__file__).resolve().parents[2]


def test_a_killed_app_comes_back_with_its_inputs_settings_and_history(tmp_path, image_dir):
    env = dict(os.environ, STUDIO_DATA_DIR=str(tmp_path / "data"), STUDIO_SETTINGS=str(tmp_path / "s.ini"),
               STUDIO_CACHE_DIR=str(tmp_path / "cache"), QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, str(CHILD), "work", str(image_dir)], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline and "SAVED" not in line:
            line = child.stdout.readline()
            if not line and child.poll() is not None:
                break
        assert "SAVED" in line, child.stderr.read()[-3000:] if child.poll() is not None else "no SAVED in time"
        time.sleep(0.5)  # the app goes on running; then it is killed, with no chance to clean up
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert (tmp_path / "data" / "session" / "open").exists()  # the mark of a session that did not quit

    out = subprocess.run([sys.executable, str(CHILD), "report"], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    content = np.asarray(Image.open(image_dir / "content.png"), np.float32) / 255.0
    assert report["style_weight"] == 4321.0 and report["iterations"] == 7
    assert report["content"] == "content.png" and abs(report["content_mean"] - content.mean()) < 1e-6
    assert report["styles"] == ["style.png"]
    assert [h[:2] for h in report["history"]] == [[1, 7]] and 0.0 < report["history"][0][2] < 1.0
    assert "did not quit properly" in report["notice"] and "1 result" in report["notice"]


def test_sigterm_closes_the_app_as_a_quit_does_and_keeps_the_session(tmp_path):
    env = dict(os.environ, STUDIO_DATA_DIR=str(tmp_path / "data"), STUDIO_SETTINGS=str(tmp_path / "s.ini"),
               STUDIO_CACHE_DIR=str(tmp_path / "cache"), QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    app = subprocess.Popen([sys.executable, "-m", "studio.cli", "--no-demo"], env=env, cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    session = tmp_path / "data" / "session"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (session / "session.json").exists():
            assert app.poll() is None, app.stderr.read()[-2000:]
            time.sleep(0.2)
        assert (session / "open").exists()  # running
        app.send_signal(signal.SIGTERM)
        assert app.wait(60) == 128 + signal.SIGTERM
    finally:
        if app.poll() is None:
            app.kill()
    assert (session / "session.json").exists() and not (session / "open").exists()  # a clean end
