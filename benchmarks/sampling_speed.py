"""Seconds per image on this machine: DDPM (all T steps) and DDIM at several step counts, for a shipped
checkpoint, at one batch size, without guidance (s = 1: one network pass per step) and with it
(s ≠ 0, 1: one pass on a doubled batch [x_t; x_t] with labels [y; ∅]).

    python -m benchmarks.sampling_speed                      # fashion-mnist-cfg, batch 64, 2 threads
    python -m benchmarks.sampling_speed --batch 8 --steps 10 --no-ddpm --out sampling_speed-smoke

Writes benchmarks/results/sampling_speed.json (or --out). Timing is wall-clock: run it on an idle machine.
"""

from __future__ import annotations

import time

import torch

from benchmarks.common import checkpoint_parser, hardware, write_results
from helpers.evaluation import image_shape
from helpers.pretrained import load_pretrained
from helpers.sampling import ddim_sample, ddpm_sample


def time_one(model, schedule, x_T, y, sampler, steps, scale, repeats):
    def run():
        if sampler == "ddpm":
            ddpm_sample(model, schedule, x_T, y=y, guidance_scale=scale, generator=torch.Generator().manual_seed(0))
        else:
            ddim_sample(model, schedule, x_T, steps=steps, y=y, guidance_scale=scale)

    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    p = checkpoint_parser(__doc__, out="sampling_speed", batch=64)
    p.add_argument("--steps", type=int, nargs="*", default=[10, 20, 50, 100], help="DDIM step counts")
    p.add_argument("--no-ddpm", action="store_true", help="skip DDPM (T steps)")
    p.add_argument("--guidance", type=float, default=3.0, help="the guided runs' scale (any s other than 0, 1)")
    p.add_argument("--repeats", type=int, default=1, help="best of this many runs per setting")
    args = p.parse_args(argv)
    if args.guidance in (0.0, 1.0):
        p.error("--guidance must differ from 0 and 1 (those need a single network pass)")
    torch.set_num_threads(args.threads)
    model, schedule, metadata = load_pretrained(args.model, return_metadata=True)
    print(f"hardware: {hardware()}", flush=True)

    gen = torch.Generator().manual_seed(0)
    x_T = torch.randn(args.batch, *image_shape(model), generator=gen)
    y = torch.arange(args.batch) % model.num_classes if model.num_classes else None
    # warm-up: the first passes allocate and pick kernels
    ddim_sample(model, schedule, x_T, steps=2, y=y, guidance_scale=args.guidance if y is not None else 1.0)

    settings = [] if args.no_ddpm else [("ddpm", schedule.T)]
    settings += [("ddim", s) for s in args.steps]
    scales = [1.0, args.guidance] if y is not None else [1.0]
    rows = []
    for sampler, steps in settings:
        for scale in scales:
            seconds = time_one(model, schedule, x_T, y, sampler, steps, scale, args.repeats)
            row = {"sampler": sampler, "steps": steps, "guidance_scale": scale if y is not None else None,
                   "network_batch": args.batch * (2 if scale not in (0.0, 1.0) else 1), "batch": args.batch,
                   "seconds": round(seconds, 3), "seconds_per_image": round(seconds / args.batch, 4),
                   "ms_per_image_step": round(1000 * seconds / args.batch / steps, 3)}
            rows.append(row)
            print(row, flush=True)
    write_results(args.out, {
        "model": args.model, "epochs": metadata.get("epochs"), "parameters": metadata.get("parameters"),
        "batch": args.batch, "threads": args.threads, "repeats": args.repeats, "rows": rows,
    })


if __name__ == "__main__":
    main()
