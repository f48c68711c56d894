"""``studio train-gan`` and ``studio gan sample|interpolate|project`` end to end (tiny models)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.recipe import read_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gan")
    d = root / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(d / f"{i}.png")
    out = root / "run"
    rc = main(["train-gan", str(d), "--out", str(out), "--size", "16", "--loss", "wgan-gp", "--iterations", "3",
               "--batch-size", "4", "--nz", "8", "--ngf", "4", "--ndf", "4", "--sample-every", "3",
               "--device", "cpu", "--describe-data", "three noise pictures"])
    assert rc == 0
    return out


def test_train_gan_writes_a_generator_with_a_card(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = json.loads((trained / "generator.json").read_text())
    assert card["training_data"] == "three noise pictures" and card["generator_iterations"] == 3
    assert card["loss"] == "wgan-gp" and card["arch"]["critic_norm"] == "none"
    assert (trained / "samples" / "iter_000003.png").is_file()
    # an existing run is not overwritten without --force (non-interactive: one sentence, exit 2)
    rc = main(["train-gan", str(trained.parent / "imgs"), "--out", str(trained), "--size", "16", "--iterations", "1"])
    assert rc == 2 and "--force" in capsys.readouterr().err


def test_train_gan_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["train-gan", str(tmp_path / "empty"), "--out", str(tmp_path / "o"), "--size", "16",
                 "--iterations", "1", "--device", "cpu"]) == 2
    assert "holds no image files" in capsys.readouterr().err
    assert main(["train-gan", str(tmp_path), "--out", str(tmp_path / "o"), "--size", "40"]) == 2
    assert "multiple of 16" in capsys.readouterr().err


def test_gan_sample_writes_a_recipe_and_latents(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    assert main(["gan", "sample", "--model", str(trained / "generator.pt"), "--seed", "5", "--count", "4",
                 "--save-latents", str(tmp_path / "z.npy"), "-o", str(out)]) == 0
    with Image.open(out) as im:
        assert im.size == (2 * 16 + 3 * 2, 2 * 16 + 3 * 2)  # a 2x2 grid with 2 px padding
    recipe = read_recipe(out)
    assert recipe is not None and recipe.engine == "gan-sample" and recipe.params["seed"] == 5
    assert recipe.inputs[0].role == "generator" and len(recipe.params["z"]) == 4
    z = np.load(tmp_path / "z.npy")
    assert z.shape == (4, 8)
    # re-rendering the saved latents gives the same pictures
    out2 = tmp_path / "again.png"
    assert main(["gan", "sample", "--model", str(trained / "generator.pt"), "--latents", str(tmp_path / "z.npy"),
                 "-o", str(out2)]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(out2)))


def test_gan_interpolate_and_project(trained: Path, tmp_path: Path) -> None:
    model = str(trained / "generator.pt")
    assert main(["gan", "interpolate", "--model", model, "--frames", "5", "--upscale", "2",
                 "-o", str(tmp_path / "walk.gif")]) == 0
    with Image.open(tmp_path / "walk.gif") as im:
        assert im.n_frames == 5 and im.size == (32, 32)
    assert main(["gan", "interpolate", "--model", model, "--frames", "3", "-o", str(tmp_path / "frames")]) == 0
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 3
    target = tmp_path / "target.png"
    Image.fromarray(np.full((30, 20, 3), 128, np.uint8)).save(target)
    assert main(["gan", "project", str(target), "--model", model, "--steps", "5",
                 "--save-latent", str(tmp_path / "p.npy"), "-o", str(tmp_path / "proj.png")]) == 0
    recipe = read_recipe(tmp_path / "proj.png")
    assert recipe is not None and recipe.engine == "gan-project" and len(recipe.params["z"]) == 8
    assert recipe.params["detail_steps"] == 300 and len(recipe.params["detail"]["shape"]) == 3
    assert np.load(tmp_path / "p.npy").shape == (1, 8)
    assert main(["gan", "project", str(target), "--model", model, "--steps", "5", "--detail-steps", "0",
                 "-o", str(tmp_path / "alone.png")]) == 0
    assert "detail" not in read_recipe(tmp_path / "alone.png").params


def test_gan_bad_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    assert main(["gan", "sample", "--model", str(tmp_path / "x.pt"), "-o", str(tmp_path / "o.png")]) == 2
    assert "x.pt" in capsys.readouterr().err
