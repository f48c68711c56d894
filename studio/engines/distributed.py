"""Training on several processes with PyTorch's own distributed engine (``torch.distributed`` and
DistributedDataParallel), started by ``torchrun``.

``torchrun --nproc_per_node=N -m studio train-gan ...`` starts N processes and tells each its rank in the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT`` or a rendezvous);
``Ranks.from_environment`` reads them and ``join`` makes the process group: NCCL between CUDA devices, gloo
on the CPU. A plain single-process run (no such variables) is one rank of one and touches none of this.

Each rank takes its own share of every epoch of the images (``ShardedOrder``, a ``DistributedSampler``
with a new shuffle per epoch), its own noise, and the same models: DDP averages the gradients, so every
rank's parameters stay identical. Batch norm: on CUDA the models' batch norms become ``SyncBatchNorm`` (the
statistics of the whole global batch); gloo has no SyncBatchNorm, so on the CPU each rank normalises by
its own batch and DDP copies rank 0's running statistics to the others at every forward pass.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data.distributed import DistributedSampler

from studio.engines.device import gpus
from studio.engines.errors import StudioInputError


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes checkpoints, sample grids and the progress bar."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @classmethod
    def from_environment(cls) -> Ranks:
        """The ranks ``torchrun`` set in the environment, or one rank of one."""
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", "0"))
        except ValueError:
            return cls()
        if world <= 1:
            return cls()
        return cls(rank=rank, world=world, local_rank=local)


def device_for(ranks: Ranks, device: torch.device, asked: str = "auto") -> torch.device:
    """The device of this rank: its own GPU (``LOCAL_RANK``) on a CUDA machine, one sentence when there are
    fewer GPUs than processes on it. Apple MPS takes part in no process group (gloo, the CPU's, reaches only
    the CPU and CUDA): a distributed run the device of which was ``asked`` as auto trains on the CPU there,
    one that asked for mps is refused."""
    if not ranks.distributed:
        return device
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if ranks.local_rank >= count:
            raise StudioInputError(
                f"torchrun started process {ranks.local_rank + 1} on this machine, which has {gpus(count)}: each "
                f"process trains on a GPU of its own, so pass --nproc_per_node={count} or fewer, or --device cpu.")
        return torch.device("cuda", ranks.local_rank)
    if device.type == "mps":
        if (asked or "auto").lower() != "auto":
            raise StudioInputError("training in several processes (torchrun) runs on CUDA GPUs or on the CPU, "
                                   "not on Apple MPS: pass --device cpu, or train in one process on MPS.")
        return torch.device("cpu")
    return device


def join(ranks: Ranks, device: torch.device) -> None:
    """Make (once) the process group of a distributed run: NCCL on CUDA, gloo otherwise."""
    if ranks.distributed and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def leave(ranks: Ranks) -> None:
    """Close the process group of a distributed run, after collecting what the run left unreachable.

    The trainers sit in reference cycles (GanTrainer and CycleGANTrainer do), so once a run is over their
    DistributedDataParallel modules stay alive until the cycle collector next runs, which may be only at the
    interpreter's exit, after the group is gone; gloo then aborted a rank now and then ("terminate called without
    an active exception", SIGABRT) after all its work was saved: one two-rank run in about 20 here. Collecting
    first lets them go while the group and the interpreter are whole (0 in 100). The caller drops its own
    references first."""
    if ranks.distributed and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def parallel(module: torch.nn.Module, ranks: Ranks, device: torch.device) -> torch.nn.Module:
    """``module`` as DistributedDataParallel (its batch norms synchronised on CUDA), or itself on one rank.
    The module itself stays the one to save and sample from."""
    if not ranks.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda" and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules()):
        module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def any_rank(flag: bool, ranks: Ranks, device: torch.device) -> bool:
    """Whether ``flag`` holds on any rank (all ranks must call it): every rank stops at the same step."""
    if not ranks.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


class ShardedOrder:
    """The indices of ``n`` images this rank takes, epoch after epoch: a ``DistributedSampler`` (shuffled anew
    each epoch with ``seed``), so the ranks share each epoch without overlap."""

    def __init__(self, n: int, ranks: Ranks, seed: int, epoch: int = 0) -> None:
        self.sampler = DistributedSampler(range(n), num_replicas=ranks.world, rank=ranks.rank, shuffle=True,
                                          seed=seed)
        self.epoch = epoch
        self._it: Iterator[int] = iter(())

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        try:
            return next(self._it)
        except StopIteration:
            self.sampler.set_epoch(self.epoch)
            self.epoch += 1
            self._it = iter(self.sampler)
            return next(self._it)
