"""Where DDIM η = 0's artefacts come from, and which sampler option removes them (notebook 07, section 10).

For one shipped checkpoint and class-balanced labels, every setting starts from the same seed (the η = 0
settings share every x_T; DDPM and η = 1 share only the first batch's x_T with them and with each other, as
their noise moves the generator on) and
is scored at the same n: class accuracy with its binomial standard error, FID and KID ± s.e. in classifier space
against the real test set, and two pixel-scale gauges, the fraction of "specks" (pixels more than 0.5
above the median of their 3×3 neighbourhood) and the Laplacian energy, beside the same gauges on real
test images. A trajectory pass records the specks in x̂_0 and x_t along DDIM η = 0, DDIM η = 1 and DDPM.

    python -m benchmarks.ddim_artefacts --n 1000 --threads 1
    python -m benchmarks.ddim_artefacts --n 40 --out ddim_artefacts-smoke --only ddim-eta0 ddim-eta1

``--checkpoint FILE`` measures a checkpoint file instead of a shipped one, e.g. an earlier epoch from the
history (``git show 5d8e0d2:helpers/checkpoints/fashion-mnist-cfg.pt > runs/fashion-mnist-cfg-epoch13.pt``).
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from benchmarks.common import RESULTS, checkpoint_parser, hardware, write_results
from helpers.data import load_dataset, to_float
from helpers.evaluation import generate, image_shape
from helpers.metrics import QualityEvaluator, laplacian_energy
from helpers.pretrained import load_checkpoint, load_pretrained
from helpers.sampling import ddim_sample, ddpm_sample

# name: (sampler, steps, sampler keyword arguments)
SETTINGS = {
    "ddpm": ("ddpm", 300, {}),
    "ddim-eta0": ("ddim", 50, {"eta": 0.0}),
    "ddim-eta1": ("ddim", 50, {"eta": 1.0}),
    "ddim-eta0-karras": ("ddim", 50, {"eta": 0.0, "spacing": "karras"}),
    "ddim-eta0-noclip": ("ddim", 50, {"eta": 0.0, "clip_x0": False}),
    "ddim-eta0-keep-eps": ("ddim", 50, {"eta": 0.0, "recompute_eps": False}),
    "ddim-eta0-100": ("ddim", 100, {"eta": 0.0}),
    # all 300 steps of the report's schedule (T = 300), as DDPM takes: what is left of the gap is determinism
    "ddim-eta0-300": ("ddim", 300, {"eta": 0.0}),
}
# the settings run without --only (as in the recorded commands); the 300-step one is asked for by name
DEFAULT = [name for name in SETTINGS if name != "ddim-eta0-300"]


def specks(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Per image [B]: the fraction of pixels more than ``threshold`` above their 3×3 neighbourhood's median."""
    patches = F.unfold(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3)          # [B, C·9, H·W]
    b, _, hw = patches.shape
    median = patches.view(b, x.shape[1], 9, hw).median(dim=2).values.view_as(x.flatten(2)).view_as(x)
    return ((x - median) > threshold).float().mean(dim=(1, 2, 3))


def gauges(images: torch.Tensor) -> dict:
    s, e = specks(images), laplacian_energy(images)
    n = images.shape[0]
    return {"specks": s.mean().item(), "specks_se": s.std().item() / math.sqrt(n),
            "laplacian": e.mean().item(), "laplacian_se": e.std().item() / math.sqrt(n)}


def trajectory_specks(model, schedule, n: int, seed: int) -> dict:
    """Mean specks of x̂_0 and of x_t at every recorded step, for DDIM-50 η = 0 and η = 1 and DDPM."""
    gen = torch.Generator().manual_seed(seed)
    x_T = torch.randn(n, *image_shape(model), generator=gen)
    y = torch.arange(n) % model.num_classes if model.num_classes else None
    out = {}
    runs = {"ddim-eta0": lambda: ddim_sample(model, schedule, x_T, steps=50, eta=0.0, y=y, return_trajectory=True),
            "ddim-eta1": lambda: ddim_sample(model, schedule, x_T, steps=50, eta=1.0, y=y, generator=gen,
                                             return_trajectory=True),
            "ddpm": lambda: ddpm_sample(model, schedule, x_T, y=y, generator=gen, return_trajectory=True,
                                        trajectory_every=6)}
    for name, run in runs.items():
        _, traj = run()
        out[name] = {"t": traj["t"].tolist(),
                     "x0_hat_specks": [specks(x).mean().item() for x in traj["x0_hat"]],
                     "x_t_laplacian": [laplacian_energy(x).mean().item() for x in traj["x_t"]]}
        print(f"trajectory {name}: done", flush=True)
    return out


def main(argv=None):
    p = checkpoint_parser(__doc__, out="ddim_artefacts", batch=100, n=1000)
    p.add_argument("--only", nargs="*", default=DEFAULT, choices=list(SETTINGS))
    p.add_argument("--trajectory-n", type=int, default=64)
    p.add_argument("--checkpoint", help="a checkpoint file instead of --model")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.checkpoint:
        model, schedule, meta = load_checkpoint(args.checkpoint)
    else:
        model, schedule, meta = load_pretrained(args.model, return_metadata=True)
    ev = QualityEvaluator(meta["dataset"])
    real = to_float(load_dataset(meta["dataset"], "test").images[:args.n])
    results = {"model": args.checkpoint or args.model, "epochs": meta.get("epochs"), "n": args.n, "seed": args.seed,
               "real_test": gauges(real), "rows": []}
    samples_dir = RESULTS.parent.parent / "runs" / "ddim_artefacts"
    samples_dir.mkdir(parents=True, exist_ok=True)
    print(f"hardware: {hardware()}; real test images: {results['real_test']}", flush=True)
    for name in args.only:
        sampler, steps, kw = SETTINGS[name]
        t0 = time.perf_counter()
        images, labels = generate(model, schedule, args.n, steps=steps, seed=args.seed, batch=args.batch,
                                  sampler=sampler, **kw)
        seconds = time.perf_counter() - t0
        torch.save({"images": images.clamp(-1, 1), "labels": labels}, samples_dir / f"{args.out}-{name}.pt")
        row = {"setting": name, "sampler": sampler, "steps": steps, **kw, "seconds": round(seconds, 1),
               "fid": ev.fid(images), **gauges(images)}
        if labels is not None:
            acc = ev.accuracy(images, labels)
            row.update(accuracy=acc, accuracy_se=math.sqrt(acc * (1 - acc) / args.n))
        if hasattr(ev, "kid"):
            row["kid"], row["kid_se"] = ev.kid(images)
        results["rows"].append(row)
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
        write_results(args.out, {**results, "hardware": hardware()})
    results["trajectory"] = trajectory_specks(model, schedule, args.trajectory_n, args.seed)
    write_results(args.out, results)


if __name__ == "__main__":
    main()
