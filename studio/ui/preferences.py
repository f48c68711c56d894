"""Preferences (device, feature-network source), kept in QSettings, and their dialog."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.settings import get_str

log = logging.getLogger("studio.ui")

DEVICE_LABELS = {
    "auto": "Automatic (the fastest one present)",
    "cpu": "CPU",
    "cuda": "CUDA (NVIDIA GPU)",
    "mps": "MPS (Apple GPU)",
}


@dataclass(frozen=True)
class Preferences:
    device: str = "auto"
    weights: str = "auto"

    @classmethod
    def load(cls, settings: QSettings) -> Preferences:
        return cls(
            device=get_str(settings, "prefs/device", "auto") or "auto",
            weights=get_str(settings, "prefs/weights", "auto") or "auto",
        )

    @property
    def run_device(self) -> str:
        """The device jobs run on: the chosen one, or "auto" where this machine lacks it."""
        return usable_device(self.device)

    def save(self, settings: QSettings) -> None:
        settings.setValue("prefs/device", self.device)
        settings.setValue("prefs/weights", self.weights)
        settings.sync()


def available_devices() -> list[str]:
    try:
        from studio.engines.device import available_devices as engine_devices
    except ImportError:
        return ["auto", "cpu"]
    try:
        return list(engine_devices())
    except Exception:  # noqa: BLE001
        log.exception("listing devices")
        return ["auto", "cpu"]


def usable_device(name: str) -> str:
    """``name`` where this machine has it, else "auto": Preferences kept from another machine (cuda on a laptop
    without one) run where this one can instead of failing every job."""
    try:
        from studio.engines.device import resolve_device

        resolve_device(name)
        return name
    except Exception:  # noqa: BLE001
        return "auto"


def resolved_device(name: str) -> str:
    """What "auto" (or a name) means on this machine, for the status bar and the time estimates: for a device
    this machine lacks, where its runs go instead (``usable_device``)."""
    try:
        from studio.engines.device import resolve_device

        return str(resolve_device(usable_device(name)))
    except Exception:  # noqa: BLE001
        return "cpu"


@dataclass(frozen=True)
class SourceChoice:
    name: str
    available: bool
    description: str
    fix: str


def weight_sources() -> list[SourceChoice]:
    try:
        from studio.weights import list_sources
    except ImportError:
        return []
    try:
        return [
            SourceChoice(s.name, bool(s.available), str(s.description), str(getattr(s, "fix", "") or ""))
            for s in list_sources()
        ]
    except Exception:  # noqa: BLE001
        log.exception("listing weight sources")
        return []


def auto_words(sources: list[SourceChoice]) -> str:
    """What "Automatic" loads here, engine by engine."""
    from studio.engines.harmonize.params import HarmonizeParams

    installed = [s.name for s in sources if s.available]
    if not installed:
        return "Uses the best feature network that is installed (none is yet)."
    first = HarmonizeParams.AUTO_FIRST
    harmonize = first if first in installed else installed[0]
    return (f"Uses the best feature network installed: {installed[0]} for style runs, {harmonize} for "
            "harmonization (the network its settings were tuned on).")


class PreferencesDialog(QDialog):
    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(520)

        self.device = QComboBox()
        devices = available_devices()
        if prefs.device not in devices:
            devices.append(prefs.device)
        for d in devices:
            label = DEVICE_LABELS.get(d, d)
            self.device.addItem(label if usable_device(d) == d else f"{label} (not on this machine: runs use auto)", d)
        self.device.setCurrentIndex(max(self.device.findData(prefs.device), 0))
        self.device.setToolTip("Where the computation runs. A GPU is many times faster than the CPU.")

        self.weights = QComboBox()
        self.weights.addItem("Automatic (the best installed for each engine)", "auto")
        self._sources = weight_sources()
        model = self.weights.model()
        for s in self._sources:
            label = s.name if s.available else f"{s.name} (not installed)"
            self.weights.addItem(label, s.name)
            idx = self.weights.count() - 1
            tip = s.description + ("" if s.available else f"\nTo install: {s.fix}")
            self.weights.setItemData(idx, tip, Qt.ItemDataRole.ToolTipRole)
            if not s.available and isinstance(model, QStandardItemModel):
                item = model.item(idx)
                item.setEnabled(False)
        if self.weights.findData(prefs.weights) < 0:
            self.weights.addItem(prefs.weights, prefs.weights)
        self.weights.setCurrentIndex(max(self.weights.findData(prefs.weights), 0))
        self.weights.setToolTip("The pretrained network whose features define content and style.")
        self.weights_info = QLabel()
        self.weights_info.setWordWrap(True)
        self.weights_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.weights.currentIndexChanged.connect(self._show_source)
        self._show_source()

        form = QFormLayout()
        form.addRow("Device:", self.device)
        form.addRow("Feature network:", self.weights)
        form.addRow("", self.weights_info)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        lines = [
            f"{s.name}: {'installed' if s.available else 'not installed: ' + s.fix}" for s in self._sources
        ]
        if lines:
            overview = QLabel("Feature networks on this machine:\n" + "\n".join(lines))
            overview.setWordWrap(True)
            overview.setStyleSheet("color: palette(mid);")
            layout.addWidget(overview)
        #: a feature network to download once the dialog closes (a background job in the window)
        self.download_choice = ""
        self.download_buttons: dict[str, QPushButton] = {}
        for s in self._sources:
            if s.name.endswith("-torchvision") and not s.available:
                button = QPushButton(f"Download {s.name}")
                button.setToolTip(f"{s.description}. Needs a network; the download runs in the background "
                                  "with its progress under the picture, and Stop.")
                button.clicked.connect(lambda _=False, n=s.name: self._download(n))
                self.download_buttons[s.name] = button
                layout.addWidget(button)
        layout.addWidget(buttons)

    def _download(self, name: str) -> None:
        self.download_choice = name
        self.accept()

    def _show_source(self) -> None:
        name = self.weights.currentData()
        for s in self._sources:
            if s.name == name:
                text = s.description if s.available else f"{s.description}\nNot installed. {s.fix}"
                self.weights_info.setText(text)
                return
        self.weights_info.setText(auto_words(self._sources) if name == "auto" else "")

    def preferences(self) -> Preferences:
        return Preferences(device=str(self.device.currentData()), weights=str(self.weights.currentData()))
