"""How far each number may go: ranges that mean something, checked in one place for the CLI, recipes
and the app (``Params.__post_init__`` checks a parameters dataclass's ``LIMITS`` whenever one is made).

A value past its range is one sentence naming it, the range and why, never an allocation of many
gigabytes or a minute of silence. The largest image side is computed from the machine's memory and
what a run needs per pixel, not guessed.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from typing import Any

from studio.engines.errors import StudioInputError

SEED_MAX = 2**63 - 1  # torch and numpy take 64-bit seeds
FALLBACK_MEMORY = 8 * 1024**3


@dataclass(frozen=True)
class Limit:
    lowest: float
    highest: float
    why: str = ""  # why the highest is where it is (said when a value passes it)
    above_lowest: bool = False  # the value must be greater than ``lowest`` (not equal)


def machine_memory() -> int:
    """Bytes of memory of this machine (8 GB when the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return FALLBACK_MEMORY


def largest_side(bytes_per_pixel: float, fraction: float = 0.6, memory: int | None = None) -> int:
    """The longest image side a run that needs ``bytes_per_pixel`` can take (a square image, the worst
    case) within ``fraction`` of the machine's memory; a multiple of 64, at least 512."""
    memory = machine_memory() if memory is None else memory
    side = math.sqrt(memory * fraction / bytes_per_pixel)
    return max(512, int(side) // 64 * 64)


def largest_pixels(bytes_per_pixel: float, fraction: float = 0.6, memory: int | None = None) -> int:
    """The most pixels (any shape) a run that needs ``bytes_per_pixel`` can take within ``fraction`` of memory."""
    memory = machine_memory() if memory is None else memory
    return max(512 * 512, int(memory * fraction / bytes_per_pixel))


def memory_words(memory: int | None = None) -> str:
    memory = machine_memory() if memory is None else memory
    return f"{memory / 1024**3:.0f} GB"


def _show(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) >= 1 else f"{x:g}"


def check_limits(params: Any) -> None:
    """Raise ``StudioInputError`` for the first field of ``params`` outside its ``LIMITS``."""
    limits: dict[str, Limit] = getattr(type(params), "LIMITS", {})
    for f in fields(params):
        limit = limits.get(f.name)
        value = getattr(params, f.name)
        name = f.name.replace("_", "-")  # as the command line spells it
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float):
                continue
            if isinstance(v, float) and not math.isfinite(v):
                raise StudioInputError(f"{name} must be a finite number, got {v!r}.")
            if limit is None:
                continue
            low_ok = v > limit.lowest if limit.above_lowest else v >= limit.lowest
            if not low_ok or v > limit.highest:
                shown = repr(v) if len(repr(v)) <= 24 else f"a number of {len(str(int(v)))} digits"
                low = f"greater than {_show(limit.lowest)}" if limit.above_lowest else f"at least {_show(limit.lowest)}"
                why = f" ({limit.why})" if limit.why and v > limit.highest else ""
                raise StudioInputError(f"{name} must be {low} and at most {_show(limit.highest)}{why}, got {shown}.")


SEED = Limit(0, SEED_MAX, "seeds are 64-bit numbers")
WEIGHT = Limit(0, 1e6, "a weight this large only drowns the others")
PREVIEW = Limit(1, 1_000_000)
SECONDS = Limit(0, 7 * 24 * 3600, "a week", above_lowest=True)
ITERATIONS = Limit(0, 1_000_000, "a million steps is days of work even on a GPU")
