"""Write the README's results tables from benchmarks/results/*.json (never edit them by hand).

    python -m benchmarks.readme_tables

Each table sits between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` in README.md.
"""

from __future__ import annotations

import functools
import json
import re
import statistics
from pathlib import Path

from benchmarks.common import RESULTS
from helpers.summary import accuracy_se

README = Path(__file__).resolve().parent.parent / "README.md"


def _load(name: str):
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _from_results(name: str):
    """Decorate ``make(res)``, a table of benchmarks/results/<name>.json, into a table() that is None while that
    file does not exist (every entry of ``TABLES`` is called without arguments)."""
    def decorate(make):
        @functools.wraps(make)
        def table() -> str | None:
            res = _load(name)
            return None if res is None else make(res)
        return table
    return decorate


def _footer(res: dict) -> str:
    return f"\n\nCommand: `{res['command']}` ({res['hardware']}, {res.get('date', '')})."


@_from_results("compare_styles")
def table_compare_styles(res: dict) -> str:
    lines = ["| network | parameters | minutes | steps (batch 128) | held-out ε-MSE, EMA |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, r in res["results"].items():
        lines.append(f"| {name} | {r['parameters']:,} | {r['minutes']:.1f} | {r['steps']:,} | "
                     f"{r['heldout_eps_mse_ema']:.4f} |")
    extra = [f"| {name} FID in classifier space (n={r['fid_n']}) | {r['fid']:.2f} |"
             for name, r in res["results"].items() if "fid" in r]
    footer = _footer(res)
    if extra:
        refs = res["fid_references"]
        lines += ["", "| sample quality after the same minutes (DDIM, 50 steps) | value |", "| --- | ---: |", *extra,
                  f"| reference: real training images (floor) | {refs['floor']:.2f} |",
                  f"| reference: real + N(0, 0.05²) grain | {refs['grain']:.2f} |"]
        footer += f" Sample quality: `{res['fid_command']}`."
    return "\n".join(lines) + footer


DDPM_GAP = 0.03  # issue 19: DDIM η = 0's class accuracy at s = 1 within 3 points of DDPM-300's at the same n
# issue 19: the unconditional Fashion-MNIST model near the conditional one's FID at s = 1 (17.27 when set)
FID_TARGETS = {"fashion-mnist": 20.0}


def _accuracy(p: float, n: int) -> str:
    if p in (0.0, 1.0):  # the binomial s.e. is 0 there, which would read as certainty
        return f"{p:.1%} ({round(p * n):,} of {n:,})"
    se = accuracy_se(p, n)
    return f"{p:.2%} ± {se:.2%}" if se < 0.0005 else f"{p:.1%} ± {se:.1%}"  # an s.e. that one place would show as 0


def _pooled_accuracy(row: dict) -> float:
    """A row's accuracy over all its samples: the mean of its seeds' (each stored to 4 places, as the row's own is,
    whose rounding would move a gap by up to 0.01 points), or the row's own for one seed."""
    return statistics.fmean(row["accuracy_per_seed"]) if "accuracy_per_seed" in row else row["accuracy"]


def _draws(row: dict) -> int:
    """How many seeds a quality row pools (``benchmarks.quality --seed``), each of row["n"] samples."""
    return len(row.get("seeds", [None]))


def _fid(row: dict) -> str:
    """One draw's FID, or the mean over k draws ± its s.e. (the per-seed s.d. / √k)."""
    k = _draws(row)
    if k == 1:
        return f"{row['fid']:.2f}"
    return f"{row['fid']:.2f} ± {row['fid_sd'] / k ** 0.5:.2f} ({k} seeds)"


def _distance(row: dict, bound: float, per_seed: list[float] | None = None) -> str:
    """For a row of several seeds, how far its mean FID lies from ``bound`` in s.e. of the mean (a verdict on a
    mean is a reading, not a test); nothing for one draw, whose spread the row does not hold. ``per_seed``: a
    bound drawn at each of the row's seeds (the grain reference), against which the differences are paired."""
    k = _draws(row)
    if k == 1:
        return ""
    if per_seed is not None and len(per_seed) == k:
        # both are stored to 3 places: rounded, equal differences are equal floats (spread exactly 0)
        diffs = [round(f - b, 3) for f, b in zip(row["fid_per_seed"], per_seed)]
        return _in_se("paired by seed: ", statistics.fmean(diffs), statistics.stdev(diffs) / k ** 0.5)
    return _in_se("", row["fid"] - bound, row["fid_sd"] / k ** 0.5)


def _in_se(prefix: str, difference: float, se: float) -> str:
    """``difference`` in units of its s.e.; with no spread among the draws (s.e. 0) there is no unit, so the
    difference itself is given."""
    side = "above" if difference > 0 else "below"
    if se == 0:
        return f" ({prefix}every draw {abs(difference):.2f} {side}, with no spread to scale it by)"
    return f" ({prefix}mean {abs(difference / se):.1f} s.e. {side})"


def _quality_bar(row: dict, res: dict, ddpm: dict | None = None) -> str:
    """The bars at n = 2,000 (issues 4 and 19): FID below the grain reference at s = 1; at s = 3, accuracy >= 95%
    and >= the classifier's own on real test images; DDIM η = 0's accuracy at s = 1 within 3 points of
    DDPM's (``ddpm``: the DDPM row at the same s and n, if measured); and FID at most ``FID_TARGETS[model]``.
    A row of several seeds is judged by its mean FID and its accuracy pooled over all its samples."""
    if row["n"] < 2000:
        return "— (n < 2,000)"
    s = row.get("guidance_scale")
    if s in (None, 1):  # the FID bar is for plain (unguided) sampling
        grain = res["references"]["grain"]
        grains = [r["grain"] for r in res.get("references_per_seed", [])] or None
        bars = [f"FID < grain: {'yes' if row['fid'] < grain else 'no'}{_distance(row, grain, grains)}"]
        target = FID_TARGETS.get(res.get("model"))
        if target is not None:
            bars.append(f"FID ≤ {target:g}: {'yes' if row['fid'] <= target else 'no'}{_distance(row, target)}")
        if ddpm is not None and "accuracy" in row:
            ddim_acc, ddpm_acc = _pooled_accuracy(row), _pooled_accuracy(ddpm)
            gap = ddpm_acc - ddim_acc
            # unpaired s.e. of the difference: at a shared seed the rows share the labels, but x_T only in the first
            # batch; rows of several seeds pool n·k samples
            se = (accuracy_se(ddpm_acc, ddpm["n"] * _draws(ddpm)) ** 2
                  + accuracy_se(ddim_acc, row["n"] * _draws(row)) ** 2) ** 0.5
            within = round(gap, 4) <= DDPM_GAP  # accuracies are stored to 4 places
            # how far from the bar, in s.e. (a reading, as the FID verdicts'), unless no spread scales it
            # two places: the distance is read against 2 s.e., and one place would print 1.99 as 2.0
            side = f", {abs(DDPM_GAP - gap) / se:.2f} s.e. {'below' if within else 'above'} 3" if se else ""
            bars.append(f"accuracy within 3 points of DDPM's (gap {gap * 100:+.1f} ± {se * 100:.1f}{side}): "
                        f"{'yes' if within else 'no'}")
        return "; ".join(bars)
    if s == 3 and "accuracy" in row:
        ok = _pooled_accuracy(row) >= max(0.95, res["classifier_test_accuracy"])
        return f"accuracy ≥ 95% and ≥ classifier: {'yes' if ok else 'no'}"
    return "—"


def _quality_files() -> list[dict]:
    """Every quality-*.json, grouped by checkpoint (conditional first, as before), DDIM before DDPM."""
    results = [json.loads(f.read_text()) for f in RESULTS.glob("quality-*.json")]
    return sorted(results, key=lambda r: (r["model"].split("-cfg")[0], "-cfg" not in r["model"],
                                          r["sampler"].startswith("DDPM"), r["sampler"]))


def _joined(res: dict) -> str:
    """For a row joined from draws made in other processes (``benchmarks.quality --draws``), the commands that
    made them, which are what reproduces it."""
    if "draws_from" not in res:
        return ""
    # a draw that was itself a join names its own draws, in brackets
    # a draw whose rows were taken at some of its guidance scales only names them
    draws = [f"`{d['command']}` (seed{'s' if len(d['seeds']) > 1 else ''} {', '.join(map(str, d['seeds']))}"
             + (f", its s = {', '.join(f'{g:g}' for g in d['guidance'])} rows" if "guidance" in d else "")
             + f"; {d['hardware']}, {d['date']}{_joined(d)})" for d in res["draws_from"]]
    return ", joining the draws of " + " and ".join(draws)


def table_quality() -> str | None:
    from helpers.pretrained import epochs_text

    results = _quality_files()
    if not results:
        return None
    ddpm = {(r["model"], row["guidance_scale"], row["n"]): row
            for r in results if r["sampler"].startswith("DDPM") for row in r["rows"]}
    lines = ["| checkpoint | epochs | train minutes (hardware) | sampler | guidance s | n | FID (classifier) | "
             "floor | grain | class accuracy ± s.e. (classifier on real test) | bar met |",
             "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    footers, random_refs = [], False
    for res in results:
        is_ddim_eta0 = res["sampler"].startswith("DDIM") and "eta=0" in res["sampler"]
        # a conditional model's samples are class-balanced; files before 2026-12-05 drew its references at random
        mark = "†" if "accuracy" in res["rows"][0] and not res.get("references_balanced") else ""
        random_refs |= bool(mark)
        for row in res["rows"]:
            acc = (f"{_accuracy(_pooled_accuracy(row), row['n'] * _draws(row))} ({res['classifier_test_accuracy']:.1%})"
                   if "accuracy" in row else "—")
            s = "—" if row["guidance_scale"] is None else f"{row['guidance_scale']:g}"
            ref = ddpm.get((res["model"], row["guidance_scale"], row["n"])) if is_ddim_eta0 else None
            lines.append(f"| {res['model']} | {epochs_text(res)} | {_minutes(res)} | "
                         f"{res['sampler']} | {s} | {row['n']:,} | {_fid(row)} | "
                         f"{res['references']['floor']:.2f}{mark} | {res['references']['grain']:.2f}{mark} | {acc} | "
                         f"{_quality_bar(row, res, ref)} |")
        footers.append(f"`{res['command']}` ({res['hardware']}, {res.get('date', '')}, n = {res['rows'][0]['n']})"
                       + _joined(res))
    pooled = any(_draws(row) > 1 for res in results for row in res["rows"])
    note = ("\n\nA row of k seeds draws n samples per seed: its FID is the mean ± s.e. over the k draws, its "
            "accuracy pools the n·k samples, and floor and grain are means over k draws of real images; its FID "
            "verdicts compare the mean with the bound and say how many s.e. apart they are (a reading, not a test); "
            "against the grain reference, drawn anew at each seed, the differences are paired by seed, so the "
            "reference's own spread counts too, and the s.e. is that of the mean paired difference (the paired t "
            "on k − 1 degrees of freedom), not the FID column's."
            if pooled else "")
    note += ("\n\nA class-conditional model's samples are class-balanced (labels 0, 1, …, 9, 0, …), and so are its "
             "floor and grain: real training images of the same classes."
             + (" † Random draws of training images instead (results written before 2026-12-05); on Fashion-MNIST "
                "they score higher: on fashion-mnist-cfg's seeds 0–28 at n = 2,000 the class-balanced floor and "
                "grain average 3.18 and 35.96, the random ones 4.53 and 37.43 (the rows' earlier references, in the "
                "history of "
                "benchmarks/results/quality-fashion-mnist-cfg.json)." if random_refs else ""))
    return "\n".join(lines) + note + "\n\nCommands: " + "; ".join(footers) + "."


@_from_results("evaluation")
def table_evaluation(res: dict) -> str:
    from helpers.summary import summary_table

    return (f"{res['model']} ({res['epochs']} epochs), n = {res['n']}, seed {res['seed']}, s = 1 unless guided.\n\n"
            + summary_table(res) + _footer(res))


@_from_results("sampling_speed")
def table_sampling_speed(res: dict) -> str:
    lines = ["| sampler | steps | guidance s | network passes per step | seconds per image | ms per image per step |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in res["rows"]:
        s = "—" if r["guidance_scale"] is None else f"{r['guidance_scale']:g}"
        passes = r["network_batch"] // r["batch"]
        lines.append(f"| {r['sampler'].upper()} | {r['steps']} | {s} | {passes} | {r['seconds_per_image']:.3f} | "
                     f"{r['ms_per_image_step']:.2f} |")
    return (f"{res['model']} ({res['parameters']:,} parameters), batch {res['batch']}.\n\n" + "\n".join(lines)
            + _footer(res))


@_from_results("training_throughput")
def table_training_throughput(res: dict) -> str:
    lines = ["| network | parameters | memory layout | images/s | minutes per Fashion-MNIST epoch |",
             "| --- | ---: | --- | ---: | ---: |"]
    for r in res["rows"]:
        layout = "channels_last" if r["channels_last"] else "default"
        lines.append(f"| {r['network']} | {r['parameters']:,} | {layout} | {r['images_per_second']:.0f} | "
                     f"{r['minutes_per_fashion_mnist_epoch']:.1f} |")
    return f"Batch {res['batch']}, class-conditional, one step = loss + backward + AdamW + EMA.\n\n" + \
        "\n".join(lines) + _footer(res)


@_from_results("notebooks")
def table_notebooks(res: dict) -> str:
    names = sorted(set(res.get("quick", {})) | set(res.get("full", {})))
    lines = ["| notebook | peak memory, quick mode | peak memory, full mode | run time, full mode |",
             "| --- | ---: | ---: | ---: |"]
    def mb(row):
        return f"{row['peak_mb']:,} MB" if row else "—"

    for name in names:
        q, f = res.get("quick", {}).get(name), res.get("full", {}).get(name)
        minutes = f"{f['seconds'] / 60:.1f} min" if f else "—"
        lines.append(f"| {name} | {mb(q)} | {mb(f)} | {minutes} |")
    hw = "; ".join(f"{mode}: {res[mode + '_hardware']}" for mode in ("quick", "full") if mode + "_hardware" in res)
    return "\n".join(lines) + f"\n\nCommands: `python tools/run_notebooks.py --quick` and `make notebooks` ({hw})."


DATASET_TITLES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}


def _minutes(res: dict) -> str:
    """The train-minutes cell: minutes (hardware), the started-from network's first where there is one."""
    start = res.get("init_from")
    own = f"{res['train_minutes']:.0f} ({res['train_hardware']})"
    if not start or start["train_minutes"] is None:  # a start whose file does not say
        return own + (f", after {start['checkpoint']}" if start else "")
    return (f"{start['train_minutes'] + res['train_minutes']:.0f}: {start['train_minutes']:.0f} as "
            f"{start['checkpoint']} ({start['hardware']}), then {own}")


def table_checkpoints() -> str | None:
    """The shipped checkpoints, read from the registry and each file's own metadata."""
    from helpers.pretrained import epochs_text, load_pretrained, registry

    reg = registry()
    if not reg:
        return None
    lines = ["| name | what | epochs | training command |", "| --- | --- | ---: | --- |"]
    for name in sorted(reg):
        _, _, meta = load_pretrained(name, return_metadata=True)
        cfg = meta["train_config"]
        kind = f"class-conditional (p_uncond = {cfg['p_uncond']:g})" if cfg["conditional"] else "unconditional"
        what = (f"{kind} {DATASET_TITLES[meta['dataset']]}, {cfg['model']['style']} U-Net "
                f"({meta['parameters']:,} parameters), {cfg['schedule']} schedule T = {cfg['T']}")
        start = meta.get("init_from")
        if start:
            branch = "'s unconditional branch" if start["class_conditional"] and not cfg["conditional"] else ""
            what += f", started from `{start['checkpoint']}`{branch}"
        lines.append(f"| `{name}` | {what} | {epochs_text(meta)} | `{reg[name]['command']}` |")
    return "\n".join(lines)


def table_classifiers() -> str | None:
    """The shipped classifiers behind "FID in classifier space", from their metadata."""
    from helpers.classifier import classifier_path, load_classifier

    lines = ["| dataset | trained on | epochs | accuracy on the real test set | minutes | training command |",
             "| --- | --- | ---: | ---: | ---: | --- |"]
    for dataset, title in DATASET_TITLES.items():
        if not classifier_path(dataset).is_file():
            continue
        meta = load_classifier(dataset).metadata
        lines.append(f"| {title} | {meta['train_images']:,} real training images | {meta['epochs']} | "
                     f"{meta['test_accuracy']:.2%} ({meta['test_images']:,} images) | {meta['train_minutes']:.0f} | "
                     f"`python -m helpers.classifier --dataset {dataset}` |")
    return "\n".join(lines) if len(lines) > 2 else None


TABLES = {"checkpoints": table_checkpoints, "classifiers": table_classifiers,
          "compare_styles": table_compare_styles, "quality": table_quality, "evaluation": table_evaluation,
          "sampling_speed": table_sampling_speed, "training_throughput": table_training_throughput,
          "notebooks": table_notebooks}


def main() -> None:
    text = README.read_text()
    for name, make in TABLES.items():
        table = make()
        pattern = re.compile(rf"(<!-- results:{name} -->\n)(?:.*?\n)?(<!-- /results:{name} -->)", re.S)
        if table is None or not pattern.search(text):
            print(f"{name}: {'no results yet' if table is None else 'no markers in README.md'}")
            continue
        text = pattern.sub(lambda m, t=table: m.group(1) + t + "\n" + m.group(2), text)
        print(f"{name}: written")
    README.write_text(text)


if __name__ == "__main__":
    main()
