"""The ``studio`` command: opens the app, or runs an engine in batch (``studio stylize ...``)."""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .errors import StudioInputError
from .progress import ProgressBar, format_seconds

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one sentence and exits with code 2."""

    def error(self, message: str) -> NoReturn:
        # "argument --x: x must be ..." -> "x must be ..." when our own parser already named the value
        head, sep, rest = message.partition(": ")
        if sep and head.startswith("argument ") and head.split("/")[-1].lstrip("-") in rest:
            message = rest
        sys.stderr.write(f"studio: error: {message}\n(see '{self.prog} --help')\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _number(name: str, minimum: float = 0.0, allow_zero: bool = True):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(v) or v < minimum or (not allow_zero and v == 0):
            kind = "greater than 0" if not allow_zero else f"at least {minimum:g}"
            raise argparse.ArgumentTypeError(f"{name} must be a number {kind}, got {text!r}")
        return v

    return parse


def _integer(name: str, minimum: int = 0):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be at least {minimum}, got {text!r}")
        return v

    return parse


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _numbers(name: str):
    def parse(text: str) -> tuple[float, ...]:
        out = []
        for part in text.split(","):
            out.append(_number(name)(part.strip()))
        return tuple(out)

    return parse


def _add_stylize(sub: Any) -> None:
    p = sub.add_parser("stylize", help="Gatys neural style transfer (L-BFGS, coarse to fine)",
                       description="Render CONTENT in the style of one or more STYLE images.")
    p.add_argument("content", nargs="?", help="content image (a photo)")
    p.add_argument("styles", nargs="*", help="style image(s) (paintings)")
    p.add_argument("-o", "--output", help="output image (.png keeps the recipe; .jpg .webp .tif)")
    p.add_argument("--demo", action="store_true", help="use the embedded demo photo and painting (offline)")
    p.add_argument("--recipe", metavar="OLD.png", help="re-run the recipe embedded in a studio PNG")
    p.add_argument("--force", action="store_true", help="overwrite the output without asking")
    g = p.add_argument_group("style")
    g.add_argument("--size", type=_integer("size", 16), help="long side of the output in pixels (512)")
    g.add_argument("--content-weight", type=_number("content-weight"), help="content weight (1)")
    g.add_argument("--style-weight", type=_number("style-weight"), help="style weight")
    g.add_argument("--tv-weight", type=_number("tv-weight"), help="total-variation (smoothness) weight")
    g.add_argument("--content-layers", type=_names, help="comma-separated, e.g. relu4_2")
    g.add_argument("--style-layers", type=_names, help="comma-separated, e.g. relu1_1,relu2_1,relu3_1,relu4_1,relu5_1")
    g.add_argument("--style-layer-weights", type=_numbers("style-layer-weights"),
                   help="comma-separated weight per style layer")
    g.add_argument("--style-blend", type=_numbers("style-blend"), help="comma-separated weight per style image")
    g.add_argument("--style-scale", type=_number("style-scale", allow_zero=False),
                   help="style image size relative to the output (1.0)")
    g.add_argument("--original-colors", action="store_const", const=True, default=None,
                   help="keep the content's colours (transfer luminance only)")
    o = p.add_argument_group("optimisation")
    o.add_argument("--iterations", type=_integer("iterations"), help="iterations at each scale")
    o.add_argument("--scales", type=_integer("scales", 1), help="coarse-to-fine levels (1 = single scale)")
    o.add_argument("--max-seconds", type=_number("max-seconds", allow_zero=False),
                   help="fit the whole run into this many seconds")
    o.add_argument("--optimizer", choices=["lbfgs", "adam"])
    o.add_argument("--learning-rate", type=_number("learning-rate", allow_zero=False), help="Adam step size")
    o.add_argument("--init", choices=["content", "noise", "median-noise"])
    o.add_argument("--seed", type=_integer("seed"))
    o.add_argument("--pooling", choices=["max", "avg"])
    o.add_argument("--save-every", type=_integer("save-every", 1), metavar="N",
                   help="also write OUTPUT_iterN.png every N iterations")
    o.add_argument("--device", help="auto | cpu | cuda | mps")
    o.add_argument("--weights", help="auto | vgg16-hed | vgg19-torchvision | vgg16-torchvision | "
                                     "vgg19-caffe | path to a Caffe VGG-19 .pth")
    p.set_defaults(func=cmd_stylize)


_PARAM_FLAGS = ("size", "content_weight", "style_weight", "tv_weight", "content_layers", "style_layers",
                "style_layer_weights", "style_blend", "style_scale", "original_colors", "iterations", "scales",
                "max_seconds", "optimizer", "learning_rate", "init", "seed", "pooling", "device", "weights")


def _confirm_overwrite(path: Path, force: bool) -> None:
    if not path.exists() or force:
        return
    if sys.stdin is not None and sys.stdin.isatty():
        try:
            answer = input(f"{path} exists. Overwrite it? [y/N] ").strip().lower()
        except (EOFError, KeyboardInterrupt):
            answer = "n"
        if answer in ("y", "yes"):
            return
        raise StudioInputError(f"{path} exists and was left as it is.")
    raise StudioInputError(f"{path} exists; pass --force to overwrite it.")


def cmd_stylize(args: argparse.Namespace) -> int:
    from .engines.events import Finished, Info, Progress
    from .engines.style import run_style
    from .engines.style_params import StyleParams
    from .imageio import check_output_path, load_image, save_image
    from .recipe import InputRef, Recipe, check_inputs, read_recipe

    base: dict[str, Any] = {}
    content_path: str | None = args.content
    style_paths: list[str] = list(args.styles)
    if args.recipe:
        recipe = read_recipe(args.recipe)
        if recipe is None:
            raise StudioInputError(f"{args.recipe} holds no studio recipe.")
        if recipe.engine != "stylize":
            raise StudioInputError(f"{args.recipe} holds a {recipe.engine!r} recipe, not a stylize one.")
        for w in check_inputs(recipe):
            print(f"warning: {w}", file=sys.stderr)
        base = dict(recipe.params)
        content_path = content_path or next((i.path for i in recipe.inputs if i.role == "content"), None)
        style_paths = style_paths or [i.path for i in recipe.inputs if i.role == "style"]
    if args.demo:
        from .demo import write_demo_images
        from .weights import cache_dir

        c, s = write_demo_images(cache_dir() / "demo")
        content_path, style_paths = str(c), [str(s)]
        args.output = args.output or "studio-demo.png"
    if not content_path or not style_paths:
        raise StudioInputError("stylize needs a content image and at least one style image "
                               "(or --demo, or --recipe OLD.png).")
    if not args.output:
        raise StudioInputError("no output file given; add -o OUT.png.")
    out = check_output_path(args.output, overwrite=True)
    _confirm_overwrite(out, args.force)

    given = {k: getattr(args, k) for k in _PARAM_FLAGS if getattr(args, k) is not None}
    try:
        params = StyleParams.from_dict({**base, **given})
    except TypeError as e:
        raise StudioInputError(f"the recipe's parameters do not fit this studio version: {e}.") from None
    if args.save_every:
        params = params.with_changes(preview_every=args.save_every)
    if params.style_blend is not None and len(params.style_blend) != len(style_paths):
        raise StudioInputError(f"--style-blend has {len(params.style_blend)} values for "
                               f"{len(style_paths)} style images.")

    content = load_image(content_path, max_side=max(4 * params.size, 2048))
    styles = [load_image(p, max_side=max(4 * params.size, 2048)) for p in style_paths]
    for img in (content, *styles):
        for w in img.warnings:
            print(f"warning: {w}", file=sys.stderr)

    bar = ProgressBar("stylize")
    finished: Finished | None = None
    t0 = time.perf_counter()
    try:
        for ev in run_style(content.rgb, [s.rgb for s in styles], params):
            if isinstance(ev, Info):
                bar.close(ev.message) if bar.tty and bar._last_len else print(ev.message, file=sys.stderr)
            elif isinstance(ev, Progress):
                bar.update(ev.iteration, ev.total, ev.eta_s, ev.elapsed_s,
                           f"{ev.stage} loss {ev.losses.get('total', float('nan')):.4g}")
                if args.save_every and ev.iteration % args.save_every == 0 and ev.preview is not None:
                    snap = out.with_name(f"{out.stem}_iter{ev.iteration}{out.suffix}")
                    save_image(snap, ev.preview)
            elif isinstance(ev, Finished):
                finished = ev
    except KeyboardInterrupt:
        bar.close("interrupted; nothing was written")
        return 130
    assert finished is not None
    recipe = Recipe(
        engine="stylize", params=finished.extra.get("params", params.to_dict()),
        inputs=[InputRef("content", str(Path(content_path).resolve()), content.sha256)]
        + [InputRef("style", str(Path(p).resolve()), s.sha256) for p, s in zip(style_paths, styles, strict=True)],
        weights=str(finished.extra.get("weights", "")), studio_version=__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        extra={"device": finished.extra.get("device", ""), "iterations": finished.iterations,
               "seconds": round(finished.elapsed_s, 2), "losses": finished.losses},
    )
    save_image(out, finished.image, metadata=recipe.to_png_text() if out.suffix.lower() == ".png" else None)
    bar.close(f"wrote {out} ({finished.image.shape[1]}x{finished.image.shape[0]}) in "
              f"{format_seconds(time.perf_counter() - t0)}")
    return 0


def _add_weights(sub: Any) -> None:
    p = sub.add_parser("weights", help="list or download feature-network weights")
    p.add_argument("action", choices=["list", "download"], nargs="?", default="list")
    p.add_argument("name", nargs="?", help="vgg19-torchvision | vgg16-torchvision")
    p.set_defaults(func=cmd_weights)


def cmd_weights(args: argparse.Namespace) -> int:
    from .weights import choose_source, download_torchvision, list_sources

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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="studio", description="studio: neural image techniques for artists. "
                                                "With no command, opens the app.")
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    _add_stylize(sub)
    _add_weights(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-psn") or (argv[0] not in ("stylize", "weights") and
                                                  not argv[0].startswith("-")):
        from .app import main as app_main

        return app_main(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, --version, or a bad argument (already reported)
        return int(e.code or 0)
    try:
        return int(args.func(args))
    except StudioInputError as e:
        msg = str(e)
        msg = msg[0].upper() + msg[1:] if msg and not msg[0].isupper() and not msg.startswith(("'", "/")) else msg
        print(f"studio: error: {msg}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    raise SystemExit(main())
