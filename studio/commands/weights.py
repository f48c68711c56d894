"""``studio weights``: list the feature-network weight sources, or download one."""

from __future__ import annotations

import argparse
from typing import Any

from studio.engines.errors import StudioInputError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("weights", help="list or download feature-network weights")
    p.add_argument("action", choices=["list", "download"], nargs="?", default="list")
    p.add_argument("name", nargs="?", help="vgg19-torchvision | vgg16-torchvision")
    p.set_defaults(func=cmd_weights)


def cmd_weights(args: argparse.Namespace) -> int:
    from studio.weights import choose_source, download_torchvision, list_sources

    if args.action == "list":
        try:
            best = choose_source("auto").name
        except ValueError:
            best = None
        for s in list_sources():
            mark = "*" if s.name == best else " "
            state = "available" if s.available else f"not available: {s.fix}"
            print(f"{mark} {s.name:18s} {s.description}\n    {state}")
        from studio.engines.harmonize.params import HarmonizeParams

        first = HarmonizeParams.AUTO_FIRST
        print(f"* what --weights auto loads; harmonize tries {first} first, the network its settings were tuned on")
        return 0
    if args.name not in ("vgg19-torchvision", "vgg16-torchvision"):
        raise StudioInputError("download takes vgg19-torchvision or vgg16-torchvision.")
    from studio.download import download_job
    from studio.engines.events import JobControl
    from studio.progress import ProgressBar, drive

    arch = args.name.split("-")[0]
    events = download_job(lambda progress: download_torchvision(arch, progress), args.name, JobControl())
    try:
        finished = drive(events, ProgressBar(f"downloading {args.name}"), megabytes)
    except StudioInputError:
        raise
    except Exception as e:  # noqa: BLE001
        raise StudioInputError(f"could not download {args.name}: {e}.") from None
    print(f"saved {finished.extra['path']}")
    return 0


def megabytes(ev) -> str:
    return f"{ev.iteration / 1e6:.1f} of {ev.total / 1e6:.0f} MB"
