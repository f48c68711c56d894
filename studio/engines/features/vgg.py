"""VGG feature network with named layers, truncated to the deepest layer a loss needs.

Layer names follow the classic style-transfer convention: ``conv{block}_{i}``,
``relu{block}_{i}``, ``pool{block}``. The weights are a torchvision-layout ``features``
state dict (``features.0.weight`` ...), whatever their source; the source decides the input
normalisation (Caffe: BGR, 0-255, minus the mean; torchvision: RGB, ImageNet mean/std).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from studio.engines.errors import StudioInputError
from studio.engines.features.conv_bank import ConvBank
from studio.engines.features.feature_pass import FeaturePass

CFG: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}

# Layers offered in the UI as style-layer choices (present in both VGG16 and VGG19).
STYLE_LAYER_CHOICES: tuple[str, ...] = (
    "relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3",
    "relu4_1", "relu4_2", "relu4_3", "relu5_1", "relu5_2", "relu5_3",
)
CONTENT_LAYER_CHOICES: tuple[str, ...] = ("relu2_2", "relu3_2", "relu4_1", "relu4_2", "relu5_2")

Normalization = Literal["caffe", "imagenet"]
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class LayerSpec:
    name: str
    kind: Literal["conv", "relu", "pool"]
    index: int  # position in torchvision's ``features`` Sequential
    in_channels: int
    out_channels: int


def layer_specs(arch: str) -> list[LayerSpec]:
    """The named layers of a VGG ``features`` stack, in order."""
    if arch not in CFG:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(CFG)}")
    specs: list[LayerSpec] = []
    block, i, idx, ch = 1, 1, 0, 3
    for v in CFG[arch]:
        if v == "M":
            specs.append(LayerSpec(f"pool{block}", "pool", idx, ch, ch))
            idx += 1
            block, i = block + 1, 1
        else:
            assert isinstance(v, int)
            specs.append(LayerSpec(f"conv{block}_{i}", "conv", idx, ch, v))
            specs.append(LayerSpec(f"relu{block}_{i}", "relu", idx + 1, v, v))
            idx += 2
            ch = v
            i += 1
    return specs


def layer_names(arch: str) -> list[str]:
    return [s.name for s in layer_specs(arch)]


def _checking_hook(check: Callable[[], None]) -> Callable[[torch.Tensor], torch.Tensor]:
    def hook(grad: torch.Tensor) -> torch.Tensor:
        check()
        return grad

    return hook


class FeatureNetwork(nn.Module):
    """A frozen VGG ``features`` stack that returns the activations of named layers.

    ``forward(rgb, layers)`` takes RGB in [0, 1] (N, 3, H, W) and runs only as far as the
    deepest requested layer. Parameters never require gradients, so a backward pass
    computes the input gradient alone.
    """

    def __init__(self, arch: str, state_dict: dict[str, torch.Tensor], normalization: Normalization,
                 source: str = "") -> None:
        super().__init__()
        self.arch = arch
        self.source = source
        self.normalization: Normalization = normalization
        self.specs = layer_specs(arch)
        self._order = {s.name: k for k, s in enumerate(self.specs)}
        convs = nn.ModuleDict()
        for s in self.specs:
            if s.kind == "conv":
                conv = nn.Conv2d(s.in_channels, s.out_channels, 3, padding=1)
                w = state_dict.get(f"features.{s.index}.weight")
                b = state_dict.get(f"features.{s.index}.bias")
                if w is None or b is None:
                    raise StudioInputError(f"the {source or arch} weights have no tensor for {s.name} "
                                     f"(features.{s.index}.weight/bias)")
                for what, t, want in (("weight", w, conv.weight), ("bias", b, conv.bias)):
                    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
                        raise StudioInputError(f"the {source or arch} weights hold no float tensor for the "
                                               f"{what} of {s.name} (features.{s.index}.{what})")
                    if tuple(t.shape) != tuple(want.shape):
                        raise StudioInputError(f"the {source or arch} {what} of {s.name} has shape "
                                               f"{tuple(t.shape)}, expected {tuple(want.shape)}")
                with torch.no_grad():
                    conv.weight.copy_(w.float())
                    conv.bias.copy_(b.float())
                convs[s.name] = conv
        self.convs = convs
        self.conv_bank = ConvBank(convs)
        self.requires_grad_(False)
        self.eval()
        if normalization == "caffe":
            mean = torch.tensor(_CAFFE_MEAN_BGR).view(1, 3, 1, 1)
            self.register_buffer("_mean", mean, persistent=False)
            self.register_buffer("_std", torch.ones(1, 3, 1, 1), persistent=False)
        else:
            self.register_buffer("_mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("_std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def layer_names(self) -> list[str]:
        return [s.name for s in self.specs]

    def check_layers(self, layers: Iterable[str], what: str = "layer") -> None:
        bad = [name for name in layers if name not in self._order]
        if bad:
            raise StudioInputError(
                f"unknown {what} name{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))} for "
                f"{self.arch}; valid names: {', '.join(self.layer_names)}"
            )

    def deepest(self, layers: Iterable[str]) -> int:
        return max(self._order[name] for name in layers)

    def truncated_specs(self, layers: Iterable[str]) -> list[LayerSpec]:
        return self.specs[: self.deepest(layers) + 1]

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        x = rgb.flip(1) * 255.0 if self.normalization == "caffe" else rgb
        return (x - self._mean) / self._std

    def forward(self, rgb: torch.Tensor, layers: Iterable[str],  # type: ignore[override]
                check: Callable[[], None] | None = None,
                pooling: Literal["max", "avg"] = "max") -> dict[str, torch.Tensor]:
        """``check`` (e.g. a cancel test that raises) runs after every conv+relu, forward and
        backward, so a large image can be interrupted within one layer rather than one evaluation."""
        wanted = set(layers)
        self.check_layers(wanted)
        x = self.normalize(rgb)
        if x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        last = self.deepest(wanted)
        if torch.is_grad_enabled() and x.requires_grad and all(self.specs[self._order[n]].kind != "conv"
                                                               for n in wanted):
            names = [s.name for s in self.specs[: last + 1] if s.name in wanted]
            feats = FeaturePass.apply(x, self.specs[: last + 1], self.conv_bank, names, pooling, check)
            return dict(zip(names, feats, strict=True))
        for k, s in enumerate(self.specs[: last + 1]):
            if s.kind == "conv":
                x = self.conv_bank(s.name, x)
            elif s.kind == "relu":
                # In place unless the conv output itself was asked for: saves a full-size
                # allocation and a memory pass per layer (the conv's input-gradient does not
                # need its own output).
                x = F.relu(x) if self.specs[k - 1].name in wanted else F.relu_(x)
                if check is not None:
                    check()
                    if x.requires_grad:
                        x.register_hook(_checking_hook(check))
            elif pooling == "avg":
                x = F.avg_pool2d(x, 2, 2, ceil_mode=True)
            else:
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            if s.name in wanted:
                out[s.name] = x
            if k == last:
                break
        return out

    def flops(self, height: int, width: int, layers: Iterable[str]) -> float:
        """Multiply-adds x2 of one forward pass to the deepest of ``layers`` at this size."""
        h, w, total = height, width, 0.0
        for s in self.truncated_specs(layers):
            if s.kind == "conv":
                total += 2.0 * h * w * s.in_channels * s.out_channels * 9
            elif s.kind == "pool":
                h, w = (h + 1) // 2, (w + 1) // 2
        return total
