"""Refuse to start on a Qt binding that would crash the interpreter later.

PySide6-Essentials 6.12.0 on CPython < 3.12 drops one reference to ``None`` on every binding call that
returns nothing. ``None`` starts with tens of thousands of references, and the app's painting makes
thousands of such calls a second, so a few minutes into a job the interpreter aborts with
"Fatal Python error: none_dealloc". Python 3.12 and later make ``None`` immortal, so it cannot happen
there. The check measures the binding in use rather than trusting a list of versions.
"""

from __future__ import annotations

import sys

#: void binding calls made by the probe; a defective binding loses exactly this many references
PROBE_CALLS = 256


def none_references_lost(calls: int = PROBE_CALLS) -> int:
    """How many references to None ``calls`` void binding calls lose (0 on a sound binding)."""
    from PySide6.QtCore import QPointF

    point = QPointF()
    before = sys.getrefcount(None)
    for _ in range(calls):
        point.setX(1.0)  # returns nothing
    lost = before - sys.getrefcount(None)
    if lost > 0:  # give back what the probe took, so the probe itself never brings the crash closer
        _RESTORED.extend([None] * lost)  # held for the life of the process: each slot is one reference
    return max(lost, 0)


_RESTORED: list[None] = []


def binding_problem() -> str | None:
    """One sentence saying what is wrong with the Qt binding in use and the command that fixes it, or None."""
    if sys.version_info >= (3, 12):
        return None  # None is immortal: the defect cannot crash this interpreter
    lost = none_references_lost()
    if lost < PROBE_CALLS // 2:
        return None
    import PySide6

    python = sys.executable or "python3"
    return (f"PySide6 {PySide6.__version__} on Python {sys.version_info[0]}.{sys.version_info[1]} loses a "
            f"reference to None on every drawing call and would crash studio within minutes; install a fixed "
            f"binding with: {python} -m pip install 'PySide6-Essentials>=6.6,<6.12' (or run ./dev setup).")
