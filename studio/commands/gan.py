"""``studio gan sample|interpolate|project``: use a trained generator from the command line.

Every PNG carries a recipe (the generator's file and hash, the seed or latents, the settings).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from studio import __version__
from studio.cli_args import confirm_overwrite, integer, interrupted_code, number
from studio.engines.errors import StudioInputError
from studio.engines.gan.params import MAX_SAMPLES

#: frames of one segment of an interpolation (a thousand: 83 s at 12 frames a second)
MAX_SEGMENT_FRAMES = 1000
#: frames of a whole interpolation (many latents pass through one)
MAX_FRAMES = 10_000
#: the bytes an interpolation's frames may take in memory before they are written
MAX_FRAME_BYTES = 2 * 1024**3


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="PATH", help="generator file (or a train-gan output folder), or 'faces' (the "
                   "gan-face-generate package's face generator: the default when installed) or 'paintings' "
                   "(studio's own)")
    p.add_argument("--upscale", type=integer("upscale", 1, 32, "a 64 px sample at 32 times is 2048 px"), default=1,
                   help="enlarge the output by this factor")
    p.add_argument("--smooth", action="store_true", help="bicubic upscaling instead of pixel blocks")
    p.add_argument("--force", action="store_true", help="overwrite outputs without asking")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("gan", help="sample, interpolate or project with a trained DCGAN generator",
                       description="Use a DCGAN generator: studio's own, a PyTorch examples netG_epoch_N.pth, "
                                   "or a Wasserstein GAN DCGAN_G (with its generator_config.json).")
    gsub = p.add_subparsers(dest="gan_command", parser_class=type(p))
    s = gsub.add_parser("sample", help="a grid of samples (or one) from a seed or saved latents")
    _model_args(s)
    s.add_argument("-o", "--output", required=True, help="output PNG")
    s.add_argument("--seed", type=integer("seed"), default=0)
    s.add_argument("--count", type=integer("count", 1, MAX_SAMPLES, "a grid of 32 x 32"), default=16,
                   help=f"number of samples (16; at most {MAX_SAMPLES})")
    s.add_argument("--truncation", type=number("truncation", allow_zero=False),
                   help="redraw latent coordinates beyond ±T")
    s.add_argument("--latents", metavar="Z.npy", help="render these latents instead of sampling")
    s.add_argument("--save-latents", metavar="Z.npy", help="also write the latents")
    s.set_defaults(func=cmd_sample)
    i = gsub.add_parser("interpolate", help="frames between two latents, as a GIF or a PNG sequence")
    _model_args(i)
    i.add_argument("-o", "--output", required=True, help="out.gif, or a folder for frame_0000.png ...")
    i.add_argument("--seed-a", type=integer("seed-a"), default=0)
    i.add_argument("--seed-b", type=integer("seed-b"), default=1)
    i.add_argument("--latents", metavar="AB.npy", help="two (or more) latents to pass through, instead of seeds")
    i.add_argument("--frames", type=integer("frames", 2, MAX_SEGMENT_FRAMES), default=24,
                   help=f"frames per segment (24; at most {MAX_SEGMENT_FRAMES})")
    i.add_argument("--mode", choices=["slerp", "lerp"], default="slerp")
    i.add_argument("--fps", type=number("fps", 0.01, maximum=50, why="a GIF shows a frame for 20 ms to 100 s"),
                   default=12.0, help="frames per second of the GIF (12)")
    i.add_argument("--boomerang", action="store_true", help="GIF plays forwards then backwards")
    i.set_defaults(func=cmd_interpolate)
    j = gsub.add_parser("project", help="find the latent whose image is closest to a picture")
    _model_args(j)
    j.add_argument("image", help="the picture to reproduce")
    j.add_argument("-o", "--output", required=True, help="output PNG (the reconstruction)")
    j.add_argument("--save-latent", metavar="Z.npy",
                   help="also write the latent found (alone it gives the generator's nearest face; the PNG's "
                        "recipe also holds the photo's fitted detail)")
    j.add_argument("--steps", type=integer("steps", 1), default=300)
    j.add_argument("--detail-steps", type=integer("detail steps", 0), default=300,
                   help="steps fitting the photo's detail over the generator's own after the latent (300; 0: the "
                        "latent alone, which is seldom the photo's person)")
    j.add_argument("--lr", type=number("lr", allow_zero=False), default=0.05)
    j.add_argument("--seed", type=integer("seed"), default=0)
    j.add_argument("--centre", action="store_true",
                   help="fit the picture's centre square, also with a face generator (which otherwise fits the "
                        "square around the picture's face, framed as its own faces are)")
    j.set_defaults(func=cmd_project)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _load(args: argparse.Namespace):
    from studio.generators import load_named

    return load_named(args.model)


def _recipe(engine: str, gen: Any, params: dict[str, Any], extra_inputs: list[Any] | None = None) -> dict[str, str]:
    from studio.recipe import InputRef, Recipe

    inputs = [InputRef("generator", str(gen.path.resolve()), _file_hash(gen.path))] if gen.path else []
    return Recipe(engine=engine, params=params, inputs=inputs + (extra_inputs or []), weights=gen.name,
                  studio_version=__version__,
                  extra={"weights_hash": gen.weights_hash, "source_format": gen.source_format}).to_png_text()


def _file_hash(path: Path) -> str:
    from studio.engines.files import file_sha256

    return file_sha256(path)


def _finish(img: np.ndarray, args: argparse.Namespace) -> np.ndarray:
    from studio.engines.gan.latent import upscale

    return upscale(img, args.upscale, smooth=args.smooth)


def cmd_sample(args: argparse.Namespace) -> int:
    from studio.engines.gan.latent import image_grid, load_latents, render, sample_latents, save_latents
    from studio.image_save import check_output_path, save_image

    out = check_output_path(args.output)
    if out.suffix.lower() != ".png":
        raise StudioInputError(f"{args.output!r}: use a .png output so the recipe can be kept.")
    confirm_overwrite(out, args.force)
    gen = _load(args)
    if args.latents:
        z = load_latents(args.latents, gen.arch.nz)
    else:
        z = sample_latents(args.count, gen.arch.nz, args.seed, args.truncation)
    if args.save_latents:
        save_latents(args.save_latents, z)
    imgs = render(gen.model, z)
    img = imgs[0] if len(imgs) == 1 else image_grid(imgs)
    params = {"seed": args.seed, "count": len(z), "truncation": args.truncation, "latents": args.latents,
              "upscale": args.upscale, "smooth": args.smooth}
    if len(z) <= 4:
        params["z"] = [[round(float(v), 6) for v in row] for row in z]
    save_image(out, _finish(img, args), metadata=_recipe("gan-sample", gen, params))
    print(f"wrote {out} ({len(z)} sample(s) from {gen.name})", file=sys.stderr)
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from studio.animation import save_gif, save_png_sequence
    from studio.engines.gan.latent import interpolate, load_latents, render, sample_latents

    gen = _load(args)
    nz = gen.arch.nz
    if args.latents:
        keys = load_latents(args.latents, nz)
        if len(keys) < 2:
            raise StudioInputError(f"{args.latents!r} holds {len(keys)} latent; interpolation needs at least 2.")
    else:
        keys = np.stack([sample_latents(1, nz, args.seed_a)[0], sample_latents(1, nz, args.seed_b)[0]])
    total = (len(keys) - 1) * (args.frames - 1) + 1
    side = gen.arch.image_size * args.upscale
    if total > MAX_FRAMES or total * side * side * 3 > MAX_FRAME_BYTES:
        raise StudioInputError(
            f"{len(keys)} latents with {args.frames} frames a segment make {total} frames of {side} px "
            f"({total * side * side * 3 / 1024**3:.1f} GB); an animation holds at most {MAX_FRAMES} frames and "
            f"{MAX_FRAME_BYTES // 1024**3} GB: use fewer --frames, latents or a smaller --upscale.")
    path: list[np.ndarray] = []
    for a, b in zip(keys[:-1], keys[1:], strict=True):
        seg = interpolate(a, b, args.frames, args.mode)
        path.extend(seg if not path else seg[1:])
    frames = [_finish(f, args) for f in render(gen.model, np.stack(path))]
    out = Path(args.output)
    params = {"seed_a": args.seed_a, "seed_b": args.seed_b, "latents": args.latents, "frames": args.frames,
              "mode": args.mode, "fps": args.fps}
    if out.suffix.lower() == ".gif":
        confirm_overwrite(out, args.force)
        save_gif(frames, out, fps=args.fps, boomerang=args.boomerang)
    else:
        if out.suffix:
            raise StudioInputError(f"{args.output!r}: give a .gif file or a folder for a PNG sequence.")
        if out.is_dir() and any(out.glob("frame_*.png")) and not args.force:
            raise StudioInputError(f"{str(out)!r} already holds frames; pass --force to overwrite them.")
        try:
            save_png_sequence(frames, out, metadata=_recipe("gan-interpolate", gen, params))
        except KeyboardInterrupt as exc:
            for note in getattr(exc, "__notes__", ()):
                print(f"studio: {note}", file=sys.stderr)
            return interrupted_code(exc)
    print(f"wrote {out} ({len(frames)} frames, {args.mode})", file=sys.stderr)
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    from studio.engines.gan.framing import FaceFraming
    from studio.engines.gan.latent import save_latents
    from studio.engines.gan.project import ProjectParams, run_project
    from studio.image_save import check_output_path, save_image
    from studio.imageio import load_image
    from studio.latent_document import detail_record
    from studio.progress import ProgressBar, drive
    from studio.recipe import InputRef

    out = check_output_path(args.output)
    confirm_overwrite(out, args.force)
    gen = _load(args)
    target = load_image(args.image, max_side=1024)
    params = ProjectParams(steps=args.steps, learning_rate=args.lr, seed=args.seed, detail_steps=args.detail_steps)
    bar = ProgressBar("project")
    framing = None if args.centre else FaceFraming.from_card(gen.card)
    fin = drive(run_project(gen.model, target.rgb, params, framing=framing), bar,
                lambda ev: f"mse {ev.losses['mse']:.4f}")
    z = fin.extra["z"]
    if args.save_latent:
        save_latents(args.save_latent, z[None])
    rec = {**params.to_dict(), "z": [round(float(v), 6) for v in z],
           "face": None if fin.extra["face"] is None else dict(zip(("top", "left", "side"), fin.extra["face"],
                                                                    strict=True))}
    if fin.extra["detail"] is not None:
        rec["detail"] = detail_record(fin.extra["detail"])
    meta = _recipe("gan-project", gen, rec, [InputRef("target", str(Path(args.image).resolve()), target.sha256)])
    save_image(out, _finish((fin.image * 255 + 0.5).astype(np.uint8), args),
               metadata=meta if out.suffix.lower() == ".png" else None)
    with_detail = f", {fin.extra['mse']:.4f} with the photo's detail" if fin.extra["detail"] is not None else ""
    bar.close(f"wrote {out}: pixel error {fin.extra['start_mse']:.4f} -> {fin.extra['z_mse']:.4f} with the latent"
              f"{with_detail}")
    return 0
