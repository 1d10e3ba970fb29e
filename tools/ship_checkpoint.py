"""Export a training run's EMA (and raw) weights into helpers/checkpoints/ and register its sha256.

    python tools/ship_checkpoint.py runs/fmnist-cfg/train.pt fashion-mnist-cfg \
        --command "python -m helpers.train --dataset fashion-mnist --cfg --epochs 40 --out runs/fmnist-cfg/train.pt"

Quality numbers are measured afterwards by ``python -m benchmarks.quality`` (benchmarks/results/), not
stored in the checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from helpers.pretrained import export_training_checkpoint, register

CHECKPOINTS = Path(__file__).resolve().parent.parent / "helpers" / "checkpoints"


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("training_checkpoint")
    p.add_argument("name")
    p.add_argument("--command", required=True, help="the exact training command, for the registry and the README")
    p.add_argument("--description", default="")
    args = p.parse_args(argv)
    ckpt = torch.load(args.training_checkpoint, map_location="cpu", weights_only=True)
    out = CHECKPOINTS / f"{args.name}.pt"
    export_training_checkpoint(ckpt, out)
    register(args.name, out, description=args.description, command=args.command)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB, epoch {ckpt['state']['epoch']}")


if __name__ == "__main__":
    main()
