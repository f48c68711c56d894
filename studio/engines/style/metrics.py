"""How stylised a picture is: Gram distance to the style at several sizes (a painting's large
brush structures only show at the coarser ones) and feature distance to the content."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from studio.engines.features.losses import gram
from studio.engines.features.vgg import FeatureNetwork
from studio.engines.pixels import resize_long_side

SCORE_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
SCORE_CONTENT_LAYER = "relu4_2"


def _t(img: np.ndarray, net: FeatureNetwork) -> torch.Tensor:
    device = next(net.parameters()).device
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float().to(device)


class StyleScorer:
    """Distances relative to the target's energy, averaged over the VGG style layers (lower is closer)."""

    def __init__(self, net: FeatureNetwork, content: np.ndarray, style: np.ndarray) -> None:
        self.net, self.content, self.style = net, content, style

    @torch.no_grad()
    def style_distance(self, img: np.ndarray, factor: float = 1.0) -> float:
        long_side = max(16, round(max(img.shape[:2]) * factor))
        a = self.net(_t(resize_long_side(img, long_side), self.net), SCORE_STYLE_LAYERS)
        b = self.net(_t(resize_long_side(self.style, long_side), self.net), SCORE_STYLE_LAYERS)
        d = [float((gram(a[n]) - gram(b[n])).pow(2).sum() / gram(b[n]).pow(2).sum()) for n in SCORE_STYLE_LAYERS]
        return float(np.mean(d))

    @torch.no_grad()
    def content_distance(self, img: np.ndarray) -> float:
        c = resize_long_side(self.content, max(img.shape[:2]))
        if c.shape != img.shape:
            c = cv2.resize(c, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_AREA)
        a = self.net(_t(img, self.net), [SCORE_CONTENT_LAYER])[SCORE_CONTENT_LAYER]
        b = self.net(_t(c, self.net), [SCORE_CONTENT_LAYER])[SCORE_CONTENT_LAYER]
        return float((a - b).pow(2).sum() / b.pow(2).sum())

    def score(self, img: np.ndarray) -> dict[str, float]:
        return {"style@1": self.style_distance(img, 1.0), "style@1/2": self.style_distance(img, 0.5),
                "style@1/4": self.style_distance(img, 0.25), "content": self.content_distance(img)}
