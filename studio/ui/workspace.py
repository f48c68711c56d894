"""The Workspace interface: what the shell needs from a mode (Style, later GAN latents, CycleGAN, ...).

A workspace is a panel plus an engine adapter. It owns a *state* (an immutable snapshot: the
parameters dataclass and the input images), shows it in its panel, turns it into a ``JobSpec`` for
the one ``JobRunner``, and says which changes a running job can take live. The shell
(``MainWindow``) does the rest for every workspace alike: canvas, Run/Stop, progress, loss plot,
history, undo/redo, export with a recipe, preferences.

Adding a workspace: subclass ``Workspace``, implement the methods marked "implement", and add the
class to ``studio.ui.workspaces.WORKSPACES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QWidget

from studio.ui.job_runner import JobSpec
from studio.ui.undo import StateCommand

if TYPE_CHECKING:
    from studio.ui.preferences import Preferences


class WorkspaceHost(Protocol):
    """Services the shell offers its workspaces."""

    settings: QSettings

    def load_image(self, path: str, role: str, *, remember: bool = True) -> Any | None:
        """Load an image file (``studio.imageio.LoadedImage``); on failure show a message naming
        the file and return None. Downscale notices are shown too. ``remember`` puts it in the
        recent-files menu and remembers its folder for the next Open dialog of this ``role``."""

    def ask_image_paths(self, role: str, *, multiple: bool = False) -> list[str]:
        """An Open dialog that remembers the folder of this ``role``."""

    def notify(self, text: str, level: str = "info") -> None:
        """A message in the window's notice bar ("info", "warning" or "error")."""

    def start_task(self, spec: JobSpec) -> Any | None:
        """Run a job that makes no picture (a download) through the window's job runner; None if it
        cannot start now (said in the window)."""


class Workspace(QObject):
    """Base class of a workspace. Subclasses set ``name``/``title`` and implement the marked methods."""

    #: parameter fields the Preferences set (device, weights): never a reason to restart, never undone
    PREFERENCE_FIELDS: frozenset[str] = frozenset({"device", "weights"})

    name = "workspace"  # identifier
    title = "Workspace"  # tab label
    engine = "workspace"  # the engine name its recipes carry (as the CLI writes them)
    before_caption = "Content photo: press Run"  # the canvas caption while it shows the "before" picture
    #: what one step of this tab's runs is called in "Finished after 20 iterations"
    step_word = "iteration"
    #: a Run of the very state the shown result was made from would make the same picture again (a cached
    #: translation): the window says so instead of adding a copy to the history
    rerun_repeats = False
    #: what the empty canvas says: the tab's first input and how to open it (the File menu's Open)
    empty_canvas_text = "Drop a photo here, or use File \u25b8 Open\u2026"
    #: what a picture sent from another tab becomes here ("Use result as input"); "" takes none
    input_role = ""
    #: the dataclasses its states and job parameters are made of: the kept session builds only these
    session_types: tuple[type, ...] = ()

    #: (old state, new state): after every change: edits, undo/redo, history restore.
    state_changed = Signal(object, object)

    def __init__(self, host: WorkspaceHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.undo_stack = QUndoStack(self)
        self._state: Any = None  # a subclass sets its first state before it shows it

    # implement --------------------------------------------------------------------------------
    def panel(self) -> QWidget:
        """The controls (the shell puts them in a scrollable side panel)."""
        raise NotImplementedError

    def _show(self, state: Any) -> None:
        """Write ``state`` into the panel (and whatever else shows it)."""
        raise NotImplementedError

    def run_blocker(self) -> str | None:
        """Why Run is not possible now (shown as the Run button's tooltip), or None."""
        raise NotImplementedError

    def make_job(self, prefs: Preferences) -> JobSpec:
        """The job for the current state, with the device and weights of ``prefs``."""
        raise NotImplementedError

    def live_changes(self, old: Any, new: Any) -> dict[str, Any]:
        """Changes from ``old`` to ``new`` a running job takes without restarting (for control.update)."""
        return {}

    def needs_restart(self, old: Any, new: Any) -> bool:
        """True when ``new`` differs from ``old`` in something only a new Run applies. By default: any
        parameter field outside ``live_fields()`` and the preferences."""
        old_p, new_p = getattr(old, "params", None), getattr(new, "params", None)
        if old_p is None or new_p is None:
            return False
        return self.params_differ(old_p, new_p, skip=self.live_fields())

    def field_label(self, field: str) -> str:
        """What the panel calls a parameter field (its label, as undo names it), else the field's name in words."""
        panel = self.panel()
        binder = getattr(panel, "params_binder", None) or getattr(panel, "binder", None)
        binding = getattr(binder, "bindings", {}).get(field)
        return binding.label if binding is not None else field.replace("_", " ")

    def live_fields(self) -> frozenset[str]:
        """The parameter fields a running job takes live (see ``live_changes``)."""
        return frozenset()

    #: the feature network "Automatic" tries first for this tab's runs (the one its settings were tuned on)
    network_auto_first: str | None = None

    def runs_on_network(self, state: Any | None = None) -> bool:
        """Whether this tab's runs with ``state`` (default: the current one) use a feature network."""
        return False

    def kept_network(self, state: Any | None = None) -> str | None:
        """The feature network ``state`` (default: the current one) keeps for its runs instead of the
        Preferences' (an opened recipe's), or None."""
        return None

    def networks_changed(self) -> None:
        """The feature networks installed here changed (a download): lists that name them are rebuilt."""

    def before_image(self, state: Any | None = None) -> np.ndarray | None:
        """The "before" picture of a compare view (the content image), RGB [0,1]."""
        return None

    def result_state(self, job_state: Any, extra: dict[str, Any]) -> Any:
        """The state a finished job's history entry restores: ``job_state`` with whatever the engine
        reports it really used (``Finished.extra``, e.g. parameters changed live)."""
        return job_state

    def result_image(self, state: Any, image: Any, extra: dict[str, Any]) -> Any:
        """The picture a finished job's history entry holds (and Export saves): the engine's ``image``, unless the
        tab shows its result otherwise (``state`` from ``result_state``)."""
        return image

    def describe(self, state: Any) -> str:
        """A few lines about a state's parameters (history tooltips)."""
        return ""

    def result_shown(self) -> None:
        """A finished job's result has just become this tab's shown result: bring it up to date with what the
        tab changed while the job ran and the job could not take (the Style tab's fade)."""

    def result_name(self, entry: Any) -> str:
        """What names a history entry of this tab in its strip in place of its job's title ("" keeps the title)."""
        return ""

    def restore_recipe(self, params: dict[str, Any], inputs: list[tuple[str, str]]) -> str | None:
        """Apply a recipe's params (and, where the files are there, its inputs) as an undoable edit.

        ``inputs`` holds (role, path). Returns a sentence for the user, or None if not applicable.
        """
        return None

    def open_image(self, image: Any) -> bool:
        """An image (``LoadedImage``) opened with File > Open or dropped on the canvas, without a
        recipe: use it as the main input (an undoable edit). Returns True if the workspace took it."""
        return False

    def load_demo(self, content_path: str, style_path: str) -> None:
        """Start with the embedded demo pair (no undo entry). Optional."""

    def canvas_tool(self) -> Any:
        """A ``studio.ui.canvas.CanvasTool`` (drag on the picture, overlays) while this workspace is
        shown, or None. Optional."""
        return None

    # provided ---------------------------------------------------------------------------------
    def state(self) -> Any:
        """The current immutable snapshot."""
        return self._state

    def params(self) -> Any:
        """The parameters dataclass of the current state."""
        return self._state.params

    def set_state(self, state: Any) -> None:
        """Show ``state`` (no undo entry); emit ``state_changed``."""
        old = self._state
        self._state = state
        self._show(state)
        self.state_changed.emit(old, state)

    def edit_params(self, changes: dict[str, Any], text: str, merge_key: str = "") -> None:
        """A panel's parameter edit (``Binder.edited``) as an undoable edit of the state's ``params``."""
        from studio.engines.errors import StudioInputError

        try:
            new = self._state.params.with_changes(**changes)
        except StudioInputError as exc:  # past a range (studio.engines.limits): said, and the panel shows the old value
            self.host.notify(str(exc)[:1].upper() + str(exc)[1:], "warning")
            self._show(self._state)
            return
        if new != self._state.params:
            self.edit(replace(self._state, params=new), text, merge_key or None)

    def params_differ(self, old: Any, new: Any, skip: frozenset[str] = frozenset()) -> bool:
        """Whether two parameter dataclasses differ in a field outside ``skip`` and the preferences."""
        ignore = skip | self.PREFERENCE_FIELDS
        return any(getattr(old, f.name) != getattr(new, f.name) for f in fields(old) if f.name not in ignore)

    def edit(self, new_state: Any, text: str, merge_key: str | None = None,
             then: Callable[[bool], None] | None = None) -> None:
        """Apply ``new_state`` as an undoable edit (``then``: as ``StateCommand``'s)."""
        old = self.state()
        if new_state is old:
            return
        self.undo_stack.push(StateCommand(self, old, new_state, text, merge_key, then))
