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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data.distributed import DistributedSampler

from studio.engines.cyclegan.data import Domain, ImagePool, load_domain, random_crop
from studio.engines.cyclegan.io import read_state_dict, save_state_dict
from studio.engines.cyclegan.models import NLayerDiscriminator, ResnetGenerator
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


def time_factor(elapsed: float, params: TrainParams) -> float:
    """With a time budget the same policy runs on the clock: full rate for the first epochs/(epochs + decay)
    share of max_seconds, then a linear decay that reaches zero when the time is up."""
    if params.max_seconds is None:
        return 1.0
    const = params.epochs / (params.epochs + params.epochs_decay)
    frac = elapsed / params.max_seconds
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

    def nets(self) -> dict[str, torch.nn.Module]:
        return {"G_A": self.G_A, "G_B": self.G_B, "D_A": self.D_A, "D_B": self.D_B}

    def set_lr(self, factor: float) -> None:
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

    def save(self, run_dir: Path, epoch: int, iteration: int, epoch_files: bool) -> None:
        for name, net in self.nets().items():
            save_state_dict(net, run_dir / f"latest_net_{name}.pth")
            if epoch_files:
                save_state_dict(net, run_dir / f"{epoch}_net_{name}.pth")
        state = {"opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(), "epoch": epoch,
                 "iteration": iteration}
        save_state_dict(state, run_dir / STATE_FILE)

    def load(self, run_dir: Path) -> tuple[int, int]:
        """Load ``latest_net_*`` (and the optimisers when saved); returns (epoch, iteration) done."""
        for name, net in self.nets().items():
            f = run_dir / f"latest_net_{name}.pth"
            sd = read_state_dict(f)
            try:
                net.load_state_dict({k: v.float() for k, v in sd.items()})
            except RuntimeError:
                raise StudioInputError(f"{str(f)!r} does not fit the network being trained (ngf "
                                       f"{self.p.ngf}, {self.p.n_blocks} blocks, ndf {self.p.ndf}); resume with "
                                       "the sizes it was trained with") from None
        sf = run_dir / STATE_FILE
        if not sf.is_file():
            return 0, 0
        state = read_state_dict(sf)
        try:
            self.opt_G.load_state_dict(state["opt_G"])
            self.opt_D.load_state_dict(state["opt_D"])
            return int(state["epoch"]), int(state["iteration"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            what = f"lacks {exc}" if isinstance(exc, KeyError) else "holds optimiser states that do not fit this run"
            raise StudioInputError(f"{str(sf)!r} {what}; remove it to resume from the networks alone "
                                   "(the optimisers then start afresh).") from None


def _batch(domain: Domain, p: TrainParams, rng: np.random.Generator, device: torch.device,
           index: int | None = None) -> torch.Tensor:
    imgs = []
    for _ in range(p.batch_size):
        i = int(rng.integers(0, len(domain))) if index is None else index % len(domain)
        imgs.append(random_crop(domain.images[i], p.crop_size, p.load_size, p.preprocess, p.flip, rng))
    t = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2)
    return (t * 2 - 1).to(device)


def run_train(dir_a: str | os.PathLike[str], dir_b: str | os.PathLike[str], run_dir: str | os.PathLike[str],
              params: TrainParams | None = None, control: JobControl | None = None,
              resume: bool = False, *, files: ImageFiles, ranks: Ranks | None = None) -> Iterator[Event]:
    """Train on the images of two folders, writing checkpoints to ``run_dir``; yields Info, Progress
    (losses every iteration, a sample grid every ``preview_every``) and Finished (image: the last grid).

    ``ranks`` (default: what ``torchrun`` set): one of several processes (``studio.engines.distributed``);
    each epoch's A images are shared among them, each takes ``batch_size`` a step, rank 0 alone writes."""
    ranks = ranks or Ranks.from_environment()
    params = params or TrainParams()
    validate(params)
    control = control or JobControl()
    out = Path(run_dir)
    if out.exists() and not out.is_dir():
        raise StudioInputError(f"the run folder {str(out)!r} is a file.")
    if resume and not has_checkpoint(out):
        raise StudioInputError(f"there is nothing to resume in {str(out)!r} (no latest_net_G_A.pth ... D_B.pth).")
    keep = max(params.crop_size * 2, params.load_size)
    dom_a = load_domain(dir_a, "A", keep, files)
    dom_b = load_domain(dir_b, "B", keep, files)
    if ranks.main:
        out.mkdir(parents=True, exist_ok=True)
    if params.threads:
        torch.set_num_threads(params.threads)
    device = device_for(ranks, resolve_device(params.device), params.device)
    joined = ranks.distributed and not torch.distributed.is_initialized()
    join(ranks, device)
    try:
        yield from _train(dom_a, dom_b, out, params, control, resume, files, ranks, device, dir_a, dir_b)
    finally:
        if joined:
            leave(ranks)


def _train(dom_a: Domain, dom_b: Domain, out: Path, params: TrainParams, control: JobControl, resume: bool,
           files: ImageFiles, ranks: Ranks, device: torch.device, dir_a: str | os.PathLike[str],
           dir_b: str | os.PathLike[str]) -> Iterator[Event]:
    trainer = CycleGANTrainer(params, device, ranks)
    epoch_done, it_done = trainer.load(out) if resume else (0, 0)
    if ranks.distributed:
        yield Info(f"Distributed: rank {ranks.rank} of {ranks.world} ({torch.distributed.get_backend()}); "
                   f"{params.batch_size} images a step on each rank, {params.batch_size * ranks.world} in all.",
                   {"rank": str(ranks.rank), "world": str(ranks.world)})
    save = _save if ranks.main else (lambda *a, **k: None)
    if ranks.main:
        options = {**params.to_dict(), "dataroot_A": str(Path(dir_a).resolve()),
                   "dataroot_B": str(Path(dir_b).resolve()), "netG": f"resnet_{params.n_blocks}blocks",
                   "norm": "instance", "no_dropout": True}
        atomic_write_text(out / OPT_FILE, json.dumps(options, indent=1))
    yield Info(f"training on {describe(device)}: {len(dom_a)} images in A, {len(dom_b)} in B, "
               f"crop {params.crop_size}, ngf {params.ngf}, {params.n_blocks} blocks"
               + (f"; resuming after epoch {epoch_done}" if resume else ""), {"device": describe(device)})
    for d in (dom_a, dom_b):
        for s in d.skipped:
            yield Info(f"skipped: {s}")
    epoch_size = params.epoch_size or max(len(dom_a), len(dom_b))
    # several ranks share each epoch: each takes its DistributedSampler share of the A images
    sampler = (DistributedSampler(range(epoch_size), num_replicas=ranks.world, rank=ranks.rank, shuffle=True,
                                  seed=params.seed) if ranks.distributed else None)
    steps = epoch_size if sampler is None else len(sampler)
    n_epochs = params.epochs + params.epochs_decay
    total = n_epochs * steps
    rng = np.random.default_rng(params.seed + 1000 * epoch_done + 7919 * ranks.rank)
    t0 = time.perf_counter()
    last_save = t0
    it = it_done
    losses: dict[str, float] = {}
    grid: np.ndarray | None = None
    visuals: dict[str, torch.Tensor] = {}
    epoch = epoch_done
    cancelled = False
    budget_over = False
    try:
        for epoch in range(epoch_done + 1, n_epochs + 1):
            trainer.set_lr(lr_factor(epoch, params))
            if sampler is not None:
                sampler.set_epoch(epoch)
            order_a = rng.permutation(epoch_size) if sampler is None else np.array(list(sampler))
            for k in range(steps):
                control.check()
                if params.max_seconds is not None:
                    trainer.set_lr(min(lr_factor(epoch, params), time_factor(time.perf_counter() - t0, params)))
                real_A = _batch(dom_a, params, rng, device, int(order_a[k]))
                real_B = _batch(dom_b, params, rng, device)  # unaligned: B drawn at random
                losses, visuals = trainer.step(real_A, real_B)
                it += 1
                elapsed = time.perf_counter() - t0
                rate = elapsed / max(1, it - it_done)
                preview = None
                if it % params.preview_every == 0 or it == it_done + 1:
                    grid = _grid(visuals)
                    preview = grid
                yield Progress(it, total, f"epoch {epoch}/{n_epochs}", losses, elapsed, rate * (total - it),
                               preview=preview)
                if time.perf_counter() - last_save >= params.save_every_s:
                    save(trainer, out, epoch - 1, it, False, visuals, files)
                    last_save = time.perf_counter()
                if any_rank(params.max_seconds is not None and elapsed >= params.max_seconds, ranks, device):
                    budget_over = True
                    break
            if budget_over:
                break
            keep_epoch = epoch % max(1, params.save_epoch_every) == 0 or epoch == n_epochs
            save(trainer, out, epoch, it, keep_epoch, visuals, files)
            last_save = time.perf_counter()
    except Cancelled:
        cancelled = True
    if budget_over or cancelled:
        if visuals:
            save(trainer, out, epoch - 1, it, False, visuals, files)
        if budget_over:
            yield Info(f"stopped after {params.max_seconds:g} s (max-seconds) in epoch {epoch}; resume to continue")
    if visuals:
        grid = _grid(visuals)
    image = grid.astype(np.float32) / 255.0 if grid is not None else np.zeros((8, 8, 3), np.float32)
    yield Finished(image, cancelled, it, time.perf_counter() - t0, losses,
                   extra={"params": params.to_dict(), "device": str(device), "run_dir": str(out),
                          "epoch": epoch, "G_A": str(out / "latest_net_G_A.pth")})


def _grid(v: dict[str, torch.Tensor]) -> np.ndarray:
    return sample_grid([[v["real_A"][:1], v["fake_B"][:1], v["rec_A"][:1]],
                        [v["real_B"][:1], v["fake_A"][:1], v["rec_B"][:1]]])


def _save(trainer: CycleGANTrainer, out: Path, epoch: int, it: int, epoch_files: bool,
          visuals: dict[str, torch.Tensor], files: ImageFiles) -> None:
    trainer.save(out, epoch, it, epoch_files)
    if visuals:
        files.write(out / SAMPLES_FILE, _grid(visuals))
