"""Where the desktop app keeps its settings (QSettings), and typed reads of them.

Tests and scripts point the settings somewhere else with ``STUDIO_SETTINGS`` (an INI file), so they never
touch the user's real settings; the app's folders are in ``studio.paths``.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "studio"
APPLICATION = "studio"
SETTINGS_ENV = "STUDIO_SETTINGS"


#: the largest settings file read (studio's own is a few kB; Qt reads the whole file as it opens it)
MAX_SETTINGS_BYTES = 1024 * 1024
#: items of a kept list (recent files) read at most, and characters of each
MAX_LIST_ITEMS, MAX_ITEM_CHARS = 100, 4096


def open_settings(path: str | os.PathLike[str] | None = None) -> QSettings:
    """The app's settings: an INI file at ``path`` or ``$STUDIO_SETTINGS``, else the user's own. A file Qt could
    not read in bounded time and memory (not a regular file, a FIFO that would block, over ``MAX_SETTINGS_BYTES``)
    is set aside first, so the app starts with fresh settings rather than hanging."""
    path = path or os.environ.get(SETTINGS_ENV)
    if path:
        _set_aside_if_unreadable(Path(path))
        return QSettings(str(path), QSettings.Format.IniFormat)
    from PySide6.QtCore import QStandardPaths

    config = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    if config:
        _set_aside_if_unreadable(Path(config) / ORGANIZATION / f"{APPLICATION}.ini")
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def _set_aside_if_unreadable(path: Path) -> None:
    import logging

    if not os.path.lexists(path) or (path.is_file() and path.stat().st_size <= MAX_SETTINGS_BYTES):
        return
    aside = path.with_name(path.name + ".unreadable")
    try:
        os.replace(path, aside)
        logging.getLogger("studio.ui").warning("the settings file %s cannot be read; set aside as %s", path, aside)
    except OSError:
        pass



def get_str(settings: QSettings, key: str, default: str = "") -> str:
    value = settings.value(key, default)
    return default if value is None else str(value)


def get_int(settings: QSettings, key: str, default: int, lowest: int = -(2**31), highest: int = 2**31 - 1) -> int:
    """A whole number from ``lowest`` to ``highest``, else ``default`` (a settings file is text anyone may edit)."""
    try:
        value = int(settings.value(key, default))
    except (TypeError, ValueError, OverflowError):
        return default
    return value if lowest <= value <= highest else default


def get_list(settings: QSettings, key: str) -> list[str]:
    """A list of strings (an INI file gives a one-item list back as a plain string)."""
    value = settings.value(key, [])
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):  # a point, a size, a number written by hand
        return []
    return [str(v)[:MAX_ITEM_CHARS] for v in value[:MAX_LIST_ITEMS] if isinstance(v, str | int | float)]


def last_folder(settings: QSettings, kind: str) -> str:
    """The folder an Open/Save dialog of this kind ("content", "style", "export") used last."""
    folder = get_str(settings, f"folders/{kind}")
    if folder and Path(folder).is_dir():
        return folder
    return str(Path.home())


def remember_folder(settings: QSettings, kind: str, path: str | os.PathLike[str]) -> None:
    p = Path(path)
    settings.setValue(f"folders/{kind}", str(p if p.is_dir() else p.parent))
