"""``studio harmonize``: paste an object into a painting and re-render it in the painting's style."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from studio.cli_args import confirm_overwrite, integer, interrupted_code, number, param_help
from studio.engines.harmonize.params import HarmonizeParams
from studio.progress import ProgressBar, drive, format_seconds, total_loss

MODE_CHOICES = ("dph", "gatys", "color", "poisson", "poisson-mixed")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("harmonize", help="painterly harmonization of a pasted object (Luan et al. 2018)",
                       description="Re-render the object pasted into PAINTING (the naive --composite, with its "
                                   "--mask) so it looks painted with the rest.")
    p.add_argument("painting", help="the painting (without the object)")
    p.add_argument("--composite", required=True, metavar="NAIVE", help="the painting with the object pasted in")
    p.add_argument("--mask", required=True, metavar="TIGHT", help="tight mask of the object (white = object)")
    p.add_argument("--loose-mask", metavar="LOOSE",
                   help="loose (dilated) mask; by default the tight mask dilated by --loose-radius")
    p.add_argument("-o", "--output", required=True, help="output image (.png keeps the recipe)")
    p.add_argument("--force", action="store_true", help="overwrite the output without asking")
    p.add_argument("--mode", choices=MODE_CHOICES,
                   help="dph: the paper's two passes (default); gatys: masked Gatys; color: the painting's colours "
                        "around the object, within its gamut; poisson: seamless cloning, the object opaque; "
                        "poisson-mixed: the stronger of both images' edges, so the object looks see-through")
    p.add_argument("--tau", type=number("tau"),
                   help="style strength: about 1 realistic, 5 impressionist (default), 10 expressionist/cubist")
    p.add_argument("--size", type=integer("size", 0), help=param_help(HarmonizeParams, "size"))
    p.add_argument("--iterations", type=integer("iterations"), metavar="N",
                   help="L-BFGS iterations of each pass (dph) or of the gatys mode")
    p.add_argument("--pass1-iterations", type=integer("pass1-iterations"),
                   help=param_help(HarmonizeParams, "pass1_iterations"))
    p.add_argument("--pass2-iterations", type=integer("pass2-iterations"),
                   help=param_help(HarmonizeParams, "pass2_iterations"))
    p.add_argument("--loose-radius", type=integer("loose-radius"), help="dilation of the tight mask (16 px)")
    p.add_argument("--feather", type=number("feather"), help="edge softness of the final blend in px (2)")
    p.add_argument("--tv-factor", type=number("tv-factor"),
                   help="scale of the paper's pass-2 total-variation weight (0.1; 1 = the paper's formula)")
    p.add_argument("--no-denoise", dest="denoise", action="store_const", const=False, default=None,
                   help="skip the chroma denoising after pass 2")
    p.add_argument("--no-tone", dest="pass2_tone", action="store_const", const=False, default=None,
                   help="start pass 2 from the object's own lightness, not that of the painting patches it is "
                        "mapped to")
    p.add_argument("--no-patch-synthesis", dest="patch_synthesis", action="store_const", const=False, default=None,
                   help="skip rebuilding the object from the painting's own patches after pass 2")
    p.add_argument("--seed", type=integer("seed"), help=param_help(HarmonizeParams, "seed"))
    p.add_argument("--device", help="auto | cpu | cuda | mps")
    p.add_argument("--weights", help="auto | vgg16-hed | vgg19-torchvision | vgg16-torchvision | vgg19-caffe | "
                                     "path to a Caffe VGG-19 .pth")
    p.set_defaults(func=cmd_harmonize)


_PARAM_FLAGS = ("mode", "tau", "size", "pass1_iterations", "pass2_iterations", "loose_radius", "feather",
                "tv_factor", "denoise", "pass2_tone", "patch_synthesis", "seed", "device", "weights")


def cmd_harmonize(args: argparse.Namespace) -> int:
    from studio.engines.harmonize.params import HarmonizeParams
    from studio.engines.harmonize.run import run_harmonize
    from studio.engines.harmonize.validate import validate_inputs, validate_params
    from studio.image_save import check_output_path, save_image
    from studio.imageio import load_image, load_mask
    from studio.recipe import InputRef, Recipe
    from studio.weights import network_for

    out = check_output_path(args.output, overwrite=True)
    given: dict[str, Any] = {k: getattr(args, k) for k in _PARAM_FLAGS if getattr(args, k) is not None}
    if args.iterations is not None:
        given.setdefault("pass1_iterations", args.iterations)
        given.setdefault("pass2_iterations", args.iterations)
        given["gatys_iterations"] = args.iterations
    params = HarmonizeParams.from_dict(given)
    validate_params(params)
    confirm_overwrite(out, args.force)

    max_side = 8192
    painting = load_image(args.painting, max_side=max_side)
    composite = load_image(args.composite, max_side=max_side)
    for img in (painting, composite):
        for w in img.warnings:
            print(f"warning: {w}", file=sys.stderr)
    tight, tight_sha = load_mask(args.mask, "mask", max_side)
    loose, loose_sha = (None, "") if args.loose_mask is None else load_mask(args.loose_mask, "loose mask", max_side)
    validate_inputs(painting.rgb, composite.rgb, tight, loose,
                    names={"painting": args.painting, "composite": args.composite, "mask": args.mask,
                           "loose_mask": args.loose_mask or ""})

    bar = ProgressBar("harmonize")
    t0 = time.perf_counter()
    try:
        network = network_for(params) if params.needs_network else None
        finished = drive(run_harmonize(painting.rgb, composite.rgb, tight, loose, params, network=network), bar,
                         total_loss)
    except KeyboardInterrupt as exc:
        bar.close("interrupted; nothing was written")
        return interrupted_code(exc)
    inputs = [InputRef("painting", str(Path(args.painting).resolve()), painting.sha256),
              InputRef("composite", str(Path(args.composite).resolve()), composite.sha256),
              InputRef("mask", str(Path(args.mask).resolve()), tight_sha)]
    if args.loose_mask is not None:
        inputs.append(InputRef("loose_mask", str(Path(args.loose_mask).resolve()), loose_sha))
    recipe = Recipe.of_run("harmonize", finished, params, inputs)
    save_image(out, finished.image, metadata=recipe.to_png_text() if out.suffix.lower() == ".png" else None)
    bar.close(f"wrote {out} ({finished.image.shape[1]}x{finished.image.shape[0]}) in "
              f"{format_seconds(time.perf_counter() - t0)}")
    return 0
