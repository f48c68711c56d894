"""The CycleGAN networks match the official checkpoints' layout; checkpoints load, old and new, and bad files
give one clear sentence."""

from __future__ import annotations

import re

import pytest
import torch

from studio.engines.cyclegan.io import load_generator, save_state_dict
from studio.engines.cyclegan.models import (
    NLayerDiscriminator,
    ResnetGenerator,
    clean_state_dict,
    count_parameters,
    generator_from_state_dict,
)
from studio.engines.errors import StudioInputError


def official_layout(n_blocks: int, ngf: int = 64) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of an official resnet_{n}blocks generator, written out from the original code's layout
    (independently of our module): stem conv at 1, downsamplings at 4 and 7, blocks from 10, transposed convs,
    final conv."""
    shapes: dict[str, tuple[int, ...]] = {"model.1.weight": (ngf, 3, 7, 7), "model.1.bias": (ngf,),
                                          "model.4.weight": (2 * ngf, ngf, 3, 3), "model.4.bias": (2 * ngf,),
                                          "model.7.weight": (4 * ngf, 2 * ngf, 3, 3), "model.7.bias": (4 * ngf,)}
    for b in range(n_blocks):
        for c in (1, 5):
            shapes[f"model.{10 + b}.conv_block.{c}.weight"] = (4 * ngf, 4 * ngf, 3, 3)
            shapes[f"model.{10 + b}.conv_block.{c}.bias"] = (4 * ngf,)
    up = 10 + n_blocks
    shapes[f"model.{up}.weight"] = (4 * ngf, 2 * ngf, 3, 3)
    shapes[f"model.{up}.bias"] = (2 * ngf,)
    shapes[f"model.{up + 3}.weight"] = (2 * ngf, ngf, 3, 3)
    shapes[f"model.{up + 3}.bias"] = (ngf,)
    shapes[f"model.{up + 7}.weight"] = (3, ngf, 7, 7)
    shapes[f"model.{up + 7}.bias"] = (3,)
    return shapes


def synth_checkpoint(n_blocks: int, ngf: int = 64, stale: bool = False, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd = {k: torch.randn(s, generator=g) * 0.02 for k, s in official_layout(n_blocks, ngf).items()}
    if stale:  # what old files (saved with an earlier PyTorch) hold for each InstanceNorm2d layer
        norms = [2, 5, 8, 11 + n_blocks, 14 + n_blocks]
        norms += [f"{10 + b}.conv_block.{c}" for b in range(n_blocks) for c in (2, 6)]
        for n in norms:
            c = 1
            sd[f"model.{n}.running_mean"] = torch.zeros(c)
            sd[f"model.{n}.running_var"] = torch.ones(c)
            sd[f"model.{n}.num_batches_tracked"] = torch.tensor(0)
    return sd


def test_9_block_generator_matches_the_official_checkpoint_exactly():
    net = ResnetGenerator()
    sd = net.state_dict()
    expected = official_layout(9)
    assert list(sd) == list(expected)  # same keys in the same order
    assert {k: tuple(v.shape) for k, v in sd.items()} == expected
    assert len(sd) == 48 and next(iter(sd)) == "model.1.weight" and list(sd)[-1] == "model.26.bias"
    assert count_parameters(net) == 11_378_179


def test_6_block_variant_and_discriminator_layout():
    sd = ResnetGenerator(n_blocks=6).state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == official_layout(6)
    assert list(sd)[-1] == "model.23.bias"
    d = NLayerDiscriminator().state_dict()
    assert list(d) == [f"model.{i}.{p}" for i in (0, 2, 5, 8, 11) for p in ("weight", "bias")]
    assert count_parameters(NLayerDiscriminator()) == 2_764_737
    # 70x70 PatchGAN: a 256 crop gives a 30x30 map of patch scores
    assert NLayerDiscriminator(ndf=8)(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)


@pytest.mark.parametrize("stale", [False, True])
def test_round_trip_of_a_synthesised_official_checkpoint(tmp_path, stale):
    sd = synth_checkpoint(6, ngf=8, stale=stale)
    f = tmp_path / "latest_net_G.pth"
    torch.save(sd, f)
    net = load_generator(f)
    assert (net.ngf, net.n_blocks) == (8, 6)
    for k, v in net.state_dict().items():
        assert torch.equal(v, sd[k]), k
    if stale:
        assert any(re.search(r"running_mean$", k) for k in sd)
        assert not any(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in clean_state_dict(sd))
    # saved again (atomically, half precision too) it loads to the same numbers
    save_state_dict(net, tmp_path / "again.pth", half=True)
    again = load_generator(tmp_path / "again.pth")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(net(x), again(x), atol=2e-3)
    assert not list(tmp_path.glob(".*tmp"))


def test_data_parallel_prefix_is_accepted():
    sd = {f"module.{k}": v for k, v in synth_checkpoint(2, ngf=4).items()}
    assert generator_from_state_dict(sd).n_blocks == 2


def test_wrong_checkpoints_give_one_clear_sentence(tmp_path):
    d = tmp_path / "latest_net_D_A.pth"
    torch.save(NLayerDiscriminator(ndf=4).state_dict(), d)
    with pytest.raises(StudioInputError, match="discriminator"):
        load_generator(d)
    vgg = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, vgg)
    with pytest.raises(StudioInputError, match="not a CycleGAN ResNet generator"):
        load_generator(vgg)
    bad_shape = synth_checkpoint(2, ngf=4)
    bad_shape["model.4.weight"] = torch.zeros(9, 4, 3, 3)
    torch.save(bad_shape, tmp_path / "shape.pth")
    with pytest.raises(StudioInputError, match=r"model\.4\.weight has shape"):
        load_generator(tmp_path / "shape.pth")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    with pytest.raises(StudioInputError, match="is not a weights file studio can read"):
        load_generator(corrupt)
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(StudioInputError, match="empty"):
        load_generator(tmp_path / "empty.pth")
    with pytest.raises(StudioInputError, match="does not exist"):
        load_generator(tmp_path / "nope.pth")


def test_pickled_code_is_never_executed(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    f = tmp_path / "evil.pth"
    with open(f, "wb") as fh:
        pickle.dump({"model.1.weight": Evil()}, fh)
    with pytest.raises(StudioInputError):
        load_generator(f)
