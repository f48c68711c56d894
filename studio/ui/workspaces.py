"""The workspaces the main window offers, in tab order. A new mode is one more entry here."""

from __future__ import annotations

from studio.ui.harmonize.workspace import HarmonizeWorkspace
from studio.ui.latent.workspace import LatentWorkspace
from studio.ui.style.workspace import StyleWorkspace
from studio.ui.translate.workspace import TranslateWorkspace

WORKSPACES = (StyleWorkspace, HarmonizeWorkspace, TranslateWorkspace, LatentWorkspace)
