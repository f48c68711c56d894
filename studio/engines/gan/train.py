"""Training a DCGAN generator on a folder of images: ``wgan``, ``wgan-gp`` or ``dcgan`` losses.

``run_train_gan`` is a generator of events: ``Info`` (device, data, skipped files), ``Progress``
after every generator step (losses; a sample grid of a fixed noise batch every ``sample_every``
steps) and one ``Finished`` (also when cancelled or out of time: the latest state is then saved).

- ``wgan`` (Arjovsky et al. 2017, as in their code and the fast.ai lesson): RMSprop; before every
  critic step the critic's weights are clamped to ±``clamp``; ``n_critic`` critic steps per
  generator step, 100 during the first 25 generator steps and at every 500th; each critic step
  takes a fresh real batch. Critic loss D(fake) - D(real), generator loss -D(fake).
- ``wgan-gp`` (Gulrajani et al. 2017): the same with a gradient penalty (weight 10) on random
  interpolates instead of clamping, Adam (1e-4, betas (0, 0.9)), no batch norm in the critic.
- ``dcgan`` (Radford et al. 2015): binary cross-entropy on logits, Adam (2e-4, betas (0.5, 0.999)).

Files in ``out_dir``: ``checkpoint.pt`` (everything needed to resume) and ``generator.pt`` (the
generator alone, half precision) with JSON model cards, and ``samples/iter_NNNNNN.png`` grids.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from studio.engines.device import describe, resolve_device
from studio.engines.distributed import Ranks, ShardedOrder, device_for, join, leave, parallel
from studio.engines.errors import StudioInputError
from studio.engines.events import Cancelled, Event, Finished, Info, JobControl, Progress
from studio.engines.gan.checkpoints import (
    CHECKPOINT_FORMAT,
    FORMAT_VERSION,
    atomic_json_save,
    atomic_torch_save,
    card_path,
    load_checkpoint,
    save_generator,
)
from studio.engines.gan.data import ImageSet, load_folder, random_batch
from studio.engines.gan.latent import image_grid
from studio.engines.gan.models import DCGAN_D, DCGAN_G, GanArch, init_weights, to_uint8_images
from studio.engines.gan.params import TrainGanParams, validate_train_params
from studio.engines.image_files import ImageFiles

# Generator steps at the start (and the period) when the wgan critic gets 100 steps.
WGAN_WARMUP_STEPS = 25
WGAN_LONG_CRITIC_EVERY = 500
WGAN_LONG_CRITIC_STEPS = 100


def critic_steps(gen_iteration: int, loss: str, n_critic: int = 5) -> int:
    """Critic steps before generator step ``gen_iteration`` (counted from 0)."""
    if loss == "dcgan":
        return 1
    if loss == "wgan" and (gen_iteration < WGAN_WARMUP_STEPS or gen_iteration % WGAN_LONG_CRITIC_EVERY == 0):
        return WGAN_LONG_CRITIC_STEPS
    return n_critic


def clamp_weights(module: torch.nn.Module, c: float) -> None:
    """Clip every parameter of ``module`` to [-c, c] in place (the WGAN Lipschitz constraint)."""
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-c, c)


def gradient_penalty(critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """E[(||grad_x D(x)||_2 - 1)^2] at random points x on the lines between real and fake samples."""
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator).to(real.device)
    x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


def arch_for(params: TrainGanParams) -> GanArch:
    return GanArch(image_size=params.size, nz=params.nz, ngf=params.ngf, ndf=params.ndf, nc=3,
                   n_extra_layers=params.n_extra_layers, generator_norm="batch",
                   critic_norm="none" if params.loss == "wgan-gp" else "batch")


class GanTrainer:
    """The models, optimisers and one training step of a run (usable on its own in tests)."""

    def __init__(self, params: TrainGanParams, device: torch.device | str = "cpu",
                 sample: Any = None, ranks: Ranks | None = None) -> None:
        validate_train_params(params)
        self.params = params
        self.device = torch.device(device)
        self.ranks = ranks or Ranks()
        self.arch = arch_for(params)
        torch.manual_seed(params.seed)
        self.G = DCGAN_G(self.arch).to(self.device)
        self.D = DCGAN_D(self.arch).to(self.device)
        init_weights(self.G)
        init_weights(self.D)
        # the models the training steps run through: DistributedDataParallel on several ranks (``G`` and ``D``
        # stay the modules to sample from and save); the critic's gradient penalty and the generator step's
        # pass through the critic use the module itself (the critic is not updated there)
        self.g_train = parallel(self.G, self.ranks, self.device)
        self.d_train = parallel(self.D, self.ranks, self.device)
        lr = params.lr
        if params.loss == "wgan":
            self.opt_g: torch.optim.Optimizer = torch.optim.RMSprop(self.G.parameters(), lr=lr)
            self.opt_d: torch.optim.Optimizer = torch.optim.RMSprop(self.D.parameters(), lr=lr)
        else:
            betas = (0.0, 0.9) if params.loss == "wgan-gp" else (0.5, 0.999)
            self.opt_g = torch.optim.Adam(self.G.parameters(), lr=lr, betas=betas)
            self.opt_d = torch.optim.Adam(self.D.parameters(), lr=lr, betas=betas)
        self.iteration = 0  # generator steps done
        self.critic_iterations = 0
        self.sample = sample  # callable n -> real batch (on any device)
        self.last_real: torch.Tensor | None = None
        self.noise_gen = torch.Generator().manual_seed(params.seed + 1)
        self.fixed_noise = torch.randn(params.sample_count, params.nz, generator=self.noise_gen)
        if self.ranks.rank:  # each rank its own noise (rank 0 keeps a single process's)
            self.noise_gen.manual_seed(self._noise_seed(0))

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.params.nz, generator=self.noise_gen).to(self.device)

    def critic_step(self, real: torch.Tensor) -> dict[str, float]:
        p = self.params
        real = real.to(self.device)
        self.last_real = real
        if p.loss == "wgan":
            clamp_weights(self.D, p.clamp)
        for q in self.D.parameters():
            q.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake = self.G(self.noise(real.shape[0]))
        if p.loss == "dcgan":  # one batch of both: the critic's batch norm sees absolute differences
            d_real, d_fake = self.d_train(torch.cat([real, fake])).split(real.shape[0])
        else:
            d_real = self.d_train(real)
            d_fake = self.d_train(fake)
        terms: dict[str, float] = {}
        if p.loss == "dcgan":
            loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                    + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
            terms["D(x)"] = float(torch.sigmoid(d_real.detach()).mean())
        else:
            w = d_real.mean() - d_fake.mean()
            loss = -w
            terms["wasserstein"] = float(w.detach())
            if p.loss == "wgan-gp":
                gp = gradient_penalty(self.D, real, fake, self.noise_gen)
                loss = loss + p.gp_weight * gp
                terms["gp"] = float(gp.detach())
        loss.backward()
        self.opt_d.step()
        self.critic_iterations += 1
        terms["critic"] = float(loss.detach())
        return terms

    def generator_step(self) -> dict[str, float]:
        for q in self.D.parameters():
            q.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        fake = self.g_train(self.noise(self.params.batch_size))
        if self.params.loss == "dcgan" and self.last_real is not None:
            d_fake = self.D(torch.cat([self.last_real, fake]))[self.last_real.shape[0]:]
        else:
            d_fake = self.D(fake)
        if self.params.loss == "dcgan":
            loss = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
        else:
            loss = -d_fake.mean()
        loss.backward()
        self.opt_g.step()
        for q in self.D.parameters():
            q.requires_grad_(True)
        self.iteration += 1
        return {"generator": float(loss.detach())}

    def train_iteration(self, check: Any = None) -> dict[str, float]:
        """The critic steps of the schedule, then one generator step; returns the last losses."""
        terms: dict[str, float] = {}
        for _ in range(critic_steps(self.iteration, self.params.loss, self.params.n_critic)):
            if check is not None:
                check()
            terms = self.critic_step(self.sample(self.params.batch_size))
        terms.update(self.generator_step())
        return terms

    @torch.no_grad()
    def sample_grid(self, noise: torch.Tensor | None = None) -> np.ndarray:
        """uint8 grid of the fixed noise batch, the generator in eval mode (as sampling sees it)."""
        was = self.G.training
        self.G.eval()
        imgs = to_uint8_images(self.G((self.fixed_noise if noise is None else noise).to(self.device)))
        self.G.train(was)
        return image_grid(imgs)

    # checkpoints --------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "version": FORMAT_VERSION, "arch": self.arch.to_dict(),
                "params": self.params.to_dict(), "iteration": self.iteration,
                "critic_iterations": self.critic_iterations,
                "generator": {k: v.detach().cpu() for k, v in self.G.state_dict().items()},
                "critic": {k: v.detach().cpu() for k, v in self.D.state_dict().items()},
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "fixed_noise": self.fixed_noise.clone()}

    def load_state(self, ck: dict[str, Any]) -> None:
        try:
            self.G.load_state_dict(ck["generator"])
            self.D.load_state_dict(ck["critic"])
            self.opt_g.load_state_dict(ck["opt_g"])
            self.opt_d.load_state_dict(ck["opt_d"])
            self.iteration = int(ck["iteration"])
            self.critic_iterations = int(ck.get("critic_iterations", 0))
            self.fixed_noise = ck["fixed_noise"].float()
        except (KeyError, RuntimeError, ValueError) as exc:
            raise StudioInputError(f"the checkpoint does not fit its own architecture: {exc}") from None
        self.noise_gen.manual_seed(self._noise_seed(self.iteration))

    def _noise_seed(self, iteration: int) -> int:
        return self.params.seed + 1 + iteration + 7919 * self.ranks.rank


class _OutOfTime(Exception):
    """The time budget ran out (every rank at the same step)."""


#: seconds between the progress events of a long critic schedule (wgan's first generator steps take 100 critic steps)
CRITIC_PROGRESS_S = 1.0


def own_output_in(folder: str | Path, out_dir: str | Path | None) -> Path | None:
    """The folder of ``folder``'s images a run writing to ``out_dir`` leaves out, so that it does not train on its
    own sample grids: ``out_dir`` when it lies inside ``folder``, its ``samples`` when it is ``folder`` itself."""
    if out_dir is None:
        return None
    f, o = Path(folder).resolve(), Path(out_dir).resolve()
    if o == f:
        return o / "samples"
    return o if f in o.parents else None


SAMPLE_GRID = re.compile(r"iter_\d{6,}\.png")


def remove_sample_grids(folder: Path) -> int:
    """Remove the sample grids a run wrote (``iter_NNNNNN.png``, nothing else) from ``folder``; how many."""
    if not folder.is_dir():
        return 0
    n = 0
    for f in folder.iterdir():
        if SAMPLE_GRID.fullmatch(f.name) and f.is_file():
            f.unlink()
            n += 1
    return n


def _continues_own_run(resume: str | Path | None, out: Path) -> bool:
    """Whether the run continues the checkpoint of ``out`` itself (its samples stay)."""
    return resume is not None and Path(resume).resolve().parent == out.resolve()


@dataclass
class _Rate:
    """Seconds per unit of work (one critic step or one generator step), smoothed."""

    value: float | None = None

    def observe(self, seconds: float, units: int) -> None:
        r = seconds / max(1, units)
        self.value = r if self.value is None else 0.9 * self.value + 0.1 * r


def remaining_units(start: int, end: int, loss: str, n_critic: int) -> int:
    return sum(critic_steps(i, loss, n_critic) + 1 for i in range(start, end))


def model_card(params: TrainGanParams, data: ImageSet | None, iterations: int, seconds: float,
               device: torch.device, critic_iterations: int, made_by: str = "") -> dict[str, Any]:
    return {
        "name": "studio DCGAN generator",
        "architecture": "DCGAN generator (Radford et al. 2015) as in the Wasserstein GAN code's DCGAN_G",
        "loss": params.loss,
        "image_size": params.size,
        "training_data": params.data_description or (data.description if data else ""),
        "training_files": len(data.files) if data else None,
        "generator_iterations": iterations,
        "critic_iterations": critic_iterations,
        "batch_size": params.batch_size,
        "training_seconds": round(seconds, 1),
        "hardware": describe(device),
        "date": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "studio_version": made_by,
        "params": params.to_dict(),
    }


def run_train_gan(data: ImageSet | str | Path, params: TrainGanParams, out_dir: str | Path | None = None,
                  control: JobControl | None = None, resume: str | Path | None = None,
                  device: torch.device | str | None = None, *, files: ImageFiles,
                  made_by: str = "", ranks: Ranks | None = None) -> Iterator[Event]:
    """Train on ``data`` (a folder or a loaded ImageSet); see the module docstring. ``files`` reads the folder
    and writes the sample grids; ``made_by`` (the studio version) goes into the model card.

    ``ranks`` (default: what ``torchrun`` set in the environment): one of several processes training together
    (``studio.engines.distributed``); each takes ``batch_size`` images a step, only rank 0 writes files."""
    ranks = ranks or Ranks.from_environment()
    control = control or JobControl()
    t0 = time.perf_counter()
    validate_train_params(params)
    ck: dict[str, Any] | None = None
    if resume is not None:
        ck = load_checkpoint(resume)
        done = ck.get("iteration", 0)
        if isinstance(done, int | float) and done >= params.iterations:
            raise StudioInputError(f"nothing to train: {str(resume)!r} is already at generator step {done} and the "
                                   f"run asks for {params.iterations} in all; ask for more iterations to continue it.")
        old = TrainGanParams.from_dict(ck.get("params", {}))
        keep = {k: getattr(params, k) for k in ("iterations", "max_seconds", "sample_every", "checkpoint_every",
                                                 "device")}
        if (old.loss, old.size, old.ngf, old.ndf, old.nz) != (params.loss, params.size, params.ngf, params.ndf,
                                                              params.nz):
            yield Info(f"Resuming with the checkpoint's own settings: loss {old.loss}, {old.size} px, "
                       f"ngf {old.ngf}, ndf {old.ndf}, nz {old.nz}.")
        params = old.with_changes(**keep)
        validate_train_params(params)
    dev = device_for(ranks, torch.device(device) if device is not None else resolve_device(params.device),
                     "auto" if device is not None else params.device)
    yield Info(f"Device: {describe(dev)}", {"device": describe(dev)})
    joined = ranks.distributed and not torch.distributed.is_initialized()
    join(ranks, dev)
    if ranks.distributed:
        yield Info(f"Distributed: rank {ranks.rank} of {ranks.world} "
                   f"({torch.distributed.get_backend()}); {params.batch_size} images a step on each rank, "
                   f"{params.batch_size * ranks.world} in all.", {"rank": str(ranks.rank), "world": str(ranks.world)})
    try:
        yield from _train(data, params, out_dir, control, resume, ck, dev, files, made_by, ranks, t0)
    finally:
        if joined:
            leave(ranks)


def _train(data: ImageSet | str | Path, params: TrainGanParams, out_dir: str | Path | None, control: JobControl,
           resume: str | Path | None, ck: dict[str, Any] | None, dev: torch.device, files: ImageFiles, made_by: str,
           ranks: Ranks, t0: float) -> Iterator[Event]:
    if not isinstance(data, ImageSet):
        leave_out = own_output_in(data, out_dir)
        if leave_out is not None:
            yield Info(f"The output folder {str(out_dir)!r} lies inside the image folder: its images "
                       f"({str(leave_out)!r}) are left out of the training images.")
        # several processes decode before any trains: a stop meanwhile waits for the first step, where the ranks
        # agree on it (a rank that left here would look to the others like one that died)
        check = None if ranks.distributed else control.check
        data = load_folder(data, params.size, files, params.load_side, check=check, leave_out=leave_out)
    yield Info(f"Training on {len(data)} image(s) ({data.description}), {params.size} px crops, loss {params.loss}.")
    if data.skipped:
        listed = "; ".join(f"{p.name}: {why}" for p, why in data.skipped[:10])
        more = f" (and {len(data.skipped) - 10} more)" if len(data.skipped) > 10 else ""
        yield Info(f"Skipped {len(data.skipped)} unreadable file(s): {listed}{more}")

    rank_seed = 7919 * ranks.rank  # each rank its own crops (rank 0 a single process's)
    rng = np.random.default_rng(params.seed + rank_seed)
    batch_args = {"crop_min": params.crop_min, "crop_max": params.crop_max, "flip": params.flip}
    order = ShardedOrder(len(data), ranks, params.seed) if ranks.distributed else None

    def sample(n: int) -> torch.Tensor:
        return random_batch(data, n, params.size, rng, indices=order, **batch_args)

    trainer = GanTrainer(params, dev, sample=sample, ranks=ranks)
    if ck is not None:
        trainer.load_state(ck)
        rng = np.random.default_rng(params.seed + trainer.iteration + rank_seed)
        if order is not None:
            order.epoch = trainer.iteration
        yield Info(f"Resumed from {resume} at generator step {trainer.iteration}.")
    out = Path(out_dir) if out_dir is not None and ranks.main else None
    if out is not None:
        if out.exists() and not out.is_dir():
            raise StudioInputError(f"{str(out)!r} is a file, not a folder for the training output")
        if out.is_dir() and not _continues_own_run(resume, out):
            removed = remove_sample_grids(out / "samples")
            if removed:
                yield Info(f"Removed {removed} sample grid(s) of the run this one replaces from "
                           f"{str(out / 'samples')!r}.")
        (out / "samples").mkdir(parents=True, exist_ok=True)
    prior_seconds = float((ck or {}).get("seconds", 0.0))
    start_iter = trainer.iteration
    total = params.iterations
    rate = _Rate()
    terms: dict[str, float] = {}
    grid = trainer.sample_grid()
    cancelled = False
    # what OUT holds: this run's state when it continues its own checkpoint; else another run's (or nothing), which
    # the end of the run replaces even when it trained no step
    saved_at = trainer.iteration if out is not None and _continues_own_run(resume, out) else -1
    run_seconds = 0.0

    def save() -> str | None:
        nonlocal saved_at
        if out is None:
            return None
        seconds = prior_seconds + (time.perf_counter() - t0)
        card = model_card(params, data, trainer.iteration, seconds, dev, trainer.critic_iterations,
                          made_by)
        state = trainer.state() | {"seconds": seconds, "card": card}
        atomic_torch_save(state, out / "checkpoint.pt")
        atomic_json_save(card, card_path(out / "checkpoint.pt"))
        save_generator(out / "generator.pt", trainer.G, card)
        saved_at = trainer.iteration
        return str(out / "generator.pt")

    def save_grid(img: np.ndarray) -> None:
        if out is not None:
            files.write(out / "samples" / f"iter_{trainer.iteration:06d}.png", img)

    def over_time() -> bool:
        return params.max_seconds is not None and time.perf_counter() - t0 >= params.max_seconds

    def stop_now() -> str | None:
        """Why every rank stops here ("cancel", "time"), or None: the ranks agree, so all stop at the same step."""
        late, cancel = over_time(), control.cancelled
        if not ranks.distributed:
            return "cancel" if cancel else "time" if late else None
        t = torch.tensor([1.0 if cancel else 0.0, 1.0 if late else 0.0], device=dev)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return "cancel" if t[0].item() > 0 else "time" if t[1].item() > 0 else None

    def eta_from(it: int, critic_left: int, now: float) -> float | None:
        if rate.value is None:
            return None
        eta = rate.value * (critic_left + remaining_units(it, total, params.loss, params.n_critic))
        if params.max_seconds is not None:
            eta = min(eta, max(0.0, params.max_seconds - (now - t0)))
        return eta

    last_shown = t0  # the time of the last progress event (the start: the first comes within a second)
    try:
        trainer.G.train()
        trainer.D.train()
        while trainer.iteration < total:
            why = stop_now()
            if why == "cancel":
                raise Cancelled()
            if why == "time":
                raise _OutOfTime()
            steps = critic_steps(trainer.iteration, params.loss, params.n_critic)
            units = steps + 1
            for k in range(steps):
                if k:  # between the critic steps of a long schedule (wgan's first: 100 of them)
                    why = stop_now()
                    if why == "cancel":
                        raise Cancelled()
                    if why == "time":
                        raise _OutOfTime()
                ts = time.perf_counter()
                terms = trainer.critic_step(sample(params.batch_size))
                now = time.perf_counter()
                rate.observe(now - ts, 1)
                if k + 1 < steps and now - last_shown >= CRITIC_PROGRESS_S:
                    last_shown = now
                    yield Progress(iteration=trainer.iteration, total=total,
                                   stage=f"{params.loss} · critic step {k + 1}/{steps}", losses={},
                                   elapsed_s=now - t0, eta_s=eta_from(trainer.iteration + 1, steps - k, now))
            ts = time.perf_counter()
            terms.update(trainer.generator_step())
            if not all(math.isfinite(v) for v in terms.values()):
                raise StudioInputError("training diverged (a loss became NaN or infinite); "
                                       "try a lower learning rate")
            rate.observe(time.perf_counter() - ts, 1)
            it = trainer.iteration
            preview = None
            if it % params.sample_every == 0 or it == total or it == start_iter + 1:
                grid = trainer.sample_grid()
                preview = grid
                if it % params.sample_every == 0 or it == total:
                    save_grid(grid)
            if it % params.checkpoint_every == 0:
                save()
            now = last_shown = time.perf_counter()
            yield Progress(iteration=it, total=total, stage=f"{params.loss} · {units - 1} critic step(s)",
                           losses=dict(terms), elapsed_s=now - t0, eta_s=eta_from(it, 0, now), preview=preview)
    except Cancelled:
        cancelled = True
    except _OutOfTime:
        yield Info(f"Stopped after {params.max_seconds:g} s (the time budget), at step {trainer.iteration}.")
    run_seconds = time.perf_counter() - t0
    generator_path = None
    if trainer.iteration != saved_at or (out is not None and not (out / "generator.pt").exists()):
        generator_path = save()
    elif out is not None:
        generator_path = str(out / "generator.pt")
    grid = trainer.sample_grid()
    if out is not None and trainer.iteration > start_iter:
        save_grid(grid)
    yield Finished(image=grid.astype(np.float32) / 255.0, cancelled=cancelled,
                   iterations=trainer.iteration - start_iter, elapsed_s=run_seconds, losses=dict(terms),
                   extra={"generator": generator_path,
                          "checkpoint": str(out / "checkpoint.pt") if out is not None else None,
                          "generator_iterations": trainer.iteration, "critic_iterations": trainer.critic_iterations,
                          "params": params.to_dict(), "device": str(dev),
                          "skipped": [str(p) for p, _ in data.skipped]})
