"""The workspaces the main window offers, in tab order. A new mode is one more entry here."""

from __future__ import annotations

from studio.ui.harmonize_workspace import HarmonizeWorkspace
from studio.ui.latent_workspace import LatentWorkspace
from studio.ui.style_workspace import StyleWorkspace
from studio.ui.translate_workspace import TranslateWorkspace

WORKSPACES = (StyleWorkspace, HarmonizeWorkspace, TranslateWorkspace, LatentWorkspace)
