"""Undoable edits of a workspace's state (parameters and inputs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

if TYPE_CHECKING:
    from studio.ui.workspace import Workspace

MERGE_WINDOW_S = 1.5  # a slider drag or a typed number becomes one undo step
_merge_ids: dict[str, int] = {}


def _merge_id(key: str | None) -> int:
    if not key:
        return -1
    return _merge_ids.setdefault(key, len(_merge_ids) + 1)


class StateCommand(QUndoCommand):
    """Switch a workspace from one state snapshot to another.

    Consecutive edits with the same ``merge_key`` (the same control) within a short time merge
    into one step, so a slider drag is undone at once. ``then(redone)`` runs after each switch (True: to the
    new state), for what goes with the state but is not in it (the result a restore shows).
    """

    def __init__(self, workspace: Workspace, old: Any, new: Any, text: str, merge_key: str | None = None,
                 then: Callable[[bool], None] | None = None):
        super().__init__(text)
        self.workspace = workspace
        self.old = old
        self.new = new
        self.merge_key = merge_key
        self.then = then
        self.stamp = time.monotonic()

    def id(self) -> int:  # noqa: A003 - Qt API
        return _merge_id(self.merge_key)

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802
        if not isinstance(other, StateCommand) or other.workspace is not self.workspace:
            return False
        if other.merge_key != self.merge_key or other.stamp - self.stamp > MERGE_WINDOW_S:
            return False
        self.new = other.new
        self.stamp = other.stamp
        return True

    def redo(self) -> None:
        self.workspace.set_state(self.new)
        if self.then is not None:
            self.then(True)

    def undo(self) -> None:
        self.workspace.set_state(self.old)
        if self.then is not None:
            self.then(False)
