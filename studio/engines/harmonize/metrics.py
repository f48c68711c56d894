"""Figures for a harmonized image (lower is better for each):

- ``style``: how far the pasted region's feature statistics are from the rest of the painting's:
  the relative squared distance between the Gram matrix of the VGG features inside the tight mask
  and that of the features outside it (each divided by its area), averaged over relu1_1..relu4_1;
- ``content``: how much of the object was lost: relative squared distance, inside the mask, between
  the relu4_1 features of the image and of the naive composite;
- ``seam``: how visible the border is: the mean lightness gradient on the mask's border divided by
  the mean gradient in the bands a few pixels inside and outside it (about 1 when there is no seam).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from studio.engines.features.vgg import FeatureNetwork
from studio.engines.harmonize.losses import gram_masked
from studio.engines.masks import binarize, layer_masks, resize_mask

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
CONTENT_LAYER = "relu4_1"


def _t(img: np.ndarray, net: FeatureNetwork) -> torch.Tensor:
    device = next(net.parameters()).device
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float().to(device)


def _fit(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    if img.shape[:2] == hw:
        return img.astype(np.float32)
    interp = cv2.INTER_AREA if hw[0] < img.shape[0] else cv2.INTER_CUBIC
    return np.clip(cv2.resize(img, (hw[1], hw[0]), interpolation=interp), 0, 1).astype(np.float32)


def seam_measure(image: np.ndarray, mask: np.ndarray, width: int = 1, band: tuple[int, int] = (3, 8)) -> float:
    """Mean lightness gradient on the border of ``mask`` (within ``width`` px) over the mean gradient
    in the bands ``band`` px inside and outside it."""
    m = (binarize(mask) * 255).astype(np.uint8)
    grey = cv2.cvtColor(np.clip(image, 0, 1).astype(np.float32), cv2.COLOR_RGB2GRAY)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.sqrt(gx * gx + gy * gy)
    d_in = cv2.distanceTransform(m, cv2.DIST_L2, 3)
    d_out = cv2.distanceTransform(255 - m, cv2.DIST_L2, 3)
    dist = np.where(m > 0, d_in, d_out)  # distance to the border, both sides
    border = dist <= width + 0.5
    near = (dist >= band[0]) & (dist <= band[1])
    if border.sum() == 0 or near.sum() == 0:
        return float("nan")
    return float(mag[border].mean() / max(float(mag[near].mean()), 1e-6))


class HarmonizeScorer:
    """Scores images of one case (painting-sized RGB in [0, 1]) at a fixed working size."""

    def __init__(self, net: FeatureNetwork, composite: np.ndarray, tight_mask: np.ndarray, size: int = 512) -> None:
        h, w = composite.shape[:2]
        k = min(1.0, size / max(h, w))
        self.hw = (max(1, round(h * k)), max(1, round(w * k)))
        self.net = net
        self.mask = binarize(resize_mask(tight_mask, self.hw))
        device = next(net.parameters()).device
        lm = layer_masks(torch.from_numpy(self.mask).to(device), net, (*STYLE_LAYERS, CONTENT_LAYER))
        self.inside = {n: (m > 0.5).float() for n, m in lm.items()}
        self.outside = {n: (m < 0.05).float() for n, m in lm.items()}
        with torch.no_grad():
            self.content_ref = net(_t(_fit(composite, self.hw), net), [CONTENT_LAYER])[CONTENT_LAYER][0]

    @torch.no_grad()
    def style_distance(self, image: np.ndarray) -> float:
        feats = self.net(_t(_fit(image, self.hw), self.net), STYLE_LAYERS)
        d = []
        for n in STYLE_LAYERS:
            f = feats[n][0]
            gi = gram_masked(f, self.inside[n]) / self.inside[n].sum().clamp_min(1.0)
            go = gram_masked(f, self.outside[n]) / self.outside[n].sum().clamp_min(1.0)
            d.append(float((gi - go).pow(2).sum() / go.pow(2).sum().clamp_min(1e-12)))
        return float(np.mean(d))

    @torch.no_grad()
    def content_distance(self, image: np.ndarray) -> float:
        f = self.net(_t(_fit(image, self.hw), self.net), [CONTENT_LAYER])[CONTENT_LAYER][0]
        m = self.inside[CONTENT_LAYER][None]
        return float(((f - self.content_ref) * m).pow(2).sum() / (self.content_ref * m).pow(2).sum().clamp_min(1e-12))

    def seam(self, image: np.ndarray) -> float:
        return seam_measure(_fit(image, self.hw), self.mask)

    def score(self, image: np.ndarray) -> dict[str, float]:
        return {"style": self.style_distance(image), "content": self.content_distance(image),
                "seam": self.seam(image)}
