"""`studio stylize` from the command line: recipes, and one clear sentence for each bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.recipe import read_recipe

FAST = ["--size", "32", "--iterations", "2", "--scales", "1", "--force"]


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[Path, Path]:
    yy, xx = np.mgrid[0:48, 0:64]
    content = np.stack([xx * 4, yy * 5, 128 + 0 * xx], -1).astype(np.uint8)
    style = ((np.sin(xx / 3.0) > 0)[..., None] * np.array([200, 120, 30]) + 20).astype(np.uint8)
    c, s = tmp_path / "content.png", tmp_path / "style.jpg"
    Image.fromarray(content).save(c)
    Image.fromarray(style).save(s, quality=95)
    return c, s


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    lines = [line for line in err if line.startswith("studio: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_stylize_writes_png_with_recipe_and_rerun(pair, tmp_path, default_net):
    c, s = pair
    out = tmp_path / "out.png"
    assert main(["stylize", str(c), str(s), "-o", str(out), "--style-weight", "5", "--seed", "3", "--photo-detail",
                 "0.4", "--coarse-content", "1.5", *FAST]) == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (24, 32, 3)
    recipe = read_recipe(out)
    assert recipe is not None and recipe.engine == "stylize"
    assert recipe.params["style_weight"] == 5.0 and recipe.params["seed"] == 3 and recipe.params["size"] == 32
    assert recipe.params["photo_detail"] == 0.4 and recipe.params["coarse_content"] == 1.5
    assert [i.role for i in recipe.inputs] == ["content", "style"]
    assert recipe.weights == default_net.source and recipe.studio_version
    assert len(recipe.inputs[0].sha256) == 64
    out2 = tmp_path / "again.png"
    assert main(["stylize", "--recipe", str(out), "-o", str(out2), "--force"]) == 0
    r2 = read_recipe(out2)
    assert r2 is not None and r2.params == recipe.params and r2.inputs == recipe.inputs
    np.testing.assert_array_equal(np.asarray(Image.open(out2)), img)  # same recipe, same picture


def test_save_every_writes_snapshots(pair, tmp_path, default_net):
    c, s = pair
    out = tmp_path / "o.png"
    assert main(["stylize", str(c), str(s), "-o", str(out), "--save-every", "1", *FAST]) == 0
    assert (tmp_path / "o_iter1.png").is_file() and (tmp_path / "o_iter2.png").is_file()


def test_existing_output_needs_force(pair, tmp_path, capsys):
    c, s = pair
    out = tmp_path / "exists.png"
    out.write_bytes(b"precious")
    args = ["stylize", str(c), str(s), "-o", str(out), "--size", "32", "--iterations", "1", "--scales", "1"]
    assert main(args) == 2
    assert "exists; pass --force" in _error(capsys)
    assert out.read_bytes() == b"precious"


def _bad_files(tmp_path: Path, good: Path) -> dict[str, tuple[Path, str]]:
    missing = tmp_path / "missing.jpg"
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    full = tmp_path / "full.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(full, quality=90)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n")
    return {
        "missing": (missing, "missing.jpg"),
        "zero-byte": (empty, "empty.png"),
        "truncated": (truncated, "truncated.jpg"),
        "text as png": (text, "notes.png"),
    }


@pytest.mark.parametrize("case", ["missing", "zero-byte", "truncated", "text as png"])
@pytest.mark.parametrize("role", ["content", "style"])
def test_bad_image_files(pair, tmp_path, capsys, case, role):
    c, s = pair
    bad, name = _bad_files(tmp_path, c)[case]
    out = tmp_path / "out.png"
    args = [str(bad), str(s)] if role == "content" else [str(c), str(bad)]
    assert main(["stylize", *args, "-o", str(out), *FAST]) == 2
    assert name in _error(capsys)
    assert not out.exists() and not list(tmp_path.glob("*.tmp*"))


def test_decompression_bomb_is_refused_quickly(pair, tmp_path, capsys):
    import struct
    import zlib

    c, s = pair
    bomb = tmp_path / "bomb.png"
    width = height = 100_000

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + chunk(b"IEND", b""))
    assert main(["stylize", str(bomb), str(s), "-o", str(tmp_path / "o.png"), *FAST]) == 2
    assert "bomb.png" in _error(capsys)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--style-layers", "relu1_1,relu9_1"], "unknown style layer name 'relu9_1'"),
        (["--content-layers", "conv4_9"], "valid names: conv1_1, relu1_1"),
        (["--content-weight", "-3"], "content-weight must be a number at least 0, got '-3'"),
        (["--style-weight", "lots"], "style-weight must be a number, got 'lots'"),
        (["--tv-weight", "nan"], "tv-weight must be a number at least 0"),
        (["--style-blend", "1,2"], "--style-blend has 2 values for 1 style images"),
        (["--iterations", "ten"], "iterations must be a whole number, got 'ten'"),
        (["--photo-detail", "2"], "photo-detail must be at least 0 and at most 1, got 2"),
        (["--coarse-content", "0"], "coarse-content must be a number greater than 0, got '0'"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--weights", "/nowhere/vgg.pth"], "weights file /nowhere/vgg.pth does not exist"),
    ],
)
def test_bad_values(pair, tmp_path, capsys, flags, expected):
    c, s = pair
    out = tmp_path / "out.png"
    assert main(["stylize", str(c), str(s), "-o", str(out), *FAST, *flags]) == 2
    assert expected.lower() in _error(capsys).lower()
    assert not out.exists()


def test_an_argument_error_is_one_line_that_points_to_help(pair, tmp_path, capsys):
    """argparse's errors printed a second line, "(see 'studio stylize --help')"."""
    c, s = pair
    assert main(["stylize", str(c), str(s), "-o", str(tmp_path / "o.png"), "--size", "big"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["studio: error: size must be a whole number, got 'big'; see 'studio stylize --help'."]


def test_an_unrecognized_argument_points_to_the_commands_own_help(pair, tmp_path, capsys):
    """"photo --style a b" left b over, and the sentence pointed to 'studio --help', not the command's."""
    c, s = pair
    assert main(["stylize", str(c), "--style", str(s), str(s), "-o", str(tmp_path / "o.png"), *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"studio: error: unrecognized arguments: {s}; see 'studio stylize --help'."]


def test_the_photo_and_paintings_can_be_given_as_options(pair, tmp_path, capsys):
    """--style PAINTING (neural-style's -style_image) was refused as an ambiguous abbreviation of --style-weight."""
    from studio.recipe import read_recipe

    c, s = pair
    out = tmp_path / "o.png"
    assert main(["stylize", "--content", str(c), "--style", str(s), "--style", str(c), "-o", str(out), *FAST]) == 0
    recipe = read_recipe(out)
    assert recipe is not None
    assert [(i.role, Path(i.path).name) for i in recipe.inputs] == [
        ("content", c.name), ("style", s.name), ("style", c.name)]
    # with --content, an image given first is a painting
    assert main(["stylize", str(s), "--content", str(c), "-o", str(out), *FAST]) == 0
    assert [(i.role, Path(i.path).name) for i in read_recipe(out).inputs] == [("content", c.name), ("style", s.name)]


def test_output_in_missing_folder(pair, tmp_path, capsys):
    c, s = pair
    assert main(["stylize", str(c), str(s), "-o", str(tmp_path / "nope" / "out.png"), *FAST]) == 2
    assert "nope" in _error(capsys)


def test_recipe_from_a_png_without_one(pair, tmp_path, capsys):
    c, _ = pair
    assert main(["stylize", "--recipe", str(c), "-o", str(tmp_path / "o.png")]) == 2
    assert "holds no studio recipe" in _error(capsys)


def test_unusual_inputs_are_handled(tmp_path, default_net):
    """Grayscale, palette, 16-bit, CMYK, alpha and EXIF-rotated inputs all stylize."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (40, 30, 3), np.uint8)
    files = {
        "gray.png": Image.fromarray(base[..., 0]),
        "palette.png": Image.fromarray(base).convert("P"),
        "deep.png": Image.fromarray(base[..., 0].astype(np.uint16) * 257),
        "cmyk.jpg": Image.fromarray(base).convert("CMYK"),
        "alpha.png": Image.fromarray(np.dstack([base, base[..., :1]])),
    }
    for name, im in files.items():
        im.save(tmp_path / name)
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.fromarray(base).save(rotated, exif=exif)
    style = tmp_path / "palette.png"
    for name in [*files, "rotated.jpg"]:
        out = tmp_path / f"out_{Path(name).stem}.png"
        assert main(["stylize", str(tmp_path / name), str(style), "-o", str(out), *FAST]) == 0, name
        shape = np.asarray(Image.open(out)).shape
        assert shape == ((32, 24, 3) if name != "rotated.jpg" else (24, 32, 3)), (name, shape)


def test_weights_list(capsys):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "vgg16-hed" in out and "vgg19-torchvision" in out


def test_hand_edited_recipe_with_a_wrong_value(pair, tmp_path, capsys):
    """A recipe whose size is text gives one sentence naming the value, not a traceback."""
    from studio.image_save import save_image
    from studio.recipe import Recipe

    c, s = pair
    bad = Recipe(engine="stylize", params={"size": "big", "iterations": 2}, inputs=[], weights="",
                 studio_version="0", created="")
    old = tmp_path / "old.png"
    save_image(old, np.zeros((8, 8, 3), np.float32), metadata=bad.to_png_text())
    assert main(["stylize", str(c), str(s), "--recipe", str(old), "-o", str(tmp_path / "o.png"), "--force"]) == 2
    msg = _error(capsys)
    assert "size" in msg and "'big'" in msg and "whole number" in msg


def test_interrupt_outside_the_engine_loop_is_a_clean_exit(pair, tmp_path, monkeypatch, capsys):
    import studio.imageio

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(studio.imageio, "load_image", interrupted)
    c, s = pair
    out = tmp_path / "o.png"
    assert main(["stylize", str(c), str(s), "-o", str(out), *FAST]) == 130
    assert "interrupted" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize(("error", "expected"), [
    (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)"),
     "The job ran out of the GPU's memory: try a smaller size, or --device cpu"),
    (RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB)"), "ran out of the GPU's memory"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to "
                  "allocate 74 GB"), "The job ran out of memory: try a smaller size."),
    (MemoryError(), "The job ran out of memory: try a smaller size."),
])
def test_running_out_of_memory_is_one_sentence(pair, tmp_path, monkeypatch, capsys, error, expected):
    import studio.imageio

    def exhausted(*a, **k):
        raise error

    monkeypatch.setattr(studio.imageio, "load_image", exhausted)
    c, s = pair
    out = tmp_path / "o.png"
    assert main(["stylize", str(c), str(s), "-o", str(out), *FAST]) == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_another_runtime_error_is_not_called_a_lack_of_memory(pair, tmp_path, monkeypatch):
    import studio.imageio

    def broken(*a, **k):
        raise RuntimeError("expected scalar type Float but found Double")

    monkeypatch.setattr(studio.imageio, "load_image", broken)
    c, s = pair
    with pytest.raises(RuntimeError, match="scalar type"):
        main(["stylize", str(c), str(s), "-o", str(tmp_path / "o.png"), *FAST])


def test_precondition_flag_and_recipes_made_before_it(pair, tmp_path, default_net):
    """The default run preconditions L-BFGS and says so in its recipe; --no-precondition runs plain
    L-BFGS; a recipe written before the option existed was made with plain L-BFGS and re-runs so."""
    from studio.image_save import save_image
    from studio.recipe import Recipe

    c, s = pair
    default, plain = tmp_path / "default.png", tmp_path / "plain.png"
    assert main(["stylize", str(c), str(s), "-o", str(default), *FAST]) == 0
    assert main(["stylize", str(c), str(s), "-o", str(plain), "--no-precondition", *FAST]) == 0
    r_default, r_plain = read_recipe(default), read_recipe(plain)
    assert r_default is not None and r_default.params["precondition"] is True
    assert r_plain is not None and r_plain.params["precondition"] is False
    assert not np.array_equal(np.asarray(Image.open(default)), np.asarray(Image.open(plain)))

    params = {k: v for k, v in r_plain.params.items() if k != "precondition"}
    old = Recipe(engine="stylize", params=params, inputs=r_plain.inputs, weights=r_plain.weights,
                 studio_version="0.1.0", created="")
    old_png = tmp_path / "old.png"
    save_image(old_png, np.zeros((8, 8, 3), np.float32), metadata=old.to_png_text())
    again = tmp_path / "again.png"
    assert main(["stylize", "--recipe", str(old_png), "-o", str(again), "--force"]) == 0
    r_again = read_recipe(again)
    assert r_again is not None and r_again.params["precondition"] is False
    np.testing.assert_array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(plain)))


def test_a_recipe_made_with_auto_reruns_with_the_network_that_made_it(pair, tmp_path, default_net, hed_net, capsys):
    """``auto`` follows the best network installed, so a recipe made with it on VGG16-hed (before vgg16-lpips was
    the offline default) re-runs on VGG16-hed, the same picture, and says so before it runs."""
    from studio.image_save import save_image
    from studio.recipe import Recipe

    c, s = pair
    on_hed = tmp_path / "hed.png"
    assert main(["stylize", str(c), str(s), "-o", str(on_hed), "--weights", "vgg16-hed", *FAST]) == 0
    made = read_recipe(on_hed)
    assert made is not None and made.weights == "vgg16-hed"
    old = Recipe(engine="stylize", params={**made.params, "weights": "auto"}, inputs=made.inputs,
                 weights="vgg16-hed", studio_version="0.9.0", created="")
    old_png = tmp_path / "old.png"
    save_image(old_png, np.zeros((8, 8, 3), np.float32), metadata=old.to_png_text())
    capsys.readouterr()
    again = tmp_path / "again.png"
    assert main(["stylize", "--recipe", str(old_png), "-o", str(again), "--force"]) == 0
    assert "loads the feature network vgg16-hed (the one that made it)" in capsys.readouterr().err
    r_again = read_recipe(again)
    assert r_again is not None and r_again.weights == "vgg16-hed"
    np.testing.assert_array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(on_hed)))
    fresh = tmp_path / "fresh.png"
    assert main(["stylize", str(c), str(s), "-o", str(fresh), *FAST]) == 0
    r_fresh = read_recipe(fresh)
    assert r_fresh is not None and r_fresh.weights == default_net.source


def test_stylize_strength_fades_and_the_recipe_carries_it(pair, tmp_path, default_net):
    c, s = pair
    full, half = tmp_path / "full.png", tmp_path / "half.png"
    assert main(["stylize", str(c), str(s), "-o", str(full), "--seed", "1", *FAST]) == 0
    assert main(["stylize", str(c), str(s), "-o", str(half), "--seed", "1", "--strength", "0.5", "--fade", "rgb",
                 *FAST]) == 0
    recipe = read_recipe(half)
    assert recipe.params["strength"] == 0.5 and recipe.params["fade"] == "rgb"
    photo = np.asarray(Image.open(c).resize((32, 24), Image.Resampling.BOX), np.float32)
    a, b = np.asarray(Image.open(full), np.float32), np.asarray(Image.open(half), np.float32)
    assert np.abs(b - (a + photo) / 2).mean() < 3.0  # halfway between the stylised picture and the photo
    again = tmp_path / "again.png"
    assert main(["stylize", "--recipe", str(half), "-o", str(again), "--force"]) == 0
    assert read_recipe(again).params["strength"] == 0.5


def test_stylize_start_renders_a_faded_preview_at_full_size_telling_the_time(pair, tmp_path, default_net, capsys):
    c, s = pair
    preview, big = tmp_path / "preview.png", tmp_path / "big.png"
    assert main(["stylize", str(c), str(s), "-o", str(preview), "--seed", "1", "--strength", "0.5", *FAST]) == 0
    capsys.readouterr()
    # the preview's own recipe brings the photo, the painting and the settings
    assert main(["stylize", "--start", str(preview), "--size", "64", "-o", str(big)]) == 0
    err = capsys.readouterr().err
    assert "faded to strength 0.5" in err
    assert "full size: 64x48 from 32x24, 2 iterations: about" in err and "on this machine" in err
    recipe = read_recipe(big)
    assert Image.open(big).size == (64, 48)
    assert recipe.params["size"] == 64 and recipe.params["strength"] == 0.5  # faded again, as the preview was
    assert recipe.extra["full_size_from"] == [32, 24]
    assert main(["stylize", "--start", str(preview), "-o", str(big), "--force"]) == 2
    assert "--start needs --size" in capsys.readouterr().err
    assert main(["stylize", "--start", str(preview), "--size", "32", "-o", str(big), "--force"]) == 2
    assert "a larger size than that" in capsys.readouterr().err


def test_the_first_ctrl_c_asks_a_long_job_to_stop_and_the_second_stops_at_once(capsys):
    """What the trainers run under on the command line: the first Ctrl-C is the app's Stop (the job ends its step
    and saves), the second a plain interrupt; the handler before it is back afterwards."""
    import os
    import signal

    from studio.cli_args import stop_on_interrupt
    from studio.engines.events import JobControl

    before = signal.getsignal(signal.SIGINT)
    control = JobControl()
    with stop_on_interrupt(control, "a checkpoint"):
        os.kill(os.getpid(), signal.SIGINT)
        assert control.cancelled
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
    assert "stopping after this step and saving a checkpoint" in capsys.readouterr().err


def test_look_sets_both_coarse_to_fine_settings_and_a_flag_overrides_it(pair, tmp_path, default_net):
    c, s = pair
    for flags, expected in ((["--look", "landscape"], (0.0, 1.0)), (["--look", "portrait"], (1.0, 3.0)),
                            (["--look", "landscape", "--photo-detail", "0.5"], (0.5, 1.0))):
        out = tmp_path / "look.png"
        assert main(["stylize", str(c), str(s), "-o", str(out), *FAST, *flags]) == 0
        recipe = read_recipe(out)
        assert recipe is not None and (recipe.params["photo_detail"], recipe.params["coarse_content"]) == expected
