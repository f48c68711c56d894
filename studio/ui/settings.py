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


def open_settings(path: str | os.PathLike[str] | None = None) -> QSettings:
    """The app's settings: an INI file at ``path`` or ``$STUDIO_SETTINGS``, else the user's own."""
    path = path or os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)



def get_str(settings: QSettings, key: str, default: str = "") -> str:
    value = settings.value(key, default)
    return default if value is None else str(value)


def get_int(settings: QSettings, key: str, default: int) -> int:
    try:
        return int(settings.value(key, default))
    except (TypeError, ValueError):
        return default


def get_list(settings: QSettings, key: str) -> list[str]:
    """A list of strings (an INI file gives a one-item list back as a plain string)."""
    value = settings.value(key, [])
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def last_folder(settings: QSettings, kind: str) -> str:
    """The folder an Open/Save dialog of this kind ("content", "style", "export") used last."""
    folder = get_str(settings, f"folders/{kind}")
    if folder and Path(folder).is_dir():
        return folder
    return str(Path.home())


def remember_folder(settings: QSettings, kind: str, path: str | os.PathLike[str]) -> None:
    p = Path(path)
    settings.setValue(f"folders/{kind}", str(p if p.is_dir() else p.parent))
