"""`studio stylize --region`: a painting for each part of the photo from the command line, kept in the recipe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.engines.errors import StudioInputError
from studio.recipe import read_recipe
from studio.style_regions import decode_mask, encode_mask, parse_region

FAST = ["--size", "32", "--iterations", "2", "--scales", "1", "--force"]


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    yy, xx = np.mgrid[0:48, 0:64]
    content = np.stack([xx * 4, yy * 5, 128 + 0 * xx], -1).astype(np.uint8)
    style = ((np.sin(xx / 3.0) > 0)[..., None] * np.array([200, 120, 30]) + 20).astype(np.uint8)
    other = ((np.sin(yy / 2.0) > 0)[..., None] * np.array([20, 60, 220]) + 20).astype(np.uint8)
    sky = np.zeros((48, 64), np.uint8)
    sky[:20] = 255
    out = {"photo": tmp_path / "photo.png", "style": tmp_path / "style.png", "other": tmp_path / "other.png",
           "sky": tmp_path / "sky.png", "ground": tmp_path / "ground.png"}
    Image.fromarray(content).save(out["photo"])
    Image.fromarray(style).save(out["style"])
    Image.fromarray(other).save(out["other"])
    Image.fromarray(sky).save(out["sky"])
    Image.fromarray(255 - sky).save(out["ground"])
    return out


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    lines = [line for line in err if line.startswith("studio: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_regions_run_and_the_recipe_reruns_them_without_the_mask_files(files, tmp_path, default_net, capsys):
    out = tmp_path / "out.png"
    assert main(["stylize", str(files["photo"]), str(files["style"]), "-o", str(out), "--seed", "2",
                 "--region", f"{files['sky']}={files['other']}:2.5", "--region", f"{files['ground']}=keep",
                 *FAST]) == 0
    recipe = read_recipe(out)
    assert recipe is not None
    assert recipe.params["region_weights"] == [2.5, 1.0]
    assert [r["keep"] for r in recipe.regions] == [False, True]
    assert [i.role for i in recipe.inputs] == ["content", "style", "region 1 painting"]
    first = np.asarray(Image.open(out))
    files["sky"].unlink()
    files["ground"].unlink()  # the masks live inside the recipe
    again = tmp_path / "again.png"
    assert main(["stylize", "--recipe", str(out), "-o", str(again), "--force"]) == 0
    assert "uses the masks of 2 regions stored in the recipe (1 keeping the photo)" in capsys.readouterr().err
    np.testing.assert_array_equal(np.asarray(Image.open(again)), first)
    r2 = read_recipe(again)
    assert r2 is not None and r2.regions == recipe.regions and r2.params == recipe.params


def test_a_preview_with_regions_renders_at_full_size_with_them(files, tmp_path, default_net, capsys):
    preview = tmp_path / "preview.png"
    assert main(["stylize", str(files["photo"]), str(files["style"]), "-o", str(preview),
                 "--region", f"{files['ground']}=keep:2", *FAST]) == 0
    big = tmp_path / "big.png"
    assert main(["stylize", "--start", str(preview), "--size", "64", "--iterations", "2", "-o", str(big),
                 "--force"]) == 0
    assert "full size: 64x48 from 32x24" in capsys.readouterr().err
    recipe = read_recipe(big)
    assert recipe is not None and [r["keep"] for r in recipe.regions] == [True]
    assert recipe.params["region_weights"] == [2.0] and recipe.extra["full_size_from"] == [32, 24]
    out = np.asarray(Image.open(big)).astype(np.float32) / 255
    photo = np.asarray(Image.open(files["photo"])).astype(np.float32) / 255
    assert np.abs(out[30:] - photo[30:]).mean() < 0.05  # the kept ground is still the photo at full size


@pytest.mark.parametrize("make, words", [
    (lambda p: Image.fromarray(np.zeros((48, 64), np.uint8)).save(p), "is empty"),
    (lambda p: Image.fromarray(np.full((64, 64), 255, np.uint8)).save(p), "not the shape of the picture"),
    (lambda p: p.write_bytes(b"not an image at all"), "mask.png"),
    (lambda p: Image.fromarray(np.stack([np.full((48, 64), 255, np.uint8), np.zeros((48, 64), np.uint8),
                                         np.zeros((48, 64), np.uint8)], -1)).save(p), "colour image"),
])
def test_a_bad_mask_is_one_sentence_and_nothing_is_written(files, tmp_path, capsys, make, words):
    mask = tmp_path / "mask.png"
    make(mask)
    out = tmp_path / "out.png"
    code = main(["stylize", str(files["photo"]), str(files["style"]), "-o", str(out),
                 "--region", f"{mask}={files['other']}", *FAST])
    assert code == 2
    assert words in _error(capsys)
    assert not out.exists()


@pytest.mark.parametrize("text, expected", [
    ("sky.png=starry.jpg", ("sky.png", "starry.jpg", None, 1.0)),
    ("sky.png=starry.jpg:1.5", ("sky.png", "starry.jpg", None, 1.5)),
    ("sky.png=starry.jpg@sky_of_it.png:0.5", ("sky.png", "starry.jpg", "sky_of_it.png", 0.5)),
    ("face.png=keep", ("face.png", None, None, 1.0)),
    ("face.png=KEEP:3", ("face.png", None, None, 3.0)),
    (r"m.png=C:\art\starry.jpg", ("m.png", r"C:\art\starry.jpg", None, 1.0)),
])
def test_region_syntax(text, expected):
    spec = parse_region(text)
    assert (spec.mask, spec.painting, spec.painting_mask, spec.weight) == expected


@pytest.mark.parametrize("text", ["sky.png", "=starry.jpg", "sky.png=", "sky.png=starry.jpg:-1",
                                  "sky.png=starry.jpg:5000", "sky.png=starry.jpg@", "sky.png=@sky.png"])
def test_bad_region_syntax_is_one_sentence(text):
    with pytest.raises(StudioInputError, match="--region"):
        parse_region(text)


def test_masks_round_trip_through_the_recipe_text():
    rng = np.random.default_rng(0)
    mask = (rng.random((30, 40)) > 0.5).astype(np.float32) * 0.8
    back = decode_mask(encode_mask(mask), "the mask")
    assert back.shape == mask.shape and np.abs(back - mask).max() < 1 / 255 + 1e-6
    with pytest.raises(StudioInputError, match="not base64"):
        decode_mask("not base64 !!", "the mask")
    with pytest.raises(StudioInputError, match="the mask"):
        decode_mask("aGVsbG8=", "the mask")  # "hello": base64, but not an image
