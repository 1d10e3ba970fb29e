"""How a conditional checkpoint's quality rows vary from seed to seed: its DDIM η = 0 and DDPM rows at s = 1,
each joined over the same seeds (``benchmarks.quality --seed … --draws …``), read from their results files.
It samples nothing: every number comes from the per-seed values the two files hold.

    python -m benchmarks.seed_spread --model fashion-mnist-cfg

Printed: the pooled accuracies and their gap ± the README's binomial s.e. (unpaired, n·k samples per sampler),
how far from the 3-point bar that is and the s.e. (and seeds) that would put it 2 s.e. below; the per-seed gaps
and their s.d. against that of the difference of two independent binomial draws; each sampler's per-seed
accuracy s.d. against binomial noise, with the χ² lower tail P(χ²_{k−1} ≤ (k−1)·s²/σ²), and the two summed; the
reading with an s.e. from the gaps' own spread; and each row's FID (mean ± s.e., one draw's s.d., range) and
the seed-paired FID difference. Optionally:

    python -m benchmarks.seed_spread --model fashion-mnist-cfg --verdict-at 29 --held-out 14 13 \
        --sd benchmarks/results/accuracy_spread-fashion-mnist-cfg-ddim50-s1-n250-seeds200-239.json binomial

``--verdict-at K``: were the measured gap the true one, how often the reading at K seeds lies 2 s.e. below the
bar, given the seeds in hand and for a fresh set of K (normal approximation, binomial s.e.). ``--sd DDIM DDPM``:
each sampler's spread read against a chosen one-draw σ (in points; ``binomial``; ``stratified``, from the row's
per-class counts; or an ``accuracy_spread`` results file's ``stratified_sd_at_n``), and the two χ² summed.
``--held-out DDIM DDPM``: that reading (the binomial one without ``--sd``) over each sampler's seeds from the
one given on, and over the seeds before it, apart: the seeds drawn after a spread was first noticed are free of
the choice to look at it.

What the readings assume. Class-balanced draws are stratified samples, which vary less than the binomial σ when
the classes' accuracies differ: so the gap's binomial s.e. errs on the large side (conservative), while the χ²
lower tails, read against the same σ, overstate how unusually small a spread is. A row may keep each draw's
right answers per class (``correct_per_class_per_seed``: counts, or None for a draw made before the quality
benchmark kept them); where any seed does, that sampler's spread is also read against the stratified σ at the
class accuracies those seeds give. The summed χ² treats the two samplers as independent, though at a seed they
share the labels and the first batch's x_T. The seeds needed are a plug-in figure: were the true gap the measured
one, that many seeds would read it 2 s.e. below the bar only about half the time.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import torch

from benchmarks.common import RESULTS
from benchmarks.readme_tables import DDPM_GAP
from helpers.evaluation import balanced_counts
from helpers.summary import accuracy_se, stratified_sd


def chi2_lower_tail(chi2: float, df: int) -> float:
    """P(χ²_df ≤ chi2) = P(df / 2, chi2 / 2), the regularised lower incomplete gamma function."""
    if df < 1 or chi2 < 0:
        raise ValueError(f"df must be >= 1 and chi2 >= 0, got df={df}, chi2={chi2}")
    return float(torch.special.gammainc(torch.tensor(df / 2, dtype=torch.float64),
                                        torch.tensor(chi2 / 2, dtype=torch.float64)))


def chi2_upper_tail(chi2: float, df: int) -> float:
    """P(χ²_df > chi2) = Q(df / 2, chi2 / 2), the regularised upper incomplete gamma function: computed as itself,
    since 1 − ``chi2_lower_tail`` rounds a tail below about 1e-16 to 0."""
    if df < 1 or chi2 < 0:
        raise ValueError(f"df must be >= 1 and chi2 >= 0, got df={df}, chi2={chi2}")
    return float(torch.special.gammaincc(torch.tensor(df / 2, dtype=torch.float64),
                                         torch.tensor(chi2 / 2, dtype=torch.float64)))


def pearson_r(x: list[float], y: list[float]) -> float:
    """r = Σ (x − x̄)(y − ȳ) / √(Σ (x − x̄)² · Σ (y − ȳ)²), nan where x or y is constant (r is undefined there);
    ``statistics.correlation`` would need Python 3.10."""
    mx, my = statistics.fmean(x), statistics.fmean(y)
    sxy = sum((u - mx) * (v - my) for u, v in zip(x, y))
    sxx_syy = sum((u - mx) ** 2 for u in x) * sum((v - my) ** 2 for v in y)
    return sxy / math.sqrt(sxx_syy) if sxx_syy > 0 else math.nan


def row_at_s1(res: dict, file: str) -> dict:
    """The s = 1 row of a results file, which must pool several seeds and hold each seed's accuracy and FID."""
    rows = [r for r in res["rows"] if r.get("guidance_scale") == 1.0]
    if len(rows) != 1:
        raise ValueError(f"{file}: expected one row at guidance_scale 1, found {len(rows)}")
    row = rows[0]
    k = len(row.get("seeds", []))
    if k < 2 or any(len(row.get(key, [])) != k for key in ("accuracy_per_seed", "fid_per_seed")):
        raise ValueError(f"{file}: its s = 1 row must pool two or more seeds, with one accuracy_per_seed and one "
                         "fid_per_seed each (a conditional model's row from benchmarks.quality --seed with several "
                         "seeds)")
    return row


def check_pair(ddim_res: dict, ddpm_res: dict, files) -> None:
    """The two files must be the DDIM η = 0 and the DDPM rows, in that order, of one checkpoint scored by one
    classifier."""
    if not ("DDIM" in ddim_res["sampler"] and "eta=0" in ddim_res["sampler"]) or "DDPM" not in ddpm_res["sampler"]:
        raise ValueError(f"files must be a DDIM η = 0 results file and then a DDPM one, got {files[0]} "
                         f"({ddim_res['sampler']}) and {files[1]} ({ddpm_res['sampler']})")
    for key in ("model", "checkpoint_sha256", "classifier_sha256"):
        if ddim_res.get(key) != ddpm_res.get(key):
            raise ValueError(f"files {files[0]} and {files[1]} differ in {key}: {ddim_res.get(key)!r} and "
                             f"{ddpm_res.get(key)!r}")


def stratified(row: dict, n: int, name: str = "row") -> dict | None:
    """One draw's stratified s.d. σ_strat (``helpers.summary.stratified_sd``) at the class accuracies p_c pooled
    over the seeds whose right answers per class the row keeps (``correct_per_class_per_seed``: one entry per
    seed, None where a draw predates them), with ``generate``'s labels (``balanced_counts``; K the number of
    counts a seed keeps, the model's classes): n_c = n // K, one more for c < n % K. None if no seed keeps them.
    Each seed's counts must add up to its accuracy_per_seed (stored to 4 places)."""
    per_seed = row.get("correct_per_class_per_seed")
    if per_seed is None:
        return None
    if len(per_seed) != len(row["seeds"]):
        raise ValueError(f"the {name}'s correct_per_class_per_seed must hold one entry (counts or None) for each of "
                         f"its {len(row['seeds'])} seeds, got {len(per_seed)}")
    kept = [(seed, acc, c) for seed, acc, c in zip(row["seeds"], row["accuracy_per_seed"], per_seed) if c is not None]
    if not kept:
        return None
    num_classes = len(kept[0][2])
    n_c = dict(enumerate(balanced_counts(n, num_classes))) if num_classes else {}
    for seed, acc, counts in kept:
        if not n_c or len(counts) != num_classes or not all(
                isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= n_c[c] for c, x in enumerate(counts)):
            raise ValueError(f"the {name}'s correct_per_class_per_seed at seed {seed} must hold one whole count per "
                             f"class, as many as the first seed's ({num_classes}, at least 1), each between 0 and its "
                             f"class's samples ({list(n_c.values())} of n = {n}), got {counts}")
        if abs(sum(counts) / n - acc) > 5e-5 + 1e-9:
            raise ValueError(f"the {name}'s correct_per_class_per_seed at seed {seed} gives an accuracy of "
                             f"{sum(counts) / n:.4f}, its accuracy_per_seed {acc}: they must agree to the 4 places "
                             "stored")
    n_c = {c: m for c, m in n_c.items() if m}  # n < K: a class with no sample adds nothing to σ_strat
    p_c = {c: sum(counts[c] for _, _, counts in kept) / (len(kept) * n_c[c]) for c in n_c}
    return {"sd": stratified_sd(p_c, n_c), "seeds": len(kept)}


def normal_cdf(z: float) -> float:
    """Φ(z) = (1 + erf(z / √2)) / 2."""
    return (1 + math.erf(z / math.sqrt(2))) / 2


def verdict_power(gap: float, se: float, k: int, at: int, bar: float = DDPM_GAP) -> dict:
    """Were ``gap`` the true gap: P(the reading at ``at`` seeds lies 2 s.e. below ``bar``). The binomial s.e. falls
    as 1/√k, se_at = se·√(k/at). Given the k seeds in hand the reading is (k·gap + m·G)/at, G ~ N(gap, se²·k/m) over
    the m = at − k seeds left, so it is N(gap, (se·√(k·m)/at)²); a fresh set of ``at`` seeds reads N(gap, se_at²)."""
    if not (isinstance(at, int) and not isinstance(at, bool) and at > k >= 1):
        raise ValueError(f"--verdict-at must be a whole number of seeds above the {k} in hand, got {at!r}")
    if not se > 0:
        raise ValueError(f"verdict_power needs a binomial s.e. above 0, got {se}")
    se_at = se * math.sqrt(k / at)
    margin = bar - 2 * se_at - gap
    return {"at": at, "se_at": se_at, "given_in_hand": normal_cdf(margin / (se * math.sqrt(k * (at - k)) / at)),
            "fresh": normal_cdf(margin / se_at)}


def spread_against(accuracies: list[float], sigma: float) -> dict:
    """Per-seed accuracies against one draw's σ: χ² = (k − 1)·s²/σ² on k − 1 degrees of freedom, its lower tail."""
    k = len(accuracies)
    if k < 2 or not sigma > 0:
        raise ValueError(f"a spread needs two or more seeds and a σ > 0, got {k} seeds and σ = {sigma}")
    sd = statistics.stdev(accuracies)
    chi2 = (k - 1) * sd ** 2 / sigma ** 2
    return {"k": k, "sd": sd, "sigma": sigma, "chi2": chi2, "df": k - 1, "lower_tail": chi2_lower_tail(chi2, k - 1)}


def summed(readings: dict) -> dict:
    """Two samplers' χ² summed, as if independent: the sum on the summed degrees of freedom, its lower tail."""
    chi2, df = sum(r["chi2"] for r in readings.values()), sum(r["df"] for r in readings.values())
    return {**readings, "chi2": chi2, "df": df, "lower_tail": chi2_lower_tail(chi2, df)}


def seed_spread(ddim: dict, ddpm: dict, bar: float = DDPM_GAP, sd: dict | None = None,
                held_out: dict | None = None, verdict_at: int | None = None) -> dict:
    """The spread statistics of two s = 1 rows (``row_at_s1``) over the same seeds, accuracies as fractions.
    ``sd``: {"ddim": σ, "ddpm": σ}, each a fraction, "binomial" or "stratified", to read each spread against;
    ``held_out``: {"ddim": seed, "ddpm": seed}, the first held-out seed of each; ``verdict_at``: ``verdict_power``'s
    number of seeds."""
    if ddim["seeds"] != ddpm["seeds"] or ddim["n"] != ddpm["n"] or len(ddim["seeds"]) < 2:
        raise ValueError(f"the rows must pool the same two or more seeds at the same n, got seeds {ddim['seeds']} "
                         f"(n = {ddim['n']}) and {ddpm['seeds']} (n = {ddpm['n']})")
    k, n = len(ddim["seeds"]), ddim["n"]
    a, b = ddim["accuracy_per_seed"], ddpm["accuracy_per_seed"]
    if any(len(row[key]) != k for row in (ddim, ddpm) for key in ("accuracy_per_seed", "fid_per_seed")):
        raise ValueError(f"accuracy_per_seed and fid_per_seed must hold one value for each of the {k} seeds")
    if not all(0 <= p <= 1 for p in a + b):
        raise ValueError("accuracy_per_seed must hold fractions in [0, 1], not percentages")
    pa, pb = statistics.fmean(a), statistics.fmean(b)
    gap = round(pb - pa, 6)  # stored to 4 places: rounded, a gap of exactly the bar is the bar, not 0.03000…04
    se = math.hypot(accuracy_se(pa, n * k), accuracy_se(pb, n * k))  # unpaired, n·k samples per sampler
    se_needed = (bar - gap) / 2  # the s.e. that puts this gap 2 s.e. below the bar (none if it is at or above it)
    gaps = [y - x for x, y in zip(a, b)]
    sd_gaps = statistics.stdev(gaps)
    samplers = {}
    for name, p, accs, row in (("ddim", pa, a, ddim), ("ddpm", pb, b, ddpm)):
        sigma = accuracy_se(p, n)  # one draw's binomial s.d.
        if sigma == 0:  # every sample right (or wrong): no binomial spread to compare with
            raise ValueError(f"the {name} row's accuracy is {p:g} at every seed: its spread cannot be read")
        chi2 = (k - 1) * statistics.stdev(accs) ** 2 / sigma ** 2
        samplers[name] = {"accuracy": p, "sd": statistics.stdev(accs), "binomial_sd": sigma, "chi2": chi2,
                          "lower_tail": chi2_lower_tail(chi2, k - 1)}
        if (strat := stratified(row, n, f"{name} row")) is not None:
            chi2 = (k - 1) * statistics.stdev(accs) ** 2 / strat["sd"] ** 2
            samplers[name]["stratified"] = {**strat, "chi2": chi2, "lower_tail": chi2_lower_tail(chi2, k - 1)}
    chi2_sum = samplers["ddim"]["chi2"] + samplers["ddpm"]["chi2"]
    spread_se = sd_gaps / math.sqrt(k)
    sigma = {name: _sigma(sd.get(name, "binomial") if sd else "binomial", samplers[name], name) for name in samplers}
    accs = {"ddim": (ddim["seeds"], a), "ddpm": (ddpm["seeds"], b)}
    extra = {}
    if sd is not None:
        extra["against"] = summed({name: spread_against(accs[name][1], sigma[name]) for name in accs})
    if held_out is not None:
        extra["held_out"] = {part: summed({name: spread_against(_part(*accs[name], held_out[name], part, name),
                                                                sigma[name]) for name in accs})
                             for part in ("from", "before")}
        extra["held_out"]["first"] = dict(held_out)
    if verdict_at is not None and verdict_at != k:  # at k = verdict_at the gap above is the verdict's reading
        extra["verdict"] = verdict_power(gap, se, k, verdict_at, bar)
    elif verdict_at is not None:
        extra["verdict"] = {"at": k}
    fid_diffs = [y - x for x, y in zip(ddim["fid_per_seed"], ddpm["fid_per_seed"])]
    return {
        "k": k, "n": n, "seeds": ddim["seeds"], "bar": bar, "gap": gap, "gap_se": se, "se_below_bar": (bar - gap) / se,
        "se_needed": se_needed,
        # the binomial s.e. falls as 1/√k, so k·(se / se_needed)² seeds reach it (none if the gap is at the bar)
        "seeds_needed": math.ceil(k * (se / se_needed) ** 2) if se_needed > 0 else None,
        "gaps": gaps, "gaps_sd": sd_gaps, "gap_binomial_sd": math.hypot(accuracy_se(pa, n), accuracy_se(pb, n)),
        "correlation": pearson_r(a, b),
        "spread_se": spread_se, "spread_t": (bar - gap) / spread_se if spread_se else None,  # equal gaps: no unit
        "samplers": samplers, "chi2_sum": chi2_sum, "chi2_sum_df": 2 * (k - 1),
        "chi2_sum_lower_tail": chi2_lower_tail(chi2_sum, 2 * (k - 1)),
        "fid": {name: {"mean": statistics.fmean(r["fid_per_seed"]),
                       "se": statistics.stdev(r["fid_per_seed"]) / math.sqrt(k),
                       "sd": statistics.stdev(r["fid_per_seed"]),
                       "range": (min(r["fid_per_seed"]), max(r["fid_per_seed"]))}
                for name, r in (("ddim", ddim), ("ddpm", ddpm))},
        "fid_paired": (statistics.fmean(fid_diffs), statistics.stdev(fid_diffs) / math.sqrt(k)),
        **extra,
    }


def _sigma(choice, sampler: dict, name: str) -> float:
    """One draw's σ for ``seed_spread``'s ``sd``: a fraction as given, or the sampler's binomial or stratified σ."""
    if choice == "binomial":
        return sampler["binomial_sd"]
    if choice == "stratified":
        if "stratified" not in sampler:
            raise ValueError(f"sd: the {name} row keeps no per-class counts, so it has no stratified σ; give "
                             "'binomial' or a number")
        return sampler["stratified"]["sd"]
    if isinstance(choice, (int, float)) and not isinstance(choice, bool) and 0 < choice < 0.5:
        return float(choice)
    raise ValueError(f"sd for {name} must be 'binomial', 'stratified' or a fraction in (0, 0.5), got {choice!r}")


def _part(seeds: list[int], accuracies: list[float], first: int, part: str, name: str) -> list[float]:
    """The accuracies of the seeds from ``first`` on (part "from") or before it ("before"); two or more each."""
    kept = [acc for seed, acc in zip(seeds, accuracies) if (seed >= first) == (part == "from")]
    if len(kept) < 2:
        raise ValueError(f"--held-out: the {name} row's first held-out seed {first} leaves {len(kept)} of its seeds "
                         f"{seeds} {'from it on' if part == 'from' else 'before it'}; each part needs two or more")
    return kept


def _tail(p: float) -> str:
    """A tail probability with three decimals, or two significant digits below 0.01, where three decimals would
    keep one digit or none."""
    return f"{p:.3f}" if p >= 0.01 else f"{p:.1e}"


def report(s: dict) -> str:
    """``seed_spread``'s numbers as the lines this command prints (accuracies in points)."""
    pts, bar = 100, f"{s['bar'] * 100:g}"
    below = s["se_below_bar"] > 0
    lines = [f"{s['k']} seeds ({', '.join(map(str, s['seeds']))}), n = {s['n']:,} each: {s['k'] * s['n']:,} "
             "samples per sampler",
             f"accuracy: DDIM {s['samplers']['ddim']['accuracy']:.3%}, DDPM {s['samplers']['ddpm']['accuracy']:.3%}; "
             f"gap {s['gap'] * pts:.2f} ± {s['gap_se'] * pts:.2f} (binomial), {abs(s['se_below_bar']):.2f} s.e. "
             f"{'below' if below else 'above'} {bar}",
             (f"2 s.e. below {bar} needs an s.e. of {s['se_needed'] * pts:.3f}: about {s['seeds_needed']} seeds per "
              "sampler at this gap" if below else f"at or above {bar}: no number of seeds puts it 2 s.e. below"),
             f"per-seed gaps: {', '.join(f'{g * pts:.2f}' for g in s['gaps'])}",
             f"  s.d. {s['gaps_sd'] * pts:.2f} against {s['gap_binomial_sd'] * pts:.2f} for two binomial draws; "
             f"correlation of the samplers' per-seed accuracies r = {s['correlation']:.2f}",
             f"  with the gaps' own spread: {s['gap'] * pts:.2f} ± {s['spread_se'] * pts:.2f}"
             + (f", t = {s['spread_t']:.2f} on {s['k'] - 1} degrees of freedom" if s["spread_t"] is not None else "")]
    for name, v in s["samplers"].items():
        lines.append(f"{name.upper()} per-seed accuracy: s.d. {v['sd'] * pts:.2f} against binomial "
                     f"{v['binomial_sd'] * pts:.2f}; χ² {v['chi2']:.1f} on {s['k'] - 1} df, lower tail "
                     f"{_tail(v['lower_tail'])}")
        if st := v.get("stratified"):
            which = "the one seed that keeps them" if st["seeds"] == 1 else f"the {st['seeds']} seeds that keep them"
            lines.append(f"  against the stratified {st['sd'] * pts:.2f} (class accuracies from {which}): "
                         f"χ² {st['chi2']:.1f}, lower tail {_tail(st['lower_tail'])}")
    lines.append(f"summed χ² {s['chi2_sum']:.1f} on {s['chi2_sum_df']} df, lower tail "
                 f"{_tail(s['chi2_sum_lower_tail'])}")
    if "against" in s:
        lines.append(_against_line("against the chosen σ", s["against"], pts))
    if "held_out" in s:
        first = s["held_out"]["first"]
        lines.append(_against_line(f"held out (DDIM's seeds from {first['ddim']}, DDPM's from {first['ddpm']})",
                                   s["held_out"]["from"], pts))
        lines.append(_against_line("before them", s["held_out"]["before"], pts))
    if "verdict" in s and "se_at" not in s["verdict"]:
        lines.append(f"the {s['k']} seeds are the verdict's: the gap above is its reading")
    elif "verdict" in s:
        v = s["verdict"]
        lines.append(f"at {v['at']} seeds the binomial s.e. will be about {v['se_at'] * pts:.3f}; were "
                     f"{s['gap'] * pts:.2f} the true gap, the reading lies 2 s.e. below {bar} with probability "
                     f"{v['given_in_hand']:.2f} given the {s['k']} seeds in hand ({v['fresh']:.2f} for a fresh set of "
                     f"{v['at']})")
    for name, f in s["fid"].items():
        lines.append(f"{name.upper()} FID {f['mean']:.2f} ± {f['se']:.2f}, one draw's s.d. {f['sd']:.2f}, range "
                     f"{f['range'][0]:.2f}–{f['range'][1]:.2f}")
    lines.append(f"FID, DDPM minus DDIM seed by seed: {s['fid_paired'][0]:.2f} ± {s['fid_paired'][1]:.2f}")
    return "\n".join(lines)


def _against_line(title: str, r: dict, pts: int) -> str:
    """One line of ``report`` for a ``summed`` reading of the two samplers."""
    each = "; ".join(f"{name.upper()} s.d. {r[name]['sd'] * pts:.2f} against {r[name]['sigma'] * pts:.2f}, χ² "
                     f"{r[name]['chi2']:.1f} on {r[name]['df']}, lower tail {_tail(r[name]['lower_tail'])}"
                     for name in ("ddim", "ddpm"))
    return f"{title}: {each}; summed χ² {r['chi2']:.1f} on {r['df']}, lower tail {_tail(r['lower_tail'])}"


def sd_choice(value: str, res: dict, n: int):
    """An ``--sd`` value for the sampler whose results file is ``res`` (its row at n samples per seed):
    "binomial", "stratified", a number of points in (0, 50) (returned as a fraction), or an ``accuracy_spread``
    results file of the same model, sampler, checkpoint and classifier at n (its ``stratified_sd_at_n``)."""
    if value in ("binomial", "stratified"):
        return value
    try:
        points = float(value)
    except ValueError:
        points = None
    if points is not None:
        if not 0 < points < 50:
            raise ValueError(f"--sd takes a number of points in (0, 50), got {value}")
        return points / 100
    if not Path(value).is_file():
        raise ValueError(f"--sd takes 'binomial', 'stratified', a number of points or an accuracy_spread results "
                         f"file, got {value!r}")
    try:
        spread = json.loads(Path(value).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"--sd {value}: not a JSON results file ({e})") from None
    keys = ("model", "sampler", "checkpoint_sha256", "classifier_sha256")
    if (not isinstance(spread, dict) or "stratified_sd_at_n" not in spread or spread.get("at_n") != n
            or any(spread.get(key) != res.get(key) for key in keys)):
        raise ValueError(f"--sd {value}: must be an accuracy_spread results file with stratified_sd_at_n at n = {n} "
                         f"and the same {', '.join(keys)} as the results file it is read against ("
                         f"{res.get('model')!r}, {res.get('sampler')!r})")
    return spread["stratified_sd_at_n"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="fashion-mnist-cfg",
                   help="reads benchmarks/results/quality-<model>.json and quality-<model>-ddpm.json")
    p.add_argument("--files", nargs=2, metavar=("DDIM", "DDPM"), help="two results files instead")
    p.add_argument("--verdict-at", type=int, metavar="K",
                   help="how often the reading at K seeds lies 2 s.e. below the bar, were the gap the true one (at K "
                        "seeds in hand: says the gap is the verdict's reading)")
    p.add_argument("--sd", nargs=2, metavar=("DDIM", "DDPM"),
                   help="read each spread against this σ: binomial, stratified, a number in points, or an "
                        "accuracy_spread results file")
    p.add_argument("--held-out", nargs=2, type=int, metavar=("DDIM", "DDPM"),
                   help="each sampler's first held-out seed: read the seeds from it on and those before apart")
    args = p.parse_args(argv)
    files = args.files or [RESULTS / f"quality-{args.model}.json", RESULTS / f"quality-{args.model}-ddpm.json"]
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        p.error(f"no results file {', '.join(missing)} (--files DDIM DDPM, or --model with both files in "
                "benchmarks/results/)")
    ddim_res, ddpm_res = (json.loads(Path(f).read_text()) for f in files)
    try:
        check_pair(ddim_res, ddpm_res, files)
        ddim, ddpm = row_at_s1(ddim_res, str(files[0])), row_at_s1(ddpm_res, str(files[1]))
        sd = ({name: sd_choice(v, r, row["n"]) for name, v, r, row in
               zip(("ddim", "ddpm"), args.sd, (ddim_res, ddpm_res), (ddim, ddpm))} if args.sd else None)
        held_out = dict(zip(("ddim", "ddpm"), args.held_out)) if args.held_out else None
        print(report(seed_spread(ddim, ddpm, sd=sd, held_out=held_out, verdict_at=args.verdict_at)))
    except ValueError as e:
        p.error(str(e))


if __name__ == "__main__":
    main()
