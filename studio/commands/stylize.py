"""``studio stylize``: Gatys style transfer in batch, with a progress bar and the recipe in the PNG."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from studio.cli_args import confirm_overwrite, integer, interrupted_code, names, number, numbers, param_help
from studio.engines.errors import StudioInputError
from studio.engines.style.params import LAYER_WEIGHT_DEFAULTS, LOOKS, StyleParams
from studio.progress import ProgressBar, drive, format_seconds, total_loss


def add_parser(sub: Any) -> None:
    p = sub.add_parser("stylize", help="Gatys neural style transfer (L-BFGS, coarse to fine)",
                       description="Render CONTENT in the style of one or more STYLE images.")
    p.add_argument("content", nargs="?", help="content image (a photo)")
    p.add_argument("styles", nargs="*", help="style image(s) (paintings)")
    p.add_argument("--content", dest="content_option", metavar="PHOTO",
                   help="the content image, as an option (the same as giving it first)")
    p.add_argument("--style", dest="style_options", action="append", default=[], metavar="PAINTING",
                   help="a style image, as an option; repeat for more (the same as listing them after the photo)")
    p.add_argument("-o", "--output", help="output image (.png keeps the recipe; .jpg .webp .tif)")
    p.add_argument("--demo", action="store_true", help="use the embedded demo photo and painting (offline)")
    p.add_argument("--recipe", metavar="OLD.png", help="re-run the recipe embedded in a studio PNG")
    p.add_argument("--force", action="store_true", help="overwrite the output without asking")
    p.add_argument("--start", metavar="PREVIEW.png",
                   help="render at full size: refine this smaller result of the same photo at --size (only the "
                        "final scale runs; the time it will take is printed first). A studio PNG brings its recipe: "
                        "its photo, paintings and settings")
    g = p.add_argument_group("style")
    g.add_argument("--region", action="append", default=[], metavar="MASK=PAINTING[:WEIGHT]",
                   help="paint the part of the photo under MASK (white; grey blends) with its own PAINTING and "
                        "WEIGHT (default 1), or keep the photo there with MASK=keep[:WEIGHT]; PAINTING@PMASK takes "
                        "only the part of the painting under PMASK. Repeat for more regions; the style images "
                        "paint the rest. The masks are kept inside the result's recipe")
    g.add_argument("--size", type=integer("size", 16), help=param_help(StyleParams, "size"))
    g.add_argument("--content-weight", type=number("content-weight"),
                   help=param_help(StyleParams, "content_weight"))
    g.add_argument("--style-weight", type=number("style-weight"), help=param_help(StyleParams, "style_weight"))
    g.add_argument("--tv-weight", type=number("tv-weight"), help=param_help(StyleParams, "tv_weight"))
    g.add_argument("--content-layers", type=names, help=param_help(StyleParams, "content_layers", "comma-separated"))
    g.add_argument("--style-layers", type=names, help=param_help(StyleParams, "style_layers", "comma-separated"))
    g.add_argument("--style-layer-weights", type=numbers("style-layer-weights"),
                   help="comma-separated weight per style layer (default: "
                   + ", ".join(f"{k} {v:g}" for k, v in LAYER_WEIGHT_DEFAULTS.items()) + "; any other layer 1)")
    g.add_argument("--style-blend", type=numbers("style-blend"), help="comma-separated weight per style image")
    g.add_argument("--style-scale", type=number("style-scale", allow_zero=False),
                   help=param_help(StyleParams, "style_scale"))
    g.add_argument("--look", choices=tuple(LOOKS),
                   help="portrait (the default: faces and fine detail hold) or landscape (the painting's large "
                        "shapes and bold strokes: --photo-detail 0 --coarse-content 1); those flags override it")
    g.add_argument("--photo-detail", type=number("photo-detail"), help=param_help(StyleParams, "photo_detail"))
    g.add_argument("--coarse-content", type=number("coarse-content", allow_zero=False),
                   help=param_help(StyleParams, "coarse_content"))
    g.add_argument("--original-colors", action="store_const", const=True, default=None,
                   help=param_help(StyleParams, "original_colors"))
    g.add_argument("--strength", type=number("strength"), help=param_help(StyleParams, "strength"))
    g.add_argument("--fade", choices=("rgb", "luminance"), help=param_help(StyleParams, "fade"))
    o = p.add_argument_group("optimisation")
    o.add_argument("--iterations", type=integer("iterations"), help=param_help(StyleParams, "iterations"))
    o.add_argument("--scales", type=integer("scales", 1), help=param_help(StyleParams, "scales"))
    o.add_argument("--coarsest-side", type=integer("coarsest-side", 16), metavar="PX",
                   help=param_help(StyleParams, "coarsest_side"))
    o.add_argument("--tile", type=integer("tile", 0), metavar="PX", help=param_help(StyleParams, "tile"))
    o.add_argument("--max-seconds", type=number("max-seconds", allow_zero=False),
                   help=param_help(StyleParams, "max_seconds"))
    o.add_argument("--optimizer", choices=["lbfgs", "adam"], help=param_help(StyleParams, "optimizer"))
    o.add_argument("--no-precondition", dest="precondition", action="store_const", const=False, default=None,
                   help="plain L-BFGS on the pixels, as the classic implementations (default: low spatial "
                        "frequencies take larger steps)")
    o.add_argument("--learning-rate", type=number("learning-rate", allow_zero=False),
                   help=param_help(StyleParams, "learning_rate"))
    o.add_argument("--init", choices=["content", "noise", "median-noise"], help=param_help(StyleParams, "init"))
    o.add_argument("--seed", type=integer("seed"), help=param_help(StyleParams, "seed"))
    o.add_argument("--pooling", choices=["max", "avg"], help=param_help(StyleParams, "pooling"))
    o.add_argument("--save-every", type=integer("save-every", 1), metavar="N",
                   help="also write OUTPUT_iterN.png every N iterations")
    o.add_argument("--device", help="auto | cpu | cuda | mps")
    o.add_argument("--weights", help="auto | vgg16-lpips | vgg16-hed | vgg19-torchvision | vgg16-torchvision | "
                                     "vgg19-caffe | path to a Caffe VGG-19 .pth")
    p.set_defaults(func=cmd_stylize)


_PARAM_FLAGS = ("size", "content_weight", "style_weight", "tv_weight", "content_layers", "style_layers",
                "style_layer_weights", "style_blend", "style_scale", "photo_detail", "coarse_content",
                "original_colors", "strength", "fade", "iterations", "scales", "coarsest_side", "tile",
                "max_seconds", "optimizer", "precondition", "learning_rate", "init", "seed", "pooling", "device",
                "weights")


def cmd_stylize(args: argparse.Namespace) -> int:
    from studio.engines.events import Progress
    from studio.engines.style.params import StyleParams
    from studio.engines.style.run import run_style
    from studio.image_save import check_output_path, save_image
    from studio.imageio import load_image
    from studio.recipe import InputRef, Recipe, check_inputs, read_recipe, unknown_settings_words
    from studio.style_regions import load_region, painting_role, parse_region, regions_from_recipe
    from studio.style_regions import recipe_regions as recipe_regions_of
    from studio.weights import network_for

    base: dict[str, Any] = {}
    recipe_regions: tuple[Any, dict[str, str], str] | None = None
    content_path: str | None = args.content
    style_paths: list[str] = list(args.styles)
    if args.content_option:  # --content PHOTO: a positional image is then a painting
        if content_path:
            style_paths.insert(0, content_path)
        content_path = args.content_option
    style_paths += args.style_options
    start_recipe = read_recipe(args.start) if args.start else None
    if args.start and not args.recipe and not content_path and start_recipe is not None:
        args.recipe = args.start  # the preview's own recipe: its photo, paintings and settings
    if args.start and args.size is None:
        raise StudioInputError("--start needs --size: the long side to render the preview at (for example 2048).")
    if args.recipe:
        recipe = read_recipe(args.recipe)
        if recipe is None:
            raise StudioInputError(f"{args.recipe} holds no studio recipe.")
        if recipe.engine != "stylize":
            raise StudioInputError(f"{args.recipe} holds a {recipe.engine!r} recipe, not a stylize one.")
        from studio.recipe_reach import recipe_reach, recipe_weights

        reach = recipe_reach(recipe, args.weights, chosen_by_user=args.weights is not None)
        print(f"the recipe in {args.recipe}:", file=sys.stderr)
        for line in reach.lines:
            print(f"  {line}", file=sys.stderr)
        if reach.refusal:
            raise StudioInputError(reach.refusal)
        for w in [*check_inputs(recipe), unknown_settings_words(recipe)]:
            if w:
                print(f"warning: {w}", file=sys.stderr)
        base = {**recipe.params, "weights": recipe_weights(recipe)}
        content_path = content_path or next((i.path for i in recipe.inputs if i.role == "content"), None)
        style_paths = style_paths or [i.path for i in recipe.inputs if i.role == "style"]
        if recipe.regions and not args.region:
            recipe_regions = (recipe.regions, {i.role: i.path for i in recipe.inputs}, str(args.recipe))
    if args.demo:
        from studio.demo import write_demo_images
        from studio.paths import demo_dir

        c, s = write_demo_images(demo_dir())
        content_path, style_paths = str(c), [str(s)]
        args.output = args.output or "studio-demo.png"
    specs = [parse_region(text) for text in args.region]
    if not content_path or not (style_paths or specs or recipe_regions):
        raise StudioInputError("stylize needs a content image and at least one style image or --region "
                               "(or --demo, or --recipe OLD.png).")
    if not args.output:
        raise StudioInputError("no output file given; add -o OUT.png.")
    out = check_output_path(args.output, overwrite=True)
    confirm_overwrite(out, args.force)
    if args.save_every:  # the snapshots of an earlier run with the same output name
        earlier = _snapshots(out)
        if earlier:
            confirm_overwrite(earlier[0], args.force, more=len(earlier) - 1)

    given = {**(LOOKS[args.look] if args.look else {}),
             **{k: getattr(args, k) for k in _PARAM_FLAGS if getattr(args, k) is not None}}
    if specs:
        given["region_weights"] = tuple(spec.weight for spec in specs)
    try:
        params = StyleParams.from_recipe({**base, **given}) if args.recipe else StyleParams.from_dict(given)
    except TypeError as e:
        raise StudioInputError(f"the recipe's parameters do not fit this studio version: {e}.") from None
    if args.save_every:
        params = params.with_changes(preview_every=args.save_every)
    if params.style_blend is not None and len(params.style_blend) != len(style_paths):
        raise StudioInputError(f"--style-blend has {len(params.style_blend)} values for "
                               f"{len(style_paths)} style images.")

    side = max(4 * params.size, 2048)
    content = load_image(content_path, max_side=side)
    styles = [load_image(p, max_side=side) for p in style_paths]
    if specs:
        regions = [load_region(spec, i, content.rgb.shape, side) for i, spec in enumerate(specs)]
    elif recipe_regions is not None:
        regions = regions_from_recipe(recipe_regions[0], recipe_regions[1], side,
                                      source=f"The recipe in {recipe_regions[2]!r}")
    else:
        regions = []
    start = (_full_size_start(args.start, start_recipe, content.rgb, params, styles, [r.region for r in regions])
             if args.start else None)
    for img in (content, *styles):
        for w in img.warnings:
            print(f"warning: {w}", file=sys.stderr)

    bar = ProgressBar("stylize")
    t0 = time.perf_counter()

    snapshots: list[Path] = []

    def snapshot(ev: Progress) -> None:
        if args.save_every and ev.iteration % args.save_every == 0 and ev.preview is not None:
            snapshots.append(save_image(out.with_name(f"{out.stem}_iter{ev.iteration}{out.suffix}"), ev.preview))

    try:
        finished = drive(run_style(content.rgb, [s.rgb for s in styles], params, network=network_for(params),
                                   start=start, regions=[r.region for r in regions]),
                         bar, total_loss, on_progress=snapshot)
    except KeyboardInterrupt as exc:
        kept = (f" (the {len(snapshots)} snapshot{'s' if len(snapshots) > 1 else ''} of --save-every "
                f"{'were' if len(snapshots) > 1 else 'was'} kept, the last {snapshots[-1]})") if snapshots else ""
        bar.close(f"interrupted; {out} was not written{kept}" if snapshots else "interrupted; nothing was written")
        return interrupted_code(exc)
    inputs = [InputRef("content", str(Path(content_path).resolve()), content.sha256)] + [
        InputRef("style", str(Path(p).resolve()), s.sha256) for p, s in zip(style_paths, styles, strict=True)]
    inputs += [InputRef(painting_role(i), r.painting_path, r.painting_sha256)
               for i, r in enumerate(regions) if r.painting_path is not None and r.painting_sha256 is not None]
    recipe = Recipe.of_run("stylize", finished, params, inputs)
    recipe.regions = recipe_regions_of(regions)
    save_image(out, finished.image, metadata=recipe.to_png_text() if out.suffix.lower() == ".png" else None)
    bar.close(f"wrote {out} ({finished.image.shape[1]}x{finished.image.shape[0]}) in "
              f"{format_seconds(time.perf_counter() - t0)}")
    return 0


def _full_size_start(path: str, recipe: Any, content: Any, params: StyleParams, styles: list[Any],
                     regions: list[Any]) -> Any:
    """The preview at ``path`` as the start of a full-size render (its fade undone), after printing how long
    the render will take on this machine."""
    from studio.engines.device import resolve_device
    from studio.engines.style.full_size import check_start, estimate_seconds, measure_speed, unfade
    from studio.engines.style.run import scale_shapes
    from studio.imageio import load_image
    from studio.weights import network_for

    preview = load_image(path, max_side=params.size)
    rgb = preview.rgb
    made = recipe.params if recipe is not None else {}
    strength = made.get("strength", 1.0)
    if isinstance(strength, int | float) and strength < 1.0:
        fade = made.get("fade") if made.get("fade") in ("rgb", "luminance") else "rgb"
        print(f"note: {path} was faded to strength {strength:g}; the render starts from the picture before the "
              "fade", file=sys.stderr)
        rgb = unfade(rgb, content, float(strength), fade)
    hw = scale_shapes(*content.shape[:2], params.size, 1)[-1]
    check_start(rgb, content, hw)
    speed = measure_speed(content, [s.rgb for s in styles], params, network_for(params), regions=regions)
    seconds = estimate_seconds(speed, hw, params.iterations, params.tile, str(resolve_device(params.device)))
    print(f"full size: {hw[1]}x{hw[0]} from {rgb.shape[1]}x{rgb.shape[0]}, {params.iterations} iterations: "
          f"about {format_seconds(seconds)} on this machine", file=sys.stderr)
    return rgb


def _snapshots(out: Path) -> list[Path]:
    """The files ``--save-every`` writes for ``out`` (``OUT_iterN.png``) that are there already, in order."""
    import re

    name = re.compile(re.escape(out.stem) + r"_iter(\d+)" + re.escape(out.suffix) + "$")
    found = [(int(m.group(1)), p) for p in out.parent.iterdir() if (m := name.match(p.name))]
    return [p for _, p in sorted(found)]
