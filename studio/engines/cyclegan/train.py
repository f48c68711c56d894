"""CycleGAN training (Zhu et al. 2017) on two folders of unaligned images, as the official code does it.

Two ResNet generators (G_A: A -> B, G_B: B -> A), two 70x70 PatchGAN discriminators, least-squares
GAN loss, cycle-consistency weight 10 each way, identity weight 0.5 (relative), image pools of 50,
Adam(2e-4, beta1 0.5), a constant then linearly decaying learning rate.

The run folder holds checkpoints in the official layout, so other CycleGAN tools load them:
``latest_net_G_A.pth``, ``latest_net_G_B.pth``, ``latest_net_D_A.pth``, ``latest_net_D_B.pth`` and
``{epoch}_net_*.pth`` (plain state dicts); studio adds ``latest_train_state.pth`` (optimisers and
position, for resuming), ``train_opt.json`` (the parameters) and ``samples_latest.png`` (rows: A, G_A(A),
G_B(G_A(A)) and B, G_B(B), G_A(G_B(B))).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data.distributed import DistributedSampler

from studio.engines.cyclegan.data import Domain, ImagePool, random_crop, read_domain
from studio.engines.cyclegan.io import read_state_dict, save_state_dict
from studio.engines.cyclegan.models import NLayerDiscriminator, ResnetGenerator, generator_shape
from studio.engines.cyclegan.params import TrainParams
from studio.engines.device import describe, resolve_device
from studio.engines.distributed import Ranks, any_rank, device_for, join, leave, parallel
from studio.engines.errors import StudioInputError
from studio.engines.events import Cancelled, Event, Finished, Info, JobControl, Progress
from studio.engines.files import atomic_write_text
from studio.engines.image_files import ImageFiles
from studio.engines.pixels import to_uint8

NET_NAMES = ("G_A", "G_B", "D_A", "D_B")
STATE_FILE = "latest_train_state.pth"
OPT_FILE = "train_opt.json"


def read_run_options(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The options a training run folder was started with (``train_opt.json``, the official code's name for
    it), or {} when it has none; a damaged file is one sentence naming it."""
    path = Path(run_dir) / OPT_FILE
    if not path.is_file():
        return {}
    try:
        opts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise StudioInputError(f"{str(path)!r} is not a readable options file ({type(e).__name__}); "
                               "remove it to start the run again.") from None
    if not isinstance(opts, dict):
        raise StudioInputError(f"{str(path)!r} holds a {type(opts).__name__}, not the object of options "
                               "a run folder keeps; remove it to start the run again.")
    return opts
SAMPLES_FILE = "samples_latest.png"


def validate(params: TrainParams) -> None:
    def bad(name: str, why: str) -> StudioInputError:
        return StudioInputError(f"{name.replace('_', '-')} {why}, got {getattr(params, name)!r}")

    for name in ("ngf", "ndf", "batch_size", "crop_size"):
        if getattr(params, name) < 1:
            raise bad(name, "must be at least 1")
    if params.crop_size < 32 or params.crop_size % 4:  # under 32 the critic's normed layers are 1 px
        raise bad("crop_size", "must be a multiple of 4 of at least 32")
    if params.load_size < params.crop_size:
        raise bad("load_size", f"must be at least the crop size ({params.crop_size})")
    if params.n_blocks < 0 or params.pool_size < 0 or params.epochs < 0 or params.epochs_decay < 0:
        raise StudioInputError("n-blocks, pool-size, epochs and epochs-decay must not be negative")
    if params.epochs + params.epochs_decay < 1:
        raise StudioInputError("epochs plus epochs-decay must be at least 1")
    for name in ("lr", "lambda_a", "lambda_b", "lambda_identity"):
        v = getattr(params, name)
        if not math.isfinite(v) or v < 0:
            raise bad(name, "must be a non-negative number")
    if not 0 <= params.beta1 < 1:
        raise bad("beta1", "must be in [0, 1)")
    if params.preprocess not in ("resize_and_crop", "scale_and_crop"):
        raise bad("preprocess", "must be resize_and_crop or scale_and_crop")
    if params.epoch_size is not None and params.epoch_size < 1:
        raise bad("epoch_size", "must be at least 1")


def lr_factor(epoch: int, params: TrainParams) -> float:
    """The official 'linear' policy: 1 for ``epochs`` epochs (counted from 1), then down towards 0."""
    return 1.0 - max(0, epoch - params.epochs) / float(params.epochs_decay + 1)


def time_factor(elapsed: float, params: TrainParams, start: float = 1.0) -> float:
    """With a time budget the same policy runs on the clock: full rate for the first epochs/(epochs + decay)
    share of max_seconds, then a linear decay that reaches zero when the time is up. ``start``: the factor a
    resumed run had reached (a session stopped part way; one that ran to its own time limit saved 1: its
    cycle is whole); once its decay has begun (start < 1) this session goes on decaying from there to zero
    over its own time limit, never back up."""
    if params.max_seconds is None:
        return start
    frac = elapsed / params.max_seconds
    if start < 1.0:
        return max(0.0, start * (1.0 - frac))
    const = params.epochs / (params.epochs + params.epochs_decay)
    if frac <= const or const >= 1.0:
        return 1.0
    return max(0.0, (1.0 - frac) / (1.0 - const))


def sample_grid(rows: list[list[torch.Tensor]]) -> np.ndarray:
    """Rows of [-1, 1] 1x3xHxW tensors -> one RGB uint8 picture with 2-pixel gutters."""
    gap = 2
    h, w = rows[0][0].shape[-2:]
    ncol = max(len(r) for r in rows)
    grid = np.full((len(rows) * (h + gap) - gap, ncol * (w + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, t in enumerate(row):
            img = ((t[0].detach().float().cpu().permute(1, 2, 0).numpy() + 1) * 0.5).clip(0, 1)
            grid[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = to_uint8(img)
    return grid


def has_checkpoint(run_dir: str | os.PathLike[str]) -> bool:
    return all((Path(run_dir) / f"latest_net_{n}.pth").is_file() for n in NET_NAMES)


_RUN_FILE = re.compile(r"(latest|\d+)_net_(G_A|G_B|D_A|D_B)\.pth")


def run_files(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The files of a training run that studio writes in its folder (networks, optimiser state, options, sample
    grid), and nothing else the folder holds."""
    d = Path(run_dir)
    if not d.is_dir():
        return []
    return sorted(f for f in d.iterdir() if f.is_file() and (f.name in (STATE_FILE, OPT_FILE, SAMPLES_FILE)
                                                          or _RUN_FILE.fullmatch(f.name)))


def trained_sizes(run_dir: str | os.PathLike[str]) -> str:
    """The network sizes of a run folder's ``latest_net_*`` files in words ("ngf 16, 3 blocks, ndf 16"), or ""
    when they cannot be told."""
    try:
        _, _, ngf, n_blocks = generator_shape(read_state_dict(Path(run_dir) / "latest_net_G_A.pth"))
        ndf = int(read_state_dict(Path(run_dir) / "latest_net_D_A.pth")["model.0.weight"].shape[0])
    except (StudioInputError, KeyError, IndexError, AttributeError, TypeError, ValueError):
        return ""
    return f"ngf {ngf}, {n_blocks} blocks, ndf {ndf}"


@dataclass(frozen=True)
class Position:
    """Where a run is: ``epoch`` epochs done, ``fraction`` of the next one trained besides (a stop mid-epoch),
    ``iteration`` steps taken by each process so far, and ``lr_scale`` the learning-rate factor the schedule had
    reached (checkpoints written before it was kept: 1, the epochs' own schedule then applies)."""

    epoch: int = 0
    iteration: int = 0
    fraction: float = 0.0
    lr_scale: float = 1.0


def read_position(run_dir: str | os.PathLike[str]) -> Position:
    """The position kept in a run folder's ``latest_train_state.pth`` (the start when it has none)."""
    sf = Path(run_dir) / STATE_FILE
    if not sf.is_file():
        return Position()
    state = read_state_dict(sf)
    try:
        fraction = float(state.get("epoch_fraction", 0.0))
        scale = float(state.get("lr_scale", 1.0))
        pos = Position(int(state["epoch"]), int(state["iteration"]), fraction if 0 <= fraction < 1 else 0.0,
                       scale if 0 <= scale <= 1 else 1.0)
    except (KeyError, TypeError, ValueError) as exc:
        what = f"lacks {exc}" if isinstance(exc, KeyError) else "holds a position that is not a number"
        raise StudioInputError(f"{str(sf)!r} {what}; remove it to resume from the networks alone "
                               "(the optimisers then start afresh).") from None
    return pos


class CycleGANTrainer:
    """The four networks, their optimisers and one training step; no I/O apart from checkpoints."""

    def __init__(self, params: TrainParams, device: torch.device, ranks: Ranks | None = None) -> None:
        self.p = params
        self.device = device
        self.ranks = ranks or Ranks()
        torch.manual_seed(params.seed)
        self.G_A = ResnetGenerator(3, 3, params.ngf, params.n_blocks).to(device)
        self.G_B = ResnetGenerator(3, 3, params.ngf, params.n_blocks).to(device)
        self.D_A = NLayerDiscriminator(3, params.ndf, 3).to(device)
        self.D_B = NLayerDiscriminator(3, params.ndf, 3).to(device)
        # what the training step runs through: DistributedDataParallel on several ranks (the modules above stay
        # the ones saved, in the official layout); the generators' pass through the frozen critics uses the
        # critics themselves
        self.g_a, self.g_b, self.d_a, self.d_b = (parallel(n, self.ranks, device)
                                                  for n in (self.G_A, self.G_B, self.D_A, self.D_B))
        betas = (params.beta1, 0.999)
        self.opt_G = torch.optim.Adam(list(self.G_A.parameters()) + list(self.G_B.parameters()), params.lr,
                                      betas=betas)
        self.opt_D = torch.optim.Adam(list(self.D_A.parameters()) + list(self.D_B.parameters()), params.lr,
                                      betas=betas)
        rng = np.random.default_rng(params.seed + 1 + 7919 * self.ranks.rank)
        self.pool_A, self.pool_B = ImagePool(params.pool_size, rng), ImagePool(params.pool_size, rng)
        self.lr_scale = 1.0

    def nets(self) -> dict[str, torch.nn.Module]:
        return {"G_A": self.G_A, "G_B": self.G_B, "D_A": self.D_A, "D_B": self.D_B}

    def set_lr(self, factor: float) -> None:
        self.lr_scale = factor
        for opt in (self.opt_G, self.opt_D):
            for g in opt.param_groups:
                g["lr"] = self.p.lr * factor

    @staticmethod
    def _gan(pred: torch.Tensor, real: bool) -> torch.Tensor:
        return F.mse_loss(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))

    def step(self, real_A: torch.Tensor, real_B: torch.Tensor) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        """One iteration: generators first (D frozen), then both discriminators on pooled fakes."""
        p = self.p
        fake_B = self.g_a(real_A)
        rec_A = self.g_b(fake_B)
        fake_A = self.g_b(real_B)
        rec_B = self.g_a(fake_A)
        for d in (self.D_A, self.D_B):
            d.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        if p.lambda_identity > 0:
            idt_A = self.g_a(real_B)
            idt_B = self.g_b(real_A)
            loss_idt_A = F.l1_loss(idt_A, real_B) * p.lambda_b * p.lambda_identity
            loss_idt_B = F.l1_loss(idt_B, real_A) * p.lambda_a * p.lambda_identity
        else:
            loss_idt_A = loss_idt_B = torch.zeros((), device=self.device)
        loss_G_A = self._gan(self.D_A(fake_B), True)
        loss_G_B = self._gan(self.D_B(fake_A), True)
        loss_cycle_A = F.l1_loss(rec_A, real_A) * p.lambda_a
        loss_cycle_B = F.l1_loss(rec_B, real_B) * p.lambda_b
        loss_G = loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
        loss_G.backward()
        self.opt_G.step()
        for d in (self.D_A, self.D_B):
            d.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        fb = self.pool_B.query(fake_B)
        loss_D_A = (self._gan(self.d_a(real_B), True) + self._gan(self.d_a(fb.detach()), False)) * 0.5
        loss_D_A.backward()
        fa = self.pool_A.query(fake_A)
        loss_D_B = (self._gan(self.d_b(real_A), True) + self._gan(self.d_b(fa.detach()), False)) * 0.5
        loss_D_B.backward()
        self.opt_D.step()
        losses = {"D_A": loss_D_A.item(), "G_A": loss_G_A.item(), "cycle_A": loss_cycle_A.item(),
                  "idt_A": loss_idt_A.item(), "D_B": loss_D_B.item(), "G_B": loss_G_B.item(),
                  "cycle_B": loss_cycle_B.item(), "idt_B": loss_idt_B.item()}
        visuals = {"real_A": real_A, "fake_B": fake_B, "rec_A": rec_A, "real_B": real_B, "fake_A": fake_A,
                   "rec_B": rec_B}
        return losses, visuals

    # -- checkpoints ------------------------------------------------------------------------------

    def save(self, run_dir: Path, pos: Position, epoch_files: bool, options: dict[str, Any]) -> None:
        """The run's options (``train_opt.json``) with the networks they describe, then the optimisers and the
        position (written last: a set is complete once its state file is there)."""
        atomic_write_text(run_dir / OPT_FILE, json.dumps(options, indent=1))
        for name, net in self.nets().items():
            save_state_dict(net, run_dir / f"latest_net_{name}.pth")
            if epoch_files:
                save_state_dict(net, run_dir / f"{pos.epoch}_net_{name}.pth")
        state = {"opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(), "epoch": pos.epoch,
                 "iteration": pos.iteration, "epoch_fraction": pos.fraction, "lr_scale": pos.lr_scale}
        save_state_dict(state, run_dir / STATE_FILE)

    def load(self, run_dir: Path) -> Position:
        """Load ``latest_net_*`` (and the optimisers when saved); returns the position of the run."""
        for name, net in self.nets().items():
            f = run_dir / f"latest_net_{name}.pth"
            sd = read_state_dict(f)
            try:
                net.load_state_dict({k: v.float() for k, v in sd.items()})
            except RuntimeError:
                sizes = trained_sizes(run_dir)
                raise StudioInputError(
                    f"{str(f)!r} does not fit the network being trained (ngf {self.p.ngf}, {self.p.n_blocks} "
                    f"blocks, ndf {self.p.ndf}); resume with the sizes it was trained with"
                    + (f" ({sizes})" if sizes else "")) from None
        sf = run_dir / STATE_FILE
        if not sf.is_file():
            return Position()
        pos = read_position(run_dir)
        state = read_state_dict(sf)
        try:
            self.opt_G.load_state_dict(state["opt_G"])
            self.opt_D.load_state_dict(state["opt_D"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            what = f"lacks {exc}" if isinstance(exc, KeyError) else "holds optimiser states that do not fit this run"
            raise StudioInputError(f"{str(sf)!r} {what}; remove it to resume from the networks alone "
                                   "(the optimisers then start afresh).") from None
        return pos


def _batch(domain: Domain, p: TrainParams, rng: np.random.Generator, device: torch.device,
           index: int | None = None) -> torch.Tensor:
    imgs = []
    for _ in range(p.batch_size):
        i = int(rng.integers(0, len(domain))) if index is None else index % len(domain)
        imgs.append(random_crop(domain.images[i], p.crop_size, p.load_size, p.preprocess, p.flip, rng))
    t = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2)
    return (t * 2 - 1).to(device)


def check_two_folders(dir_a: str | os.PathLike[str], dir_b: str | os.PathLike[str]) -> None:
    """One sentence when A and B are one folder: a translator learns from two different sets of pictures."""
    if Path(dir_a).resolve() == Path(dir_b).resolve():
        raise StudioInputError(f"Folders A and B are both {Path(dir_a).resolve().name!r}: a translator learns from "
                               "two different sets of pictures (A: e.g. photos, B: e.g. paintings).")


def run_train(dir_a: str | os.PathLike[str], dir_b: str | os.PathLike[str], run_dir: str | os.PathLike[str],
              params: TrainParams | None = None, control: JobControl | None = None,
              resume: bool = False, *, files: ImageFiles, ranks: Ranks | None = None) -> Iterator[Event]:
    """Train on the images of two folders, writing checkpoints to ``run_dir``; yields Info, Progress
    (losses every iteration, a sample grid every ``preview_every``) and Finished (image: the last grid).

    A fresh run (``resume`` False) first removes an earlier run's files from ``run_dir`` (``run_files``:
    studio's own, nothing else), so the options and the networks there always belong together. A cancelled
    run (the app's Stop, Ctrl-C on the command line) ends its step and saves where it is, mid-epoch too;
    ``resume`` goes on from there, with the learning-rate schedule where it was.

    ``ranks`` (default: what ``torchrun`` set): one of several processes (``studio.engines.distributed``);
    each epoch's A images are shared among them, each takes ``batch_size`` a step, rank 0 alone writes, and
    all stop at the same step."""
    ranks = ranks or Ranks.from_environment()
    params = params or TrainParams()
    validate(params)
    control = control or JobControl()
    t0 = time.perf_counter()
    check_two_folders(dir_a, dir_b)
    out = Path(run_dir)
    if out.exists() and not out.is_dir():
        raise StudioInputError(f"the run folder {str(out)!r} is a file.")
    if resume and not has_checkpoint(out):
        raise StudioInputError(f"there is nothing to resume in {str(out)!r} (no latest_net_G_A.pth ... D_B.pth).")
    n_epochs = params.epochs + params.epochs_decay
    if resume:
        done = read_position(out).epoch
        if done >= n_epochs:
            raise StudioInputError(
                f"the run in {str(out)!r} has already trained its {done} epoch{'' if done == 1 else 's'}, and "
                f"{n_epochs} {'is' if n_epochs == 1 else 'are'} planned (epochs {params.epochs} + epochs-decay "
                f"{params.epochs_decay}): there is nothing to train; raise epochs or epochs-decay to train more.")
    keep = max(params.crop_size * 2, params.load_size)
    # several processes decode all the images before any of them trains: a stop meanwhile waits for the first step
    check = None if ranks.distributed else control.check
    try:
        dom_a = yield from _load(dir_a, "A", keep, files, check)
        dom_b = yield from _load(dir_b, "B", keep, files, check)
    except Cancelled:
        yield Finished(np.zeros((8, 8, 3), np.float32), True, 0, time.perf_counter() - t0,
                       extra={"params": params.to_dict(), "run_dir": str(out), "epoch": 0, "saved": False})
        return
    if params.threads:
        torch.set_num_threads(params.threads)
    # the device (one sentence when it is not there) and the process group before anything of an earlier run goes
    device = device_for(ranks, resolve_device(params.device), params.device)
    joined = ranks.distributed and not torch.distributed.is_initialized()
    join(ranks, device)
    try:
        if ranks.main:
            out.mkdir(parents=True, exist_ok=True)
            if not resume:
                old = run_files(out)
                for f in old:
                    f.unlink(missing_ok=True)
                if old:
                    yield Info(f"started afresh: removed the earlier run's {len(old)} files from {out}")
        yield from _train(dom_a, dom_b, out, params, control, resume, files, ranks, device, dir_a, dir_b)
    finally:
        if joined:
            leave(ranks)


def _load(folder: str | os.PathLike[str], name: str, keep: int, files: ImageFiles,
          check: Any) -> Iterator[Event]:
    """``load_domain``, with a line every few seconds while many images are decoded (count, time left) and
    ``check`` (a stop) after each file."""
    t0 = time.perf_counter()
    said = t0
    steps = read_domain(folder, name, keep, files)
    while True:
        try:
            done, total = next(steps)
        except StopIteration as stop:
            return stop.value
        if check is not None:
            check()
        now = time.perf_counter()
        if done < total and now - said >= 2.0:
            said = now
            left = (now - t0) / done * (total - done)
            yield Info(f"reading the domain {name} folder: {done} of {total} images, about {left:.0f} s left")


def _train(dom_a: Domain, dom_b: Domain, out: Path, params: TrainParams, control: JobControl, resume: bool,
           files: ImageFiles, ranks: Ranks, device: torch.device, dir_a: str | os.PathLike[str],
           dir_b: str | os.PathLike[str]) -> Iterator[Event]:
    trainer = CycleGANTrainer(params, device, ranks)
    start = trainer.load(out) if resume else Position()
    if ranks.distributed:
        yield Info(f"Distributed: rank {ranks.rank} of {ranks.world} ({torch.distributed.get_backend()}); "
                   f"{params.batch_size} images a step on each rank, {params.batch_size * ranks.world} in all.",
                   {"rank": str(ranks.rank), "world": str(ranks.world)})
    options = {**params.to_dict(), "dataroot_A": str(Path(dir_a).resolve()),
               "dataroot_B": str(Path(dir_b).resolve()), "netG": f"resnet_{params.n_blocks}blocks",
               "norm": "instance", "no_dropout": True}
    epoch_size = params.epoch_size or max(len(dom_a), len(dom_b))
    # several ranks share each epoch: each takes its DistributedSampler share of the A images
    sampler = (DistributedSampler(range(epoch_size), num_replicas=ranks.world, rank=ranks.rank, shuffle=True,
                                  seed=params.seed) if ranks.distributed else None)
    steps = epoch_size if sampler is None else len(sampler)  # this session's steps an epoch, on each rank
    n_epochs = params.epochs + params.epochs_decay
    first_k = min(steps - 1, int(start.fraction * steps + 1e-9))  # a run stopped mid-epoch goes on there
    where = ""
    if resume:
        where = (f"; resuming in epoch {start.epoch + 1} after {first_k} of its {steps} steps" if first_k
                 else f"; resuming after epoch {start.epoch}")
    yield Info(f"training on {describe(device)}: {len(dom_a)} images in A, {len(dom_b)} in B, "
               f"crop {params.crop_size}, ngf {params.ngf}, {params.n_blocks} blocks" + where,
               {"device": describe(device)})
    for d in (dom_a, dom_b):
        for s in d.skipped:
            yield Info(f"skipped: {s}")
    # the count: this session's steps per epoch, from where the run is (honest across resumes on any number
    # of processes)
    plan = n_epochs * steps
    begin = start.epoch * steps + first_k
    rng = np.random.default_rng(params.seed + 1000 * start.epoch + 7919 * ranks.rank)
    t0 = time.perf_counter()
    last_save = t0
    done = 0  # steps of this session
    losses: dict[str, float] = {}
    grid: np.ndarray | None = None
    visuals: dict[str, torch.Tensor] = {}
    epoch = start.epoch
    k = first_k
    cancelled = False
    budget_over = False
    annealed = 1.0
    saved_at = -1

    def factor(epoch: int, elapsed: float) -> float:
        return min(lr_factor(epoch, params), time_factor(elapsed, params, start.lr_scale), start.lr_scale)

    def save(epoch_files: bool, epochs_done: int, fraction: float) -> None:
        nonlocal saved_at
        saved_at = done
        if ranks.main:
            pos = Position(epochs_done, start.iteration + done, fraction, trainer.lr_scale)
            trainer.save(out, pos, epoch_files, options)
            if visuals:
                files.write(out / SAMPLES_FILE, _grid(visuals))

    try:
        for epoch in range(start.epoch + 1, n_epochs + 1):
            trainer.set_lr(factor(epoch, time.perf_counter() - t0))
            if sampler is not None:
                sampler.set_epoch(epoch)
            # each epoch's order of its own (seed, epoch): a run stopped mid-epoch and resumed goes on through the
            # same order from where it stopped, each A image once (under torchrun the sampler does the same)
            order_a = (np.random.default_rng((params.seed, epoch)).permutation(epoch_size) if sampler is None
                       else np.array(list(sampler)))
            first = first_k if epoch == start.epoch + 1 else 0
            for k in range(first, steps):
                if any_rank(control.cancelled, ranks, device):  # every rank stops at the same step
                    raise Cancelled()
                if params.max_seconds is not None:
                    trainer.set_lr(factor(epoch, time.perf_counter() - t0))
                real_A = _batch(dom_a, params, rng, device, int(order_a[k]))
                real_B = _batch(dom_b, params, rng, device)  # unaligned: B drawn at random
                losses, visuals = trainer.step(real_A, real_B)
                done += 1
                elapsed = time.perf_counter() - t0
                rate = elapsed / done
                position = begin + done
                eta = rate * (plan - position)
                total = plan
                if params.max_seconds is not None:
                    left = max(0.0, params.max_seconds - elapsed)
                    if left < eta:  # the clock ends this run first: the bar counts to where it will be then
                        eta = left
                        total = min(plan, position + int(left / rate))
                preview = None
                if done % params.preview_every == 0 or done == 1:
                    grid = _grid(visuals)
                    preview = grid
                yield Progress(position, total, f"epoch {epoch}/{n_epochs}", losses, elapsed, eta, preview=preview)
                if time.perf_counter() - last_save >= params.save_every_s and k + 1 < steps:
                    save(False, epoch - 1, (k + 1) / steps)
                    last_save = time.perf_counter()
                if any_rank(params.max_seconds is not None and elapsed >= params.max_seconds, ranks, device):
                    # the session annealed to zero by its own clock, a whole cycle: a later one (the app's "run
                    # again to continue") runs a new cycle from the schedule's rate, not on at a rate of nothing
                    budget_over = True
                    annealed = trainer.lr_scale
                    trainer.lr_scale = 1.0
                    break
            if budget_over and k + 1 < steps:
                break
            keep_epoch = epoch % max(1, params.save_epoch_every) == 0 or epoch == n_epochs
            save(keep_epoch, epoch, 0.0)
            last_save = time.perf_counter()
            if budget_over:
                break
    except Cancelled:
        cancelled = True
    if (budget_over or cancelled) and done > saved_at and done:
        save(False, epoch - 1, k / steps if cancelled else (k + 1) / steps)
    if budget_over:
        whole = k + 1 >= steps  # the limit came with the epoch's last step: that epoch is done and saved
        nxt = epoch + 1 if whole else epoch
        then = (f"a resumed session goes on from epoch {nxt} with a new cycle (the schedule's rate, annealed again "
                "by its own time limit)" if nxt <= n_epochs else "that was the last planned epoch")
        yield Info(f"stopped after {params.max_seconds:g} s (max-seconds) in epoch {epoch}, the learning rate "
                   f"annealed to {params.lr * annealed:.2g} on the clock; {then}")
    if visuals:
        grid = _grid(visuals)
    image = grid.astype(np.float32) / 255.0 if grid is not None else np.zeros((8, 8, 3), np.float32)
    yield Finished(image, cancelled, done, time.perf_counter() - t0, losses,
                   extra={"params": params.to_dict(), "device": str(device), "run_dir": str(out),
                          "epoch": epoch, "G_A": str(out / "latest_net_G_A.pth"), "saved": saved_at >= 0,
                          "position": begin + done, "steps_per_epoch": steps})


def _grid(v: dict[str, torch.Tensor]) -> np.ndarray:
    return sample_grid([[v["real_A"][:1], v["fake_B"][:1], v["rec_A"][:1]],
                        [v["real_B"][:1], v["fake_A"][:1], v["rec_B"][:1]]])
