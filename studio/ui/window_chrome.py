"""The main window's chrome: its actions, menus, toolbar, layout of the panels beside the tabs' desks and
the status bar (a mixin of ``MainWindow``, which holds the behaviour)."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.preferences import resolved_device
from studio.ui.recent import RecentFiles

log = logging.getLogger("studio.ui")


class WindowChrome:
    """Builds the widgets and actions ``MainWindow`` wires; no behaviour of its own."""

    def _action(self, text: str, slot: Any, shortcut: Any = None, tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, list):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{tip} ({keys})" if keys else tip)
            action.setStatusTip(tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_open = a("&Open\u2026", self.ask_open, QKeySequence.StandardKey.Open,
                          "Open an image (the current tab's main picture), or a studio PNG to get its settings back")
        self.act_add_style = a("Add &style image\u2026", self.ask_add_styles, "Ctrl+Shift+O",
                               "Add one or more style images")
        self.act_export = a("&Export\u2026", self.ask_export, "Ctrl+E",
                            "Save the result as PNG (with its recipe), JPEG, WebP or TIFF")
        self.act_copy = a("&Copy result", self.copy_result, "Ctrl+Shift+C", "Copy the result to the clipboard")
        self.act_full_size = a("Render at &full size\u2026", self.ask_full_size, "Ctrl+Shift+F",
                               "Refine this style result at a larger size, up to print size: only the final "
                               "scale runs, from the result, and the time it takes is shown first")
        self.act_prefs = a("&Preferences\u2026", self.show_preferences, QKeySequence.StandardKey.Preferences,
                           "Device and feature network")
        if self.act_prefs.shortcut().isEmpty():
            self.act_prefs.setShortcut(QKeySequence("Ctrl+,"))
        self.act_quit = a("&Quit", self.close, QKeySequence.StandardKey.Quit, "Close studio")
        self.act_run = a("\u25b6  Run", self.run, ["Ctrl+R", "Ctrl+Return"], "Start a fresh run")
        self.act_stop = a("\u25a0  Stop", self.stop, ["Ctrl+.", "Esc"], "Stop the run and keep its picture")
        self.act_fit = a("&Fit to window", lambda: self.canvas.fit(), "Ctrl+0", "Fit the picture to the window")
        self.act_100 = a("&Actual pixels (100 %)", lambda: self.canvas.actual_size(), "Ctrl+1", "Show at 100 %")
        self.act_zoom_in = a("Zoom &in", lambda: self.canvas.zoom_in(), ["Ctrl++", "Ctrl+="], "Zoom in")
        self.act_zoom_out = a("Zoom &out", lambda: self.canvas.zoom_out(), "Ctrl+-", "Zoom out")
        self.act_split = a("&Compare before/after", lambda on: self.canvas.set_split_mode(on), "Ctrl+K",
                           "Split view: the photo on the left of the line, the result on the right; "
                           "drag the line", checkable=True)
        self.act_undo = self.undo_group.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence("Ctrl+Z"))
        self.act_redo = self.undo_group.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file = mb.addMenu("&File")
        file.addAction(self.act_open)
        file.addAction(self.act_add_style)
        recent_menu = file.addMenu("Open &recent")
        self.recent = RecentFiles(self.settings, recent_menu, self)
        self.recent.open_requested.connect(self.open_file)
        file.addSeparator()
        file.addAction(self.act_export)
        file.addAction(self.act_copy)
        file.addAction(self.act_full_size)
        file.addSeparator()
        file.addAction(self.act_prefs)
        file.addSeparator()
        file.addAction(self.act_quit)
        edit = mb.addMenu("&Edit")
        edit.addAction(self.act_undo)
        edit.addAction(self.act_redo)
        edit.addSeparator()
        self.send_menu = QMenu("&Use result as input in", self)
        self.send_menu.aboutToShow.connect(self._fill_send_menu)
        edit.addMenu(self.send_menu)
        view = mb.addMenu("&View")
        for act in (self.act_fit, self.act_100, self.act_zoom_in, self.act_zoom_out):
            view.addAction(act)
        view.addSeparator()
        view.addAction(self.act_split)
        hold = view.addAction("Hold B to see the picture before the run")
        hold.setEnabled(False)
        run = mb.addMenu("&Run")
        run.addAction(self.act_run)
        run.addAction(self.act_stop)
        helpm = mb.addMenu("&Help")
        helpm.addAction("&About studio", self._about)

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tb.addAction(self.act_open)
        tb.addAction(self.act_add_style)
        tb.addSeparator()
        for text, group_action in (("Undo", self.act_undo), ("Redo", self.act_redo)):
            # fixed labels in the toolbar (the menu items say what they undo)
            short = QAction(text, self)
            short.triggered.connect(group_action.trigger)
            short.setEnabled(group_action.isEnabled())
            group_action.changed.connect(
                lambda s=short, g=group_action: (s.setEnabled(g.isEnabled()), s.setToolTip(g.text().replace("&", "")))
            )
            tb.addAction(short)
        tb.addSeparator()
        tb.addAction(self.act_fit)
        tb.addAction(self.act_100)
        tb.addAction(self.act_zoom_in)
        tb.addAction(self.act_zoom_out)
        tb.addSeparator()
        tb.addAction(self.act_split)
        self.hold_button = QToolButton()
        self.hold_button.setText("Hold to see before")
        self.hold_button.setToolTip("Press and hold to see the picture before the run (or hold B)")
        self.hold_button.pressed.connect(lambda: self.canvas.set_holding_before(True))
        self.hold_button.released.connect(lambda: self.canvas.set_holding_before(False))
        tb.addWidget(self.hold_button)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tb.addWidget(spacer)
        tb.addAction(self.act_export)
        tb.addAction(self.act_copy)
        tb.addAction(self.act_full_size)
        self.send_button = QToolButton()
        self.send_button.setText("Use in \u25be")
        self.send_button.setToolTip("Use this result as the input of another tab (the Style result as the "
                                    "Harmonize painting, a translated photo as the Style content)")
        self.send_button.setMenu(self.send_menu)
        self.send_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        tb.addWidget(self.send_button)
        tb.addAction(self.act_prefs)
        self.toolbar = tb

    def _build_layout(self) -> None:
        self.run_button = QToolButton()
        self.run_button.setDefaultAction(self.act_run)
        self.run_button.setMinimumHeight(40)
        self.run_button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.run_button.setStyleSheet(
            "QToolButton { font-weight: bold; font-size: 15px; background: #2f6f3e; color: white;"
            " border-radius: 4px; padding: 6px; }"
            " QToolButton:disabled { background: #3a3a3c; color: #8a8a8a; }"
            " QToolButton:hover:enabled { background: #3a8a4c; }"
        )
        self.stop_button = QToolButton()
        self.stop_button.setDefaultAction(self.act_stop)
        self.stop_button.setMinimumHeight(40)
        self.stop_button.setMinimumWidth(100)
        self.stop_button.setStyleSheet(
            "QToolButton { font-size: 14px; background: #7a2e2e; color: white; border-radius: 4px; padding: 6px; }"
            " QToolButton:disabled { background: #3a3a3c; color: #8a8a8a; }"
        )
        run_row = QHBoxLayout()
        run_row.setContentsMargins(8, 6, 8, 8)
        run_row.addWidget(self.run_button, 1)
        run_row.addWidget(self.stop_button)
        self.run_hint = QLabel()
        self.run_hint.setWordWrap(True)
        self.run_hint.setStyleSheet("color: #e0a050; padding: 0 10px 8px 10px;")
        self.run_hint.hide()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(0)
        ll.addWidget(self.tabs, 1)
        ll.addLayout(run_row)
        ll.addWidget(self.run_hint)
        left.setMinimumWidth(360)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 4, 6, 4)
        rl.setSpacing(4)
        rl.addWidget(self.notice)
        rl.addWidget(self.desk_stack, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([400, 1000])
        state = self.settings.value("window/splitter")
        if isinstance(state, QByteArray | bytes) and state:
            self.splitter.restoreState(state)
        self.setCentralWidget(self.splitter)

    def _build_status(self) -> None:
        self.device_label = QLabel()
        self.weights_label = QLabel()
        self.device_label.setToolTip("The device the computation runs on (File \u25b8 Preferences)")
        self.zoom_label = QLabel()
        self.zoom_label.setToolTip("Zoom: mouse wheel, Ctrl+0 fit, Ctrl+1 100 %; drag to pan")
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.statusBar().addPermanentWidget(self.weights_label)
        self.statusBar().addPermanentWidget(self.device_label)
        self._show_prefs_in_status()

    def _show_prefs_in_status(self) -> None:
        device = self.prefs.device
        shown = resolved_device(device)
        if self.prefs.run_device != device:  # Preferences from a machine with a GPU this one lacks
            self.device_label.setText(f"Device: {device} is not on this machine \u2192 {shown}")
        else:
            self.device_label.setText(f"Device: {device}" + (f" \u2192 {shown}" if shown != device else ""))
        self._show_network_in_status()

    def _show_network_in_status(self) -> None:
        """The feature network the current tab's runs use: the one its picture keeps (an opened recipe's), or
        the Preferences' (for Automatic, the one it loads for this tab); hidden on tabs whose runs use none."""
        ws = self.current_workspace() if self._workspaces else None
        self.weights_label.setVisible(ws is None or ws.runs_on_network())
        kept = ws.kept_network() if ws is not None else None
        if kept:
            self.weights_label.setText(f"Feature network: {kept} (this picture's)")
            self.weights_label.setToolTip("The feature network the opened recipe was made on, which this tab's "
                                          "runs keep (Network layers \u25b8 Network; File \u25b8 Preferences "
                                          "for the others)")
        else:
            name = self.prefs.weights
            if name in ("", "auto"):
                from studio.weights import auto_network_name

                found = auto_network_name(ws.network_auto_first if ws is not None else None)
                name = f"{found} (automatic)" if found else "automatic (none installed)"
            self.weights_label.setText(f"Feature network: {name}")
            self.weights_label.setToolTip(
                "The feature network that defines content and style (File \u25b8 Preferences)")

    # host services (WorkspaceHost) -------------------------------------------------------------
