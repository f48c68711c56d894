"""`studio translate`, `studio train-cyclegan` and `studio translators` from the command line."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from studio import cyclegan_catalogue as cat
from studio.cli import main
from studio.engines.cyclegan.models import NLayerDiscriminator, ResnetGenerator
from studio.recipe import read_recipe
from tests.conftest import two_training_folders


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_CYCLEGAN_DIR", str(tmp_path / "translators"))
    monkeypatch.setattr(cat, "network_available", lambda *a, **k: False)


@pytest.fixture()
def model(tmp_path):
    torch.manual_seed(0)
    f = tmp_path / "tiny.pth"
    torch.save(ResnetGenerator(ngf=4, n_blocks=1).state_dict(), f)
    return f


def _image(path, h=45, w=70):
    yy, xx = np.mgrid[0:h, 0:w]
    Image.fromarray(np.stack([xx * 3, yy * 5, 100 + 0 * xx], -1).astype(np.uint8)).save(path)
    return path


def _error(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("studio: error:")]
    assert len(lines) == 1, lines
    return lines[0]


def test_translate_a_batch_with_tiles_and_recipe(tmp_path, model):
    a, b = _image(tmp_path / "a.png"), _image(tmp_path / "b.jpg", 130, 97)
    out = tmp_path / "out"
    assert main(["translate", str(model), str(a), str(b), "-o", str(out), "--tile", "64", "--overlap", "16",
                 "--strength", "0.7"]) == 0
    ra, rb = out / "a_tiny.png", out / "b_tiny.png"
    assert np.asarray(Image.open(ra)).shape == (45, 70, 3) and np.asarray(Image.open(rb)).shape == (130, 97, 3)
    recipe = read_recipe(rb)
    assert recipe is not None and recipe.engine == "translate" and recipe.params["strength"] == 0.7
    assert recipe.params["tile"] == 64 and recipe.extra["tiles"] == 6 and "sha256:" in recipe.weights
    # existing outputs are not overwritten without --force
    assert main(["translate", str(model), str(a), "-o", str(out)]) == 2


def test_translate_with_a_mask_changes_only_the_selection(tmp_path, model):
    a = _image(tmp_path / "a.png")
    mask = np.zeros((45, 70), np.uint8)
    mask[:, 35:] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    assert main(["translate", str(model), str(a), "-o", str(tmp_path), "--mask", str(tmp_path / "m.png"),
                 "--format", "png", "--force"]) == 0
    src = np.asarray(Image.open(a)).astype(int)
    res = np.asarray(Image.open(tmp_path / "a_tiny.png")).astype(int)
    assert np.abs(res[:, :35] - src[:, :35]).max() <= 1
    assert np.abs(res[:, 35:] - src[:, 35:]).mean() > 5


def test_translate_bad_inputs_give_one_sentence(tmp_path, model, capsys):
    a = _image(tmp_path / "a.png")
    d = tmp_path / "latest_net_D_A.pth"
    torch.save(NLayerDiscriminator(ndf=4).state_dict(), d)
    assert main(["translate", str(d), str(a), "-o", str(tmp_path / "o")]) == 2
    assert "discriminator" in _error(capsys)
    assert main(["translate", "style_monet", str(a), "-o", str(tmp_path / "o")]) == 2
    assert "not downloaded yet" in _error(capsys)
    assert main(["translate", str(model), str(tmp_path / "missing.png"), "-o", str(tmp_path / "o")]) == 2
    assert "does not exist" in _error(capsys)
    assert main(["translate", str(model), str(a), "-o", str(tmp_path / "o"), "--strength", "2"]) == 2
    assert "Strength must be between 0 and 1" in _error(capsys)
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    assert main(["translate", str(model), str(tmp_path / "corrupt.png"), "-o", str(tmp_path / "o")]) == 2
    assert "corrupt" in _error(capsys) or "not an image" in _error(capsys)


def test_train_cyclegan_then_translate_with_the_run(tmp_path, capsys):
    two_training_folders(tmp_path)
    run = tmp_path / "run"
    args = ["train-cyclegan", str(tmp_path / "A"), str(tmp_path / "B"), "-o", str(run), "--ngf", "4", "--ndf", "4",
            "--blocks", "1", "--crop-size", "32", "--load-size", "36", "--epochs", "1", "--epochs-decay", "0",
            "--epoch-size", "2", "--threads", "1"]
    assert main(args) == 0
    assert (run / "latest_net_G_B.pth").is_file() and (run / "1_net_D_A.pth").is_file()
    assert main(args) == 2 and "--resume" in _error(capsys)
    assert main([*args[:-6], "--epochs", "2", "--epochs-decay", "0", "--epoch-size", "2", "--resume"]) == 0
    assert main(["translate", str(run), str(tmp_path / "A" / "0.png"), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "0_latest_net_G_A.png").is_file()
    assert main(["train-cyclegan", str(tmp_path / "A"), str(tmp_path / "nothing"), "-o", str(tmp_path / "r2")]) == 2
    assert "does not exist" in _error(capsys)


def test_translators_list_offline_offers_import(tmp_path, capsys):
    assert main(["translators", "list"]) == 0
    out = capsys.readouterr()
    assert "horse2zebra" in out.out and "not downloaded" in out.out
    assert "cannot be reached" in out.err and "studio translators import" in out.err
    assert main(["translators", "download", "horse2zebra"]) == 2
    assert "cannot be reached" in _error(capsys)
    torch.save(ResnetGenerator(ngf=4, n_blocks=1).state_dict(), tmp_path / "mine.pth")
    assert main(["translators", "import", str(tmp_path / "mine.pth")]) == 0
    assert main(["translators", "list"]) == 0
    assert "mine" in capsys.readouterr().out


def _two_domains(tmp_path, n=2):
    for dom, colour in (("A", (200, 40, 40)), ("B", (40, 40, 200))):
        (tmp_path / dom).mkdir()
        for i in range(n):
            img = np.full((40, 40, 3), 230, np.uint8)
            img[5 + i * 5:25 + i * 5, 8:28] = colour
            Image.fromarray(img).save(tmp_path / dom / f"{i}.png")
    return ["train-cyclegan", str(tmp_path / "A"), str(tmp_path / "B"), "--ngf", "4", "--ndf", "4", "--blocks", "1",
            "--crop-size", "32", "--load-size", "36", "--threads", "1"]


def test_ctrl_c_saves_a_checkpoint_says_how_to_resume_and_the_resume_goes_on_from_there(tmp_path, monkeypatch,
                                                                                         capsys):
    import os
    import signal

    import studio.commands.train_cyclegan as cmd
    from studio.progress import ProgressBar

    class CtrlCAtStep3(ProgressBar):
        def update(self, done, total, *a, **k):
            if done == 3:
                os.kill(os.getpid(), signal.SIGINT)  # as a Ctrl-C in the terminal
            super().update(done, total, *a, **k)

    monkeypatch.setattr(cmd, "rank_bar", lambda label: CtrlCAtStep3(label))
    run = tmp_path / "run"
    args = [*_two_domains(tmp_path), "-o", str(run), "--epochs", "1", "--epochs-decay", "0", "--epoch-size", "20"]
    before = signal.getsignal(signal.SIGINT)
    assert main(args) == 130
    assert signal.getsignal(signal.SIGINT) is before
    err = capsys.readouterr().err
    assert "stopping after this step and saving a checkpoint" in err
    assert f"{run}" in err and "--resume" in err and "nothing to resume" not in err
    state = torch.load(run / "latest_train_state.pth", weights_only=True)
    assert state["epoch"] == 0 and 0 < state["epoch_fraction"] < 1
    monkeypatch.setattr(cmd, "rank_bar", lambda label: ProgressBar(label))
    assert main([*args, "--resume"]) == 0
    err = capsys.readouterr().err
    # the count goes on from where it stopped, and never past its end (a bare "21/" also matched pytest's own
    # temporary folder, "pytest-321/", in the paths the command prints: this test failed on every 100th run)
    assert " 4/20 " in err and "20/20" in err and not re.search(r"(?<![\w-])(2[1-9]|[3-9]\d)/20\b", err)
    assert "done: 17 iterations" in err  # this session's steps


def test_resume_takes_the_time_limit_given_now(tmp_path, capsys):
    run = tmp_path / "run"
    args = [*_two_domains(tmp_path), "-o", str(run), "--epochs", "1", "--epochs-decay", "0", "--epoch-size", "2"]
    assert main([*args, "--max-seconds", "600"]) == 0
    from studio.engines.cyclegan.train import read_run_options

    assert read_run_options(run)["max_seconds"] == 600
    assert main([*args[:-6], "--epochs", "2", "--epochs-decay", "0", "--epoch-size", "2", "--resume"]) == 0
    assert read_run_options(run)["max_seconds"] is None


def test_force_then_resume_and_a_finished_plan(tmp_path, capsys):
    run = tmp_path / "run"
    base = _two_domains(tmp_path)
    args = [*base, "-o", str(run), "--epochs", "1", "--epochs-decay", "0", "--epoch-size", "2"]
    assert main(args) == 0
    # nothing left to train: one sentence, exit code 2, nothing rewritten
    stamps = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    assert main([*args, "--resume"]) == 2
    assert "already trained its 1 epoch" in _error(capsys)
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == stamps
    # other sizes on a resume: the sentence names the sizes of the run's files
    assert main([*args, "--resume", "--ngf", "8", "--epochs", "2"]) == 2
    assert "ngf 4, 1 blocks, ndf 4" in _error(capsys)


def test_a_fresh_run_on_a_device_that_is_not_there_leaves_the_earlier_run_alone(tmp_path, capsys, monkeypatch):
    """--force with --device cuda on a machine without one removed the earlier run's 11 files, then said there is
    no CUDA GPU: the device is now checked before anything of the earlier run goes."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run = tmp_path / "run"
    args = [*_two_domains(tmp_path), "-o", str(run), "--epochs", "1", "--epochs-decay", "0", "--epoch-size", "2"]
    assert main(args) == 0
    kept = sorted(p.name for p in run.iterdir())
    assert main([*args, "--force", "--device", "cuda"]) == 2
    assert "no usable CUDA GPU" in _error(capsys)
    assert sorted(p.name for p in run.iterdir()) == kept and "latest_net_G_A.pth" in kept


def test_save_every_below_a_second_names_the_flag(tmp_path, capsys):
    args = [*_two_domains(tmp_path), "-o", str(tmp_path / "run"), "--save-every", "0.001"]
    assert main(args) == 2
    err = _error(capsys)
    assert "save-every" in err and "save-every-s" not in err


@pytest.mark.parametrize("name", ["../../escaped", "photo/painting", "horse2zebra"])
def test_a_trained_translators_name_that_would_leave_its_folder_or_hide_another_is_refused(tmp_path, monkeypatch,
                                                                                           capsys, name):
    monkeypatch.setenv("STUDIO_CYCLEGAN_DIR", str(tmp_path / "translators"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert main(["train-cyclegan", str(tmp_path / "a"), str(tmp_path / "b"), "--name", name]) == 2
    assert "translator" in capsys.readouterr().err
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "translators").exists()


def test_one_folder_as_a_and_b_is_one_sentence(tmp_path, capsys):
    """It trained on the one folder as both sets without a word."""
    two_training_folders(tmp_path)
    out = tmp_path / "run"
    assert main(["train-cyclegan", str(tmp_path / "A"), str(tmp_path / "A" / ".."/ "A"), "-o", str(out)]) == 2
    assert "Folders A and B are both 'A'" in _error(capsys)
    assert not out.exists()
