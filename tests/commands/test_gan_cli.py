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


def test_train_gan_makes_the_output_folders_as_the_readme_writes_them(trained: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The README's ``--out runs/mine`` on a fresh folder was 'the folder runs does not exist'."""
    out = tmp_path / "runs" / "mine"
    assert main(["train-gan", str(trained.parent / "imgs"), "--out", str(out), "--size", "16", "--iterations", "1",
                 "--batch-size", "4", "--nz", "8", "--ngf", "4", "--ndf", "4", "--device", "cpu"]) == 0
    assert (out / "generator.pt").is_file()
    (tmp_path / "afile").write_text("x")
    assert main(["train-gan", str(trained.parent / "imgs"), "--out", str(tmp_path / "afile" / "mine"), "--size",
                 "16", "--iterations", "1"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


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


TINY_RUN = ["--size", "16", "--loss", "dcgan", "--batch-size", "4", "--nz", "8", "--ngf", "4", "--ndf", "4",
            "--device", "cpu"]


def test_ctrl_c_stops_after_the_step_and_saves_a_checkpoint(trained: Path, tmp_path: Path, monkeypatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The first checkpoint comes at step 500 (18 minutes at the defaults on a CPU): Ctrl-C threw away all of it.
    Now it stops as the app's Stop does, after the step, and saves."""
    import os
    import signal

    import torch

    from studio.engines.gan.train import GanTrainer

    step = GanTrainer.generator_step

    def ctrl_c_at_step_2(self):  # noqa: ANN001, ANN202
        terms = step(self)
        if self.iteration == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return terms

    monkeypatch.setattr(GanTrainer, "generator_step", ctrl_c_at_step_2)
    before = signal.getsignal(signal.SIGINT)
    out = tmp_path / "run"
    rc = main(["train-gan", str(trained.parent / "imgs"), "--out", str(out), *TINY_RUN, "--iterations", "50"])
    err = capsys.readouterr().err
    assert rc == 130, err
    ckpt = out / "checkpoint.pt"
    assert torch.load(ckpt, weights_only=True)["iteration"] == 2
    assert "stopped at generator step 2" in err and f"--resume {ckpt}" in err
    assert signal.getsignal(signal.SIGINT) is before


def test_resuming_into_a_folder_that_holds_another_run_asks_first(trained: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    imgs = str(trained.parent / "imgs")
    other = tmp_path / "other"
    assert main(["train-gan", imgs, "--out", str(other), *TINY_RUN, "--iterations", "2", "--sample-every", "1"]) == 0
    capsys.readouterr()
    kept = (other / "checkpoint.pt").read_bytes()
    # the trained run (wgan-gp, 3 steps) continued into a folder holding another run: refused without --force
    rc = main(["train-gan", imgs, "--out", str(other), "--resume", str(trained / "checkpoint.pt"), "--iterations", "4"])
    assert rc == 2 and "--force" in capsys.readouterr().err
    assert (other / "checkpoint.pt").read_bytes() == kept
    assert main(["train-gan", imgs, "--out", str(other), "--resume", str(trained / "checkpoint.pt"),
                 "--iterations", "4", "--sample-every", "1", "--force"]) == 0
    assert json.loads((other / "generator.json").read_text())["loss"] == "wgan-gp"
    # and the run it replaced leaves no sample grids behind (its iter_000001, iter_000002)
    assert sorted(p.name for p in (other / "samples").iterdir()) == ["iter_000004.png"]
    # continuing a run in its own folder needs no --force
    assert main(["train-gan", imgs, "--out", str(other), "--resume", str(other / "checkpoint.pt"),
                 "--iterations", "5"]) == 0


def test_resuming_a_finished_run_says_there_is_nothing_to_train(trained: Path, capsys: pytest.CaptureFixture[str]
                                                                ) -> None:
    before = {f: f.stat().st_mtime_ns for f in trained.rglob("*")}
    rc = main(["train-gan", str(trained.parent / "imgs"), "--out", str(trained), "--resume",
               str(trained / "checkpoint.pt"), "--iterations", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("studio: error: Nothing to train") and "step 3" in err, err
    assert err.count("\n") == 1  # one sentence: no "Resuming with ..." line, no "wrote ..."
    assert {f: f.stat().st_mtime_ns for f in trained.rglob("*")} == before


def test_gan_sample_takes_a_train_gan_run_folder(trained: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grid.png"
    assert main(["gan", "sample", "--model", str(trained), "--count", "4", "-o", str(out)]) == 0
    recipe = read_recipe(out)
    assert recipe is not None and Path(recipe.inputs[0].path) == (trained / "generator.pt").resolve()
    assert main(["gan", "sample", "--model", str(tmp_path), "-o", str(tmp_path / "x.png")]) == 2
    assert "generator.pt" in capsys.readouterr().err


def test_a_lost_peer_under_torchrun_is_one_sentence_naming_the_checkpoint(tmp_path: Path, monkeypatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Two torchrun agents (two machines): when the other rank dies, gloo's ~30-line traceback ("Connection reset by
    peer") was all rank 0 said."""
    import studio.engines.gan.train as train
    from studio.engines.events import Info

    def lost(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        yield Info("Training on 3 image(s).")
        raise RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:17312: "
                           "Connection reset by peer")

    monkeypatch.setattr(train, "run_train_gan", lost)
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"step 500")
    for name, value in (("WORLD_SIZE", "2"), ("RANK", "0"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(name, value)
    rc = main(["train-gan", str(tmp_path), "--out", str(out), "--resume", str(out / "checkpoint.pt")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err and "connection to it was lost" in err
    assert f"the last checkpoint {out / 'checkpoint.pt'} is kept (resume with --resume" in err
    # in a single process the same error is not a lost peer: it is not hidden
    monkeypatch.setenv("WORLD_SIZE", "1")
    with pytest.raises(RuntimeError, match="Connection reset"):
        main(["train-gan", str(tmp_path), "--out", str(out), "--resume", str(out / "checkpoint.pt")])


def test_a_second_ctrl_c_stops_at_once(trained: Path, tmp_path: Path, monkeypatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import signal

    from studio.engines.gan.train import GanTrainer

    step = GanTrainer.generator_step

    def two_ctrl_c(self):  # noqa: ANN001, ANN202
        terms = step(self)
        if self.iteration == 2:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return terms

    monkeypatch.setattr(GanTrainer, "generator_step", two_ctrl_c)
    out = tmp_path / "run"
    rc = main(["train-gan", str(trained.parent / "imgs"), "--out", str(out), *TINY_RUN, "--iterations", "50"])
    err = capsys.readouterr().err
    assert rc == 130 and "interrupted before the first checkpoint" in err and "Traceback" not in err, err
    assert not (out / "checkpoint.pt").exists()
