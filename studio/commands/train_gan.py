"""``studio train-gan FOLDER``: train a DCGAN generator (wgan, wgan-gp or dcgan loss) on a folder of images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from studio.cli_args import confirm_overwrite, integer, interrupted_code, number, stop_on_interrupt
from studio.engines.errors import StudioInputError
from studio.engines.events import Cancelled, JobControl, Progress
from studio.progress import drive, format_seconds, rank_bar


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train-gan", help="train a DCGAN / Wasserstein GAN generator on a folder of images",
                       description="Train a DCGAN generator on random crops of every image under FOLDER. "
                                   "OUT receives checkpoint.pt (to --resume), generator.pt (half precision, "
                                   "with a JSON model card) and samples/iter_N.png grids of a fixed noise batch.")
    p.add_argument("folder", help="folder of training images (searched recursively)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue from a checkpoint.pt")
    p.add_argument("--force", action="store_true", help="overwrite an existing checkpoint in OUT without asking")
    p.add_argument("--size", type=integer("size", 16), default=64, help="image size, a multiple of 16 (64)")
    p.add_argument("--loss", choices=["wgan", "wgan-gp", "dcgan"], default="wgan")
    p.add_argument("--iterations", type=integer("iterations", 1), default=2000, help="generator steps (2000)")
    p.add_argument("--batch-size", type=integer("batch-size", 2), default=64)
    p.add_argument("--nz", type=integer("nz", 1), default=100, help="latent size (100)")
    p.add_argument("--ngf", type=integer("ngf", 2), default=64, help="generator width (64)")
    p.add_argument("--ndf", type=integer("ndf", 1), default=64, help="critic width (64)")
    p.add_argument("--extra-layers", type=integer("extra-layers"), default=0, help="extra 3x3 conv layers (0)")
    p.add_argument("--lr", type=number("lr", allow_zero=False),
                   help="learning rate (wgan 5e-5, wgan-gp 1e-4, dcgan 2e-4)")
    p.add_argument("--n-critic", type=integer("n-critic", 1), default=5, help="critic steps per generator step (5)")
    p.add_argument("--clamp", type=number("clamp", allow_zero=False), default=0.01, help="wgan weight clip (0.01)")
    p.add_argument("--gp-weight", type=number("gp-weight", allow_zero=False), default=10.0,
                   help="wgan-gp gradient penalty (10)")
    p.add_argument("--crop-min", type=number("crop-min", allow_zero=False), default=0.5,
                   help="smallest crop, as a fraction of an image's short side (0.5)")
    p.add_argument("--crop-max", type=number("crop-max", allow_zero=False), default=1.0, help="largest crop (1.0)")
    p.add_argument("--no-flip", action="store_true", help="no random left-right flips")
    p.add_argument("--sample-every", type=integer("sample-every", 1), default=100,
                   help="generator steps between sample grids (100)")
    p.add_argument("--checkpoint-every", type=integer("checkpoint-every", 1), default=500)
    p.add_argument("--max-seconds", type=number("max-seconds", allow_zero=False), help="stop after this long")
    p.add_argument("--seed", type=integer("seed"), default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    p.add_argument("--describe-data", default="", metavar="TEXT", help="training data description for the card")
    p.set_defaults(func=cmd_train_gan)


def cmd_train_gan(args: argparse.Namespace) -> int:
    from studio import __version__
    from studio.engines.distributed import Ranks
    from studio.engines.gan.params import TrainGanParams
    from studio.engines.gan.train import run_train_gan
    from studio.image_save import IMAGE_FILES

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise StudioInputError(f"{str(out)!r} is a file, not a folder for the training output.")
    for above in (out, *out.parents):  # the folders it makes (runs/mine, as translate -o does) must be makeable
        if above.exists():
            if not above.is_dir():
                raise StudioInputError(f"{str(out)!r}: {str(above)!r} is a file, not a folder.")
            break
    ranks = Ranks.from_environment()  # torchrun's processes: rank 0 asks, writes and shows the progress
    if ranks.main and (args.resume is None or not _same_folder(Path(args.resume).parent, out)):
        # a new run, or the continuation of a checkpoint kept elsewhere: either replaces the run OUT holds
        confirm_overwrite(out / "checkpoint.pt", args.force)
    params = TrainGanParams(
        size=args.size, loss=args.loss, iterations=args.iterations, batch_size=args.batch_size, nz=args.nz,
        ngf=args.ngf, ndf=args.ndf, n_extra_layers=args.extra_layers, learning_rate=args.lr, n_critic=args.n_critic,
        clamp=args.clamp, gp_weight=args.gp_weight, crop_min=args.crop_min, crop_max=args.crop_max,
        flip=not args.no_flip, sample_every=args.sample_every, checkpoint_every=args.checkpoint_every,
        max_seconds=args.max_seconds, seed=args.seed, device=args.device,
        data_description=args.describe_data or f"images under {Path(args.folder).resolve().name}")
    bar = rank_bar("train-gan")
    control = JobControl()
    ckpt = out / "checkpoint.pt"
    try:
        # the first Ctrl-C stops after the step and saves; under torchrun (whose workers run in their own
        # session) each rank gets it once from torchrun, the ranks agree on the step, and rank 0 says so
        with stop_on_interrupt(control, "a checkpoint", say=ranks.main):
            finished = drive(run_train_gan(args.folder, params, out_dir=out, control=control, resume=args.resume,
                                           files=IMAGE_FILES, made_by=__version__),
                             bar, _suffix)
    except Cancelled:  # Ctrl-C while the images were read: nothing trained, nothing written
        bar.close("stopped before training began; nothing was written")
        return 130
    except KeyboardInterrupt as exc:  # a second Ctrl-C, or SIGTERM
        bar.close(f"interrupted; the last checkpoint {ckpt} is kept (resume with --resume {ckpt})" if ckpt.is_file()
                  else "interrupted before the first checkpoint; nothing to resume from was written")
        return interrupted_code(exc)
    except RuntimeError as exc:
        if not (ranks.distributed and _lost_peer(exc)):
            raise
        bar.close("another training process stopped (the connection to it was lost), so this one stopped too; "
                  + (f"the last checkpoint {ckpt} is kept (resume with --resume {ckpt})" if ckpt.is_file()
                     else "no checkpoint was written yet"))
        return 1
    steps = finished.extra.get("generator_iterations")
    if finished.cancelled:
        bar.close(f"stopped at generator step {steps}; saved {ckpt} (resume with --resume {ckpt})")
        return 130
    bar.close(f"wrote {finished.extra.get('generator')} after {steps} generator "
              f"steps in {format_seconds(finished.elapsed_s)}")
    return 0


def _suffix(ev: Progress) -> str:
    """The losses after a generator step; the stage (e.g. "wgan · critic step 12/100") within a long critic schedule."""
    return " ".join(f"{k} {v:.4g}" for k, v in ev.losses.items()) if ev.losses else ev.stage


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _lost_peer(exc: BaseException) -> bool:
    """Whether ``exc`` is gloo's or NCCL's error for a process of the group that went away."""
    text = str(exc)
    return any(s in text for s in ("Connection reset by peer", "Connection closed by peer", "Broken pipe",
                                   "NCCL communicator was aborted", "remote process exited", "Socket Timeout"))
