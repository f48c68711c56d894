"""``studio train-cyclegan DIR_A DIR_B``: train a CycleGAN translator on two folders of unaligned images."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from studio.cli_args import integer, interrupted_code, number, stop_on_interrupt
from studio.engines.errors import StudioInputError
from studio.progress import drive, format_seconds, plural, rank_bar


def _bounded(flag: str, field: str, whole: bool = False) -> Any:
    """The argument type of a flag that sets ``TrainParams.<field>``: its range (``TrainParams.LIMITS``) checked
    while parsing, so the sentence names the flag as it is typed (not the field: "save-every", not
    "save-every-s")."""
    from studio.engines.cyclegan.params import TrainParams

    limit = TrainParams.LIMITS[field]
    if whole:
        low = int(limit.lowest) + (1 if limit.above_lowest else 0)
        return integer(flag, low, int(limit.highest), limit.why)
    return number(flag, limit.lowest, allow_zero=not (limit.above_lowest and limit.lowest == 0),
                  maximum=limit.highest, why=limit.why)


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
    p.add_argument("--ngf", type=_bounded("ngf", "ngf", True), help="generator width (64)")
    p.add_argument("--ndf", type=_bounded("ndf", "ndf", True), help="discriminator width (64)")
    p.add_argument("--blocks", dest="n_blocks", type=_bounded("blocks", "n_blocks", True),
                   help="residual blocks (9; 6 is lighter)")
    p.add_argument("--crop-size", type=_bounded("crop-size", "crop_size", True), help="training crop (256)")
    p.add_argument("--load-size", type=_bounded("load-size", "load_size", True), help="resize before cropping (286)")
    p.add_argument("--preprocess", choices=["resize_and_crop", "scale_and_crop"])
    p.add_argument("--no-flip", dest="flip", action="store_const", const=False, default=None)
    p.add_argument("--epochs", type=_bounded("epochs", "epochs", True), help="epochs at the full learning rate (100)")
    p.add_argument("--epochs-decay", type=_bounded("epochs-decay", "epochs_decay", True),
                   help="epochs of linear decay (100)")
    p.add_argument("--epoch-size", type=_bounded("epoch-size", "epoch_size", True),
                   help="iterations per epoch (images in the larger folder)")
    p.add_argument("--lr", type=_bounded("lr", "lr"))
    p.add_argument("--lambda-cycle", type=_bounded("lambda-cycle", "lambda_a"), help="cycle weight, both ways (10)")
    p.add_argument("--lambda-identity", type=_bounded("lambda-identity", "lambda_identity"),
                   help="identity weight (0.5)")
    p.add_argument("--pool-size", type=_bounded("pool-size", "pool_size", True))
    p.add_argument("--max-seconds", type=_bounded("max-seconds", "max_seconds"),
                   help="stop (and save) after this many seconds; the learning rate then decays on the clock. "
                        "A resumed run takes the limit given now (none if none is given)")
    p.add_argument("--save-every", dest="save_every_s", type=_bounded("save-every", "save_every_s"),
                   help="seconds between checkpoints (300)")
    p.add_argument("--seed", type=_bounded("seed", "seed", True))
    p.add_argument("--threads", type=_bounded("threads", "threads", True), help="CPU threads for torch")
    p.add_argument("--device", help="auto | cpu | cuda | mps")
    p.set_defaults(func=cmd_train)


_FLAGS = ("ngf", "ndf", "n_blocks", "crop_size", "load_size", "preprocess", "flip", "epochs", "epochs_decay",
          "epoch_size", "lr", "lambda_identity", "pool_size", "max_seconds", "save_every_s", "seed", "threads",
          "device")


def cmd_train(args: argparse.Namespace) -> int:

    from studio.cyclegan_catalogue import check_model_name, trained_dir
    from studio.engines.cyclegan.params import TrainParams
    from studio.engines.cyclegan.train import has_checkpoint, read_run_options, run_train
    from studio.engines.events import JobControl, Progress
    from studio.image_save import IMAGE_FILES

    name = args.name or f"{Path(args.dir_a).resolve().name}2{Path(args.dir_b).resolve().name}"
    out = Path(args.output) if args.output else trained_dir() / check_model_name(name, "trained")
    given = {k: getattr(args, k) for k in _FLAGS if getattr(args, k) is not None}
    if args.lambda_cycle is not None:
        given["lambda_a"] = given["lambda_b"] = args.lambda_cycle
    base: dict[str, Any] = read_run_options(out) if args.resume else {}
    base.pop("max_seconds", None)  # a time limit binds the session it is given to, not the ones that resume it
    if not args.resume and has_checkpoint(out) and not args.force:
        raise StudioInputError(f"{out} already holds a training run; pass --resume to continue it or --force to "
                               "start again.")
    params = TrainParams.from_dict({**base, **given})
    bar = rank_bar("train")  # one bar under torchrun (rank 0's)
    def losses(ev: Progress) -> str:
        loss = ev.losses
        return (f"{ev.stage} cyc {loss['cycle_A']:.3f}/{loss['cycle_B']:.3f} "
                f"G {loss['G_A']:.3f}/{loss['G_B']:.3f} D {loss['D_A']:.3f}/{loss['D_B']:.3f}")

    from studio.engines.distributed import Ranks

    control = JobControl()
    try:
        # the first Ctrl-C stops after the step and saves (as the app's Stop), a second one at once
        with stop_on_interrupt(control, "a checkpoint", say=Ranks.from_environment().main):
            finished = drive(run_train(args.dir_a, args.dir_b, out, params, control, resume=args.resume,
                                       files=IMAGE_FILES), bar, losses)
    except KeyboardInterrupt as exc:
        bar.close(f"interrupted; the last checkpoint in {out} is kept (resume with --resume)"
                  if (out / "latest_net_G_A.pth").is_file()
                  else "interrupted before the first checkpoint; nothing to resume from was written")
        return interrupted_code(exc)
    ran = f"{plural(finished.iterations, 'iteration')} in {format_seconds(finished.elapsed_s)}"
    if finished.cancelled:  # only Ctrl-C cancels on the command line
        again = " ".join(shlex.quote(str(a)) for a in ("studio", "train-cyclegan", args.dir_a, args.dir_b, "-o", out,
                                                        "--resume"))
        if finished.extra.get("saved"):
            steps, at = finished.extra.get("steps_per_epoch") or 1, finished.extra.get("position", 0)
            epoch, into = divmod(at, steps)
            where = f"in epoch {epoch + 1}, {into} of its {steps} steps" if into else f"after epoch {epoch}"
            bar.close(f"stopped after {ran}: saved in {out} ({where}); continue with: {again}")
        elif has_checkpoint(out):
            bar.close(f"stopped before this run trained a step; the checkpoint in {out} is as it was; "
                      f"continue with: {again}")
        else:
            bar.close("stopped before the first step; nothing was trained or saved")
        return 130
    bar.close(f"done: {ran}; translator {out / 'latest_net_G_A.pth'}")
    return 0
