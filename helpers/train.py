"""Command line for training:  python -m helpers.train --dataset fashion-mnist --epochs N [--cfg] [--resume] …

Each option of the run is a field of ``helpers.training.TrainConfig`` (``--batch-size`` sets ``batch_size``),
and its default and help text are read from there, so the command line and the Python API cannot disagree.
``--cfg`` sets ``conditional``: a class-conditional model for classifier-free guidance, with as many classes
as the dataset has (``num_classes`` comes from the dataset) and ``p_uncond`` = 0.1 unless ``--p-uncond`` is
given. The network's arguments (``TrainConfig.model``) are ``--style``, ``--base-channels`` and ``--model-json``.
``--init-from NAME`` (or a checkpoint file) starts from a shipped checkpoint's EMA weights instead of random ones
(the shipped ``mnist`` starts from ``mnist-cfg``'s unconditional branch, ``helpers.unet.unconditional_branch``).

Writes a resumable training checkpoint after every epoch (``--out``), and at the end a small
shipped-style file with the EMA weights (``--export``), which ``load_checkpoint`` rebuilds alone;
``--export-every K`` also writes them after every K-th epoch, to ``ema<epoch>.pt`` beside ``--out``, for
scoring a run's course (``python -m benchmarks.quality --checkpoint …``) while it trains on. Between
epoch saves, the epoch under way is saved every ``--save-every-minutes`` (10) to ``<out>.partial``, so a
stopped run loses at most that much and a step: ``--resume`` continues it step for step.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

import torch

from .training import P_UNCOND_CFG, TrainConfig, check_init_from, train
from .unet import STYLES

SPECIAL = ("model", "conditional")  # the fields set by --style/--base-channels/--model-json and by --cfg
DEFAULT_MODEL = next(f.default_factory() for f in fields(TrainConfig) if f.name == "model")


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of TrainConfig, with the field's default, help, type and choices."""
    group = parser.add_argument_group("the run (TrainConfig's fields)")
    for f in fields(TrainConfig):
        if f.name in SPECIAL:
            continue
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=f.default,
                           type=f.metadata.get("type", type(f.default)), choices=f.metadata.get("choices"),
                           help=f.metadata["help"] + ("" if f.default is None else " (default: %(default)s)"))
    group.add_argument("--cfg", dest="conditional", action="store_true",
                       help=f"class-conditional with label dropout, for classifier-free guidance: the classes come "
                            f"from the dataset, and p_uncond is {P_UNCOND_CFG} unless --p-uncond is given")
    group.add_argument("--style", default=DEFAULT_MODEL["style"], choices=STYLES,
                       help="the U-Net: the report's (seed) or ours (modern) (default: %(default)s)")
    group.add_argument("--base-channels", type=int, default=DEFAULT_MODEL["base_channels"],
                       help="the U-Net's width (default: %(default)s)")
    group.add_argument("--model-json", default=None, help='extra UNet keyword arguments, e.g. \'{"depth": 3}\'')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m helpers.train", description=__doc__.split("\n\n")[0])
    _add_config_options(p)
    p.add_argument("--resume", action="store_true",
                   help="continue from --out, or from <out>.partial (the epoch under way) when that continues "
                        "the run on this hardware")
    p.add_argument("--out", default="runs/model.ckpt.pt", help="training checkpoint (written every epoch)")
    p.add_argument("--save-every-minutes", type=float, default=10.0,
                   help="also save the epoch under way this often, to <out>.partial, which --resume continues "
                        "(0: at epoch ends only; default: %(default)s)")
    p.add_argument("--export", default=None, help="write the EMA weights here at the end (a shipped-style file)")
    p.add_argument("--export-every", type=int, default=0, metavar="K",
                   help="also write the EMA weights after every K-th epoch, to ema<epoch>.pt beside --out "
                        "(0: never; default: %(default)s)")
    p.add_argument("--device", default="auto", help='"auto" (CUDA, then MPS, else CPU), "cpu", "cuda", …')
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.p_uncond and not args.conditional:
        p.error("--p-uncond drops labels, so it needs --cfg")
    if args.init_from is not None:  # here too, so that a misspelt name is refused before the data loads
        try:
            check_init_from(args.init_from)
        except ValueError as exc:
            p.error(str(exc).replace("init_from", "--init-from", 1))  # the option as the command line spells it
    if not 0 <= args.save_every_minutes < float("inf"):
        p.error(f"--save-every-minutes must be a finite number >= 0 (0: at epoch ends only), "
                f"got {args.save_every_minutes}")
    if args.export_every < 0:
        p.error(f"--export-every must be an integer >= 0 (0: never), got {args.export_every}")
    return args


def epoch_exports(out, every: int):
    """An ``on_epoch`` for ``train``: after every ``every``-th epoch, its EMA weights as a shipped-style file
    (without the raw weights), ``ema<epoch>.pt`` in ``out``'s folder."""
    from .pretrained import export_training_checkpoint

    def export(ckpt: dict) -> None:
        epoch = ckpt["state"]["epoch"]
        if epoch % every == 0:
            path = Path(out).with_name(f"ema{epoch}.pt")
            export_training_checkpoint(ckpt, path, include_raw=False)
            print(f"exported epoch {epoch}'s EMA weights to {path}", flush=True)
    return export


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` of parsed arguments: each field's option, ``--cfg`` and the network's options."""
    model = {**DEFAULT_MODEL, "style": args.style, "base_channels": args.base_channels}
    if args.model_json:
        model.update(json.loads(args.model_json))
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.name not in SPECIAL}
    return TrainConfig(**values, conditional=args.conditional, model=model)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = train(config_from_args(args), args.out, resume=args.resume, device=args.device,
                 progress=not args.no_progress, save_every=args.save_every_minutes * 60,
                 on_epoch=epoch_exports(args.out, args.export_every) if args.export_every else None)
    if args.export:
        from .pretrained import export_training_checkpoint

        export_training_checkpoint(ckpt, args.export)
        print(f"exported EMA weights to {args.export}")


if __name__ == "__main__":
    main()
