"""`studio harmonize` from the command line: the recipe in the PNG, one clear sentence per bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.recipe import read_recipe


def _save(path: Path, arr: np.ndarray) -> Path:
    a = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(a).save(path)
    return path


@pytest.fixture()
def case(tmp_path: Path) -> dict[str, Path]:
    h, w = 48, 64
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (np.sin((xx + yy) * 0.9) > 0).astype(np.float32)[..., None]
    painting = t * np.array([0.85, 0.55, 0.2], np.float32) + (1 - t) * np.array([0.2, 0.35, 0.7], np.float32)
    mask = np.zeros((h, w), np.float32)
    mask[14:34, 20:44] = 1
    composite = np.where(mask[..., None] > 0.5, np.array([0.1, 0.8, 0.2], np.float32), painting)
    loose = np.zeros_like(mask)
    loose[10:38, 16:48] = 1
    return {"painting": _save(tmp_path / "painting.png", painting),
            "composite": _save(tmp_path / "naive.png", composite),
            "mask": _save(tmp_path / "mask.png", mask),
            "loose": _save(tmp_path / "loose.png", loose)}


def _args(case: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["harmonize", str(case["painting"]), "--composite", str(case["composite"]), "--mask", str(case["mask"]),
            "-o", str(out), *extra]


def test_color_mode_writes_a_png_with_the_recipe(case, tmp_path):
    out = tmp_path / "out.png"
    assert main(_args(case, out, "--mode", "color", "--loose-mask", str(case["loose"]))) == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (48, 64, 3)
    recipe = read_recipe(out)
    assert recipe is not None and recipe.engine == "harmonize"
    assert recipe.params["mode"] == "color"
    roles = {i.role: i for i in recipe.inputs}
    assert set(roles) == {"painting", "composite", "mask", "loose_mask"}
    assert all(len(i.sha256) == 64 for i in recipe.inputs)
    assert recipe.studio_version
    # the object changed colour, the painting did not
    naive = np.asarray(Image.open(case["composite"]))
    assert np.abs(img[20:30, 25:40].astype(int) - naive[20:30, 25:40]).mean() > 20
    assert np.array_equal(img[:8], naive[:8])


def test_existing_output_needs_force(case, tmp_path, capsys):
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    assert main(_args(case, out, "--mode", "poisson")) == 2
    assert out.read_bytes() == b"keep me"
    assert main(_args(case, out, "--mode", "poisson", "--force")) == 0
    assert read_recipe(out).params["mode"] == "poisson"


def test_dph_mode_runs_with_a_progress_bar(case, tmp_path, capsys, hed_net):
    out = tmp_path / "dph.png"
    assert main(_args(case, out, "--size", "32", "--iterations", "2", "--weights", "vgg16-hed")) == 0
    err = capsys.readouterr().err
    assert "harmonize |" in err and "ETA" in err and "pass 2" in err
    recipe = read_recipe(out)
    assert recipe.params["pass1_iterations"] == 2 and recipe.params["pass2_iterations"] == 2
    assert recipe.weights == "vgg16-hed" and recipe.extra["iterations"] == 4


def _bad(tmp_path: Path, name: str, arr: np.ndarray) -> Path:
    return _save(tmp_path / name, arr)


def test_bad_inputs_get_one_sentence_and_exit_2(case, tmp_path, capsys):
    out = tmp_path / "out.png"
    m = np.asarray(Image.open(case["mask"]), np.float32) / 255
    small = _bad(tmp_path, "small.png", np.zeros((40, 64)))
    empty = _bad(tmp_path, "empty.png", np.zeros_like(m))
    full = _bad(tmp_path, "full.png", np.ones_like(m))
    grey = _bad(tmp_path, "grey.png", np.where(m > 0.5, 0.7, 0.0))
    colour = _bad(tmp_path, "colour.png", np.stack([m, np.zeros_like(m), 1 - m], axis=-1))
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not an image")
    small_painting = _bad(tmp_path, "small_painting.png", np.zeros((40, 64, 3)))
    cases = [
        (["--mask", str(small)], "differ in size"),
        (["--mask", str(empty)], "is empty"),
        (["--mask", str(full)], "covers the whole painting"),
        (["--mask", str(grey)], "not a black-and-white mask"),
        (["--mask", str(colour)], "colour image"),
        (["--mask", str(garbage)], "garbage.png"),
        (["--mask", str(tmp_path / "missing.png")], "missing.png"),
        (["--composite", str(small_painting)], "differ in size"),
        (["--loose-mask", str(empty)], "loose mask"),
        (["--tau", "-1"], "tau"),
        (["--mode", "nope"], "--mode must be one of"),
    ]
    for flags, words in cases:
        args = _args(case, out, "--mode", "color")
        for flag, value in zip(flags[::2], flags[1::2], strict=True):
            if flag in args:
                args[args.index(flag) + 1] = value
            else:
                args += [flag, value]
        assert main(args) == 2, flags
        err = capsys.readouterr().err.strip()
        first = err.splitlines()[0]
        assert first.startswith("studio: error: ") and words in first, (flags, err)
        assert not out.exists()
    assert main(_args(case, tmp_path / "out.gif")) == 2
    assert "extension" in capsys.readouterr().err
