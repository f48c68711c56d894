"""Patch synthesis: the last step of the paper's post-processing (filt_cnn_artifact.m of Luan et al. 2018).

After pass 2 and the chroma denoising, every 7x7 patch of the harmonized object is matched to its
nearest 7x7 patch of the painting (PatchMatch, Barnes et al. 2009: random start, propagation from
the neighbours, random search at halving radii), and the object is rebuilt by averaging, at each
pixel, the painting pixels that the patches covering it were matched to ("voting"). That base holds
only colours and strokes the painting has, which removes the colour blotches a CNN optimisation
leaves; the result's own fine detail (its difference from a small Gaussian blur) is added back on it.

Written with torch gathers, a block of pixels at a time, so memory stays at ``CHUNK_PIXELS`` patches.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

PATCH_RADIUS = 3  # 7x7 patches, as the paper's patch_w = 7
ITERATIONS = 5  # PatchMatch iterations (the paper's nnmex default)
DETAIL_SIGMA = 1.0  # the detail kept from the result: it minus its 7x7 Gaussian blur (sigma r/3, r = 3)
JUMPS = (4, 2, 1)  # propagation distances of each iteration
CHUNK_PIXELS = 16_384  # pixels whose patches are compared at once (about 20 MB of patch values)


def _padded(img: torch.Tensor, r: int) -> torch.Tensor:
    mode = "reflect" if min(img.shape[-2:]) > r else "replicate"
    return F.pad(img[None], (r, r, r, r), mode=mode)[0]


class _Patches:
    """The 7x7 patches of a padded (3, H, W) image, gathered by centre position."""

    def __init__(self, img: torch.Tensor, r: int) -> None:
        self.h, self.w = img.shape[-2:]
        self.wp = self.w + 2 * r
        self.flat = _padded(img, r).reshape(img.shape[0], -1)
        dy, dx = torch.meshgrid(torch.arange(2 * r + 1), torch.arange(2 * r + 1), indexing="ij")
        self.offsets = (dy * self.wp + dx).reshape(-1, 1)  # (K, 1): the patch's pixels from its top-left

    def at(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(C, K, n) patches centred at the positions (y, x), each (n,)."""
        return self.flat[:, (y * self.wp + x)[None] + self.offsets]


def _costs(a: _Patches, b: _Patches, qy: torch.Tensor, qx: torch.Tensor, fy: torch.Tensor,
           fx: torch.Tensor) -> torch.Tensor:
    """Sum of squared differences between the patches of ``a`` at (qy, qx) and of ``b`` at (fy, fx)."""
    out = torch.empty(qy.shape[0])
    for s in range(0, qy.shape[0], CHUNK_PIXELS):
        e = s + CHUNK_PIXELS
        out[s:e] = (a.at(qy[s:e], qx[s:e]) - b.at(fy[s:e], fx[s:e])).pow(2).sum((0, 1))
    return out


def nearest_field(a: torch.Tensor, b: torch.Tensor, radius: int = PATCH_RADIUS, iterations: int = ITERATIONS,
                  seed: int = 0, check: Callable[[], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """For each pixel of ``a`` (3, H, W), the centre (y, x) in ``b`` (3, Hb, Wb) of an approximately nearest
    (2 radius + 1)^2 patch, by PatchMatch. Returns two (H, W) long tensors."""
    g = torch.Generator().manual_seed(seed)
    h, w = a.shape[-2:]
    hb, wb = b.shape[-2:]
    pa, pb = _Patches(a, radius), _Patches(b, radius)
    qy, qx = (t.reshape(-1) for t in torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij"))
    fy = torch.randint(0, hb, (h * w,), generator=g)
    fx = torch.randint(0, wb, (h * w,), generator=g)
    best = _costs(pa, pb, qy, qx, fy, fx)

    def consider(cy: torch.Tensor, cx: torch.Tensor) -> None:
        nonlocal fy, fx, best
        cy, cx = cy.clamp(0, hb - 1), cx.clamp(0, wb - 1)
        c = _costs(pa, pb, qy, qx, cy, cx)
        better = c < best
        fy, fx, best = torch.where(better, cy, fy), torch.where(better, cx, fx), torch.where(better, c, best)

    for _ in range(iterations):
        # propagation, all pixels at once: the pixel at p - s matched f, so p tries f + s. The sequential
        # scan of the original carries a good match across the image in one sweep; here jumps of 4, 2 and 1
        # pixels (as jump flooding) carry it 7 pixels a direction per iteration.
        for jump in JUMPS:
            for sy, sx in ((jump, 0), (0, jump), (-jump, 0), (0, -jump)):
                ny = torch.roll(fy.view(h, w), (sy, sx), (0, 1)).reshape(-1) + sy
                nx = torch.roll(fx.view(h, w), (sy, sx), (0, 1)).reshape(-1) + sx
                consider(ny, nx)
                if check is not None:
                    check()
        reach = max(hb, wb)
        while reach >= 1:  # random search around the current match, at halving radii
            consider(fy + torch.randint(-reach, reach + 1, (h * w,), generator=g),
                     fx + torch.randint(-reach, reach + 1, (h * w,), generator=g))
            reach //= 2
    return fy.view(h, w), fx.view(h, w)


def vote(b: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor, radius: int = PATCH_RADIUS) -> torch.Tensor:
    """(3, H, W): at each pixel, the mean of the ``b`` pixels that the patches covering it were matched to."""
    h, w = fy.shape
    pb = _padded(b, radius)
    acc = torch.zeros(b.shape[0], h, w)
    count = torch.zeros(h, w)
    ys, xs = torch.arange(h)[:, None], torch.arange(w)[None, :]
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            qy, qx = ys - dy, xs - dx  # the patch centred at q = p - d covers p with its pixel d
            ok = ((qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)).float()
            qyc, qxc = qy.clamp(0, h - 1).expand(h, w), qx.clamp(0, w - 1).expand(h, w)
            acc += pb[:, fy[qyc, qxc] + dy + radius, fx[qyc, qxc] + dx + radius] * ok
            count += ok
    return acc / count.clamp_min(1.0)


def rebuild_from_painting(result: np.ndarray, painting: np.ndarray, seed: int = 0,
                          check: Callable[[], None] | None = None) -> np.ndarray:
    """``result`` (HxWx3 float32 in [0, 1], the harmonized crop) rebuilt from ``painting``'s patches, plus
    its own fine detail; HxWx3 float32 in [0, 1]."""
    a = torch.from_numpy(np.ascontiguousarray(result.transpose(2, 0, 1))).float()
    b = torch.from_numpy(np.ascontiguousarray(painting.transpose(2, 0, 1))).float()
    fy, fx = nearest_field(a, b, seed=seed, check=check)
    base = vote(b, fy, fx).numpy().transpose(1, 2, 0)
    k = 2 * PATCH_RADIUS + 1
    detail = result - cv2.GaussianBlur(result, (k, k), DETAIL_SIGMA, borderType=cv2.BORDER_REFLECT)
    return np.clip(base + detail, 0, 1).astype(np.float32)
