"""The ``studio`` command: opens the app, or runs an engine in batch (``studio stylize ...``).

Each sub-command lives in its own module under ``studio.commands`` with an ``add_parser(sub)`` that
adds its parser and sets ``func``. A new command is one more entry in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from studio import __version__
from studio.cli_args import EXIT_BAD_INPUT, EXIT_TERMINATED, Parser, Terminated, handle_sigterm
from studio.engines.errors import StudioInputError, out_of_memory

#: command name -> module under studio.commands (imported only when the command line needs it)
COMMANDS: dict[str, str] = {
    "stylize": "stylize",
    "weights": "weights",
    "train-gan": "train_gan",
    "gan": "gan",
    "translate": "translate",
    "train-cyclegan": "train_cyclegan",
    "translators": "translators",
    "harmonize": "harmonize",
}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="studio", description="studio: neural image techniques for artists. "
                                               "With no command, opens the app.")
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for module in dict.fromkeys(COMMANDS.values()):
        importlib.import_module(f"studio.commands.{module}").add_parser(sub)
    return parser


#: the app's own options (studio.app): given first, they open the app rather than the command line
APP_OPTIONS = ("--no-demo", "--settings")


def opens_the_app(argv: list[str]) -> bool:
    if not argv or argv[0].startswith("-psn"):
        return True
    first = argv[0]
    return first.split("=", 1)[0] in APP_OPTIONS or (first not in COMMANDS and not first.startswith("-"))


def subcommand_parser(parser: argparse.ArgumentParser, name: str | None) -> argparse.ArgumentParser | None:
    """The parser of ``studio NAME``, or None."""
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its subcommands only there
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:  # noqa: SLF001
            return action.choices[name]
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if opens_the_app(argv):
        from studio.app import main as app_main

        return app_main(argv)
    handle_sigterm()
    _remove_stale_temporaries()
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:  # said by the command's own parser, so the sentence points to its help, not studio's
            command = subcommand_parser(parser, getattr(args, "command", None)) or parser
            command.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:  # --help, --version, or a bad argument (already reported)
        return int(e.code or 0)
    if getattr(args, "func", None) is None:
        build_parser().print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args))
    except Terminated:
        print("\nstudio: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("\nstudio: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # an unwritable folder, a full disk: the file and the reason, never a traceback
        from studio.engines.files import os_reason

        where = f"{e.filename!r}: " if getattr(e, "filename", None) else ""
        print(f"studio: error: {where}{os_reason(e)}.", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StudioInputError as e:
        print(f"studio: error: {sentence(str(e))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (MemoryError, RuntimeError) as e:
        advice = out_of_memory_advice(e)
        if advice is None:
            raise
        print(f"studio: error: {advice}", file=sys.stderr)
        return 1


def out_of_memory_advice(e: BaseException) -> str | None:
    """One sentence for a job that ran out of memory (``errors.out_of_memory``), or None for another error."""
    which = out_of_memory(e)
    if which is None:
        return None
    if which == "gpu":
        return "The job ran out of the GPU's memory: try a smaller size, or --device cpu (the machine's memory is " \
               "usually larger)."
    return "The job ran out of memory: try a smaller size."


def sentence(msg: str) -> str:
    """``msg`` with a capital first letter where its first word is a word: a message that starts with a path
    (``out/n.png exists``) keeps it as it is, since ``Out/n.png`` would be another file."""
    first = msg.split(" ", 1)[0]
    return msg[0].upper() + msg[1:] if first.isalpha() and first.islower() else msg


def _remove_stale_temporaries() -> None:
    """Temporary files of studio's own atomic writes that a kill left in its own folders (an hour old)."""
    from studio.engines.files import remove_stale_temporaries
    from studio.paths import cache_dir, data_dir, models_dir

    try:
        for folder in (cache_dir(), models_dir(), data_dir()):
            remove_stale_temporaries(folder)
    except OSError:  # a read-only home: nothing to clean there, and the command goes on
        pass


if __name__ == "__main__":
    raise SystemExit(main())
