"""benchmarks/accuracy_spread.py: the stratified s.d. against its closed form, every statistic against a
hand-worked example, the χ² reading on simulated independent draws (calibrated) and on draws made to vary less
(read as too small), its input checks, and its per-seed accuracies against the quality benchmark's."""

import json
import math
import statistics
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of scripts beside the package, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import accuracy_spread as spread  # noqa: E402


def test_stratified_sd_is_binomial_when_the_classes_agree_and_smaller_when_they_differ():
    n_c = {c: 200 for c in range(10)}
    assert spread.stratified_sd({c: 0.9 for c in n_c}, n_c) == pytest.approx(math.sqrt(0.9 * 0.1 / 2000))
    p_c = {c: 0.6 + 0.04 * c for c in n_c}  # mean 0.78
    assert spread.stratified_sd(p_c, n_c) == pytest.approx(
        math.sqrt(sum(200 * p * (1 - p) for p in p_c.values())) / 2000)
    # Σ p_c(1 − p_c) = K p̄(1 − p̄) − Σ (p_c − p̄)²: below the binomial by the classes' spread
    assert spread.stratified_sd(p_c, n_c) < math.sqrt(0.78 * 0.22 / 2000)
    # unequal counts: each class weighs by its n_c, (1 · 0.25 + 3 · 0.09) / 4² = 0.52 / 16
    assert spread.stratified_sd({0: 0.5, 1: 0.9}, {0: 1, 1: 3}) == pytest.approx(math.sqrt(0.52) / 4)


def test_at_n_takes_generates_labels_whatever_the_draws_counts():
    """Labels [0, 0, 0, 1]: p_c from these counts, σ at at_n from at_n samples labelled 0, 1, 0, 1, … (K = 2), or
    0, 1, 2, 0, … with num_classes = 3 (where class 2 has no samples to give it a p_c: refused)."""
    labels = torch.tensor([0, 0, 0, 1])
    correct = torch.tensor([[1, 0, 1, 1], [1, 1, 1, 0], [0, 1, 1, 1]])
    s = spread.accuracy_spread(correct, labels, at_n=7)
    assert s["class_accuracy"] == pytest.approx({0: 7 / 9, 1: 2 / 3})
    assert s["stratified_sd_at_n"] == pytest.approx(spread.stratified_sd(s["class_accuracy"], {0: 4, 1: 3}))
    with pytest.raises(ValueError, match=r"draws classes \[2\]"):
        spread.accuracy_spread(correct, labels, at_n=7, num_classes=3)


def test_three_seeds_by_hand():
    """Two classes, two samples of each per seed (n = 4), three seeds."""
    labels = torch.tensor([0, 1, 0, 1])
    correct = torch.tensor([[1, 1, 0, 1],     # 0.75
                            [1, 1, 1, 1],     # 1.0
                            [0, 1, 0, 0]])    # 0.25
    s = spread.accuracy_spread(correct, labels, at_n=40)
    assert s["accuracy_per_seed"] == pytest.approx([0.75, 1.0, 0.25])
    assert s["accuracy"] == pytest.approx(8 / 12)
    assert s["class_accuracy"] == pytest.approx({0: 3 / 6, 1: 5 / 6})
    assert s["class_counts"] == {0: 2, 1: 2}
    sd = math.sqrt(21) / 12  # deviations 1/12, 1/3, −5/12 from the mean 2/3: (1 + 16 + 25) / 144 over k − 1 = 2
    assert s["sd"] == pytest.approx(sd)
    strat = math.sqrt(2 * 0.5 * 0.5 + 2 * (5 / 6) * (1 / 6)) / 4
    assert s["stratified_sd"] == pytest.approx(strat)
    assert s["binomial_sd"] == pytest.approx(math.sqrt((2 / 3) * (1 / 3) / 4))
    assert s["chi2"] == pytest.approx(2 * sd ** 2 / strat ** 2)
    assert s["lower_tail"] == pytest.approx(1 - math.exp(-s["chi2"] / 2))  # 2 degrees of freedom
    assert s["upper_tail"] == pytest.approx(math.exp(-s["chi2"] / 2))
    assert s["stratified_sd_at_n"] == pytest.approx(strat * math.sqrt(4 / 40))  # balanced: σ falls as 1/√n


def _independent(M, k, p_c, per_class, gen):
    """M experiments of k seeds: each sample right with its class's probability, independently."""
    probs = torch.tensor(p_c).repeat_interleave(per_class)
    return torch.bernoulli(probs.expand(M, k, -1), generator=gen), torch.arange(len(p_c)).repeat_interleave(per_class)


def test_independent_draws_read_as_independent():
    """Over M simulated experiments the χ² lower tail falls below 0.05 about 5 % of the time, and so does the upper
    tail (tolerance: 4 s.e. of a proportion over M, √(0.05 · 0.95 / M)); the mean per-seed variance is the
    stratified one (tolerance: 4 s.e. of a mean of M variances, each with relative s.d. about √(2 / (k − 1)))."""
    M, k = 1500, 12
    p_c = [0.93, 0.995, 0.93, 0.93, 0.69, 0.91, 0.61, 0.95, 0.99, 0.99]  # fashion-mnist-cfg's, roughly
    correct, labels = _independent(M, k, p_c, 25, torch.Generator().manual_seed(0))
    stats = [spread.accuracy_spread(c, labels) for c in correct]
    tol = 4 * math.sqrt(0.05 * 0.95 / M)
    assert statistics.fmean(s["lower_tail"] < 0.05 for s in stats) == pytest.approx(0.05, abs=tol)
    assert statistics.fmean(s["upper_tail"] < 0.05 for s in stats) == pytest.approx(0.05, abs=tol)
    true_strat = spread.stratified_sd(dict(enumerate(p_c)), {c: 25 for c in range(10)})
    ratio = statistics.fmean(s["sd"] ** 2 for s in stats) / true_strat ** 2
    assert ratio == pytest.approx(1.0, abs=4 * math.sqrt(2 / (k - 1)) / math.sqrt(M))


def test_draws_made_to_vary_less_read_as_too_small():
    """Every seed gets exactly the same number right in each class (only which samples are right varies): the
    per-seed accuracies are equal and the χ² lower tail is 0; seeds sharing three quarters of their samples read low."""
    gen = torch.Generator().manual_seed(1)
    labels = torch.arange(10).repeat_interleave(20)
    template = (torch.rand(200, generator=gen) < 0.85).float()
    fixed = torch.stack([template[torch.cat([c * 20 + torch.randperm(20, generator=gen) for c in range(10)])]
                         for _ in range(20)])
    s = spread.accuracy_spread(fixed, labels)
    assert s["sd"] == 0 and s["lower_tail"] == 0
    shared, _ = _independent(1, 1, [0.85] * 10, 20, gen)
    overlap = torch.stack([torch.where(torch.arange(200) % 4 == 0, torch.bernoulli(torch.full((200,), 0.85),
                                                                                   generator=gen), shared[0, 0])
                           for _ in range(20)])
    assert spread.accuracy_spread(overlap, labels)["lower_tail"] < 0.01


@pytest.mark.parametrize("correct, labels, match", [
    (torch.ones(4), torch.zeros(4, dtype=torch.long), r"\[k seeds, n samples\] with k >= 2"),
    (torch.ones(1, 4), torch.zeros(4, dtype=torch.long), r"\[k seeds, n samples\] with k >= 2"),
    (torch.ones(2, 4), torch.zeros(3, dtype=torch.long), r"labels must be \[n\] with n = 4"),
    (torch.full((2, 4), 0.5), torch.zeros(4, dtype=torch.long), "0 \\(wrong\\) or 1 \\(right\\)"),
    (torch.ones(2, 4), torch.tensor([0, 1, 0, 1]), "the spread cannot be read"),
    (torch.ones(2, 0), torch.zeros(0, dtype=torch.long), "n >= 1"),
    ([[1, 0], [0, 1]], torch.zeros(2, dtype=torch.long), "must be tensors"),
    (torch.ones(2, 2), torch.tensor([0.0, 1.5]), "integer class indices"),
    (torch.ones(2, 2), torch.tensor([0, -1]), "class indices >= 0"),
])
def test_refuses_bad_input(correct, labels, match):
    with pytest.raises(ValueError, match=match):
        spread.accuracy_spread(correct, labels)


@pytest.mark.parametrize("at_n", [0, 2.5, True])
def test_refuses_a_bad_at_n(at_n):
    with pytest.raises(ValueError, match="at_n must be an int with 1 <= at_n"):
        spread.accuracy_spread(torch.tensor([[1, 0], [0, 1]]), torch.tensor([0, 0]), at_n=at_n)


@pytest.mark.parametrize("argv, match", [
    (["--seeds", "1"], "--seeds must be at least 2"),
    (["--n", "0"], "--n must be at least 1"),
    (["--at-n", "0"], "--at-n must be at least 1"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--steps", "0"], "--steps must be at least 1"),
    (["--model", "fashion-mnist"], "unconditional"),
    (["--n", "9"], "--n must be at least the model's 10 classes"),
])
def test_command_refuses_bad_options(argv, match, capsys):
    with pytest.raises(SystemExit):
        spread.main(argv)
    assert match in capsys.readouterr().err


def test_per_seed_accuracies_are_the_quality_benchmarks(tmp_path, capsys):
    """The command's per-seed accuracies equal ``helpers.evaluation.sample_quality``'s at the same seed, n, steps
    and batch, which scores with ``helpers.metrics.class_accuracy`` (a second implementation of the scoring)."""
    from helpers.classifier import load_classifier
    from helpers.evaluation import generate
    from helpers.metrics import class_accuracy
    from helpers.pretrained import load_pretrained

    torch.set_num_threads(1)
    spread.main(["--n", "20", "--seeds", "2", "--first-seed", "7", "--steps", "2", "--guidance", "2", "--batch", "10",
                 "--at-n", "40", "--threads", "1", "--out", str(tmp_path / "spread")])
    res = json.loads((tmp_path / "spread.json").read_text())
    model, schedule = load_pretrained("fashion-mnist-cfg")
    clf = load_classifier("fashion-mnist")
    theirs = [class_accuracy(clf, *generate(model, schedule, 20, steps=2, guidance_scale=2.0, seed=seed, batch=10))
              for seed in (7, 8)]
    assert res["seeds"] == [7, 8] and res["k"] == 2 and res["n"] == 20 and res["at_n"] == 40
    assert res["guidance_scale"] == 2.0 and res["sampler"] == "DDIM, 2 steps, trailing, eta=0"
    assert res["accuracy_per_seed"] == pytest.approx(theirs, abs=1e-6)
    assert "2 seeds of n = 20" in capsys.readouterr().out


def test_the_command_passes_its_sampler_and_guidance_on(tmp_path, monkeypatch):
    """--sampler, --steps, --guidance, --batch and the seeds reach ``generate`` (spied on: each call is recorded,
    then drawn as DDIM-2, since DDPM's 300 steps would take half a minute)."""
    from helpers.evaluation import generate

    calls = []

    def spy(model, schedule, n, **kwargs):
        calls.append({"n": n, **kwargs})
        return generate(model, schedule, n, **{**kwargs, "sampler": "ddim", "steps": 2})

    monkeypatch.setattr(spread, "generate", spy)
    torch.set_num_threads(1)
    spread.main(["--n", "10", "--seeds", "2", "--first-seed", "3", "--sampler", "ddpm", "--guidance", "1.5",
                 "--batch", "5", "--threads", "1", "--out", str(tmp_path / "ddpm")])
    assert calls == [{"n": 10, "steps": 50, "guidance_scale": 1.5, "seed": seed, "batch": 5, "sampler": "ddpm"}
                     for seed in (3, 4)]
    assert json.loads((tmp_path / "ddpm.json").read_text())["sampler"] == "DDPM, 300 steps"
