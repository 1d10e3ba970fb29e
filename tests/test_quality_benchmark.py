"""benchmarks/quality.py over several seeds (``--seed 0 1 2``) and how the README's table reads such rows."""

import statistics
import sys
from pathlib import Path

import pytest

from helpers.evaluation import sample_quality
from helpers.schedules import DiffusionSchedule
from helpers.summary import accuracy_se

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of scripts beside the package, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import quality, readme_tables  # noqa: E402


class FakeEvaluator:
    """Scores with no dataset: FID is the samples' mean pixel + 10 (a deterministic function of the draw),
    accuracy the share of samples whose mean pixel is above their label's tenth of the range; the references
    depend on the seed alone."""

    def fid(self, images):
        return float(images.mean()) + 10

    def accuracy(self, images, labels):
        return float((images.flatten(1).mean(1) > labels / 10 - 0.5).float().mean())

    def references(self, n, seed=0):
        return {"floor": 1.0 + seed + n / 1000, "grain": 30.0 - seed}


SCHEDULE = DiffusionSchedule.from_name("report", 100)


def test_several_seeds_pool_the_one_seed_draws(tiny_cond_unet):
    ev = FakeEvaluator()
    seeds = [0, 3, 7]
    one = [sample_quality(tiny_cond_unet, SCHEDULE, ev, 12, steps=3, guidance_scale=2.0, seed=s, batch=5)[0]
           for s in seeds]
    rows, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [2.0], seeds, batch=5, evaluator=ev)
    row = rows[0]
    fids, accuracies = [r["fid"] for r in one], [r["accuracy"] for r in one]
    assert len(set(fids)) == 3  # the seeds draw different samples
    assert row["seeds"] == seeds and row["n"] == 12 and row["guidance_scale"] == 2.0 and row["steps"] == 3
    assert row["fid_per_seed"] == [round(f, 3) for f in fids]
    assert row["fid"] == pytest.approx(sum(fids) / 3, abs=5e-4)
    assert row["fid_sd"] == pytest.approx(statistics.stdev(fids), abs=5e-4)
    # every draw has n samples, so the mean of the accuracies is the share correct among all 36
    assert row["accuracy_per_seed"] == [round(a, 4) for a in accuracies]
    assert row["accuracy"] == pytest.approx(sum(round(a * 12) for a in accuracies) / 36, abs=5e-5)


def test_one_seed_keeps_the_one_draw_row(tiny_cond_unet):
    ev = FakeEvaluator()
    one, _ = sample_quality(tiny_cond_unet, SCHEDULE, ev, 12, steps=3, guidance_scale=1.0, seed=4, batch=5)
    rows, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [1.0], [4], batch=5, evaluator=ev)
    assert list(rows[0]) == ["guidance_scale", "steps", "n", "fid", "sampling_seconds", "accuracy"]
    assert rows[0]["fid"] == round(one["fid"], 3) and rows[0]["accuracy"] == round(one["accuracy"], 4)


def test_references_are_drawn_per_seed_and_averaged():
    means, per_seed = quality.references(FakeEvaluator(), 2000, [0, 1, 5])
    assert per_seed == [{"floor": 3.0, "grain": 30.0}, {"floor": 4.0, "grain": 29.0}, {"floor": 8.0, "grain": 25.0}]
    assert means == {"floor": 5.0, "grain": 28.0}


def test_repeated_seeds_are_refused(capsys):
    with pytest.raises(SystemExit):
        quality.main(["--model", "fashion-mnist", "--seed", "0", "1", "0"])
    assert "--seed: the seeds must differ (got [0, 1, 0])" in capsys.readouterr().err


def test_readme_shows_the_mean_fid_with_its_standard_error():
    # seed 0 alone would meet the target; the mean does not
    row = {"n": 2000, "guidance_scale": None, "fid": 22.48, "seeds": [0, 1, 2, 3], "fid_sd": 3.72,
           "fid_per_seed": [19.5, 25.2, 21.73, 23.49]}
    assert readme_tables._fid(row) == "22.48 ± 1.86 (4 seeds)"
    assert readme_tables._fid({"n": 2000, "fid": 21.774}) == "21.77"
    res = {"model": "fashion-mnist", "references": {"floor": 4.0, "grain": 37.5}, "classifier_test_accuracy": 0.92}
    assert readme_tables._quality_bar(row, res) == (
        "FID < grain: yes (mean 8.1 s.e. below); FID ≤ 20: no (mean 1.3 s.e. above)")  # (22.48 − 20)/1.86 = 1.33
    one = {"n": 2000, "guidance_scale": None, "fid": 19.5}
    assert readme_tables._quality_bar(one, res) == "FID < grain: yes; FID ≤ 20: yes"  # one draw: no spread to quote


def test_pooled_accuracy_has_the_standard_error_of_all_its_samples():
    res = {"references": {"floor": 4.0, "grain": 37.5}, "classifier_test_accuracy": 0.97}
    ddim = {"n": 2000, "guidance_scale": 1.0, "fid": 40.0, "accuracy": 0.89, "seeds": [0, 1, 2, 3], "fid_sd": 1.0}
    ddpm = {"n": 2000, "guidance_scale": 1.0, "fid": 30.0, "accuracy": 0.91}
    se = (accuracy_se(0.89, 8000) ** 2 + accuracy_se(0.91, 2000) ** 2) ** 0.5
    assert readme_tables._quality_bar(ddim, res, ddpm) == (
        f"FID < grain: no (mean 5.0 s.e. above); accuracy within 3 points of DDPM's (gap +2.0 ± {se * 100:.1f}): yes")
    assert readme_tables._draws(ddim) == 4 and readme_tables._draws(ddpm) == 1


def test_quality_table_pools_a_conditional_row_and_says_so(tmp_path, monkeypatch):
    import json

    common = {"command": "c", "hardware": "h", "date": "d", "model": "toy-cfg", "epochs": 1, "train_minutes": 1.0,
              "train_hardware": "cpu", "references": {"floor": 4.0, "grain": 37.5}, "classifier_test_accuracy": 0.9}
    ddim = {"guidance_scale": 1.0, "steps": 50, "n": 2000, "fid": 20.0, "seeds": [0, 1, 2, 3],
            "fid_per_seed": [19.0, 21.0, 19.0, 21.0], "fid_sd": 1.155, "sampling_seconds": 1.0, "accuracy": 0.89,
            "accuracy_per_seed": [0.88, 0.9, 0.89, 0.89]}
    ddpm = {"guidance_scale": 1.0, "steps": 300, "n": 2000, "fid": 15.0, "sampling_seconds": 1.0, "accuracy": 0.91}
    (tmp_path / "quality-toy-cfg.json").write_text(json.dumps(
        {**common, "sampler": "DDIM, 50 steps, trailing, eta=0", "rows": [ddim]}))
    (tmp_path / "quality-toy-cfg-ddpm.json").write_text(json.dumps(
        {**common, "sampler": "DDPM, 300 steps", "rows": [ddpm]}))
    monkeypatch.setattr(readme_tables, "RESULTS", tmp_path)
    table = readme_tables.table_quality()
    ddim_line, ddpm_line = [line for line in table.splitlines() if line.startswith("| toy-cfg")]
    # the DDIM row: mean ± s.e. (1.155/2), accuracy s.e. over 8,000 samples, gap s.e. over 8,000 and 2,000
    assert "| 20.00 ± 0.58 (4 seeds) |" in ddim_line
    assert f"| 89.0% ± {accuracy_se(0.89, 8000):.1%} (90.0%) |" in ddim_line
    se = (accuracy_se(0.89, 8000) ** 2 + accuracy_se(0.91, 2000) ** 2) ** 0.5
    assert f"(gap +2.0 ± {se * 100:.1f}): yes" in ddim_line
    assert "| 15.00 |" in ddpm_line and f"91.0% ± {accuracy_se(0.91, 2000):.1%}" in ddpm_line
    assert "A row of k seeds draws n samples per seed" in table
    (tmp_path / "quality-toy-cfg.json").write_text(json.dumps(
        {**common, "sampler": "DDIM, 50 steps, trailing, eta=0", "rows": [ddpm]}))
    assert "A row of k seeds" not in readme_tables.table_quality()  # no pooled row, no note


def test_evaluate_takes_one_seed_as_an_int(tiny_cond_unet):
    ev = FakeEvaluator()
    as_int, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 6, 2, [1.0], 3, batch=6, evaluator=ev)
    as_list, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 6, 2, [1.0], [3], batch=6, evaluator=ev)
    assert as_int[0]["fid"] == as_list[0]["fid"] and "seeds" not in as_int[0]


def test_quality_table_counts_a_started_from_networks_epochs_and_minutes_first(tmp_path, monkeypatch):
    import json

    start = {"checkpoint": "toy-cfg", "class_conditional": True, "epochs": 35, "train_minutes": 634.4,
             "hardware": "x86_64 CPU, 2 threads", "command": "c", "sha256": "0" * 64}
    row = {"guidance_scale": None, "steps": 50, "n": 2000, "fid": 12.0, "sampling_seconds": 1.0}
    res = {"command": "c", "hardware": "h", "date": "d", "model": "toy", "epochs": 3, "train_minutes": 30.2,
           "train_hardware": "x86_64 CPU, 2 threads", "references": {"floor": 6.5, "grain": 14.2},
           "classifier_test_accuracy": 0.99, "sampler": "DDIM, 50 steps, trailing, eta=0", "rows": [row]}
    (tmp_path / "quality-toy.json").write_text(json.dumps({**res, "init_from": start}))
    monkeypatch.setattr(readme_tables, "RESULTS", tmp_path)
    line = next(line for line in readme_tables.table_quality().splitlines() if line.startswith("| toy"))
    assert line.startswith("| toy | 35 + 3 | 665: 634 as toy-cfg (x86_64 CPU, 2 threads), then 30 (x86_64 CPU, "
                           "2 threads) |")
    (tmp_path / "quality-toy.json").write_text(json.dumps(res))  # a run from scratch: its own numbers only
    line = next(line for line in readme_tables.table_quality().splitlines() if line.startswith("| toy"))
    assert line.startswith("| toy | 3 | 30 (x86_64 CPU, 2 threads) |")


def test_a_start_whose_file_keeps_no_record_is_named_not_counted():
    from helpers.pretrained import epochs_text

    start = {"checkpoint": "x.pt", "class_conditional": True, "epochs": None, "train_minutes": None,
             "hardware": None, "sha256": "0" * 64}
    res = {"epochs": 3, "train_minutes": 30.2, "train_hardware": "cpu", "init_from": start}
    assert epochs_text(res) == "? + 3" and epochs_text({"epochs": 72}) == "72"
    assert readme_tables._minutes(res) == "30 (cpu), after x.pt"
