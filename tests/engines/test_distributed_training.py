"""GAN and CycleGAN training on two processes (torchrun, gloo on the CPU): identical ranks, rank 0 alone
writes, and a two-rank checkpoint resumes in one process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from studio.engines.distributed import Ranks, ShardedOrder

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180  # seconds for one two-process run (about 10 s here)


def _folder(tmp_path: Path, n: int = 8, name: str = "imgs", side: int = 40, seed: int = 0) -> Path:
    d = tmp_path / name
    d.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        a = cv2.GaussianBlur((rng.random((side, side, 3)) * 255).astype(np.uint8), (9, 9), 3)
        cv2.imwrite(str(d / f"{i}.png"), a)
    return d


def _torchrun(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # torchrun leaves a torchelastic_* folder in the temporary directory of every run: the test's own, not /tmp
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           *args], capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path, env=env)


WORKER = textwrap.dedent("""
    import sys
    import torch
    from studio.engines.distributed import Ranks, join, leave
    from studio.engines.gan.data import load_folder, random_batch
    from studio.engines.gan.params import TrainGanParams
    from studio.engines.gan.train import GanTrainer
    from studio.image_save import IMAGE_FILES
    import numpy as np

    folder, out, loss = sys.argv[1:4]
    ranks = Ranks.from_environment()
    join(ranks, torch.device("cpu"))
    params = TrainGanParams(size=16, loss=loss, batch_size=4, ngf=8, ndf=8, nz=8, n_critic=2, iterations=5)
    data = load_folder(folder, 16, IMAGE_FILES)
    rng = np.random.default_rng(ranks.rank)
    trainer = GanTrainer(params, "cpu", sample=lambda n: random_batch(data, n, 16, rng), ranks=ranks)
    reals = []
    for _ in range(5):
        trainer.train_iteration()
        reals.append(trainer.last_real.clone())
    torch.save({"G": trainer.G.state_dict(), "D": trainer.D.state_dict(), "real": torch.cat(reals)},
               f"{out}/rank{ranks.rank}.pt")
    del trainer  # as the training commands do: nothing of the run is held when the group closes
    leave(ranks)
""")


@pytest.mark.parametrize("loss", ["wgan", "wgan-gp", "dcgan"])
def test_two_ranks_keep_identical_parameters(tmp_path: Path, loss: str) -> None:
    folder = _folder(tmp_path)
    (tmp_path / "worker.py").write_text(WORKER)
    r = _torchrun(tmp_path, "worker.py", str(folder), str(tmp_path), loss)
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = (torch.load(tmp_path / f"rank{i}.pt", weights_only=True) for i in (0, 1))
    assert not torch.equal(a["real"], b["real"])  # the ranks trained on different images
    for part in ("G", "D"):
        for name, t in a[part].items():
            if t.is_floating_point() and "running" not in name:
                assert torch.allclose(t, b[part][name], rtol=0, atol=1e-6), (part, name)
    # and they trained: not the initial weights
    from studio.engines.gan.params import TrainGanParams
    from studio.engines.gan.train import GanTrainer

    fresh = GanTrainer(TrainGanParams(size=16, loss=loss, batch_size=4, ngf=8, ndf=8, nz=8)).G.state_dict()
    assert any(not torch.equal(fresh[k], a["G"][k]) for k in fresh if fresh[k].is_floating_point())


def test_torchrun_trains_writes_once_and_the_checkpoint_resumes_in_one_process(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    out = tmp_path / "run"
    r = _torchrun(tmp_path, "-m", "studio", "train-gan", str(folder), "--out", str(out), "--size", "16",
                  "--iterations", "4", "--n-critic", "2", "--batch-size", "4", "--ngf", "8", "--ndf", "8",
                  "--nz", "8", "--loss", "dcgan", "--sample-every", "2", "--force")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stderr.count("wrote ") == 1 and "rank 0 of 2" in r.stderr and "rank 1 of 2" not in r.stderr
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ck["iteration"] == 4
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["iter_000002.png", "iter_000004.png"]
    # one process resumes the two-rank run
    from studio.engines.events import Finished
    from studio.engines.gan.params import TrainGanParams
    from studio.engines.gan.train import run_train_gan
    from studio.image_save import IMAGE_FILES

    params = TrainGanParams.from_dict(ck["params"]).with_changes(iterations=6)
    events = list(run_train_gan(folder, params, out_dir=out, resume=out / "checkpoint.pt", files=IMAGE_FILES,
                                ranks=Ranks()))
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.extra["generator_iterations"] == 6 and fin.iterations == 2


def test_each_rank_takes_its_own_share_of_every_epoch() -> None:
    a, b = (ShardedOrder(10, Ranks(rank=r, world=2), seed=3) for r in (0, 1))
    first = [next(a) for _ in range(5)], [next(b) for _ in range(5)]
    assert sorted(first[0] + first[1]) == list(range(10))  # one epoch: every image once
    second = [next(a) for _ in range(5)]
    assert sorted(second) != sorted(first[0]) or second != first[0]  # a new shuffle each epoch


CYCLE_WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    import torch
    from studio.engines.cyclegan.data import load_domain
    from studio.engines.cyclegan.params import TrainParams
    from studio.engines.cyclegan.train import CycleGANTrainer, _batch
    from studio.engines.distributed import Ranks, join, leave
    from studio.image_save import IMAGE_FILES

    dir_a, dir_b, out, steps = *sys.argv[1:4], int(sys.argv[4])
    ranks = Ranks.from_environment()
    join(ranks, torch.device("cpu"))
    p = TrainParams(ngf=4, ndf=4, n_blocks=1, crop_size=32, load_size=36, lr=float(sys.argv[5]))
    a, b = load_domain(dir_a, "A", 64, IMAGE_FILES), load_domain(dir_b, "B", 64, IMAGE_FILES)
    rng = np.random.default_rng(ranks.rank)
    trainer = CycleGANTrainer(p, torch.device("cpu"), ranks)
    reals, cycle = [], []
    for _ in range(steps):
        real_a = _batch(a, p, rng, torch.device("cpu"))
        losses, _ = trainer.step(real_a, _batch(b, p, rng, torch.device("cpu")))
        reals.append(real_a)
        cycle.append(losses["cycle_A"] + losses["cycle_B"])
    torch.save({name: net.state_dict() for name, net in trainer.nets().items()}
               | {"real": torch.cat(reals), "cycle": torch.tensor(cycle)}, f"{out}/rank{ranks.rank}.pt")
    del trainer  # as the training commands do: nothing of the run is held when the group closes
    leave(ranks)
""")


def _two_cyclegan_ranks(tmp_path: Path, steps: int, lr: float) -> list[dict]:
    """What each of two CycleGAN ranks trained for ``steps`` steps saved (networks, its batches, cycle losses)."""
    dir_a = _folder(tmp_path, 6, "A", 48, 1)
    dir_b = _folder(tmp_path, 6, "B", 48, 2)
    (tmp_path / "worker.py").write_text(CYCLE_WORKER)
    r = _torchrun(tmp_path, "worker.py", str(dir_a), str(dir_b), str(tmp_path), str(steps), str(lr))
    assert r.returncode == 0, r.stderr[-2000:]
    return [torch.load(tmp_path / f"rank{i}.pt", weights_only=True) for i in (0, 1)]


def test_two_cyclegan_ranks_keep_identical_networks(tmp_path: Path) -> None:
    a, b = _two_cyclegan_ranks(tmp_path, 3, 2e-4)
    assert not torch.equal(a["real"], b["real"])
    for net in ("G_A", "G_B", "D_A", "D_B"):
        for name, t in a[net].items():
            assert torch.allclose(t, b[net][name], rtol=0, atol=1e-6), (net, name)


def test_two_cyclegan_ranks_learn_the_tiny_domains(tmp_path: Path) -> None:
    # the reconstruction (cycle) loss of each rank's own batches falls as the shared networks learn
    for rank in _two_cyclegan_ranks(tmp_path, 30, 2e-3):
        cycle = rank["cycle"]
        assert cycle[-5:].mean() < 0.7 * cycle[:5].mean(), cycle


def test_torchrun_trains_a_cyclegan_in_the_official_layout_and_one_process_resumes_it(tmp_path: Path) -> None:
    dir_a = _folder(tmp_path, 8, "A", 48, 1)
    dir_b = _folder(tmp_path, 6, "B", 48, 2)
    out = tmp_path / "run"
    r = _torchrun(tmp_path, "-m", "studio", "train-cyclegan", str(dir_a), str(dir_b), "--output", str(out),
                  "--ngf", "4", "--ndf", "4", "--blocks", "1", "--crop-size", "32", "--load-size", "36",
                  "--epochs", "1", "--epochs-decay", "1", "--force")
    assert r.returncode == 0, r.stderr[-2000:]
    # one bar; 8 A images an epoch shared by the two: 4 steps a rank an epoch, 8 in 2 epochs (one process: 16)
    assert r.stderr.count("done: ") == 1 and "done: 8 iterations" in r.stderr
    sd = torch.load(out / "latest_net_G_A.pth", weights_only=True)
    assert not any(k.startswith("module.") for k in sd)  # the official code's layout, not DDP's
    state = torch.load(out / "latest_train_state.pth", weights_only=True)
    assert state["epoch"] == 2 and state["iteration"] == 8
    from studio.engines.cyclegan.params import TrainParams
    from studio.engines.cyclegan.train import read_run_options, run_train
    from studio.engines.events import Finished
    from studio.image_save import IMAGE_FILES

    params = TrainParams.from_dict({**read_run_options(out), "epochs": 2})
    events = list(run_train(dir_a, dir_b, out, params, resume=True, files=IMAGE_FILES, ranks=Ranks()))
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.extra["epoch"] == 3


def test_the_group_closes_after_what_the_run_left_in_reference_cycles(tmp_path: Path, monkeypatch) -> None:
    """A finished run's trainer sits in reference cycles, so its DDP modules outlived the group until the
    interpreter's exit, where gloo aborted a rank now and then (SIGABRT after all was saved, about one two-rank
    run in 20). ``leave`` collects them first."""
    import gc
    import weakref

    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from studio.engines import distributed

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)

    class Run:  # a trainer's shape: it holds its DDP module and, through a bound method, itself
        def __init__(self) -> None:
            self.net = DistributedDataParallel(torch.nn.Linear(3, 3))
            self.step = self.forward

        def forward(self) -> None:
            self.net(torch.randn(2, 3)).sum().backward()

    seen: list[bool] = []
    close = dist.destroy_process_group
    monkeypatch.setattr(distributed.dist, "destroy_process_group", lambda: (seen.append(net() is None), close()))
    gc.disable()
    try:
        run = Run()
        run.step()
        net = weakref.ref(run.net)
        del run
        assert net() is not None  # the cycle keeps it, as a finished trainer's did
        distributed.leave(Ranks(rank=0, world=2))
    finally:
        gc.enable()
        if dist.is_initialized():
            close()
    assert seen == [True]


def test_ctrl_c_under_torchrun_stops_every_rank_at_one_step_and_saves(tmp_path: Path) -> None:
    """Ctrl-C reaches torchrun, which passes it on to the ranks (they run in their own session since torch 2.2).
    The ranks stop after the same step, and rank 0 saves the checkpoint."""
    import signal
    import time

    folder = _folder(tmp_path)
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "studio",
             "train-gan", str(folder), "--out", str(out), "--size", "16", "--iterations", "100000", "--batch-size",
             "4", "--ngf", "8", "--ndf", "8", "--nz", "8", "--loss", "dcgan"],
            stdout=f, stderr=subprocess.STDOUT, cwd=tmp_path, env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + TIMEOUT
            while "train-gan |" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            time.sleep(1.0)  # a few steps in: far from a periodic checkpoint (step 500)
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(TIMEOUT)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text()
    assert "stopped at generator step" in text and "--resume" in text, text[-3000:]
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert f"stopped at generator step {ck['iteration']};" in text and ck["iteration"] > 0
    assert "interrupted" not in text
