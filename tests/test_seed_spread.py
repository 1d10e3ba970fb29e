"""benchmarks/seed_spread.py: the χ² tail against its closed forms, the statistics against binomial draws whose
spread is known, and the gap against the README's own verdict on the shipped rows."""

import json
import math
import re
import statistics
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of scripts beside the package, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import seed_spread  # noqa: E402


@pytest.mark.parametrize("x", [0.01, 0.5, 1.0, 3.0, 7.5, 20.0])
def test_chi2_lower_tail_matches_its_closed_forms(x):
    """P(χ²_1 ≤ x) = erf(√(x/2)), P(χ²_2 ≤ x) = 1 − e^(−x/2), P(χ²_4 ≤ x) = 1 − e^(−x/2)(1 + x/2)."""
    assert seed_spread.chi2_lower_tail(x, 1) == pytest.approx(math.erf(math.sqrt(x / 2)), abs=1e-12)
    assert seed_spread.chi2_lower_tail(x, 2) == pytest.approx(1 - math.exp(-x / 2), abs=1e-12)
    assert seed_spread.chi2_lower_tail(x, 4) == pytest.approx(1 - math.exp(-x / 2) * (1 + x / 2), abs=1e-12)


@pytest.mark.parametrize("chi2, df", [(1.0, 0), (-0.5, 3)])
def test_chi2_lower_tail_refuses_bad_input(chi2, df):
    with pytest.raises(ValueError, match="df must be >= 1 and chi2 >= 0"):
        seed_spread.chi2_lower_tail(chi2, df)


def test_pearson_r_matches_its_definition_and_torch():
    x, y = [1.0, 2.0, 4.0, 3.0, 7.0], [0.5, 2.5, 3.0, 1.0, 6.0]
    assert seed_spread.pearson_r(x, [2 * v + 1 for v in x]) == pytest.approx(1.0)
    assert seed_spread.pearson_r(x, [-v for v in x]) == pytest.approx(-1.0)
    assert seed_spread.pearson_r(x, y) == pytest.approx(float(torch.corrcoef(torch.tensor([x, y]))[0, 1]))
    assert math.isnan(seed_spread.pearson_r(x, [2.0] * len(x)))  # undefined against a constant


def _row(accuracies, fids=None, n=2000, seeds=None):
    seeds = list(range(len(accuracies))) if seeds is None else seeds
    fids = [10.0 + i for i in range(len(accuracies))] if fids is None else fids
    return {"guidance_scale": 1.0, "n": n, "seeds": seeds, "accuracy_per_seed": accuracies, "fid_per_seed": fids}


def test_binomial_draws_read_as_binomial():
    """Per-seed accuracies drawn as Binomial(n, p) / n: the gap's spread over many experiments is its binomial s.e.,
    and the χ² lower tail is calibrated (below 0.05 about 5 % of the time). Tolerances from the number of
    experiments M: 4 s.e. of a proportion, √(0.05 · 0.95 / M), and of a s.d. (relative s.e. 1/√(2M))."""
    M, k, n, pa, pb = 3000, 16, 2000, 0.886, 0.912
    gen = torch.Generator().manual_seed(0)
    draws = {p: (torch.binomial(torch.full((M, k), float(n)), torch.full((M, k), p), generator=gen) / n).tolist()
             for p in (pa, pb)}
    stats = [seed_spread.seed_spread(_row(a), _row(b)) for a, b in zip(draws[pa], draws[pb])]
    gaps = [s["gap"] for s in stats]
    assert statistics.fmean(gaps) == pytest.approx(pb - pa, abs=4 * statistics.stdev(gaps) / math.sqrt(M))
    se = statistics.fmean(s["gap_se"] for s in stats)
    assert statistics.stdev(gaps) == pytest.approx(se, rel=4 / math.sqrt(2 * M))
    tol = 4 * math.sqrt(0.05 * 0.95 / M)
    for name in ("ddim", "ddpm"):
        low = statistics.fmean(s["samplers"][name]["lower_tail"] < 0.05 for s in stats)
        assert low == pytest.approx(0.05, abs=tol), name
    summed = statistics.fmean(s["chi2_sum_lower_tail"] < 0.05 for s in stats)
    assert summed == pytest.approx(0.05, abs=tol)


@pytest.mark.parametrize("pa, pb, k", [(0.886, 0.9124, 16), (0.80, 0.82, 3), (0.95, 0.975, 40)])
def test_seeds_needed_is_the_fewest_that_put_the_gap_two_se_below_the_bar(pa, pb, k):
    s = seed_spread.seed_spread(_row([pa] * (k - 1) + [pa + 0.001]), _row([pb] * (k - 1) + [pb - 0.001]))
    bar = seed_spread.DDPM_GAP
    need = s["seeds_needed"]
    se_at = lambda seeds: s["gap_se"] * math.sqrt(k / seeds)  # noqa: E731  the binomial s.e. falls as 1/√seeds
    assert (bar - s["gap"]) >= 2 * se_at(need) - 1e-12
    assert need == 1 or (bar - s["gap"]) < 2 * se_at(need - 1)


def test_refuses_rows_that_do_not_pool_the_same_seeds():
    with pytest.raises(ValueError, match="same seeds"):
        seed_spread.seed_spread(_row([0.9, 0.91]), _row([0.9, 0.92], seeds=[0, 2]))
    with pytest.raises(ValueError, match="guidance_scale 1"):
        seed_spread.row_at_s1({"rows": [{**_row([0.9, 0.91]), "guidance_scale": 3.0}]}, "f.json")
    with pytest.raises(ValueError, match="ddpm row's accuracy is 1 at every seed"):
        seed_spread.seed_spread(_row([0.9, 0.91]), _row([1.0, 1.0]))
    with pytest.raises(ValueError, match="two or more seeds"):
        seed_spread.row_at_s1({"rows": [_row([0.9])]}, "f.json")


def test_the_shipped_gap_is_the_readmes_verdict(capsys):
    """On the shipped fashion-mnist-cfg rows the command prints the gap, s.e. and distance to the bar that the
    README's table (benchmarks/readme_tables.py, its own code) states."""
    readme = (ROOT / "README.md").read_text()
    verdict = re.search(r"\| fashion-mnist-cfg \|[^\n]*eta=0 \| 1 \|[^\n]*"
                        r"\(gap ([+-][\d.]+) ± ([\d.]+), ([\d.]+) s\.e\. below 3\)", readme)
    assert verdict, "the README's fashion-mnist-cfg DDIM row at s = 1 states no accuracy gap"
    seed_spread.main(["--model", "fashion-mnist-cfg"])
    out = capsys.readouterr().out
    printed = re.search(r"gap ([\d.]+) ± ([\d.]+) \(binomial\), ([\d.]+) s\.e\. below 3", out)
    assert printed, out
    gap, se, below = (float(v) for v in printed.groups())
    assert f"{gap:+.1f}" == verdict[1] and f"{se:.1f}" == verdict[2] and f"{below:.1f}" == verdict[3]
    res = json.loads((ROOT / "benchmarks" / "results" / "quality-fashion-mnist-cfg.json").read_text())
    k = len(seed_spread.row_at_s1(res, "quality-fashion-mnist-cfg.json")["seeds"])
    assert out.startswith(f"{k} seeds")
