"""``studio train-cyclegan DIR_A DIR_B``: train a CycleGAN translator on two folders of unaligned images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from studio.cli_args import integer, interrupted_code, number
from studio.engines.errors import StudioInputError
from studio.progress import drive, format_seconds, rank_bar


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train-cyclegan", help="train a CycleGAN translator on two folders of images",
                       description="Train G_A: A -> B and G_B: B -> A on the unaligned images of DIR_A and DIR_B. "
                                   "Checkpoints go to OUT in the official layout (latest_net_G_A.pth ...), so "
                                   "'studio translate OUT IMAGE' and other CycleGAN tools can use them.")
    p.add_argument("dir_a", help="folder of domain A images (e.g. photos)")
    p.add_argument("dir_b", help="folder of domain B images (e.g. paintings)")
    p.add_argument("-o", "--output", help="run folder (default: the translators folder's trained/NAME)")
    p.add_argument("--name", help="model name (default: DIR_A2DIR_B)")
    p.add_argument("--resume", action="store_true", help="continue the run in the output folder")
    p.add_argument("--force", action="store_true", help="start afresh even if the output folder has checkpoints")
    p.add_argument("--ngf", type=integer("ngf", 1), help="generator width (64)")
    p.add_argument("--ndf", type=integer("ndf", 1), help="discriminator width (64)")
    p.add_argument("--blocks", dest="n_blocks", type=integer("blocks", 0), help="residual blocks (9; 6 is lighter)")
    p.add_argument("--crop-size", type=integer("crop-size", 16), help="training crop (256)")
    p.add_argument("--load-size", type=integer("load-size", 16), help="resize before cropping (286)")
    p.add_argument("--preprocess", choices=["resize_and_crop", "scale_and_crop"])
    p.add_argument("--no-flip", dest="flip", action="store_const", const=False, default=None)
    p.add_argument("--epochs", type=integer("epochs"), help="epochs at the full learning rate (100)")
    p.add_argument("--epochs-decay", type=integer("epochs-decay"), help="epochs of linear decay (100)")
    p.add_argument("--epoch-size", type=integer("epoch-size", 1), help="iterations per epoch (images in the "
                                                                        "larger folder)")
    p.add_argument("--lr", type=number("lr", allow_zero=False))
    p.add_argument("--lambda-cycle", type=number("lambda-cycle"), help="cycle weight, both ways (10)")
    p.add_argument("--lambda-identity", type=number("lambda-identity"), help="identity weight (0.5)")
    p.add_argument("--pool-size", type=integer("pool-size"))
    p.add_argument("--max-seconds", type=number("max-seconds", allow_zero=False), help="stop (and save) after this")
    p.add_argument("--save-every", dest="save_every_s", type=number("save-every", allow_zero=False),
                   help="seconds between checkpoints (300)")
    p.add_argument("--seed", type=integer("seed"))
    p.add_argument("--threads", type=integer("threads", 1), help="CPU threads for torch")
    p.add_argument("--device", help="auto | cpu | cuda | mps")
    p.set_defaults(func=cmd_train)


_FLAGS = ("ngf", "ndf", "n_blocks", "crop_size", "load_size", "preprocess", "flip", "epochs", "epochs_decay",
          "epoch_size", "lr", "lambda_identity", "pool_size", "max_seconds", "save_every_s", "seed", "threads",
          "device")


def cmd_train(args: argparse.Namespace) -> int:

    from studio.cyclegan_catalogue import trained_dir
    from studio.engines.cyclegan.params import TrainParams
    from studio.engines.cyclegan.train import has_checkpoint, read_run_options, run_train
    from studio.engines.events import Progress
    from studio.image_save import IMAGE_FILES

    name = args.name or f"{Path(args.dir_a).resolve().name}2{Path(args.dir_b).resolve().name}"
    out = Path(args.output) if args.output else trained_dir() / name
    given = {k: getattr(args, k) for k in _FLAGS if getattr(args, k) is not None}
    if args.lambda_cycle is not None:
        given["lambda_a"] = given["lambda_b"] = args.lambda_cycle
    base: dict[str, Any] = read_run_options(out) if args.resume else {}
    if not args.resume and has_checkpoint(out) and not args.force:
        raise StudioInputError(f"{out} already holds a training run; pass --resume to continue it or --force to "
                               "start again.")
    params = TrainParams.from_dict({**base, **given})
    bar = rank_bar("train")  # one bar under torchrun (rank 0's)
    def losses(ev: Progress) -> str:
        loss = ev.losses
        return (f"{ev.stage} cyc {loss['cycle_A']:.3f}/{loss['cycle_B']:.3f} "
                f"G {loss['G_A']:.3f}/{loss['G_B']:.3f} D {loss['D_A']:.3f}/{loss['D_B']:.3f}")

    try:
        finished = drive(run_train(args.dir_a, args.dir_b, out, params, resume=args.resume, files=IMAGE_FILES),
                         bar, losses)
    except KeyboardInterrupt as exc:
        bar.close(f"interrupted; the last checkpoint in {out} is kept (resume with --resume)"
                  if (out / "latest_net_G_A.pth").is_file()
                  else "interrupted before the first checkpoint; nothing to resume from was written")
        return interrupted_code(exc)
    bar.close(f"{'cancelled' if finished.cancelled else 'done'}: {finished.iterations} iterations in "
              f"{format_seconds(finished.elapsed_s)}; translator {out / 'latest_net_G_A.pth'}")
    return 0
