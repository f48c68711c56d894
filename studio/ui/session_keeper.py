"""Keeps the window's session on disk as the artist works, and brings it back at the next start.

What is kept: each tab's state (inputs, parameters, the Harmonize placement, the Latent choice), its
history with the full-resolution results, which result each tab showed and which tab was open. A
change is written within half a second (``SAVE_DELAY_MS``), by the store's writer thread
(``studio.session``); the window only encodes the states, which names each array once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QTimer

from studio.engines.events import JobControl
from studio.imageio import LoadedImage
from studio.progress import plural
from studio.session import Previous, SessionStore
from studio.session_codec import Decoder, SessionFormatError, encode
from studio.ui.history import HistoryEntry
from studio.ui.job_runner import JobSpec
from studio.ui.notice import in_one_line

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

log = logging.getLogger("studio.ui")

SAVE_DELAY_MS = 400
#: the largest result number or count a kept session may hold
MAX_NUMBER = 10**9


def _kept_result(control: JobControl) -> Any:
    raise RuntimeError("a result from a kept session has no job to run again; press Run")


class SessionKeeper(QObject):
    """Encodes the window's session for a ``SessionStore`` and restores it."""

    def __init__(self, window: MainWindow, store: SessionStore) -> None:
        super().__init__(window)
        self.window = window
        self.store = store
        self.restoring = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save_now)

    # saving -----------------------------------------------------------------------------------
    def schedule(self) -> None:
        if not self.restoring:
            self._timer.start()

    def save_now(self) -> None:
        self._timer.stop()
        names: set[str] = set()

        def put(array: np.ndarray) -> str:
            name = self.store.name_of(array)
            names.add(name)
            return name

        w = self.window
        doc: dict[str, Any] = {"current": w.current_workspace().name, "next_number": w._entry_count,
                               "workspaces": {}}
        for ws in w.workspaces():
            desk = w.desk(ws.name)
            try:
                state = encode(ws.state(), put)
            except SessionFormatError as exc:
                log.warning("the %s tab's state is not kept: %s", ws.title, exc)
                state = None
            entries = []
            for entry in reversed(desk.history.entries()):  # oldest first
                kept = self._encode_entry(entry, put, names)
                if kept is not None:
                    entries.append(kept)
            doc["workspaces"][ws.name] = {
                "state": state, "history": entries, "shown": desk.result.number if desk.result else None,
            }
        doc["arrays"] = sorted(names)
        self.store.save(doc)

    def _encode_entry(self, entry: HistoryEntry, put: Callable[[np.ndarray], str], names: set[str]) -> dict | None:
        try:
            if entry.image is not None:
                image = put(entry.image)
                entry.kept_name = image
                entry.loader = lambda name=image: self.store.array(name)
                entry.nbytes = int(entry.image.nbytes)
            elif entry.kept_name is not None:  # already on disk only
                image = entry.kept_name
                names.add(image)
            else:
                return None
            thumb = put(entry.thumbnail) if entry.thumbnail is not None else None
            spec = entry.spec
            extra = {}
            for key, value in entry.extra.items():
                try:
                    extra[key] = encode(value, put)
                except SessionFormatError:
                    continue
            return {
                "number": entry.number, "image": image, "thumbnail": thumb, "nbytes": entry.size_bytes(),
                "workspace": spec.workspace, "engine": spec.engine, "title": spec.title,
                "params": encode(spec.params, put), "state": encode(spec.state, put),
                "inputs": [list(i) for i in spec.inputs],
                "cancelled": entry.cancelled, "iterations": entry.iterations, "elapsed_s": entry.elapsed_s,
                "losses": encode(dict(entry.losses), put), "infos": list(entry.infos), "created": entry.created,
                "extra": extra, "exported_to": entry.exported_to,
            }
        except SessionFormatError as exc:
            log.warning("result #%d is not kept: %s", entry.number, exc)
            return None

    def close(self) -> bool:
        """Write the final session and mark a clean end."""
        self.save_now()
        return self.store.close()

    # restoring --------------------------------------------------------------------------------
    def restore(self, previous: Previous) -> str | None:
        """Bring back a kept session; the sentence to show, or None when there was nothing."""
        doc = previous.doc
        if not doc:
            return None
        w = self.window
        types: set[type] = {LoadedImage}
        for ws in w.workspaces():
            types |= set(ws.session_types)
        cache: dict[str, np.ndarray] = {}

        def get(name: str) -> np.ndarray:
            if name not in cache:
                cache[name] = self.store.array(name)
            return cache[name]

        decoder = Decoder(types, get)
        kept = doc.get("workspaces")
        if not isinstance(kept, dict):
            return None
        self.restoring = True
        restored_tabs: list[str] = []
        results = 0
        problems: list[str] = []
        try:
            w._entry_count = max(w._entry_count, _count(doc.get("next_number")))
            for ws in w.workspaces():
                record = kept.get(ws.name)
                if not isinstance(record, dict):
                    continue
                fresh = ws.state()
                try:  # anything wrong in a kept state leaves the tab as it started (the file may be anyone's)
                    if record.get("state") is not None:
                        state = decoder.decode(record["state"])
                        ws.before_image(state)  # a state the tab can show and describe, tried before it takes it
                        ws.describe(state)
                        ws.set_state(state)
                        ws.run_blocker()
                        ws.undo_stack.clear()
                        restored_tabs.append(ws.title)
                except Exception as exc:  # noqa: BLE001
                    problems.append(f"the {ws.title} tab's inputs ({in_one_line(exc, 160)})")
                    log.warning("restoring the %s tab: %s", ws.title, exc)
                    with contextlib.suppress(Exception):
                        ws.set_state(fresh)
                        ws.undo_stack.clear()
                shown = record.get("shown")
                history = record.get("history")
                desk = w.desk(ws.name)
                with desk.history.bulk():
                    for item in history if isinstance(history, list) else []:
                        entry = None
                        try:
                            entry = self._decode_entry(item, decoder, ws.name)
                            tip = f"{entry.label}\n{ws.describe(entry.spec.state)}"
                            ws.before_image(entry.spec.state)  # a state the tab can show
                            w.add_history(entry, tip)
                            if entry.number == shown:
                                w.show_entry(entry, f"Result #{entry.number} (kept from the last session)")
                        except Exception as exc:  # noqa: BLE001
                            log.warning("restoring a result of the %s tab: %s", ws.title, exc)
                            problems.append("a result")
                            if entry is not None and entry in w.desk(ws.name).history.entries():
                                w.delete_history(entry)
                            continue
                        results += 1
                if desk.result is not None:
                    desk.history.mark(desk.result)
            current = doc.get("current")
            names = [ws.name for ws in w.workspaces()]
            if current in names:
                w.tabs.setCurrentIndex(names.index(current))
        finally:
            self.restoring = False
        when = time.strftime("%H:%M", time.localtime(previous.saved_at)) if previous.saved_at else "earlier"
        what = f"{', '.join(restored_tabs) or 'no'} tab settings and {plural(results, 'result')}"
        if previous.clean:
            text = f"Restored your last session (saved at {when}): {what}."
        else:
            text = (f"studio did not quit properly last time (last saved at {when}); your session is restored: "
                    f"{what}.")
        if problems:
            text += f" Could not restore {', '.join(sorted(set(problems)))}."
        self.schedule()
        return text

    def _decode_entry(self, item: dict, decoder: Decoder, workspace: str) -> HistoryEntry:
        if not isinstance(item, dict):
            raise SessionFormatError("a kept result is malformed")
        name = str(item["image"])
        thumb = item.get("thumbnail")
        spec = JobSpec(workspace, str(item.get("engine", "")), _kept_result, decoder.decode(item["params"]),
                       decoder.decode(item["state"]),
                       tuple(tuple(str(v) for v in i)[:3] for i in item.get("inputs") or []),  # type: ignore[misc]
                       title=str(item.get("title", "")))
        raw_extra = item.get("extra") or {}
        if not isinstance(raw_extra, dict):
            raise SessionFormatError("a kept result's extra is not a table")
        extra = {str(k): decoder.decode(v) for k, v in raw_extra.items()}
        losses = decoder.decode(item.get("losses")) or {}
        if not isinstance(losses, dict):
            raise SessionFormatError("a kept result's losses are not a table")
        number = item["number"]
        if not isinstance(number, int) or not 1 <= number <= MAX_NUMBER:
            raise SessionFormatError(f"a kept result's number is {number!r}")
        thumbnail = self.store.array(str(thumb)) if thumb else None
        if thumbnail is not None and (thumbnail.ndim != 3 or thumbnail.shape[2] != 3 or thumbnail.dtype != np.uint8):
            raise SessionFormatError(f"the thumbnail of result #{number} is not a picture")
        entry = HistoryEntry(
            number=number, image=None, spec=spec, cancelled=bool(item.get("cancelled")),
            iterations=_count(item.get("iterations")), elapsed_s=_seconds(item.get("elapsed_s")),
            losses={str(k): float(v) for k, v in losses.items()}, infos=tuple(str(i) for i in item.get("infos") or []),
            created=_seconds(item.get("created")), extra=extra, thumbnail=thumbnail,
            loader=lambda n=name: self.store.array(n), nbytes=_count(item.get("nbytes")),
            exported_to=str(item.get("exported_to", "")), made_here=False,
        )
        entry.kept_name = name
        if entry.thumbnail is None:
            entry.image = self.store.array(name)
            if entry.image.ndim != 3 or entry.image.shape[2] not in (3, 4) or 0 in entry.image.shape:
                raise SessionFormatError(f"result #{number} is not a picture")
        return entry


def _count(value: Any) -> int:
    """A kept count (a result number, iterations, bytes): a whole number from 0 to ``MAX_NUMBER``, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_NUMBER else 0


def _seconds(value: Any) -> float:
    """A kept time in seconds, finite, else 0."""
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0

