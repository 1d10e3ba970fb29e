"""Training throughput on this machine: images per second of one optimisation step (loss, backward, AdamW,
EMA) for the report's network and ours, in the default memory layout and in channels_last (what
``helpers.training.train`` uses on a CPU).

    python -m benchmarks.training_throughput                 # batch 128, 2 threads
    python -m benchmarks.training_throughput --steps 3 --only modern-32 --out training_throughput-smoke

Timing is wall-clock: run it on an idle machine. Writes benchmarks/results/training_throughput.json.
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.common import hardware, write_results
from helpers.evaluation import image_shape
from helpers.loss import diffusion_loss
from helpers.schedules import DiffusionSchedule
from helpers.training import EMA
from helpers.unet import UNet, count_parameters

NETWORKS = {"seed-128": {"style": "seed", "base_channels": 128}, "modern-32": {"style": "modern", "base_channels": 32},
            "modern-64": {"style": "modern", "base_channels": 64}}


def images_per_second(kwargs: dict, batch: int, steps: int, channels_last: bool, conditional: bool) -> float:
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = UNet(num_classes=10 if conditional else None, **kwargs).to(memory_format=fmt)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ema = EMA(model)
    schedule = DiffusionSchedule.from_name("report", 300)
    x0 = (torch.rand(batch, *image_shape(model)) * 2 - 1).contiguous(memory_format=fmt)  # Fashion-MNIST's size
    y = torch.arange(batch) % 10 if conditional else None
    times = []
    for _ in range(steps + 2):  # the first two steps allocate and pick kernels
        t0 = time.perf_counter()
        loss = diffusion_loss(model, schedule, x0, y, 0.1 if conditional else 0.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update(model)
        times.append(time.perf_counter() - t0)
    return batch / (sum(times[2:]) / steps)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=10, help="timed steps per setting")
    p.add_argument("--only", nargs="*", default=list(NETWORKS), choices=list(NETWORKS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="training_throughput", help="results file name")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"hardware: {hardware()}", flush=True)
    rows = []
    for name in args.only:
        params = count_parameters(UNet(num_classes=10, **NETWORKS[name]))
        for channels_last in (False, True):
            ips = images_per_second(NETWORKS[name], args.batch, args.steps, channels_last, conditional=True)
            row = {"network": name, "parameters": params, "channels_last": channels_last,
                   "images_per_second": round(ips, 1), "minutes_per_fashion_mnist_epoch": round(60000 / ips / 60, 1)}
            rows.append(row)
            print(row, flush=True)
    write_results(args.out, {"batch": args.batch, "steps": args.steps, "threads": args.threads, "conditional": True,
                             "rows": rows})


if __name__ == "__main__":
    main()
