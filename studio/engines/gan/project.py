"""Projecting a picture into a generator's latent space: the latent z whose picture is nearest, then the detail
that makes the picture the photo's.

With a face generator's ``framing`` (``framing.py``), the target is the square around the picture's face in which
it sits as the generator's faces sit; otherwise, or where no face is found (an ``Info`` says so), the picture's
centre square. The target is resized (area) to the generator's size.

Stage 1 (``steps``) starts from the best of ``candidates`` random latents, then runs Adam on z, minimising the
mean squared pixel error plus a small prior term that keeps z near the norm Gaussian latents have (so the
result stays editable). A z alone gives the generator's nearest face, which is seldom the photo's person: the
built-in face generator (100 numbers, trained on synthetic faces) reproduces scikit-image's astronaut with a
pixel error of 0.0125 as someone else. Stage 2 (``detail_steps``, 0 to skip) keeps z and fits a *detail*: an
offset added to the generator's activations after its second block (8x8 for a DCGAN; ``models.detail_split``),
penalised by ``detail_weight`` times its mean square. The astronaut's error falls to about 0.0006 and the picture
is her. The detail rides along when z is steered (``models.generate``): principal-direction edits still turn the
head or change the light, and the photo's likeness holds to about 1.5 standard deviations; further out its
detail no longer fits the moved face and ghosts.

``run_project`` yields ``Progress`` (with the current reconstruction) and one ``Finished`` whose
``extra["z"]`` is the latent (nz,), ``extra["detail"]`` the detail (C, H, W) or None, ``extra["mse"]`` the final
pixel error, ``extra["z_mse"]`` that of z alone, and ``extra["face"]`` the face's box (top, left, side in the
picture's pixels) the target was framed on, or None.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from studio.engines.errors import StudioInputError
from studio.engines.events import Cancelled, Event, Finished, Info, JobControl, Progress
from studio.engines.gan.framing import FaceFraming, find_face, frame_face
from studio.engines.gan.models import DCGAN_G, detail_split, generate, to_uint8_images
from studio.engines.limits import ITERATIONS, PREVIEW, SEED, WEIGHT, Limit
from studio.engines.params import Params


@dataclass(frozen=True)
class ProjectParams(Params):

    LIMITS = {
        "steps": ITERATIONS, "learning_rate": Limit(0, 10, above_lowest=True),
        "candidates": Limit(1, 4096), "prior_weight": WEIGHT, "seed": SEED, "preview_every": PREVIEW,
        "detail_steps": ITERATIONS, "detail_learning_rate": Limit(0, 10, above_lowest=True),
        "detail_weight": WEIGHT,
    }
    steps: int = 300
    learning_rate: float = 0.05
    candidates: int = 64  # random starts; the best one is optimised
    prior_weight: float = 1e-3  # weight of (|z|^2/nz - 1)^2
    seed: int = 0
    preview_every: int = 20
    detail_steps: int = 300  # stage 2: the photo's detail over the generator's own (0: z alone)
    detail_learning_rate: float = 0.02
    detail_weight: float = 0.1  # weight of the detail's mean square


def _rgb(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb, np.float32)
    if a.ndim != 3 or a.shape[2] < 3:
        raise StudioInputError(f"the picture to project must be an RGB image, got shape {a.shape}")
    return a


def target_tensor(rgb: np.ndarray, size: int) -> torch.Tensor:
    """RGB float [0, 1] HxWx3 -> (1, 3, size, size) in [-1, 1], centre-cropped to a square then resized."""
    a = _rgb(rgb)
    h, w = a.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    a = a[y:y + s, x:x + s, :3]
    if s != size:
        a = cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA if s > size else cv2.INTER_CUBIC)
    return torch.from_numpy(np.clip(a, 0, 1).transpose(2, 0, 1)).unsqueeze(0) * 2 - 1


def run_project(model: DCGAN_G, target_rgb: np.ndarray, params: ProjectParams | None = None,
                control: JobControl | None = None, device: torch.device | str = "cpu",
                framing: FaceFraming | None = None) -> Iterator[Event]:
    params = params or ProjectParams()
    control = control or JobControl()
    if params.steps < 0 or params.candidates < 1 or not math.isfinite(params.learning_rate) \
            or params.learning_rate <= 0 or params.detail_steps < 0 \
            or not math.isfinite(params.detail_learning_rate) or params.detail_learning_rate <= 0:
        raise StudioInputError("projection needs steps >= 0, detail steps >= 0, candidates >= 1 and positive "
                               "learning rates")
    t0 = time.perf_counter()
    # a copy on the run's device: the caller's generator (the explorer's, on the CPU) stays where it is, as it is
    model = copy.deepcopy(model).eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    nz = model.arch.nz
    face = None
    if framing is not None:
        target_rgb = _rgb(target_rgb)
        face = find_face(target_rgb)
        if face is None:
            yield Info("No face found in the picture: fitting its centre square, which this face generator may "
                       "not reproduce well (crop the picture to the head and shoulders and fit again).")
        else:
            yield Info(f"Fitting the face found at {face.left},{face.top} ({face.side} px), framed as the "
                       "generator frames its faces.", {"face": f"{face.left},{face.top},{face.side}"})
            target_rgb = frame_face(target_rgb, face, framing)
    target = target_tensor(target_rgb, model.arch.image_size).to(device)
    g = torch.Generator().manual_seed(params.seed)
    with torch.no_grad():
        cands = torch.randn(params.candidates, nz, generator=g).to(device)
        errs = torch.cat([((model(cands[i:i + 32]) - target) ** 2).mean(dim=(1, 2, 3))
                          for i in range(0, len(cands), 32)])
    z = cands[int(errs.argmin())].clone().unsqueeze(0).requires_grad_(True)
    start_mse = float(errs.min()) / 4  # in [0, 1] pixel units
    opt = torch.optim.Adam([z], lr=params.learning_rate)
    best = (start_mse, z.detach().clone())
    total = params.steps + params.detail_steps
    t_steps = time.perf_counter()  # the rate of the steps alone: the search of the starts is not one of them
    done = 0

    def progress(stage: str, mse: float, out: torch.Tensor) -> Progress:
        show = done % max(1, params.preview_every) == 0 or done == params.steps or done == total
        now = time.perf_counter()
        return Progress(iteration=done, total=total, stage=stage, losses={"mse": mse, "start_mse": start_mse},
                        elapsed_s=now - t0, eta_s=(now - t_steps) / done * (total - done),
                        preview=to_uint8_images(out)[0] if show else None)

    cancelled = False
    detail_best: tuple[float, torch.Tensor | None] = (math.inf, None)
    try:
        for _ in range(params.steps):
            control.check()
            opt.zero_grad(set_to_none=True)
            out = model(z)
            pix = ((out - target) ** 2).mean()
            prior = (z.square().sum() / nz - 1.0) ** 2
            loss = pix + params.prior_weight * prior
            loss.backward()
            opt.step()
            mse = float(pix.detach()) / 4
            if mse < best[0]:
                best = (mse, z.detach().clone())
            done += 1
            yield progress("projecting", mse, out)
        if params.detail_steps:
            main = model.main
            k = detail_split(main)
            with torch.no_grad():
                early = main[:k](best[1][:, :, None, None])
            detail = torch.zeros_like(early[0]).requires_grad_(True)
            opt_d = torch.optim.Adam([detail], lr=params.detail_learning_rate)
            for _ in range(params.detail_steps):
                control.check()
                opt_d.zero_grad(set_to_none=True)
                out = main[k:](early + detail)
                pix = ((out - target) ** 2).mean()
                (pix + params.detail_weight * detail.square().mean()).backward()
                opt_d.step()
                mse = float(pix.detach()) / 4
                if mse < detail_best[0]:
                    detail_best = (mse, detail.detach().clone())
                done += 1
                yield progress("fitting the photo's detail", mse, out)
    except Cancelled:
        cancelled = True
    z_best = best[1]
    d_best = detail_best[1]
    with torch.no_grad():
        img = to_uint8_images(generate(model, z_best, d_best))[0]
    final = detail_best[0] if d_best is not None else best[0]
    yield Finished(image=img.astype(np.float32) / 255, cancelled=cancelled, iterations=done,
                   elapsed_s=time.perf_counter() - t0, losses={"mse": final, "start_mse": start_mse},
                   extra={"z": z_best[0].cpu().numpy().astype(np.float32),
                          "detail": None if d_best is None else d_best.cpu().numpy().astype(np.float32),
                          "mse": final, "z_mse": best[0], "start_mse": start_mse, "params": params.to_dict(),
                          "face": None if face is None else (face.top, face.left, face.side)})
