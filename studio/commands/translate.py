"""``studio translate``: apply a CycleGAN translator to a batch of images (tiled, any size), with progress
and the recipe in each PNG."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from studio import __version__
from studio.cli_args import confirm_overwrite, integer, interrupted_code, number
from studio.engines.errors import StudioInputError
from studio.progress import ProgressBar, drive, format_seconds


def add_parser(sub: Any) -> None:
    p = sub.add_parser("translate", help="CycleGAN image-to-image translation (photo to painting, ...)",
                       description="Translate each IMAGE with MODEL and write the results to OUT_DIR. MODEL is "
                                   "'default', a name from 'studio translators list', a generator .pth file or "
                                   "a training run folder.")
    p.add_argument("model", help="default | catalogue name | path to a generator .pth | training run folder")
    p.add_argument("images", nargs="+", help="input images")
    p.add_argument("-o", "--output-dir", required=True, help="folder for the results (created if missing)")
    p.add_argument("--format", choices=["png", "jpg", "webp", "tif"], default="png",
                   help="output format (png keeps the recipe)")
    p.add_argument("--strength", type=number("strength"), default=1.0, help="0 = original, 1 = full translation")
    p.add_argument("--preserve-colors", action="store_true", help="keep the original colours (luminance only)")
    p.add_argument("--mask", help="greyscale image: translate only where it is white")
    p.add_argument("--tile", type=integer("tile"), default=1024,
                   help="tile side in pixels for large images (0 = whole image at once)")
    p.add_argument("--overlap", type=integer("overlap"), default=64, help="tile overlap in pixels")
    p.add_argument("--norm-stats", choices=["global", "tile"], default="global",
                   help="instance-norm statistics of the whole image (global) or of each tile")
    p.add_argument("--stats-side", type=integer("stats-side", 64), default=2048,
                   help="with global statistics: measure them on a copy at most this large (2048)")
    p.add_argument("--max-side", type=integer("max-side", 8), help="downscale inputs to this long side first")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs without asking")
    p.set_defaults(func=cmd_translate)


def cmd_translate(args: argparse.Namespace) -> int:
    import numpy as np

    from studio.cyclegan_catalogue import resolve_model
    from studio.engines.cyclegan.infer import run_translate
    from studio.engines.cyclegan.infer import validate as validate_params
    from studio.engines.cyclegan.io import load_generator
    from studio.engines.cyclegan.params import TranslateParams
    from studio.engines.files import file_sha256
    from studio.engines.pixels import resize_long_side
    from studio.image_save import check_output_path, save_image
    from studio.imageio import check_input_file, load_image
    from studio.recipe import InputRef, Recipe

    if args.strength > 1:
        raise StudioInputError(f"strength must be between 0 and 1, got {args.strength:g}")
    params = TranslateParams(strength=args.strength, preserve_colors=args.preserve_colors, tile=args.tile,
                             overlap=args.overlap, norm_stats=args.norm_stats, stats_side=args.stats_side,
                             device=args.device)
    validate_params(params)
    model_path = resolve_model(args.model)
    net = load_generator(model_path)
    model_sha = file_sha256(model_path)
    out_dir = Path(args.output_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise StudioInputError(f"the output folder {str(out_dir)!r} is a file.")
    ext = {"jpg": ".jpg"}.get(args.format, f".{args.format}")
    outputs = [out_dir / f"{Path(p).stem}_{Path(model_path).stem}{ext}" for p in args.images]
    first_of: dict[Path, str] = {}
    for src, dst in zip(args.images, outputs, strict=True):
        if dst in first_of:
            raise StudioInputError(f"{first_of[dst]!r} and {src!r} would both be written to {str(dst)!r}; translate "
                                   "them in separate runs.")
        first_of[dst] = src
    for p in args.images:
        if not Path(p).is_file():
            raise StudioInputError(f"{p!r} does not exist or is not a file.")
    mask_img = _mask(args.mask) if args.mask else None
    for p in args.images:  # every input is readable before a folder is made or a file is written
        check_input_file(Path(p))
    for p in args.images:  # and decodes whole (a file cut short fails here, not after the ones before it); a
        load_image(p, max_side=1024)  # JPEG decodes at a reduced scale for this, reading all of its data
    for o in outputs:
        confirm_overwrite(o, args.force)
    out_dir.mkdir(parents=True, exist_ok=True)
    check_output_path(outputs[0])  # a folder that exists but cannot be written, said before any image runs
    print(f"model {model_path} (ngf {net.ngf}, {net.n_blocks} blocks)", file=sys.stderr)
    t_all = time.perf_counter()
    for n, (src, dst) in enumerate(zip(args.images, outputs, strict=True), 1):
        img = load_image(src)
        for w in img.warnings:
            print(f"warning: {w}", file=sys.stderr)
        rgb = resize_long_side(img.rgb, args.max_side) if args.max_side and max(img.size) > args.max_side else img.rgb
        mask = None
        if mask_img is not None:
            import cv2

            mask = cv2.resize(mask_img, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_AREA)
        bar = ProgressBar(f"[{n}/{len(args.images)}] {Path(src).name}")
        try:
            finished = drive(run_translate(net, rgb, params, mask=mask), bar, show_info=n == 1)
        except KeyboardInterrupt as exc:
            bar.close("interrupted; the current image was not written")
            return interrupted_code(exc)
        inputs = [InputRef("image", str(Path(src).resolve()), img.sha256)]
        if args.mask:
            inputs.append(InputRef("mask", str(Path(args.mask).resolve()), file_sha256(args.mask)))
        recipe = Recipe(engine="translate", params=params.to_dict(), inputs=inputs,
                        weights=f"{model_path.resolve()} sha256:{model_sha}", studio_version=__version__,
                        extra={"model": args.model, "device": finished.extra.get("device", ""),
                               "tiles": finished.extra.get("tiles", 1), "seconds": round(finished.elapsed_s, 2)})
        image = np.asarray(finished.image)
        save_image(dst, image, metadata=recipe.to_png_text() if dst.suffix == ".png" else None)
        bar.close(f"wrote {dst} ({image.shape[1]}x{image.shape[0]}) in {format_seconds(finished.elapsed_s)}")
    if len(args.images) > 1:
        print(f"translated {len(args.images)} images in {format_seconds(time.perf_counter() - t_all)}",
              file=sys.stderr)
    return 0


def _mask(path: str) -> Any:
    """The selection mask (white: translate, black: keep); an empty one is refused, a coloured one said."""
    import numpy as np

    from studio.imageio import load_image

    loaded = load_image(path)
    for w in loaded.warnings:
        print(f"warning: {w}", file=sys.stderr)
    rgb = loaded.rgb
    m = rgb.mean(axis=2)
    if float(m.max()) < 0.02:
        raise StudioInputError(f"the mask {path!r} is all black: it selects nothing to translate.")
    if float(np.abs(rgb - m[..., None]).max()) > 0.05:
        print(f"warning: the mask {path!r} is in colour; its brightness is used (white: translate, black: keep).",
              file=sys.stderr)
    return m

