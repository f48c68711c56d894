"""GAN training: the WGAN clamp and critic schedule, the gradient penalty, mode coverage, files, resume."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.engines.errors import StudioInputError
from studio.engines.events import Finished, Info, JobControl, Progress
from studio.engines.gan.checkpoints import load_generator
from studio.engines.gan.data import ImageSet, list_images, load_folder, random_batch
from studio.engines.gan.models import to_uint8_images
from studio.engines.gan.params import TrainGanParams
from studio.engines.gan.train import GanTrainer, clamp_weights, critic_steps, gradient_penalty, run_train_gan
from studio.image_save import IMAGE_FILES

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(size=16, nz=8, ngf=4, ndf=4, batch_size=4, sample_count=4)


def test_wgan_critic_schedule() -> None:
    steps = [critic_steps(i, "wgan") for i in range(1200)]
    assert steps[:25] == [100] * 25  # the first 25 generator steps
    assert steps[25:30] == [5] * 5
    assert steps[500] == 100 and steps[1000] == 100 and steps[501] == 5 and steps[999] == 5
    assert sum(s == 100 for s in steps) == 27
    assert critic_steps(7, "wgan", n_critic=3) == 100 and critic_steps(30, "wgan", n_critic=3) == 3
    assert all(critic_steps(i, "wgan-gp") == 5 for i in (0, 24, 500))  # no warm-up in WGAN-GP
    assert all(critic_steps(i, "dcgan") == 1 for i in (0, 500))


def test_clamp_before_every_critic_step() -> None:
    p = TrainGanParams(loss="wgan", learning_rate=0.5, **TINY)  # a huge step: the weights leave the box
    rng = np.random.default_rng(0)
    data = ImageSet(images=[rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)], files=[Path("a")])
    tr = GanTrainer(p, sample=lambda n: random_batch(data, n, 16, rng))
    seen: list[float] = []
    original = tr.opt_d.step

    def step(*a, **k):  # the critic's weights as the optimiser sees them: clamped
        seen.append(max(float(q.detach().abs().max()) for q in tr.D.parameters()))
        return original(*a, **k)

    tr.opt_d.step = step
    for _ in range(3):
        tr.critic_step(tr.sample(4))
    assert len(seen) == 3 and max(seen) <= 0.01 + 1e-9
    assert max(float(q.detach().abs().max()) for q in tr.D.parameters()) > 0.01  # ...and the step moved them out again
    clamp_weights(tr.D, 0.01)
    assert max(float(q.detach().abs().max()) for q in tr.D.parameters()) <= 0.01


def test_wgan_iteration_runs_100_critic_steps_first() -> None:
    p = TrainGanParams(loss="wgan", **TINY)
    rng = np.random.default_rng(0)
    data = ImageSet(images=[rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)], files=[Path("a")])
    tr = GanTrainer(p, sample=lambda n: random_batch(data, n, 16, rng))
    tr.train_iteration()
    assert (tr.iteration, tr.critic_iterations) == (1, 100)


def test_gradient_penalty_on_a_toy_critic() -> None:
    # A linear critic D(x) = <w, x>: its gradient is w everywhere, so the penalty is (|w| - 1)^2 exactly.
    w = torch.randn(3, 4, 4) * 0.7

    class Linear(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x * w).flatten(1).sum(1)

    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = gradient_penalty(Linear(), real, fake)
    assert float(gp) == pytest.approx((float(w.norm()) - 1) ** 2, rel=1e-5)
    w_unit = w / w.norm()

    class Unit(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x * w_unit).flatten(1).sum(1)

    assert float(gradient_penalty(Unit(), real, fake)) == pytest.approx(0.0, abs=1e-8)
    # the penalty is differentiable w.r.t. the critic's weights (create_graph)
    lin = torch.nn.Linear(48, 1, bias=False)
    gp2 = gradient_penalty(lambda x: lin(x.flatten(1))[:, 0], real, fake)
    gp2.backward()
    assert lin.weight.grad is not None and float(lin.weight.grad.abs().sum()) > 0


# ---------------------------------------------------------------------------------------------
# mode coverage on synthetic data

COLOURS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], np.float32)


def _mode_templates(s: int = 16) -> np.ndarray:
    out = np.zeros((len(COLOURS), s, s, 3), np.float32)
    for i, c in enumerate(COLOURS):
        out[i, s // 4:3 * s // 4, s // 4:3 * s // 4] = c  # a coloured square on black
    return out


def modes_covered(images: np.ndarray, templates: np.ndarray, threshold: float = 0.2, min_count: int = 2) -> int:
    """How many modes have at least ``min_count`` samples within RMS distance ``threshold`` of them."""
    x = images.astype(np.float32) / 255
    d = np.sqrt(((x[:, None] - templates[None]) ** 2).mean(axis=(2, 3, 4)))
    near = d.argmin(1)[d.min(1) < threshold]
    return int((np.bincount(near, minlength=len(templates)) >= min_count).sum())


def test_training_on_synthetic_modes_covers_more_modes() -> None:
    torch.manual_seed(0)
    templates = _mode_templates()
    data = ImageSet(images=[(t * 255).astype(np.uint8) for t in templates], files=[Path(f"m{i}") for i in range(6)])
    p = TrainGanParams(size=16, loss="wgan-gp", nz=16, ngf=16, ndf=16, batch_size=32, learning_rate=2e-3,
                       n_critic=2, crop_min=1.0, crop_max=1.0, flip=False, sample_count=128, seed=0)
    rng = np.random.default_rng(0)
    tr = GanTrainer(p, sample=lambda n: random_batch(data, n, 16, rng, 1.0, 1.0, False))

    def covered() -> int:
        tr.G.eval()
        with torch.no_grad():
            imgs = to_uint8_images(tr.G(tr.fixed_noise))
        tr.G.train()
        return modes_covered(imgs, templates)

    before = covered()
    for _ in range(120):
        tr.train_iteration()
    after = covered()
    assert before == 0
    assert after >= 3, f"only {after} of 6 modes covered after training"


# ---------------------------------------------------------------------------------------------
# the engine on a folder: files, previews, resume, cancel, bad folders


def _folder(tmp_path: Path, n: int = 3) -> Path:
    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(d / ("sub" if i else ".") / f"{i}.png")
    return d


def _run(gen) -> tuple[list, Finished]:
    events = list(gen)
    assert isinstance(events[-1], Finished)
    return events, events[-1]


def test_run_writes_checkpoint_generator_and_grids_then_resumes(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    out = tmp_path / "run"
    p = TrainGanParams(loss="dcgan", iterations=4, sample_every=2, checkpoint_every=2, device="cpu", **TINY)
    events, fin = _run(run_train_gan(folder, p, out, files=IMAGE_FILES))
    progress = [e for e in events if isinstance(e, Progress)]
    assert [e.iteration for e in progress] == [1, 2, 3, 4] and progress[-1].total == 4
    assert progress[1].preview is not None and progress[1].preview.dtype == np.uint8
    assert {"critic", "generator"} <= set(progress[-1].losses)
    assert any("3 image" in e.message for e in events if isinstance(e, Info))
    assert (out / "checkpoint.pt").is_file() and (out / "checkpoint.json").is_file()
    assert sorted(x.name for x in (out / "samples").iterdir()) == ["iter_000002.png", "iter_000004.png"]
    gen = load_generator(out / "generator.pt")
    assert gen.arch.image_size == 16 and gen.card["generator_iterations"] == 4
    assert gen.card["loss"] == "dcgan" and gen.card["training_files"] == 3
    before = {k: v.clone() for k, v in gen.model.state_dict().items()}
    # resume: continues counting from 4 up to 6
    _, fin2 = _run(run_train_gan(folder, p.with_changes(iterations=6), out, resume=out / "checkpoint.pt",
                                  files=IMAGE_FILES))
    assert fin2.extra["generator_iterations"] == 6 and fin2.iterations == 2
    after = load_generator(out / "generator.pt").model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_cancel_saves_the_state(tmp_path: Path) -> None:
    control = JobControl()
    p = TrainGanParams(loss="wgan-gp", iterations=50, device="cpu", **TINY)
    seen = 0
    fin = None
    for ev in run_train_gan(_folder(tmp_path), p, tmp_path / "run", control=control, files=IMAGE_FILES):
        if isinstance(ev, Progress):
            seen += 1
            if seen == 2:
                control.cancel()
        if isinstance(ev, Finished):
            fin = ev
    assert fin is not None and fin.cancelled and fin.extra["generator_iterations"] == 2
    assert load_generator(tmp_path / "run" / "generator.pt").card["generator_iterations"] == 2


def test_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(StudioInputError, match="does not exist"):
        list_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    with pytest.raises(StudioInputError, match="holds no image files"):
        load_folder(tmp_path / "empty", 16, IMAGE_FILES)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(StudioInputError, match="is a file, not a folder"):
        list_images(tmp_path / "file.png")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (broken / "b.png").write_bytes(b"")
    with pytest.raises(StudioInputError, match="none of the 2 image files"):
        load_folder(broken, 16, IMAGE_FILES)


def test_unreadable_files_are_skipped_and_listed(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 2)
    (folder / "bad.jpg").write_bytes(b"garbage")
    data = load_folder(folder, 16, IMAGE_FILES)
    assert len(data) == 2 and [p.name for p, _ in data.skipped] == ["bad.jpg"]
    p = TrainGanParams(loss="dcgan", iterations=1, device="cpu", **TINY)
    events, _ = _run(run_train_gan(folder, p, None, files=IMAGE_FILES))
    skipped = [e.message for e in events if isinstance(e, Info) and "Skipped" in e.message]
    assert skipped and "bad.jpg" in skipped[0]


def test_random_batch_crops_resizes_and_flips() -> None:
    img = np.zeros((30, 60, 3), np.uint8)
    img[:, :30] = 255  # left half white
    data = ImageSet(images=[img], files=[Path("x")])
    rng = np.random.default_rng(0)
    b = random_batch(data, 64, 16, rng, crop_min=1.0, crop_max=1.0, flip=True)
    assert b.shape == (64, 3, 16, 16) and float(b.min()) >= -1 and float(b.max()) <= 1
    # full-height crops anywhere along the width: some start white, and flips put white on the right
    left, right = b[:, 0, :, 0], b[:, 0, :, -1]
    assert bool(((left > 0.9).all(1) & (right < -0.9).all(1)).any())
    assert bool(((right > 0.9).all(1) & (left < -0.9).all(1)).any())


def _slow_critic(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Critic steps as slow as a 64 px wgan's on a CPU are, relative to a run's time budget."""
    import time

    step = GanTrainer.critic_step

    def slow(self, real):  # noqa: ANN001, ANN202
        time.sleep(seconds)
        return step(self, real)

    monkeypatch.setattr(GanTrainer, "critic_step", slow)


def test_wgan_shows_progress_and_keeps_its_time_budget_within_the_first_critic_steps(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """wgan's first generator step takes 100 critic steps (86 s at 64 px on a CPU): the bar stayed still and a
    30 s budget ran to 89 s. Now progress (with an ETA) comes within the critic steps, and the budget stops them."""
    import studio.engines.gan.train as train

    _slow_critic(monkeypatch, 0.02)
    monkeypatch.setattr(train, "CRITIC_PROGRESS_S", 0.1)
    data = ImageSet(images=[np.full((20, 20, 3), 100, np.uint8)] * 2, files=[Path("a"), Path("b")])
    p = TrainGanParams(loss="wgan", iterations=3, device="cpu", max_seconds=0.6, **TINY)
    events, fin = _run(run_train_gan(data, p, None, files=IMAGE_FILES))
    early = [e for e in events if isinstance(e, Progress) and e.iteration == 0]
    assert early and early[0].eta_s is not None and "critic step" in early[0].stage
    assert fin.extra["generator_iterations"] == 0 and 5 <= fin.extra["critic_iterations"] < 100
    assert any("time budget" in e.message for e in events if isinstance(e, Info))


def test_a_cancel_within_the_critic_steps_stops_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import studio.engines.gan.train as train

    monkeypatch.setattr(train, "CRITIC_PROGRESS_S", 0.0)
    control = JobControl()
    p = TrainGanParams(loss="wgan", iterations=3, device="cpu", **TINY)
    fin = None
    for ev in run_train_gan(_folder(tmp_path), p, tmp_path / "run", control=control, files=IMAGE_FILES):
        if isinstance(ev, Progress) and ev.iteration == 0 and "critic step 3/" in ev.stage:
            control.cancel()
        fin = ev
    assert isinstance(fin, Finished) and fin.cancelled
    assert fin.extra["generator_iterations"] == 0 and fin.extra["critic_iterations"] == 3
    assert (tmp_path / "run" / "checkpoint.pt").is_file()  # the run's state, as the app's Stop keeps it


def test_resuming_a_run_that_is_already_done_says_so_and_writes_nothing(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    out = tmp_path / "run"
    p = TrainGanParams(loss="dcgan", iterations=3, sample_every=1, device="cpu", **TINY)
    _run(run_train_gan(folder, p, out, files=IMAGE_FILES))
    before = {f: f.stat().st_mtime_ns for f in out.rglob("*")}
    with pytest.raises(StudioInputError, match="nothing to train: .* already at generator step 3"):
        list(run_train_gan(folder, p.with_changes(iterations=2), out, resume=out / "checkpoint.pt",
                           files=IMAGE_FILES))
    assert {f: f.stat().st_mtime_ns for f in out.rglob("*")} == before


def test_an_output_folder_inside_the_image_folder_is_left_out_of_the_images(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    out = folder / "run"
    p = TrainGanParams(loss="dcgan", iterations=2, sample_every=1, device="cpu", **TINY)
    events, _ = _run(run_train_gan(folder, p, out, files=IMAGE_FILES))
    assert len(list((out / "samples").glob("iter_*.png"))) == 2
    events, fin = _run(run_train_gan(folder, p.with_changes(iterations=3), out, resume=out / "checkpoint.pt",
                                     files=IMAGE_FILES))
    infos = [e.message for e in events if isinstance(e, Info)]
    assert any("Training on 3 image(s)" in m for m in infos), infos  # not 5: the run's own grids are not data
    assert sum("left out of the training images" in m for m in infos) == 1
    assert fin.extra["generator_iterations"] == 3
    # the output folder being the image folder itself: its sample grids are left out
    shutil.rmtree(out)
    p2 = TrainGanParams(loss="dcgan", iterations=1, sample_every=1, device="cpu", **TINY)
    _run(run_train_gan(folder, p2, folder, files=IMAGE_FILES))
    events, _ = _run(run_train_gan(folder, p2.with_changes(iterations=2), folder,
                                   resume=folder / "checkpoint.pt", files=IMAGE_FILES))
    assert (folder / "samples" / "iter_000001.png").is_file()
    assert any("Training on 3 image(s)" in e.message for e in events if isinstance(e, Info))


def test_a_new_run_removes_the_sample_grids_of_the_run_it_replaces(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    out = tmp_path / "run"
    p = TrainGanParams(loss="dcgan", iterations=4, sample_every=1, device="cpu", **TINY)
    _run(run_train_gan(folder, p, out, files=IMAGE_FILES))
    (out / "samples" / "mine.png").write_bytes(b"the user's own file")
    events, _ = _run(run_train_gan(folder, p.with_changes(iterations=2), out, files=IMAGE_FILES))
    assert sorted(f.name for f in (out / "samples").iterdir()) == ["iter_000001.png", "iter_000002.png", "mine.png"]
    assert any("Removed 4 sample grid(s)" in e.message for e in events if isinstance(e, Info))
    # continuing its own run keeps them
    _run(run_train_gan(folder, p.with_changes(iterations=3), out, resume=out / "checkpoint.pt", files=IMAGE_FILES))
    assert len(list((out / "samples").glob("iter_*.png"))) == 3
