"""Which device a run takes, checked on a machine without a GPU: the CUDA and MPS answers are simulated (the
availability and count functions torch asks), the sentences and the choices are studio's own."""

from __future__ import annotations

import pytest
import torch

from studio.engines import device as device_module
from studio.engines.device import resolve_device
from studio.engines.distributed import Ranks, device_for
from studio.engines.errors import StudioInputError


def _cuda(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.parametrize("name", ["cuda:x", "cuda:-1", "cudafoo", "cuda:", "cuda:99999", "cuda:\u00b2"])
def test_a_malformed_gpu_name_is_one_sentence(name, monkeypatch):
    _cuda(monkeypatch, 2)  # with a GPU there, too (a superscript two is a digit to str.isdigit, not to int)
    with pytest.raises(StudioInputError, match="unknown device"):
        resolve_device(name)


def test_a_gpu_number_past_the_machines_gpus_is_one_sentence(monkeypatch):
    _cuda(monkeypatch, 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(StudioInputError, match=r"'cuda:7'.*has one CUDA GPU \(cuda:0 to cuda:0\)"):
        resolve_device("cuda:7")
    _cuda(monkeypatch, 0)
    with pytest.raises(StudioInputError, match="no usable CUDA GPU"):
        resolve_device("cuda:0")


def test_more_torchrun_processes_than_gpus_is_one_sentence(monkeypatch):
    _cuda(monkeypatch, 1)
    cuda = torch.device("cuda")
    assert device_for(Ranks(rank=0, world=2, local_rank=0), cuda) == torch.device("cuda", 0)
    with pytest.raises(StudioInputError, match=r"has one CUDA GPU.*--nproc_per_node=1 or fewer"):
        device_for(Ranks(rank=1, world=2, local_rank=1), cuda)
    assert device_for(Ranks(), cuda) == cuda  # one process: the device as chosen


def test_torchrun_on_a_mac_trains_on_the_cpu_with_auto_and_refuses_mps_asked_for(monkeypatch):
    """gloo, the only process group off CUDA, reaches the CPU and CUDA only: MPS tensors in it fail in torch."""
    monkeypatch.setattr(device_module, "_mps_available", lambda: True)
    _cuda(monkeypatch, 0)
    mps = resolve_device("auto")
    assert mps.type == "mps"
    two = Ranks(rank=0, world=2, local_rank=0)
    assert device_for(two, mps, "auto") == torch.device("cpu")
    with pytest.raises(StudioInputError, match="not on Apple MPS: pass --device cpu"):
        device_for(two, mps, "mps")
    assert device_for(Ranks(), mps, "mps") == mps  # one process trains on MPS as asked
