"""``studio translators``: the CycleGAN model catalogue (list, download, import, verify)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from studio.engines.errors import StudioInputError
from studio.progress import ProgressBar


def add_parser(sub: Any) -> None:
    p = sub.add_parser("translators", help="list, download or import CycleGAN translators",
                       description="The translators 'studio translate' can use: studio's default, the 18 "
                                   "official CycleGAN generators (download needs a network), imported .pth "
                                   "files and models trained with 'studio train-cyclegan'.")
    p.add_argument("action", choices=["list", "download", "import", "verify", "folder"], nargs="?", default="list")
    p.add_argument("target", nargs="?", help="model name (download, verify) or .pth file (import)")
    p.add_argument("--name", help="import under this name")
    p.add_argument("--force", action="store_true", help="import over an existing model of the same name")
    p.set_defaults(func=cmd_translators)


def cmd_translators(args: argparse.Namespace) -> int:
    from studio import cyclegan_catalogue as cat

    if args.action == "folder":
        print(cat.translators_dir())
        return 0
    if args.action == "list":
        online = None
        for e in cat.list_models():
            state = "ready" if e.available else ("missing" if e.kind == "default" else "not downloaded")
            print(f"{'*' if e.available else ' '} {e.name:26s} {e.kind:10s} {state:15s} {e.description}")
        if not all(e.available for e in cat.list_models() if e.kind == "pretrained"):
            online = cat.network_available(timeout=2.0)
            if not online:
                print("\nThe download server cannot be reached from here (no network?). Download a model "
                      "elsewhere and add it with: studio translators import FILE.pth", file=sys.stderr)
        print(f"\nfolder: {cat.translators_dir()} (set STUDIO_CYCLEGAN_DIR or STUDIO_MODELS_DIR to move it)",
              file=sys.stderr)
        return 0
    if not args.target:
        raise StudioInputError(f"'translators {args.action}' needs a "
                               f"{'.pth file' if args.action == 'import' else 'model name'}.")
    if args.action == "import":
        dest = cat.import_model(args.target, args.name, overwrite=args.force)
        print(f"imported {args.target} as {dest.stem} ({dest})")
        return 0
    if args.action == "verify":
        verdict = cat.verify(args.target)
        print(f"{args.target}: {verdict.words}")
        return 0 if verdict.ok else 1
    if args.target not in cat.PRETRAINED:
        raise StudioInputError(f"{args.target!r} is not an official CycleGAN model; choose one of: "
                               f"{', '.join(cat.PRETRAINED)}.")
    if not cat.network_available():
        raise StudioInputError(cat.no_network_message(args.target))
    bar = ProgressBar(f"download {args.target}")
    t0 = time.perf_counter()

    def progress(done: int, total: int | None) -> None:
        el = time.perf_counter() - t0
        eta = (el / done * (total - done)) if total and done else None
        bar.update(done >> 10, (total or done) >> 10, eta, el, "KiB")

    dest = cat.download(args.target, progress)
    bar.close(f"saved {dest} (sha256 {cat.recorded_checksums().get(args.target, '')[:16]}…)")
    return 0
