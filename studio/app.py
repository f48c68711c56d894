"""The desktop app's entry point: ``studio`` with no command opens the main window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from studio.cli_args import EXIT_BAD_INPUT, EXIT_TERMINATED


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="studio", description="Open the studio window.")
    parser.add_argument("content", nargs="?", help="a content photo (or a studio PNG) to open")
    parser.add_argument("styles", nargs="*", help="style images to add")
    parser.add_argument("--settings", metavar="FILE.ini", help="keep settings in this INI file")
    parser.add_argument("--no-demo", action="store_true", help="start without the demo pair")
    return parser.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Open the main window (with the demo content and style loaded) and run the event loop."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args, qt_args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from studio.ui.binding_check import binding_problem

    problem = binding_problem()
    if problem:
        print(f"studio: error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT

    from PySide6.QtWidgets import QApplication

    from studio.ui.main_window import MainWindow
    from studio.ui.settings import APPLICATION, ORGANIZATION, open_settings
    from studio.ui.theme import apply_theme

    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("studio")
    apply_theme(app)
    _leave_a_core_for_the_ui()

    from studio.paths import session_dir
    from studio.session import SessionStore

    window = MainWindow(open_settings(args.settings), load_demo=not args.no_demo, session=SessionStore(session_dir()))
    window.show()
    keep_collections_short(window)
    if args.content:
        window.open_file(args.content)
    if args.styles:
        ws = window.workspace("style")
        ws.add_style_paths(args.styles)
    terminated = close_on_sigterm(window)
    code = _exec(app)
    if terminated():
        code = EXIT_TERMINATED
    _exit_past_stragglers(code, window.settings)
    return code


def close_on_sigterm(window):
    """SIGTERM (a logout, ``kill``) closes the window as a quit does, without the question: the running job
    stops, its picture and the session are written and the session is marked as ended cleanly. Returns a
    function that tells whether that happened. Python runs signal handlers only when it has control, so a
    timer hands it control five times a second while Qt's loop waits."""
    import signal

    from PySide6.QtCore import QTimer

    seen = {"term": False}

    def on_term(signum, frame) -> None:
        seen["term"] = True
        window._closing_confirmed = True  # a signal cannot be asked
        QTimer.singleShot(0, window.close)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
        heartbeat = QTimer(window)
        heartbeat.setInterval(200)
        heartbeat.timeout.connect(lambda: None)
        heartbeat.start()
    return lambda: seen["term"]


def _exec(app) -> int:
    return int(app.exec())


def _exit_past_stragglers(code: int, settings) -> None:
    """A job that cannot be interrupted (converting or downloading weights) may outlive the window.
    Interpreter teardown would then destroy a running QThread, which aborts with a crash report;
    everything the user owns is saved by now (settings are synced), so end the process directly."""
    from studio.ui.job_runner import _STRAGGLERS

    if any(t.isRunning() for t in _STRAGGLERS):
        settings.sync()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def ui_friendly_threads(current: int) -> int:
    """Torch threads for CPU jobs in the app: all cores but one, so the UI thread keeps one."""
    cores = os.cpu_count() or 1
    return max(1, min(current, cores - 1))


def _leave_a_core_for_the_ui() -> None:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(ui_friendly_threads(torch.get_num_threads()))


if __name__ == "__main__":
    raise SystemExit(main())


def keep_collections_short(window) -> None:
    """Move what start-up made (Qt wrappers, torch's modules) out of the garbage collector's sight.

    A full collection walks every live object: with torch loaded that took 120 to 225 ms on this
    2-core machine, and the window stood still meanwhile (``benchmarks/bench_app.py``). Frozen objects
    are never walked again, so a full collection only looks at what the session made since. Done once
    now and once after the first job's first step, when the engine's modules are loaded too.
    """
    import gc

    gc.collect()
    gc.freeze()

    def after_first_step(*_args) -> None:
        window.runner.progress.disconnect(after_first_step)
        gc.collect()
        gc.freeze()

    window.runner.progress.connect(after_first_step)

