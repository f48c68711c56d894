"""Generators trained elsewhere (PyTorch examples DCGAN, original WGAN code) and studio's own files."""

from __future__ import annotations

import json
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from studio.engines.errors import StudioInputError
from studio.engines.gan.checkpoints import detect_format, load_generator, save_generator
from studio.engines.gan.models import DCGAN_G, GanArch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _bn(sd: OrderedDict, name: str, c: int, g: torch.Generator, tracked: bool = True) -> None:
    sd[f"{name}.weight"] = 1 + 0.1 * torch.randn(c, generator=g)
    sd[f"{name}.bias"] = 0.1 * torch.randn(c, generator=g)
    sd[f"{name}.running_mean"] = 0.1 * torch.randn(c, generator=g)
    sd[f"{name}.running_var"] = 1 + 0.1 * torch.rand(c, generator=g)
    if tracked:
        sd[f"{name}.num_batches_tracked"] = torch.tensor(1000)


def pytorch_examples_netG(nz: int = 100, ngf: int = 64, nc: int = 3) -> OrderedDict:
    """The exact keys and shapes of pytorch/examples dcgan/main.py's Generator (netG_epoch_N.pth)."""
    g = torch.Generator().manual_seed(1)
    sd: OrderedDict = OrderedDict()
    widths = [nz, ngf * 8, ngf * 4, ngf * 2, ngf]
    for i in range(4):
        sd[f"main.{3 * i}.weight"] = 0.02 * torch.randn(widths[i], widths[i + 1], 4, 4, generator=g)
        _bn(sd, f"main.{3 * i + 1}", widths[i + 1], g)
    sd["main.12.weight"] = 0.02 * torch.randn(ngf, nc, 4, 4, generator=g)
    return sd


def examples_reference(nz: int = 100, ngf: int = 64, nc: int = 3) -> nn.Sequential:
    """pytorch/examples' Generator.main, written out as that file has it."""
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())


def wgan_netG(isize: int, nz: int, nc: int, ngf: int, n_extra: int = 0, tracked: bool = True) -> OrderedDict:
    """The exact key names of martinarjovsky/WassersteinGAN models/dcgan.py DCGAN_G.state_dict()."""
    g = torch.Generator().manual_seed(2)
    sd: OrderedDict = OrderedDict()
    cngf, tisize = ngf // 2, 4
    while tisize != isize:
        cngf, tisize = cngf * 2, tisize * 2
    sd[f"main.initial:{nz}-{cngf}:convt.weight"] = 0.02 * torch.randn(nz, cngf, 4, 4, generator=g)
    _bn(sd, f"main.initial:{cngf}:batchnorm", cngf, g, tracked)
    csize = 4
    while csize < isize // 2:
        sd[f"main.pyramid:{cngf}-{cngf // 2}:convt.weight"] = 0.02 * torch.randn(cngf, cngf // 2, 4, 4, generator=g)
        _bn(sd, f"main.pyramid:{cngf // 2}:batchnorm", cngf // 2, g, tracked)
        cngf //= 2
        csize *= 2
    for t in range(n_extra):
        sd[f"main.extra-layers-{t}:{cngf}:conv.weight"] = 0.02 * torch.randn(cngf, cngf, 3, 3, generator=g)
        _bn(sd, f"main.extra-layers-{t}:{cngf}:batchnorm", cngf, g, tracked)
    sd[f"main.final:{cngf}-{nc}:convt.weight"] = 0.02 * torch.randn(cngf, nc, 4, 4, generator=g)
    return sd


def test_pytorch_examples_format(tmp_path: Path) -> None:
    sd = pytorch_examples_netG()
    path = tmp_path / "netG_epoch_24.pth"
    torch.save(sd, path)
    assert detect_format(sd) == "pytorch-examples"
    gen = load_generator(path)
    assert gen.source_format == "pytorch-examples"
    assert (gen.arch.image_size, gen.arch.nz, gen.arch.ngf, gen.arch.nc) == (64, 100, 64, 3)
    ref = examples_reference().eval()
    ref.load_state_dict({k.removeprefix("main."): v for k, v in sd.items()})
    z = torch.randn(2, 100, 1, 1)
    with torch.no_grad():
        assert torch.allclose(gen.model(z), ref(z), atol=1e-6)


@pytest.mark.parametrize("key", ["netG_state_dict", "state_dict", "generator", "model"])
def test_a_state_dict_inside_a_common_wrapper_loads_and_says_where_it_was(tmp_path: Path, key: str) -> None:
    sd = pytorch_examples_netG()
    path = tmp_path / "weights.tar"
    wrapped = {f"module.{k}": v for k, v in sd.items()} if key == "model" else sd  # DataParallel's prefix too
    torch.save({key: wrapped, "epoch": torch.tensor(5)} if key == "state_dict" else {key: wrapped}, path)
    gen = load_generator(path)
    assert gen.source_format == "pytorch-examples" and repr(key) in gen.card["found"]
    ref = examples_reference().eval()
    ref.load_state_dict({k.removeprefix("main."): v for k, v in sd.items()})
    z = torch.randn(2, 100, 1, 1)
    with torch.no_grad():
        assert torch.allclose(gen.model(z), ref(z), atol=1e-6)
    other = tmp_path / "other.tar"
    torch.save({"optimizer": {"lr": torch.tensor(1.0)}, "weights": [torch.zeros(1)]}, other)
    with pytest.raises(StudioInputError, match="netG_state_dict"):
        load_generator(other)  # no wrapper studio knows: the sentence lists the ones it looks for


def test_wgan_format_with_generator_config(tmp_path: Path) -> None:
    sd = wgan_netG(32, 20, 3, 16, n_extra=1)
    assert detect_format(sd) == "wgan"
    torch.save(sd, tmp_path / "netG_epoch_5.pth")
    (tmp_path / "generator_config.json").write_text(json.dumps(
        {"imageSize": 32, "nz": 20, "nc": 3, "ngf": 16, "ngpu": 1, "n_extra_layers": 1, "noBN": False,
         "mlp_G": False}) + "\n")
    gen = load_generator(tmp_path / "netG_epoch_5.pth")
    assert gen.source_format == "wgan"
    assert gen.arch == GanArch(image_size=32, nz=20, ngf=16, ndf=16, nc=3, n_extra_layers=1)
    # the same weights, in studio's layer order: the initial conv-transpose and the final one
    ours = gen.model.state_dict()
    assert torch.equal(ours["main.0.weight"], sd["main.initial:20-64:convt.weight"])
    assert torch.equal(ours["main.1.running_var"], sd["main.initial:64:batchnorm.running_var"])
    assert torch.equal(ours[f"main.{len(gen.model.main) - 2}.weight"], sd["main.final:16-3:convt.weight"])
    with torch.no_grad():
        assert gen.model(torch.randn(2, 20)).shape == (2, 3, 32, 32)


def test_wgan_format_without_config_and_from_old_pytorch(tmp_path: Path) -> None:
    sd = wgan_netG(64, 100, 3, 8, tracked=False)  # PyTorch < 0.4.1: no num_batches_tracked
    torch.save(sd, tmp_path / "netG_epoch_1.pth")
    gen = load_generator(tmp_path / "netG_epoch_1.pth")
    assert (gen.arch.image_size, gen.arch.nz, gen.arch.ngf) == (64, 100, 8)


def test_wgan_config_that_does_not_fit_is_a_clear_error(tmp_path: Path) -> None:
    torch.save(wgan_netG(32, 20, 3, 16), tmp_path / "netG.pth")
    (tmp_path / "generator_config.json").write_text(json.dumps({"imageSize": 64, "nz": 20, "nc": 3, "ngf": 16}))
    with pytest.raises(StudioInputError, match="netG.pth"):
        load_generator(tmp_path / "netG.pth")


@pytest.mark.parametrize(("text", "words"), [
    ("[" * 100_000 + "]" * 100_000, "is not valid JSON: it nests too deeply."),
    (" " * (1024 * 1024) + "{}", "is 1,048,578 bytes; a file of settings is at most 1,048,576."),
])
def test_a_wgan_config_too_deep_or_too_large_is_one_sentence(tmp_path: Path, text: str, words: str) -> None:
    torch.save(wgan_netG(32, 20, 3, 16), tmp_path / "netG.pth")
    (tmp_path / "generator_config.json").write_text(text)
    with pytest.raises(StudioInputError, match="generator_config.json") as err:
        load_generator(tmp_path / "netG.pth")
    assert str(err.value).endswith(words) and "\n" not in str(err.value)


def test_a_card_too_deep_to_read_is_left_out(tmp_path: Path) -> None:
    model = DCGAN_G(GanArch(image_size=16, nz=8, ngf=8)).eval()
    path = save_generator(tmp_path / "generator.pt", model, {"name": "test", "training_data": "none"})
    (tmp_path / "generator.json").write_text("[" * 100_000 + "]" * 100_000)
    assert load_generator(path).arch.nz == 8  # the weights load; the broken description is not used


def test_studio_generator_round_trip_in_half_precision(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = DCGAN_G(GanArch(image_size=16, nz=8, ngf=8)).eval()
    path = save_generator(tmp_path / "generator.pt", model, {"name": "test", "training_data": "none"})
    card = json.loads((tmp_path / "generator.json").read_text())
    assert card["arch"]["image_size"] == 16 and card["precision"] == "float16"
    assert not list(tmp_path.glob(".*.tmp"))  # atomic: no temporary file left
    gen = load_generator(path)
    assert gen.source_format == "studio" and gen.card["name"] == "test"
    z = torch.randn(4, 8)
    with torch.no_grad():
        assert torch.allclose(gen.model(z), model(z), atol=2e-2)  # half-precision weights


def test_unsafe_and_foreign_files_are_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    bad = tmp_path / "evil.pth"
    with open(bad, "wb") as f:
        pickle.dump({"main.0.weight": Evil()}, f, protocol=2)
    with pytest.raises(StudioInputError, match="evil.pth"):
        load_generator(bad)  # weights_only=True refuses arbitrary objects
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, other)
    with pytest.raises(StudioInputError, match="not those of a DCGAN generator"):
        load_generator(other)
    with pytest.raises(StudioInputError, match="does not exist"):
        load_generator(tmp_path / "missing.pth")
