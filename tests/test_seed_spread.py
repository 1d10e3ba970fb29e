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


@pytest.mark.parametrize("x", [0.01, 1.0, 7.5, 200.0])
def test_chi2_upper_tail_matches_its_closed_forms_even_where_one_minus_the_lower_rounds_to_zero(x):
    """P(χ²_2 > x) = e^(−x/2), P(χ²_4 > x) = e^(−x/2)(1 + x/2): at x = 200 about 4·10⁻⁴⁴, where 1 − lower is 0."""
    assert seed_spread.chi2_upper_tail(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-9)
    assert seed_spread.chi2_upper_tail(x, 4) == pytest.approx(math.exp(-x / 2) * (1 + x / 2), rel=1e-9)
    with pytest.raises(ValueError, match="df must be >= 1 and chi2 >= 0"):
        seed_spread.chi2_upper_tail(x, 0)


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


@pytest.mark.parametrize("df", [15, 30, 60])
def test_chi2_lower_tail_agrees_with_scipy(df):
    stats = pytest.importorskip("scipy.stats")
    for x in (0.3 * df, df, 1.7 * df):
        assert seed_spread.chi2_lower_tail(x, df) == pytest.approx(stats.chi2.cdf(x, df), abs=1e-9)


def _row(accuracies, fids=None, n=2000, seeds=None):
    seeds = list(range(len(accuracies))) if seeds is None else seeds
    fids = [10.0 + i for i in range(len(accuracies))] if fids is None else fids
    return {"guidance_scale": 1.0, "n": n, "seeds": seeds, "accuracy_per_seed": accuracies, "fid_per_seed": fids}


def test_three_seeds_by_hand():
    """Every statistic of a three-seed example against its value worked out by hand (n = 2,000 per seed)."""
    ddim = _row([0.88, 0.89, 0.87], fids=[15.0, 17.0, 16.0])
    ddpm = _row([0.91, 0.905, 0.90], fids=[18.0, 17.5, 19.0])
    s = seed_spread.seed_spread(ddim, ddpm)
    var_a, var_b = 0.88 * 0.12, 0.905 * 0.095  # p(1 − p) at the pooled accuracies 0.88 and 0.905
    assert s["gap"] == pytest.approx(0.025)
    assert s["gap_se"] == pytest.approx(math.sqrt((var_a + var_b) / 6000))
    assert s["se_below_bar"] == pytest.approx(0.005 / s["gap_se"])
    assert s["se_needed"] == pytest.approx(0.0025)
    assert s["seeds_needed"] == math.ceil(3 * (var_a + var_b) / 6000 / 0.0025 ** 2)  # = 26
    assert s["gaps"] == pytest.approx([0.03, 0.015, 0.03])
    assert s["gaps_sd"] == pytest.approx(math.sqrt(7.5e-5))  # deviations 0.005, −0.01, 0.005 over k − 1 = 2
    assert s["gap_binomial_sd"] == pytest.approx(math.sqrt((var_a + var_b) / 2000))
    assert s["correlation"] == pytest.approx(0.5)  # deviations (0, .01, −.01) and (.005, 0, −.005)
    assert s["spread_se"] == pytest.approx(math.sqrt(7.5e-5 / 3))
    assert s["spread_t"] == pytest.approx(0.005 / math.sqrt(7.5e-5 / 3))
    chi2_a = 2 * 0.01 ** 2 / (var_a / 2000)  # (k − 1) s² / σ², s = 0.01
    chi2_b = 2 * 0.005 ** 2 / (var_b / 2000)
    assert s["samplers"]["ddim"]["chi2"] == pytest.approx(chi2_a)
    assert s["samplers"]["ddpm"]["chi2"] == pytest.approx(chi2_b)
    assert s["samplers"]["ddim"]["lower_tail"] == pytest.approx(1 - math.exp(-chi2_a / 2))  # 2 degrees of freedom
    x = chi2_a + chi2_b
    assert s["chi2_sum_df"] == 4
    assert s["chi2_sum_lower_tail"] == pytest.approx(1 - math.exp(-x / 2) * (1 + x / 2))
    fid = s["fid"]["ddim"]
    assert (fid["mean"], fid["sd"], fid["range"]) == (pytest.approx(16.0), pytest.approx(1.0), (15.0, 17.0))
    assert fid["se"] == pytest.approx(1 / math.sqrt(3))
    assert s["fid_paired"] == pytest.approx((13 / 6, math.sqrt(25 / 12) / math.sqrt(3)))  # differences 3, 0.5, 3


def test_the_chi2_tail_reads_small_spreads_low_and_large_ones_high():
    equal = seed_spread.seed_spread(_row([0.88, 0.881, 0.88]), _row([0.9, 0.9, 0.9]))
    assert equal["samplers"]["ddpm"]["lower_tail"] == 0.0
    wide = seed_spread.seed_spread(_row([0.80, 0.95, 0.85, 0.90]), _row([0.9, 0.91, 0.9, 0.91]))
    assert wide["samplers"]["ddim"]["lower_tail"] > 0.999


def test_a_gap_at_or_above_the_bar_needs_no_seeds():
    at = seed_spread.seed_spread(_row([0.88, 0.89]), _row([0.91, 0.92]))  # exactly 3 points apart
    assert at["gap"] == 0.03 and at["seeds_needed"] is None
    above = seed_spread.report(seed_spread.seed_spread(_row([0.86, 0.87]), _row([0.91, 0.92])))
    assert "s.e. above 3" in above and "no number of seeds puts it 2 s.e. below" in above


def test_report_keeps_the_digits_of_a_small_tail():
    """Tails below 0.01 print in two significant digits rather than as 0.00x; larger ones to three places."""
    assert seed_spread._tail(0.0402) == "0.040" and seed_spread._tail(0.01) == "0.010"
    assert seed_spread._tail(0.00124) == "1.2e-03"
    assert seed_spread._tail(5.9e-5) == "5.9e-05"
    # twelve seeds per sampler alternating 0.1 points about their means, against a binomial s.d. of about 0.7
    tight = seed_spread.seed_spread(_row([0.880, 0.882] * 6), _row([0.910, 0.912] * 6))
    tail = tight["chi2_sum_lower_tail"]
    assert 0 < tail < 1e-3
    assert f"summed χ² {tight['chi2_sum']:.1f} on 22 df, lower tail {tail:.1e}" in seed_spread.report(tight)


def _counts_row(per_seed, n):
    """A row whose seeds 0, 1, … keep ``per_seed`` (counts or None), with the accuracies the counts give."""
    return {"seeds": list(range(len(per_seed))), "correct_per_class_per_seed": per_seed,
            "accuracy_per_seed": [0.5 if c is None else round(sum(c) / n, 4) for c in per_seed]}


def test_stratified_sd_from_the_seeds_that_keep_their_right_answers_per_class():
    """σ_strat from the per-class counts, by hand: n = 4 balanced over 2 classes (2 each), seeds right 1 + 2 and
    2 + 2 times, so p_0 = 3/4, p_1 = 1 and σ = √(2 · 3/4 · 1/4) / 4; a draw that predates the counts is skipped."""
    row = _counts_row([[1, 2], None, [2, 2]], 4)
    assert seed_spread.stratified(row, 4) == {"sd": pytest.approx(math.sqrt(2 * 0.75 * 0.25) / 4), "seeds": 2}
    assert seed_spread.stratified({"seeds": [0]}, 4) is None
    assert seed_spread.stratified(_counts_row([None], 4), 4) is None
    # n = 5 over 2 classes: labels 0, 1, 0, 1, 0, so class 0 has 3 samples and class 1 has 2
    odd = seed_spread.stratified(_counts_row([[3, 1]], 5), 5)
    assert odd["sd"] == pytest.approx(math.sqrt(2 * 0.5 * 0.5) / 5)
    # n = 2 over 4 classes: classes 2 and 3 have no sample and add nothing; p_0 = p_1 = 1/2 over two seeds
    assert seed_spread.stratified(_counts_row([[1, 0, 0, 0], [0, 1, 0, 0]], 2), 2)["sd"] == pytest.approx(
        math.sqrt(2 * 0.25) / 2)


@pytest.mark.parametrize("bad", [
    [[3, 2]],             # more right than class 0's 2 samples
    [[-1, 2]],            # negative
    [[1, 2, 0]],          # three counts where n = 4 over three classes gives class 0 two samples: 1 fits, but...
    [[1, 2], [1, 2, 0]],  # ... a seed with another number of classes than the first
    [[1, 1, 0], [1, 1]],
    [[1.0, 2]],           # not whole counts
    [[True, 2]],
    [[]],                 # no class at all
])
def test_stratified_refuses_counts_that_are_not_counts_of_the_rows_classes(bad):
    with pytest.raises(ValueError, match=r"the ddpm row's correct_per_class_per_seed at seed \d must hold"):
        seed_spread.stratified(_counts_row(bad, 4), 4, "ddpm row")


def test_stratified_refuses_counts_that_disagree_with_the_row():
    row = _counts_row([[1, 2], [2, 2]], 4)
    with pytest.raises(ValueError, match="one entry .counts or None. for each of its 3 seeds, got 2"):
        seed_spread.stratified({**row, "seeds": [0, 1, 2], "accuracy_per_seed": [0.75, 1.0, 0.5]}, 4)
    with pytest.raises(ValueError, match="at seed 1 gives an accuracy of 1.0000, its accuracy_per_seed 0.75"):
        seed_spread.stratified({**row, "accuracy_per_seed": [0.75, 0.75]}, 4)


def test_a_row_with_per_class_counts_is_read_against_its_stratified_sd_too():
    ddim, ddpm = _row([0.88, 0.89, 0.87]), _row([0.91, 0.92, 0.90])
    assert "stratified" not in seed_spread.seed_spread(ddim, ddpm)["samplers"]["ddpm"]
    # 2,000 samples, 200 per class: classes 0-4 all right, 5-9 right 164 and 160 times in 200 (accuracies 0.91
    # and 0.90), so p_c = 0.81 for them
    counts = [[200] * 5 + [164] * 5, None, [200] * 5 + [160] * 5]
    s = seed_spread.seed_spread(ddim, {**ddpm, "correct_per_class_per_seed": counts})
    sigma = math.sqrt(5 * 200 * 0.81 * 0.19) / 2000
    st = s["samplers"]["ddpm"]["stratified"]
    assert st["sd"] == pytest.approx(sigma) and st["seeds"] == 2 and sigma < s["samplers"]["ddpm"]["binomial_sd"]
    assert st["chi2"] == pytest.approx(2 * statistics.stdev([0.91, 0.92, 0.90]) ** 2 / sigma ** 2)
    assert st["lower_tail"] == pytest.approx(1 - math.exp(-st["chi2"] / 2))  # χ² on 2 degrees of freedom
    assert f"against the stratified {sigma * 100:.2f} (class accuracies from the 2 seeds" in seed_spread.report(s)
    assert "stratified" not in s["samplers"]["ddim"] and seed_spread.report(s).count("against the stratified") == 1
    one = seed_spread.seed_spread(ddim, {**ddpm, "correct_per_class_per_seed": [counts[0], None, None]})
    assert "(class accuracies from the one seed that keeps them)" in seed_spread.report(one)


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
    qa, qb = pa + 0.001 / k, pb - 0.001 / k  # the pooled accuracies

    def se_at(seeds):  # the binomial s.e. of the gap with n = 2,000 samples per seed
        return math.sqrt((qa * (1 - qa) + qb * (1 - qb)) / (2000 * seeds))

    assert (bar - s["gap"]) >= 2 * se_at(need) - 1e-12
    assert need == 1 or (bar - s["gap"]) < 2 * se_at(need - 1)


def test_refuses_rows_that_do_not_pool_the_same_seeds():
    with pytest.raises(ValueError, match="same two or more seeds"):
        seed_spread.seed_spread(_row([0.9, 0.91]), _row([0.9, 0.92], seeds=[0, 2]))
    with pytest.raises(ValueError, match="guidance_scale 1"):
        seed_spread.row_at_s1({"rows": [{**_row([0.9, 0.91]), "guidance_scale": 3.0}]}, "f.json")
    with pytest.raises(ValueError, match="ddpm row's accuracy is 1 at every seed"):
        seed_spread.seed_spread(_row([0.9, 0.91]), _row([1.0, 1.0]))
    with pytest.raises(ValueError, match="two or more seeds"):
        seed_spread.row_at_s1({"rows": [_row([0.9])]}, "f.json")
    with pytest.raises(ValueError, match="one fid_per_seed each"):
        seed_spread.row_at_s1({"rows": [_row([0.9, 0.91], fids=[10.0])]}, "f.json")
    with pytest.raises(ValueError, match="fractions in \\[0, 1\\], not percentages"):
        seed_spread.seed_spread(_row([88.0, 89.0]), _row([91.0, 92.0]))


def test_refuses_files_that_are_not_a_ddim_and_a_ddpm_row_of_one_checkpoint(tmp_path, capsys):
    ddim = {"sampler": "DDIM, 50 steps, trailing, eta=0", "model": "m", "checkpoint_sha256": "a",
            "classifier_sha256": "c", "rows": [_row([0.88, 0.89])]}
    ddpm = {**ddim, "sampler": "DDPM, 300 steps", "rows": [_row([0.91, 0.92])]}
    with pytest.raises(ValueError, match="a DDIM η = 0 results file and then a DDPM one"):
        seed_spread.check_pair(ddpm, ddim, ["x.json", "y.json"])
    with pytest.raises(ValueError, match="differ in checkpoint_sha256"):
        seed_spread.check_pair(ddim, {**ddpm, "checkpoint_sha256": "b"}, ["x.json", "y.json"])
    files = [tmp_path / "ddim.json", tmp_path / "ddpm.json"]
    for f, res in zip(files, (ddim, ddpm)):
        f.write_text(json.dumps(res))
    seed_spread.main(["--files", *map(str, files)])
    assert "gap 3.00 ± 0.67 (binomial), 0.00 s.e. above 3" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        seed_spread.main(["--files", str(files[1]), str(files[0])])
    with pytest.raises(SystemExit):
        seed_spread.main(["--files", str(tmp_path / "absent.json"), str(files[1])])
    assert "no results file" in capsys.readouterr().err


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
    assert f"{gap:+.1f}" == verdict[1] and f"{se:.1f}" == verdict[2] and f"{below:.2f}" == verdict[3]
    res = json.loads((ROOT / "benchmarks" / "results" / "quality-fashion-mnist-cfg.json").read_text())
    k = len(seed_spread.row_at_s1(res, "quality-fashion-mnist-cfg.json")["seeds"])
    assert out.startswith(f"{k} seeds")


def test_spread_against_a_chosen_sigma_by_hand():
    """Three seeds at 0.88, 0.89, 0.87 have s.d. 0.01: against σ = 0.01, χ² = 2 on 2 df, P(χ²_2 ≤ 2) = 1 − e⁻¹;
    against σ = 0.02, χ² = 0.5. Summed: 2.5 on 4 df, P = 1 − e^(−1.25)(1 + 1.25)."""
    r = seed_spread.spread_against([0.88, 0.89, 0.87], 0.01)
    assert (r["sd"], r["chi2"], r["df"]) == (pytest.approx(0.01), pytest.approx(2.0), 2)
    assert r["lower_tail"] == pytest.approx(1 - math.exp(-1))
    both = seed_spread.summed({"ddim": r, "ddpm": seed_spread.spread_against([0.88, 0.89, 0.87], 0.02)})
    assert both["chi2"] == pytest.approx(2.5) and both["df"] == 4
    assert both["lower_tail"] == pytest.approx(1 - math.exp(-1.25) * 2.25)
    for accs, sigma in (([0.88], 0.01), ([0.88, 0.89], 0.0)):
        with pytest.raises(ValueError, match="two or more seeds and a σ > 0"):
            seed_spread.spread_against(accs, sigma)


def test_held_out_seeds_are_read_apart_from_the_seeds_before_them():
    """DDIM's seeds from 13 on and DDPM's from 12 on against each sampler's binomial σ, and the seeds before apart
    (seeds 10–15, so that splitting by position rather than by seed would read other parts)."""
    seeds = list(range(10, 16))
    ddim = _row([0.88, 0.89, 0.87, 0.90, 0.86, 0.88], seeds=seeds)
    ddpm = _row([0.91, 0.90, 0.92, 0.91, 0.93, 0.90], seeds=seeds)
    s = seed_spread.seed_spread(ddim, ddpm, held_out={"ddim": 13, "ddpm": 12})
    sig = {name: s["samplers"][name]["binomial_sd"] for name in ("ddim", "ddpm")}
    parts = {"from": ([0.90, 0.86, 0.88], [0.92, 0.91, 0.93, 0.90]), "before": ([0.88, 0.89, 0.87], [0.91, 0.90])}
    for part, (a, b) in parts.items():
        got = s["held_out"][part]
        want_a, want_b = ((len(x) - 1) * statistics.variance(x) / sig[name] ** 2
                          for x, name in ((a, "ddim"), (b, "ddpm")))
        assert got["ddim"]["chi2"] == pytest.approx(want_a) and got["ddpm"]["chi2"] == pytest.approx(want_b)
        assert got["df"] == len(a) + len(b) - 2
        assert got["lower_tail"] == pytest.approx(seed_spread.chi2_lower_tail(want_a + want_b, got["df"]))
    assert "held out (DDIM's seeds from 13, DDPM's from 12)" in seed_spread.report(s)
    with pytest.raises(ValueError, match="first held-out seed 15 leaves 1 of its seeds"):
        seed_spread.seed_spread(ddim, ddpm, held_out={"ddim": 15, "ddpm": 12})


def test_sd_may_be_binomial_stratified_or_a_number():
    ddim, ddpm = _row([0.88, 0.89, 0.87]), _row([0.91, 0.90, 0.92])
    s = seed_spread.seed_spread(ddim, ddpm, sd={"ddim": 0.006, "ddpm": "binomial"})
    assert s["against"]["ddim"]["sigma"] == 0.006
    assert s["against"]["ddpm"]["sigma"] == s["samplers"]["ddpm"]["binomial_sd"]
    assert s["against"]["ddpm"]["chi2"] == pytest.approx(s["samplers"]["ddpm"]["chi2"])
    with pytest.raises(ValueError, match="keeps no per-class counts"):
        seed_spread.seed_spread(ddim, ddpm, sd={"ddim": "stratified", "ddpm": "binomial"})
    counted = {**_row([0.5, 0.5], n=4), **_counts_row([[1, 1], [2, 0]], 4)}  # class accuracies 3/4 and 1/4
    strat = seed_spread.seed_spread(counted, _row([0.75, 0.5], n=4), sd={"ddim": "stratified", "ddpm": "binomial"})
    assert strat["against"]["ddim"]["sigma"] == strat["samplers"]["ddim"]["stratified"]["sd"]
    # Var = Σ_c n_c p_c (1 − p_c) / n², two samples per class: (2 · 3/16 + 2 · 3/16) / 16
    assert strat["against"]["ddim"]["sigma"] == pytest.approx(math.sqrt(0.75 / 16))
    with pytest.raises(ValueError, match="'binomial', 'stratified' or a fraction in \\(0, 0.5\\), got 0.65"):
        seed_spread.seed_spread(ddim, ddpm, sd={"ddim": 0.65, "ddpm": "binomial"})  # points, not a fraction


def test_sd_choice_reads_an_accuracy_spread_file_of_the_same_model_sampler_and_n(tmp_path):
    res = {"model": "m", "sampler": "DDIM", "checkpoint_sha256": "a", "classifier_sha256": "c"}
    f = tmp_path / "spread.json"
    f.write_text(json.dumps({**res, "at_n": 2000, "stratified_sd_at_n": 0.0065}))
    assert seed_spread.sd_choice(str(f), res, 2000) == 0.0065
    assert seed_spread.sd_choice("0.65", res, 2000) == pytest.approx(0.0065)
    assert seed_spread.sd_choice("binomial", res, 2000) == "binomial"
    for other, n in (({**res, "sampler": "DDPM"}, 2000), (res, 1000), ({**res, "classifier_sha256": "d"}, 2000)):
        with pytest.raises(ValueError, match="stratified_sd_at_n at n = .* and the same model, sampler"):
            seed_spread.sd_choice(str(f), other, n)
    with pytest.raises(ValueError, match="a number of points in \\(0, 50\\), got 65"):
        seed_spread.sd_choice("65", res, 2000)
    with pytest.raises(ValueError, match="a number of points or an accuracy_spread results file"):
        seed_spread.sd_choice(str(tmp_path / "absent.json"), res, 2000)
    (tmp_path / "bad.json").write_text("not json")
    with pytest.raises(ValueError, match="bad.json: not a JSON results file"):
        seed_spread.sd_choice(str(tmp_path / "bad.json"), res, 2000)
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must be an accuracy_spread results file"):
        seed_spread.sd_choice(str(tmp_path / "list.json"), res, 2000)


def test_the_command_reads_sd_held_out_and_verdict_at_for_the_right_sampler(tmp_path, capsys):
    """The options reach each sampler in order: DDIM's --sd and --held-out first, DDPM's second, --sd in points."""
    seeds = [0, 1, 2, 3, 4, 5]
    ddim = {"sampler": "DDIM, 50 steps, trailing, eta=0", "model": "m", "checkpoint_sha256": "a",
            "classifier_sha256": "c", "rows": [_row([0.88, 0.89, 0.87, 0.90, 0.86, 0.88], seeds=seeds)]}
    ddpm = {**ddim, "sampler": "DDPM, 300 steps", "rows": [_row([0.91, 0.90, 0.93, 0.91, 0.92, 0.90], seeds=seeds)]}
    files = [tmp_path / "ddim.json", tmp_path / "ddpm.json"]
    for f, res in zip(files, (ddim, ddpm)):
        f.write_text(json.dumps(res))
    seed_spread.main(["--files", *map(str, files), "--sd", "0.5", "binomial", "--held-out", "2", "4",
                      "--verdict-at", "9"])
    out = capsys.readouterr().out
    s = seed_spread.seed_spread(ddim["rows"][0], ddpm["rows"][0], sd={"ddim": 0.005, "ddpm": "binomial"},
                                held_out={"ddim": 2, "ddpm": 4}, verdict_at=9)
    assert s["against"]["ddim"]["sigma"] == 0.005
    assert s["held_out"]["from"]["ddim"]["k"] == 4 and s["held_out"]["from"]["ddpm"]["k"] == 2
    assert out.strip() == seed_spread.report(s)
    seed_spread.main(["--files", *map(str, files), "--verdict-at", "6"])
    assert "the 6 seeds are the verdict's: the gap above is its reading" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        seed_spread.main(["--files", *map(str, files), "--verdict-at", "5"])
    assert "--verdict-at must be a whole number of seeds above the 6 in hand, got 5" in capsys.readouterr().err


def test_verdict_power_agrees_with_simulated_binomial_seeds():
    """Per-seed accuracies as Binomial(n, p) / n at the in-hand pooled accuracies: M simulated completions of the
    k seeds in hand to K, and M fresh sets of K, each read with the binomial s.e. at its own pooled accuracies. The
    fractions 2 s.e. below the bar must match the normal approximation within 4 s.e. of a proportion over M."""
    M, n, k, K, pa, pb = 40000, 2000, 24, 29, 0.88675, 0.91179
    s = seed_spread.seed_spread(_row([pa] * k), _row([pb] * k), verdict_at=K)
    gen = torch.Generator().manual_seed(0)

    def read(ca, cb):  # right answers per sampler over K·n samples -> is the gap 2 binomial s.e. below the bar?
        qa, qb = ca / (K * n), cb / (K * n)
        se = torch.sqrt((qa * (1 - qa) + qb * (1 - qb)) / (K * n))
        return ((qb - qa) <= seed_spread.DDPM_GAP - 2 * se).double().mean().item()

    def binom(count, p):
        return torch.binomial(torch.full((M,), float(count)), torch.full((M,), p), generator=gen).double()

    given = read(pa * k * n + binom((K - k) * n, pa), pb * k * n + binom((K - k) * n, pb))
    fresh = read(binom(K * n, pa), binom(K * n, pb))
    v = s["verdict"]
    for got, want in ((given, v["given_in_hand"]), (fresh, v["fresh"])):
        assert got == pytest.approx(want, abs=4 * math.sqrt(want * (1 - want) / M))
    assert v["se_at"] == pytest.approx(s["gap_se"] * math.sqrt(k / K))
    with pytest.raises(ValueError, match="above the 24 in hand"):
        seed_spread.verdict_power(s["gap"], s["gap_se"], k, 24)
