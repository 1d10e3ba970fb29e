"""Does a conditional checkpoint's class accuracy vary from seed to seed as binomial noise would? It draws k
seeds of n samples with the labels 0, 1, …, K − 1, 0, … (``helpers.evaluation.generate``, as the quality benchmark
draws them; balanced when n is a multiple of the K classes), keeps
whether the shipped classifier names each sample's label, and compares the per-seed accuracies' s.d. with the
stratified binomial s.d. that independent samples give.

    python -m benchmarks.accuracy_spread --model fashion-mnist-cfg --n 250 --seeds 40 --first-seed 200 --steps 50

Why: over the README's seeds of fashion-mnist-cfg (0–28 since the thirty-first session) both samplers'
accuracies at n = 2,000 vary less than binomial noise (``benchmarks.seed_spread``). Given its label, each sample
is drawn from its own x_T and noise, so whether it is classified right is a Bernoulli draw with its class's
accuracy p_c, and one draw's accuracy varies with the stratified s.d.

    σ_strat = √(Σ_c n_c p_c (1 − p_c)) / n     (≤ the binomial √(p(1−p)/n), equal when every p_c is p),

p_c estimated from all k·n samples. Read: (k − 1)·s²/σ_strat² against χ²_{k−1}, both tails (a small spread
and a large one). For a true ratio σ²/σ_strat² that does not change with n the test's power depends on k, not n,
so many seeds of a few samples cost a fraction of a few seeds of many. A correlation ρ among one seed's samples
gives the ratio 1 + (n − 1)ρ, whose distance from 1 grows with n: small n hardly sees it. Also printed: σ_strat
for one draw of ``--at-n`` samples (2,000, the README's) with ``generate``'s labels, at these p_c.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from benchmarks.common import checkpoint_sha256, hardware, weights_sha256, write_results
from benchmarks.seed_spread import chi2_lower_tail, chi2_upper_tail
from helpers._checks import check_int
from helpers.classifier import load_classifier, predict
from helpers.evaluation import SAMPLERS, balanced_counts, generate
from helpers.pretrained import load_pretrained
from helpers.summary import accuracy_se, stratified_sd


def check_correct(correct: torch.Tensor, labels: torch.Tensor) -> None:
    """``correct``: [k seeds, n samples] of 0/1, k ≥ 2, n ≥ 1; ``labels``: [n] class indices, the same at every
    seed."""
    if not isinstance(correct, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise ValueError(f"correct and labels must be tensors, got {type(correct).__name__} and "
                         f"{type(labels).__name__}")
    if correct.dim() != 2 or correct.shape[0] < 2 or correct.shape[1] < 1:
        raise ValueError(f"correct must be [k seeds, n samples] with k >= 2 and n >= 1, got shape "
                         f"{tuple(correct.shape)}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.is_complex():
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if labels.dim() != 1 or labels.shape[0] != correct.shape[1] or (labels.numel() and int(labels.min()) < 0):
        raise ValueError(f"labels must be [n] with n = {correct.shape[1]} (one per sample), class indices >= 0, got "
                         f"shape {tuple(labels.shape)}")
    if not bool(((correct == 0) | (correct == 1)).all()):
        raise ValueError("correct must hold 0 (wrong) or 1 (right) for each sample")


def accuracy_spread(correct: torch.Tensor, labels: torch.Tensor, at_n: int = 2000,
                    num_classes: int | None = None) -> dict:
    """The per-seed accuracies of ``correct`` ([k, n], 0/1) and their s.d. against the binomial and stratified
    s.d. of one draw (p and p_c pooled over the k·n samples), with the χ² reading of that spread; and σ_strat for
    ``at_n`` samples labelled 0, 1, …, K − 1, 0, … (K = ``num_classes``, default: the largest label + 1)."""
    check_correct(correct, labels)
    check_int(at_n, "at_n", 1)
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    check_int(num_classes, "num_classes", int(labels.max()) + 1)
    k, n = correct.shape
    correct = correct.double()
    accuracies = correct.mean(1).tolist()
    classes = sorted(set(labels.tolist()))
    n_c = {c: int((labels == c).sum()) for c in classes}
    p_c = {c: correct[:, labels == c].mean().item() for c in classes}
    p = correct.mean().item()
    sigma = stratified_sd(p_c, n_c)
    at_n_counts = {c: m for c, m in enumerate(balanced_counts(at_n, num_classes)) if m}  # at_n < K: no sample
    if set(at_n_counts) - set(p_c):
        raise ValueError(f"at_n = {at_n} draws classes {sorted(set(at_n_counts) - set(p_c))}, which correct has no "
                         "samples of: give correct at least one sample of each (n >= num_classes) or a smaller at_n")
    if sigma == 0:  # every class always right (or always wrong): no spread to compare with
        raise ValueError(f"every class's accuracy is 0 or 1 ({p_c}): the spread cannot be read")
    sd = statistics.stdev(accuracies)
    chi2 = (k - 1) * sd ** 2 / sigma ** 2
    lower = chi2_lower_tail(chi2, k - 1)
    return {"k": k, "n": n, "accuracy": p, "accuracy_per_seed": accuracies, "sd": sd,
            "binomial_sd": accuracy_se(p, n), "stratified_sd": sigma, "chi2": chi2, "df": k - 1,
            "lower_tail": lower, "upper_tail": chi2_upper_tail(chi2, k - 1), "class_accuracy": p_c, "class_counts": n_c,
            "at_n": at_n, "stratified_sd_at_n": stratified_sd(p_c, at_n_counts)}


def draw(model, schedule, classifier, n: int, seeds: list[int], sampler: str, steps: int, guidance: float,
         batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Whether each sample is classified as its label: ``correct`` [len(seeds), n], and the labels [n]."""
    rows, labels = [], None
    for seed in seeds:
        images, labels = generate(model, schedule, n, steps=steps, guidance_scale=guidance, seed=seed, batch=batch,
                                  sampler=sampler)
        rows.append((predict(classifier, images) == labels).float())
        print(f"seed {seed}: {rows[-1].mean():.2%}", flush=True)
    return torch.stack(rows), labels


def report(s: dict) -> str:
    pts = 100
    return "\n".join([
        f"{s['k']} seeds of n = {s['n']:,}: accuracy {s['accuracy']:.3%}",
        f"per-seed accuracy s.d. {s['sd'] * pts:.2f} points against binomial {s['binomial_sd'] * pts:.2f} and "
        f"stratified {s['stratified_sd'] * pts:.2f}",
        f"χ² {s['chi2']:.1f} on {s['df']} df against the stratified s.d.: lower tail {s['lower_tail']:.3f}, "
        f"upper tail {s['upper_tail']:.3f}",
        "class accuracies: " + ", ".join(f"{c}: {p:.3f}" for c, p in s["class_accuracy"].items()),
        f"stratified s.d. of one balanced draw of {s['at_n']:,} at these class accuracies: "
        f"{s['stratified_sd_at_n'] * pts:.2f} points"])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="fashion-mnist-cfg", help="a shipped class-conditional checkpoint")
    p.add_argument("--n", type=int, default=250, help="samples per seed (balanced when a multiple of the classes)")
    p.add_argument("--seeds", type=int, default=40, help="how many seeds: --first-seed, --first-seed + 1, …")
    p.add_argument("--first-seed", type=int, default=200,
                   help="away from the quality rows' seeds 0–28, so that these draws are new ones")
    p.add_argument("--sampler", choices=SAMPLERS, default="ddim")
    p.add_argument("--steps", type=int, default=50, help="DDIM's steps (DDPM always takes T)")
    p.add_argument("--guidance", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=250, help="images per sampler call (the quality benchmark's)")
    p.add_argument("--at-n", type=int, default=2000, help="also print the stratified s.d. of a draw of this many")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", help="results file name, benchmarks/results/<out>.json (default: accuracy_spread-<model>-"
                                 "<sampler>[<steps>]-s<guidance>-n<n>-seeds<first>-<last>)")
    args = p.parse_args(argv)
    for name, low in (("n", 1), ("seeds", 2), ("batch", 1), ("at_n", 1), ("threads", 1), ("steps", 1)):
        if getattr(args, name) < low:
            p.error(f"--{name.replace('_', '-')} must be at least {low}, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)
    model, schedule, metadata = load_pretrained(args.model, return_metadata=True)
    if not model.num_classes:
        p.error(f"--model {args.model} is unconditional: its samples have no label to be classified as")
    if args.n < model.num_classes:
        p.error(f"--n must be at least the model's {model.num_classes} classes (one sample of each), got {args.n}")
    classifier = load_classifier(metadata["dataset"])
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"hardware: {hardware()}", flush=True)
    correct, labels = draw(model, schedule, classifier, args.n, seeds, args.sampler, args.steps, args.guidance,
                           args.batch)
    s = accuracy_spread(correct, labels, args.at_n, model.num_classes)
    print(report(s))
    sampler = (f"DDPM, {schedule.T} steps" if args.sampler == "ddpm" else f"DDIM, {args.steps} steps, trailing, eta=0")
    steps = "" if args.sampler == "ddpm" else args.steps
    name = (f"accuracy_spread-{args.model}-{args.sampler}{steps}-s{args.guidance:g}-n{args.n}"
            f"-seeds{seeds[0]}-{seeds[-1]}")  # each setting its own file: no run overwrites another's
    write_results(args.out or name, {
        "model": args.model, "checkpoint_sha256": checkpoint_sha256(args.model),
        "weights_sha256": weights_sha256(model), "classifier_sha256": weights_sha256(classifier),
        "classifier_test_accuracy": classifier.metadata["test_accuracy"],
        "sampler": sampler, "guidance_scale": args.guidance, "batch": args.batch, "seeds": seeds,
        # the tails unrounded: rounding would store a tail of 3e-7 as 0
        **{key: v if "tail" in key else round(v, 6) if isinstance(v, float) else v for key, v in s.items()},
        "accuracy_per_seed": [round(a, 6) for a in s["accuracy_per_seed"]],
        "class_accuracy": {c: round(a, 6) for c, a in s["class_accuracy"].items()}})


if __name__ == "__main__":
    main()
