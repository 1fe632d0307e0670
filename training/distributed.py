"""Multi-process training through torchrun + DistributedDataParallel (gloo on CPU, NCCL on GPUs).

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; without them everything runs as a single process. Each rank
takes an equal, disjoint share of every epoch's shuffled order; rank 0 alone validates, reports and writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str) -> DistInfo:
    """Join the process group when launched by torchrun; a no-op for a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return info


def device_for(requested: str, info: DistInfo) -> str:
    """Each rank on its own GPU; CPU ranks share the CPU."""
    if requested.startswith("cuda") and info.active:
        torch.cuda.set_device(info.local_rank)
        return f"cuda:{info.local_rank}"
    return requested


def shard(order, info: DistInfo):
    """This rank's equal share of an epoch's order (the tail that does not divide evenly is dropped)."""
    usable = len(order) - len(order) % info.world
    return order[info.rank : usable : info.world]


def any_true(flag: bool, info: DistInfo) -> bool:
    """True on every rank when it is true on any (a cancel on one rank stops all of them together)."""
    if not info.active:
        return flag
    value = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(info: DistInfo) -> None:
    if info.active:
        dist.barrier()


def teardown(info: DistInfo) -> None:
    if info.active and dist.is_initialized():
        dist.destroy_process_group()
