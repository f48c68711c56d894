"""CycleGAN training on tiny synthetic domains (red squares vs blue circles): the cycle loss falls, the
checkpoints have the official layout and load as translators, runs resume and cancel; bad folders fail
with one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.engines.cyclegan.data import ImagePool, list_images, random_crop
from studio.engines.cyclegan.io import load_generator
from studio.engines.cyclegan.params import TrainParams
from studio.engines.cyclegan.train import NET_NAMES, lr_factor, run_train
from studio.engines.errors import StudioInputError
from studio.engines.events import Finished, JobControl, Progress
from studio.image_save import IMAGE_FILES

TINY = TrainParams(ngf=8, ndf=4, lr=2e-3, n_blocks=1, load_size=40, crop_size=32, epochs=2, epochs_decay=1,
                   epoch_size=10,
                   preview_every=5, save_epoch_every=1, pool_size=4, seed=0, device="cpu")


def _domains(root: Path, n: int = 4) -> tuple[Path, Path]:
    a, b = root / "squares", root / "circles"
    a.mkdir()
    b.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:40]
    for i in range(n):
        img = np.full((40, 40, 3), 235, np.uint8)
        x0, y0 = rng.integers(2, 16, 2)
        img[y0:y0 + 18, x0:x0 + 18] = (220, 30, 30)
        Image.fromarray(img).save(a / f"sq{i}.png")
        img = np.full((40, 40, 3), 235, np.uint8)
        cx, cy = rng.integers(12, 28, 2)
        img[(xx - cx) ** 2 + (yy - cy) ** 2 < 81] = (30, 40, 220)
        Image.fromarray(img).save(b / f"ci{i}.png")
    return a, b


@pytest.fixture()
def domains(tmp_path):
    return _domains(tmp_path)


def _run(a, b, out, params, **kw):
    events = list(run_train(a, b, out, params, files=IMAGE_FILES, **kw))
    return [e for e in events if isinstance(e, Progress)], events[-1]


def test_a_few_steps_lower_the_cycle_loss_and_write_official_checkpoints(domains, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    prog, fin = _run(*domains, out, TINY)
    assert isinstance(fin, Finished) and not fin.cancelled and fin.iterations == 30
    cyc = [p.losses["cycle_A"] + p.losses["cycle_B"] for p in prog]
    assert np.mean(cyc[-5:]) < 0.5 * np.mean(cyc[:5]), cyc
    for name in NET_NAMES:
        assert (out / f"latest_net_{name}.pth").is_file()
        for epoch in (1, 2, 3):
            assert (out / f"{epoch}_net_{name}.pth").is_file()
    sd = torch.load(out / "latest_net_G_A.pth", weights_only=True)
    assert "model.1.weight" in sd and all(isinstance(v, torch.Tensor) for v in sd.values())  # a plain state dict
    g = load_generator(out / "latest_net_G_A.pth")
    assert (g.ngf, g.n_blocks) == (8, 1)
    # previews: A, G(A), F(G(A)) over B, F(B), G(F(B)) -> 2 rows, 3 columns of 32 px crops
    previews = [p.preview for p in prog if p.preview is not None]
    assert previews and previews[0].shape == (2 * 32 + 2, 3 * 32 + 4, 3) and previews[0].dtype == np.uint8
    assert (out / "samples_latest.png").is_file()
    assert json.loads((out / "train_opt.json").read_text())["ngf"] == 8
    assert not list(out.glob(".*tmp"))


def test_resume_continues_from_the_saved_epoch(domains, tmp_path):
    out = tmp_path / "run"
    _run(*domains, out, TINY.with_changes(epochs=1, epochs_decay=0, epoch_size=3))
    before = torch.load(out / "latest_net_G_A.pth", weights_only=True)
    prog, fin = _run(*domains, out, TINY.with_changes(epochs=2, epochs_decay=0, epoch_size=3), resume=True)
    assert [p.iteration for p in prog] == [4, 5, 6] and "epoch 2/2" in prog[0].stage
    after = torch.load(out / "latest_net_G_A.pth", weights_only=True)
    assert not torch.equal(before["model.1.weight"], after["model.1.weight"])
    with pytest.raises(StudioInputError, match="nothing to resume"):
        list(run_train(*domains, tmp_path / "empty_run", TINY, resume=True, files=IMAGE_FILES))


def test_cancel_saves_and_stops(domains, tmp_path):
    control = JobControl()
    out = tmp_path / "run"
    seen = 0
    fin = None
    for ev in run_train(*domains, out, TINY, control, files=IMAGE_FILES):
        if isinstance(ev, Progress):
            seen += 1
            if seen == 2:
                control.cancel()
        fin = ev
    assert isinstance(fin, Finished) and fin.cancelled and fin.iterations == 2
    assert (out / "latest_net_G_A.pth").is_file()


def test_bad_folders_fail_with_one_sentence(domains, tmp_path):
    a, b = domains
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StudioInputError, match="holds no images"):
        list(run_train(a, empty, tmp_path / "r", TINY, files=IMAGE_FILES))
    with pytest.raises(StudioInputError, match="does not exist"):
        list(run_train(tmp_path / "missing", b, tmp_path / "r", TINY, files=IMAGE_FILES))
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.png").write_bytes(b"not a png")
    with pytest.raises(StudioInputError, match="could be read"):
        list(run_train(a, junk, tmp_path / "r", TINY, files=IMAGE_FILES))
    with pytest.raises(StudioInputError, match="crop-size"):
        list(run_train(a, b, tmp_path / "r", TINY.with_changes(crop_size=30), files=IMAGE_FILES))
    assert list_images(a)[0].name == "sq0.png"


def test_schedule_pool_and_crops():
    p = TrainParams(epochs=100, epochs_decay=100)
    assert lr_factor(1, p) == 1.0 and lr_factor(100, p) == 1.0
    assert lr_factor(101, p) == pytest.approx(1 - 1 / 101) and lr_factor(200, p) == pytest.approx(1 / 101)
    rng = np.random.default_rng(0)
    pool = ImagePool(2, rng)
    fakes = [torch.full((1, 3, 2, 2), float(i)) for i in range(20)]
    got = [pool.query(f).flatten()[0].item() for f in fakes]
    assert got[:2] == [0.0, 1.0] and any(g < i for i, g in enumerate(got))  # older fakes come back
    img = rng.random((50, 80, 3)).astype(np.float32)
    for pre in ("resize_and_crop", "scale_and_crop"):
        c = random_crop(img, 32, 40, pre, True, rng)
        assert c.shape == (32, 32, 3)


@pytest.mark.parametrize("content", ["{not json", "[1, 2, 3]", "[" * 100000 + "]" * 100000, "\udcff"],
                         ids=["not-json", "a-list", "nested", "not-utf8"])
def test_a_damaged_options_file_of_a_run_folder_is_one_sentence(tmp_path, content):
    from studio.engines.cyclegan.train import OPT_FILE, read_run_options
    from studio.engines.errors import StudioInputError

    (tmp_path / OPT_FILE).write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(StudioInputError, match="train_opt.json") as err:
        read_run_options(tmp_path)
    assert "\n" not in str(err.value)
    assert read_run_options(tmp_path / "elsewhere") == {}


def test_resume_from_a_damaged_run_folder_is_one_sentence(domains, tmp_path):
    import json

    from studio.engines.cyclegan.train import OPT_FILE, STATE_FILE, read_run_options

    out = tmp_path / "run"
    _run(*domains, out, TINY.with_changes(epochs=1, epochs_decay=0, epoch_size=2))
    state = torch.load(out / STATE_FILE, weights_only=True)
    del state["opt_G"]
    torch.save(state, out / STATE_FILE)
    with pytest.raises(StudioInputError, match="lacks 'opt_G'; remove it to resume from the networks alone"):
        list(run_train(*domains, out, TINY.with_changes(epochs=2, epoch_size=2), resume=True, files=IMAGE_FILES))
    (out / OPT_FILE).write_text("not json")
    with pytest.raises(StudioInputError, match="is not a readable options file"):
        read_run_options(out)
    (out / OPT_FILE).write_text(json.dumps([1, 2]))
    with pytest.raises(StudioInputError, match="holds a list, not the object of options"):
        read_run_options(out)
