"""CycleGAN runs over several sessions: the bar and ETA follow the time limit, a stop mid-epoch resumes where it
stopped with an honest count (also with another number of processes), the learning-rate schedule goes on where
it was, a fresh run in a used folder leaves no networks of the old one beside its settings, and a run with
nothing left to train says so."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from studio.engines.cyclegan import train as train_mod
from studio.engines.cyclegan.params import TrainParams
from studio.engines.cyclegan.train import STATE_FILE, read_run_options, run_train
from studio.engines.distributed import Ranks
from studio.engines.errors import StudioInputError
from studio.engines.events import Finished, JobControl, Progress
from studio.image_save import IMAGE_FILES
from tests.engines.cyclegan.test_cyclegan_train import _domains

TINY = TrainParams(ngf=4, ndf=4, n_blocks=1, load_size=36, crop_size=32, epochs=2, epochs_decay=0, epoch_size=6,
                   preview_every=50, save_epoch_every=1, pool_size=2, seed=0, device="cpu")


@pytest.fixture()
def domains(tmp_path):
    torch.set_num_threads(1)
    return _domains(tmp_path)


def _run(a, b, out, params, control=None, stop_after=None, **kw):
    control = control or JobControl()
    events = []
    for ev in run_train(a, b, out, params, control, files=IMAGE_FILES, **kw):
        events.append(ev)
        if isinstance(ev, Progress) and stop_after is not None and sum(
                isinstance(e, Progress) for e in events) == stop_after:
            control.cancel()
    return [e for e in events if isinstance(e, Progress)], events[-1]


def test_the_eta_and_the_total_follow_the_time_limit_when_it_ends_the_run_first(domains, tmp_path):
    limit = 1.5
    prog, fin = _run(*domains, tmp_path / "run", TINY.with_changes(epochs=1, epoch_size=100_000, max_seconds=limit))
    assert isinstance(fin, Finished) and len(prog) > 3
    for p in prog:
        assert p.eta_s is not None and p.eta_s <= limit - p.elapsed_s + 0.05, (p.eta_s, p.elapsed_s)
        assert p.total < 100_000  # the clock, not the plan, ends this run
    assert prog[-1].iteration == prog[-1].total  # the bar ends full when the time is up
    # a plan that ends before the limit keeps its own total and ETA
    prog, _ = _run(*domains, tmp_path / "run2", TINY.with_changes(max_seconds=600))
    assert [p.total for p in prog] == [12] * 12 and prog[-1].eta_s == 0


def test_a_stop_mid_epoch_resumes_there_and_counts_honestly(domains, tmp_path):
    out = tmp_path / "run"
    prog, fin = _run(*domains, out, TINY, stop_after=3)
    assert fin.cancelled and fin.iterations == 3
    state = torch.load(out / STATE_FILE, weights_only=True)
    assert state["epoch"] == 0 and state["epoch_fraction"] == pytest.approx(0.5)
    prog, fin = _run(*domains, out, TINY, resume=True)
    assert [p.iteration for p in prog] == list(range(4, 13)) and {p.total for p in prog} == {12}
    assert fin.iterations == 9 and not fin.cancelled and fin.extra["epoch"] == 2


def test_a_run_resumed_mid_epoch_goes_on_through_the_same_order(domains, tmp_path, monkeypatch):
    """A one-process run stopped mid-epoch drew a new shuffle for the rest of that epoch on resume: some A images
    came twice, some not at all. Each epoch's order is now its own (seed, epoch)."""
    used: list[int] = []
    real = train_mod._batch

    def batch(domain, p, rng, device, index=None):
        if index is not None:
            used.append(index)
        return real(domain, p, rng, device, index)

    monkeypatch.setattr(train_mod, "_batch", batch)
    out = tmp_path / "run"
    _run(*domains, out, TINY, stop_after=9)  # in the second epoch, 3 of its 6 steps done
    _run(*domains, out, TINY, resume=True)
    assert len(used) == 12
    assert sorted(used[:6]) == list(range(6)) and sorted(used[6:]) == list(range(6))  # each once an epoch


def test_the_count_follows_the_number_of_processes_of_each_session(domains, tmp_path):
    """A one-process run resumed as rank 0 of two (a group of one stands in for the two; each rank takes half of
    every epoch): the count is of this session's steps per epoch, from where the run is."""
    import torch.distributed as dist

    out = tmp_path / "run"
    params = TINY.with_changes(epochs=3, epoch_size=8)
    _run(*domains, out, params.with_changes(epochs=1))  # 8 steps of one process
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        prog, fin = _run(*domains, out, params, resume=True, ranks=Ranks(rank=0, world=2))
    finally:
        dist.destroy_process_group()
    assert [p.iteration for p in prog] == list(range(5, 13)) and {p.total for p in prog} == {12}
    assert fin.iterations == 8
    # and back to one process: 3 epochs done, 8 steps an epoch of one process, 8 more
    prog, fin = _run(*domains, out, params.with_changes(epochs=4), resume=True)
    assert [p.iteration for p in prog] == list(range(25, 33)) and {p.total for p in prog} == {32}


def test_the_learning_rate_schedule_goes_on_where_the_last_session_left_it(domains, tmp_path, monkeypatch):
    """A session stopped part way (Stop, Ctrl-C) goes on at the rate it had reached: it restarted at 2e-4 after
    ending at 1.2e-6. A session that ran to its own time limit annealed to zero on the clock, a whole cycle: the
    next one (the app's "run again to continue") runs a new cycle, where going on at a rate of nothing would
    train nothing."""
    seen: list[float] = []
    real = train_mod.CycleGANTrainer.set_lr
    out = tmp_path / "run"
    long = TINY.with_changes(epochs=50, epochs_decay=50, epoch_size=1000)
    control = JobControl()
    monkeypatch.setattr(train_mod.CycleGANTrainer, "set_lr", lambda self, f: (
        seen.append(f), f < 0.5 and control.cancel(), real(self, f)))
    _run(*domains, out, long.with_changes(max_seconds=3.0), control)  # stopped part way through its decay
    stopped_at = seen[-1]
    assert 0.0 < stopped_at < 0.5
    assert torch.load(out / STATE_FILE, weights_only=True)["lr_scale"] == pytest.approx(stopped_at)
    monkeypatch.setattr(train_mod.CycleGANTrainer, "set_lr", lambda self, f: (seen.append(f), real(self, f)))
    seen.clear()
    _run(*domains, out, long, resume=True, stop_after=3)  # no limit now: the clock no longer binds
    assert seen and max(seen) <= stopped_at + 1e-9, (stopped_at, seen[:5])
    # a checkpoint written before the schedule's position was kept resumes at the epochs' own rate
    state = torch.load(out / STATE_FILE, weights_only=True)
    del state["lr_scale"]
    torch.save(state, out / STATE_FILE)
    seen.clear()
    _run(*domains, out, long, resume=True, stop_after=2)
    assert seen[0] == 1.0
    # a session that runs to its time limit anneals on the clock; the next starts a new cycle
    boxed = tmp_path / "boxed"
    seen.clear()
    _run(*domains, boxed, long.with_changes(max_seconds=1.5))
    assert seen[-1] < 0.2 < seen[0]
    assert torch.load(boxed / STATE_FILE, weights_only=True)["lr_scale"] == 1.0
    seen.clear()
    _run(*domains, boxed, long, resume=True, stop_after=2)
    assert seen[0] == 1.0


def test_a_fresh_run_in_a_used_folder_keeps_no_networks_of_the_old_one(domains, tmp_path):
    out = tmp_path / "run"
    _run(*domains, out, TINY.with_changes(ngf=8, epochs=1))
    (out / "notes.txt").write_text("mine")
    assert (out / "1_net_G_A.pth").is_file()
    # started afresh with other sizes and stopped before its first step: nothing of the old run is left to mix
    control = JobControl()
    control.cancel()
    _run(*domains, out, TINY, control)
    opts = read_run_options(out)
    if (out / "latest_net_G_A.pth").is_file():
        _run(*domains, out, TrainParams.from_dict({**opts, "epochs": 3}), resume=True)
    else:
        assert not list(out.glob("*.pth"))
    assert (out / "notes.txt").read_text() == "mine"  # only studio's own run files go
    # a fresh run that trains leaves only its own epoch files
    _run(*domains, out, TINY.with_changes(epochs=1))
    assert sorted(p.name for p in out.glob("*_net_G_A.pth")) == ["1_net_G_A.pth", "latest_net_G_A.pth"]
    assert read_run_options(out)["ngf"] == 4


def test_resuming_with_other_sizes_names_the_sizes_of_the_files(domains, tmp_path):
    out = tmp_path / "run"
    _run(*domains, out, TINY.with_changes(ngf=8, ndf=4, n_blocks=2, epochs=1))
    with pytest.raises(StudioInputError) as err:
        list(run_train(*domains, out, TINY.with_changes(epochs=2), resume=True, files=IMAGE_FILES))
    assert "ngf 8, 2 blocks, ndf 4" in str(err.value)


def test_resuming_a_run_whose_epochs_are_done_says_so_and_writes_nothing(domains, tmp_path):
    out = tmp_path / "run"
    _run(*domains, out, TINY)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    with pytest.raises(StudioInputError, match="already trained its 2 epochs"):
        list(run_train(*domains, out, TINY, resume=True, files=IMAGE_FILES))
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps


def test_images_are_kept_as_uint8_and_decoding_many_reports_progress(tmp_path, monkeypatch):
    from studio.engines.cyclegan.data import random_crop
    from studio.engines.events import Info

    a, _ = _domains(tmp_path, n=5)
    clock = iter(range(0, 1000, 3))  # three seconds a file: the trainer says how far it is every two
    monkeypatch.setattr(train_mod.time, "perf_counter", lambda: float(next(clock)))
    steps = train_mod._load(a, "A", 64, IMAGE_FILES, None)
    said = []
    while True:
        try:
            said.append(next(steps))
        except StopIteration as stop:
            dom = stop.value
            break
    assert all(img.dtype == np.uint8 for img in dom.images) and len(dom.images) == 5
    assert said and all(isinstance(e, Info) for e in said)
    assert said[0].message == "reading the domain A folder: 1 of 5 images, about 12 s left"
    crop = random_crop(dom.images[0], 32, 36, "resize_and_crop", True, np.random.default_rng(0))
    assert crop.dtype == np.float32 and crop.min() >= 0.0 and crop.max() <= 1.0 and crop.max() > 0.5
    assert os.path.isdir(a)
