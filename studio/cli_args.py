"""Argument parsing shared by every ``studio`` sub-command: one-sentence errors, exit code 2,
checked numbers, and the overwrite prompt."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from studio.engines.errors import StudioInputError
from studio.engines.events import JobControl

EXIT_BAD_INPUT = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: every command's interrupt path says what was kept, and the atomic writes
    remove their temporary files."""


EXIT_TERMINATED = 128 + signal.SIGTERM


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def handle_sigterm() -> None:
    """Turn SIGTERM into ``Terminated`` in the main thread (a no-op elsewhere)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


@contextmanager
def stop_on_interrupt(control: JobControl, what: str, say: bool = True) -> Iterator[None]:
    """While a long job runs from the command line, the first Ctrl-C asks it to stop as the app's Stop does
    (``control.cancel()``: it ends its step and saves, ``what`` says what, e.g. "a checkpoint"), and a second
    one interrupts at once (KeyboardInterrupt). SIGTERM is left as it is (``handle_sigterm``). A no-op outside
    the main thread, where no signal handler can be set. ``say`` False: say nothing (the other ranks of a
    torchrun, whose rank 0 speaks)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def first(signum: int, frame: object) -> None:
        control.cancel()
        if say:
            print(f"\nstopping after this step and saving {what} (Ctrl-C again to stop at once)", file=sys.stderr,
                  flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupted_code(exc: BaseException) -> int:
    """The exit code of a command stopped by Ctrl-C (130) or SIGTERM (143)."""
    return EXIT_TERMINATED if isinstance(exc, Terminated) else 130


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one sentence and exits with code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"studio: error: {plain_error(message).rstrip('.')}; see '{self.prog} --help'.\n")
        raise SystemExit(EXIT_BAD_INPUT)


def plain_error(message: str) -> str:
    """argparse's "argument --x: ..." as a sentence of its own: the prefix goes (the sentence names the
    option), "invalid choice" lists the choices, a missing value says so."""
    head, sep, rest = message.partition(": ")
    if not (sep and head.startswith("argument ")):
        return message
    option = head[len("argument "):].split("/")[-1]
    if option.lstrip("-") in rest or option in rest:
        return rest
    if rest.startswith("invalid choice: "):
        choice, _, choices = rest[len("invalid choice: "):].partition(" (choose from ")
        return f"{option} must be one of {choices.rstrip(')')}, got {choice}"
    if rest.startswith("expected one argument"):
        return f"{option} needs a value"
    if rest.startswith("invalid ") and " value: " in rest:
        kind, _, value = rest[len("invalid "):].partition(" value: ")
        return f"{option} must be {'a whole number' if kind == 'int' else 'a number' if kind == 'float' else kind}, " \
               f"got {value}"
    return f"{option}: {rest}"


def number(name: str, minimum: float = 0.0, allow_zero: bool = True, maximum: float | None = None, why: str = ""):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(v) or v < minimum or (not allow_zero and v == 0) or (maximum is not None and v > maximum):
            kind = "greater than 0" if not allow_zero and minimum == 0 else f"at least {minimum:g}"
            kind += "" if maximum is None else f" and at most {maximum:g}"
            because = f" ({why})" if why else ""
            raise argparse.ArgumentTypeError(f"{name} must be a number {kind}{because}, got {text!r}")
        return v

    return parse


def integer(name: str, minimum: int = 0, maximum: int | None = None, why: str = ""):
    def parse(text: str) -> int:
        if len(text.strip()) > 40:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number of at most 40 digits, got "
                                             f"{len(text.strip())} characters")
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be at least {minimum}, got {text!r}")
        if maximum is not None and v > maximum:
            because = f" ({why})" if why else ""
            raise argparse.ArgumentTypeError(f"{name} must be at most {maximum}{because}, got {text!r}")
        return v

    return parse


def names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def numbers(name: str):
    def parse(text: str) -> tuple[float, ...]:
        out = []
        for part in text.split(","):
            out.append(number(name)(part.strip()))
        return tuple(out)

    return parse


def confirm_overwrite(path: Path, force: bool, more: int = 0) -> None:
    """Ask before ``path`` (and ``more`` files like it) is overwritten, or refuse without a terminal to ask on."""
    if not path.exists() or force:
        return
    which = f"{path} and {more} more file{'s' if more > 1 else ''} like it" if more else str(path)
    them = "them" if more else "it"
    if sys.stdin is not None and sys.stdin.isatty():
        try:
            answer = input(f"{which} exist{'' if more else 's'}. Overwrite {them}? [y/N] ").strip().lower()
        except (EOFError, KeyboardInterrupt):
            answer = "n"
        if answer in ("y", "yes"):
            return
        raise StudioInputError(f"{which} {'were' if more else 'was'} left as {'they were' if more else 'it is'}.")
    raise StudioInputError(f"{which} exist{'' if more else 's'}; pass --force to overwrite {them}.")


def param_help(cls: Any, field: str, extra: str = "") -> str:
    """A flag's help from the parameters dataclass: what the field does (``cls.HELP``, the text the app's
    tooltips show) and its default, so neither is copied into the command line."""
    import dataclasses

    default = next(f.default for f in dataclasses.fields(cls) if f.name == field)
    text = cls.HELP.get(field, "").rstrip(".")
    shown = ",".join(default) if isinstance(default, tuple) else default
    return f"{text}{'; ' + extra if extra else ''} (default: {shown})".lstrip()
