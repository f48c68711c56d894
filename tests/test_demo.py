"""studio.demo: the offline demo pair."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest

from studio import demo
from studio.engines.files import file_sha256
from studio.imageio import load_image
from studio.png_text import read_png_text


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the demo must not touch the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_content_offline(no_network) -> None:
    demo._astronaut.cache_clear()
    img = demo.demo_content()
    assert img.shape == (512, 512, 3) and img.dtype == np.float32
    assert img.min() >= 0.0 and img.max() <= 1.0 and img.std() > 0.1
    img[:] = 0  # a copy: the cached original is untouched
    assert demo.demo_content().max() > 0


def test_style_shape_range_and_character(no_network) -> None:
    img = demo.demo_style()
    assert img.shape == (512, 512, 3) and img.dtype == np.float32
    assert img.min() >= 0.0 and img.max() <= 1.0
    blue = img[..., 2] > img[..., 0] + 0.15
    yellow = (img[..., 0] > 0.6) & (img[..., 1] > 0.5) & (img[..., 2] < 0.45)
    assert blue.mean() > 0.4  # mostly deep blues
    assert yellow.mean() > 0.01  # with yellow-ochre accents
    assert img.std() > 0.1


def test_style_deterministic() -> None:
    a = demo._paint(demo.STYLE_SEED, 128)
    b = demo._paint(demo.STYLE_SEED, 128)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (128, 128, 3)
    assert not np.array_equal(a, demo._paint(demo.STYLE_SEED + 1, 128))


def test_style_is_fast() -> None:
    demo._style.cache_clear()
    start = time.perf_counter()
    demo.demo_style()
    assert time.perf_counter() - start < 4.0  # about 0.7 s on a laptop core; slack for busy machines


def test_write_demo_images(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    content, style = demo.write_demo_images(folder)
    assert content.parent == folder and style.parent == folder
    c, s = load_image(content), load_image(style)
    assert c.rgb.shape == (512, 512, 3) and s.rgb.shape == (512, 512, 3)
    np.testing.assert_allclose(s.rgb, demo.demo_style(), atol=0.5 / 255 + 1e-6)
    assert "Astronaut" in read_png_text(content)["Description"]
    before = (style.stat().st_mtime_ns, file_sha256(style))
    again = demo.write_demo_images(folder)
    assert again == (content, style)
    assert (style.stat().st_mtime_ns, file_sha256(style)) == before  # not rewritten


def test_write_demo_images_repairs_a_damaged_file(tmp_path: Path) -> None:
    content, style = demo.write_demo_images(tmp_path)
    style.write_bytes(b"not a png")
    demo.write_demo_images(tmp_path)
    assert load_image(style).rgb.shape == (512, 512, 3)
