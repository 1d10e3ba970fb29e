"""Seed style against modern style at equal training time (issue: the network and the data).

Each network trains on the Fashion-MNIST training set for the same number of minutes, with the
same optimiser, batch size and EMA; we then compare the EMA weights' ε-MSE on held-out test images
(same t and ε for every model). Writes benchmarks/results/compare_styles.json and the exported
models under runs/compare_styles/ (for the sample-quality metric).

    python -m benchmarks.compare_styles --minutes 5 --only seed-128 modern-32
    python -m benchmarks.compare_styles --fid 500 --only seed-128 modern-32   # then: sample quality

The second command adds FID in classifier space (DDIM, 50 steps) of the exported EMA models.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks.common import RESULTS, command, hardware, write_results
from helpers.data import load_dataset
from helpers.evaluation import heldout_loss
from helpers.pretrained import export_training_checkpoint, load_checkpoint
from helpers.training import TrainConfig, train
from helpers.unet import UNet, count_parameters

CANDIDATES = {
    "seed-128": {"style": "seed", "base_channels": 128},
    "seed-64": {"style": "seed", "base_channels": 64},
    "modern-32": {"style": "modern", "base_channels": 32},
}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=6.0)
    p.add_argument("--only", nargs="*", default=list(CANDIDATES))
    p.add_argument("--heldout", type=int, default=2000)
    p.add_argument("--fid", type=int, default=0, help="only add FID of N samples for already-trained models")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    print(f"command: {command()}\nhardware: {hardware()}")
    if args.fid:
        return add_fid(args)
    train_set = load_dataset("fashion-mnist", "train")
    test_set = load_dataset("fashion-mnist", "test")
    out_path = RESULTS / "compare_styles.json"
    results = json.loads(out_path.read_text())["results"] if out_path.exists() else {}
    for name in args.only:
        model_cfg = CANDIDATES[name]
        config = TrainConfig(epochs=1000, batch_size=128, lr=1e-3, warmup_steps=200, ema_decay=0.995,
                             model=model_cfg, seed=0)
        run_dir = Path("runs/compare_styles")
        run_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        ckpt = train(config, run_dir / f"{name}.train.pt", data=train_set, progress=False,
                     time_limit=args.minutes * 60, log=lambda m: None)
        minutes = (time.time() - t0) / 60
        export_training_checkpoint(ckpt, run_dir / f"{name}.pt")
        model, schedule, _ = load_checkpoint(run_dir / f"{name}.pt")
        loss = heldout_loss(model, schedule, test_set.images[:args.heldout], seed=1)
        results[name] = {
            "model": model_cfg, "parameters": count_parameters(UNet(**model_cfg)),
            "minutes": round(minutes, 2), "steps": ckpt["state"]["step"],
            "images_seen": ckpt["state"]["step"] * config.batch_size,
            "heldout_eps_mse_ema": round(loss, 5),
        }
        print(name, results[name], flush=True)
        write_results("compare_styles", {"minutes_each": args.minutes, "results": results})


def add_fid(args):
    from helpers.evaluation import generate
    from helpers.metrics import QualityEvaluator

    out_path = RESULTS / "compare_styles.json"
    saved = json.loads(out_path.read_text())
    ev = QualityEvaluator("fashion-mnist")
    for name in args.only:
        model, schedule, _ = load_checkpoint(Path("runs/compare_styles") / f"{name}.pt")
        images, _ = generate(model, schedule, args.fid, steps=50, seed=0)
        saved["results"][name].update(fid=round(ev.fid(images), 3), fid_n=args.fid)
        print(name, saved["results"][name], flush=True)
    refs = {k: round(v, 3) for k, v in ev.references(args.fid).items()}
    saved["fid_references"] = refs
    print("references:", refs)
    saved["fid_command"] = command()
    out_path.write_text(json.dumps(saved, indent=2) + "\n")


if __name__ == "__main__":
    main()
