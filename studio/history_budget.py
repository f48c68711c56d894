"""How much history the app keeps: a budget in bytes, in memory and on disk, not a count of results.

One 16-megapixel result is about 190 MB as float32, one 512 px result 3 MB: a count of entries says
nothing about memory. The newest result is always kept; older ones leave memory first (kept on disk,
read back when chosen) and are dropped only when the disk budget is spent too.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class HistoryBudget:
    memory_bytes: int  # full-resolution results held in memory
    disk_bytes: int  # results kept on disk with the session


@dataclass(frozen=True)
class Held:
    """One history entry, as the budget sees it (newest first)."""

    in_memory: int  # bytes of its full-resolution pixels now in memory (0 if only on disk)
    size: int  # bytes of its full-resolution pixels
    stored: bool  # kept on disk (it can leave memory without being lost)


def total_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def default_budget(folder: Path | None = None) -> HistoryBudget:
    """An eighth of the machine's memory (256 MB to 2 GB) and a quarter of the free disk (512 MB to 8 GB)."""
    ram = total_memory() or 8 * GiB
    memory = min(max(ram // 8, 256 * MiB), 2 * GiB)
    try:
        free = shutil.disk_usage(folder if folder is not None and folder.exists() else Path.home()).free
    except OSError:
        free = 8 * GiB
    disk = min(max(free // 4, 512 * MiB), 8 * GiB)
    return HistoryBudget(memory, disk)


def plan(entries: list[Held], budget: HistoryBudget) -> tuple[list[int], list[int]]:
    """(indexes to move out of memory, indexes to drop) for entries listed newest first."""
    spill: list[int] = []
    drop: list[int] = []
    in_memory = on_disk = 0
    for i, e in enumerate(entries):
        if i == 0:
            in_memory, on_disk = e.in_memory, e.size
            continue
        if on_disk + e.size > budget.disk_bytes:
            drop.append(i)
            continue
        on_disk += e.size
        if e.in_memory and in_memory + e.in_memory > budget.memory_bytes:
            (spill if e.stored else drop).append(i)
            if not e.stored:
                on_disk -= e.size
            continue
        in_memory += e.in_memory
    return spill, drop


def format_bytes(n: float) -> str:
    if n >= GiB:
        return f"{n / GiB:.1f} GB"
    if n >= 100 * MiB:
        return f"{n / MiB:.0f} MB"
    if n >= MiB:
        return f"{n / MiB:.1f} MB"
    return f"{n / 1024:.0f} KB"
