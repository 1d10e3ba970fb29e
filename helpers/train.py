"""Command line:  python -m helpers.train --dataset fashion-mnist --epochs N [--cfg] [--resume] …

Writes a resumable training checkpoint after every epoch (``--out``), and at the end a small
shipped-style file with the EMA weights (``--export``), which ``load_checkpoint`` rebuilds alone.
"""

from __future__ import annotations

import argparse
import json

import torch

from .training import TrainConfig, train


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m helpers.train", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist", "cifar10"])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--cfg", action="store_true", help="class-conditional with label dropout (classifier-free guidance)")
    p.add_argument("--p-uncond", type=float, default=0.1, help="label dropout probability with --cfg")
    p.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    p.add_argument("--out", default="runs/model.ckpt.pt", help="training checkpoint (written every epoch)")
    p.add_argument("--export", default=None, help="write the EMA weights here at the end (a shipped-style file)")
    p.add_argument("--style", default="modern", choices=["seed", "modern"])
    p.add_argument("--base-channels", type=int, default=32)
    p.add_argument("--model-json", default=None, help='extra UNet keyword arguments, e.g. \'{"depth": 3}\'')
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup-steps", type=int, default=500)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--schedule", default="report", choices=["linear", "report", "cosine"])
    p.add_argument("--T", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps-per-epoch", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def config_from_args(args) -> TrainConfig:
    model = {"style": args.style, "base_channels": args.base_channels}
    if args.model_json:
        model.update(json.loads(args.model_json))
    return TrainConfig(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       warmup_steps=args.warmup_steps, grad_clip=args.grad_clip, ema_decay=args.ema_decay,
                       p_uncond=args.p_uncond if args.cfg else 0.0, conditional=args.cfg,
                       schedule=args.schedule, T=args.T, model=model, seed=args.seed,
                       max_steps_per_epoch=args.max_steps_per_epoch)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = config_from_args(args)
    import os

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    ckpt = train(config, args.out, resume=args.resume, device=args.device, progress=not args.no_progress)
    if args.export:
        from .pretrained import export_training_checkpoint

        export_training_checkpoint(ckpt, args.export)
        print(f"exported EMA weights to {args.export}")


if __name__ == "__main__":
    main()
