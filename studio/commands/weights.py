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
        return 0
    if args.name not in ("vgg19-torchvision", "vgg16-torchvision"):
        raise StudioInputError("download takes vgg19-torchvision or vgg16-torchvision.")
    try:
        path = download_torchvision(args.name.split("-")[0])
    except Exception as e:  # noqa: BLE001
        raise StudioInputError(f"could not download {args.name}: {e}.") from None
    print(f"saved {path}")
    return 0
