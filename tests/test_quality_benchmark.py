"""benchmarks/quality.py over several seeds (``--seed 0 1 2``) and how the README's table reads such rows."""

import statistics
import sys
from pathlib import Path

import pytest
import torch

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
        return float(self._right(images, labels).float().mean())

    def correct_per_class(self, images, labels):
        return torch.bincount(labels[self._right(images, labels)], minlength=10).tolist()

    @staticmethod
    def _right(images, labels):
        return images.flatten(1).mean(1) > labels / 10 - 0.5

    def references(self, n, seed=0, labels=None):
        balanced = labels is not None and labels.tolist() == (torch.arange(n) % 10).tolist()  # generate's labels
        return {"floor": 1.0 + seed + n / 1000 - 0.5 * balanced, "grain": 30.0 - seed}


SCHEDULE = DiffusionSchedule.from_name("report", 100)


def test_several_seeds_pool_the_one_seed_draws(tiny_cond_unet):
    ev = FakeEvaluator()
    seeds = [0, 3, 7]
    one = [sample_quality(tiny_cond_unet, SCHEDULE, ev, 12, steps=3, guidance_scale=2.0, seed=s, batch=5,
                          per_class=True)[0] for s in seeds]
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
    # each seed's right answers per class, which add up to its accuracy
    assert row["correct_per_class_per_seed"] == [r["correct_per_class"] for r in one]
    assert [sum(c) / 12 for c in row["correct_per_class_per_seed"]] == pytest.approx(accuracies)
    assert len({tuple(c) for c in row["correct_per_class_per_seed"]}) > 1  # not one draw's counts repeated


def test_one_seed_keeps_the_one_draw_row(tiny_cond_unet):
    ev = FakeEvaluator()
    one, _ = sample_quality(tiny_cond_unet, SCHEDULE, ev, 12, steps=3, guidance_scale=1.0, seed=4, batch=5)
    rows, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [1.0], [4], batch=5, evaluator=ev)
    assert list(rows[0]) == ["guidance_scale", "steps", "n", "fid", "sampling_seconds", "accuracy",
                             "correct_per_class"]
    assert rows[0]["fid"] == round(one["fid"], 3) and rows[0]["accuracy"] == round(one["accuracy"], 4)
    assert "correct_per_class" not in one  # sample_quality keeps them only when asked (per_class)
    assert sum(rows[0]["correct_per_class"]) == round(one["accuracy"] * 12)


def test_draws_made_before_the_counts_were_kept_pool_with_none():
    new = {"guidance_scale": 1.0, "steps": 50, "n": 4, "fid": 10.0, "seconds": 1.0, "accuracy": 0.5,
           "correct_per_class": [1, 1]}
    old = {k: v for k, v in new.items() if k != "correct_per_class"}
    assert quality.pool([old, new], [0, 1])["correct_per_class_per_seed"] == [None, [1, 1]]
    assert "correct_per_class_per_seed" not in quality.pool([old, old], [0, 1])
    assert quality.pool([new], [5])["correct_per_class"] == [1, 1]


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
        f"FID < grain: no (mean 5.0 s.e. above); accuracy within 3 points of DDPM's (gap +2.0 ± {se * 100:.1f}, "
        f"{1 / (se * 100):.2f} s.e. below 3): yes")
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
    assert f"(gap +2.0 ± {se * 100:.1f}, {1 / (se * 100):.2f} s.e. below 3): yes" in ddim_line
    assert "| 15.00 |" in ddpm_line and f"91.0% ± {accuracy_se(0.91, 2000):.1%}" in ddpm_line
    assert "A row of k seeds draws n samples per seed" in table
    # neither file says its references were class-balanced (written before they were): both are marked
    assert "| 4.00† | 37.50† |" in ddim_line and "| 4.00† | 37.50† |" in ddpm_line and "† Random draws" in table
    (tmp_path / "quality-toy-cfg.json").write_text(json.dumps(
        {**common, "sampler": "DDIM, 50 steps, trailing, eta=0", "rows": [ddpm], "references_balanced": True}))
    table = readme_tables.table_quality()
    assert "A row of k seeds" not in table  # no pooled row, no note
    ddim_line, ddpm_line = [line for line in table.splitlines() if line.startswith("| toy-cfg")]
    assert "| 4.00 | 37.50 |" in ddim_line and "| 4.00† | 37.50† |" in ddpm_line and "† Random draws" in table
    (tmp_path / "quality-toy-cfg-ddpm.json").write_text(json.dumps(
        {**common, "sampler": "DDPM, 300 steps", "rows": [ddpm], "references_balanced": True}))
    assert "†" not in readme_tables.table_quality()


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
    assert "| 6.50 | 14.20 |" in line  # unconditional: random references are the right ones, unmarked


def test_a_start_whose_file_keeps_no_record_is_named_not_counted():
    from helpers.pretrained import epochs_text

    start = {"checkpoint": "x.pt", "class_conditional": True, "epochs": None, "train_minutes": None,
             "hardware": None, "sha256": "0" * 64}
    res = {"epochs": 3, "train_minutes": 30.2, "train_hardware": "cpu", "init_from": start}
    assert epochs_text(res) == "? + 3" and epochs_text({"epochs": 72}) == "72"
    assert readme_tables._minutes(res) == "30 (cpu), after x.pt"


# the classifier scoring here, as main() describes it (its references as FakeEvaluator's at n = 12)
CLASSIFIER = {"sha256": "c" * 64, "test_accuracy": 0.9,
              "references": {seed: FakeEvaluator().references(12, seed) for seed in range(10)}}


def _draws_file(path, rows, command, **record):
    """A results file of this script's form, scored by CLASSIFIER unless ``record`` says otherwise."""
    import json

    record = {"classifier_sha256": CLASSIFIER["sha256"], "classifier_test_accuracy": 0.9, **record}
    path.write_text(json.dumps({"command": command, "hardware": "h", "date": "d", "rows": rows, **record}))
    return path


def test_draws_made_in_other_processes_join_as_if_sampled_here(tiny_cond_unet, tmp_path, monkeypatch):
    from benchmarks.common import weights_sha256
    from helpers.pretrained import save_checkpoint, sha256

    ev, weights = FakeEvaluator(), weights_sha256(tiny_cond_unet)
    opts = "--n 12 --steps 3 --guidance 2 --batch 5"
    whole, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [2.0], [0, 3, 7], batch=5, evaluator=ev)
    part, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [2.0], [3, 7], batch=5, evaluator=ev)
    one, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [2.0], [0], batch=5, evaluator=ev)
    # a file that records its weights, and an older one that names the checkpoint it scored
    ckpt = tmp_path / "copy.pt"
    save_checkpoint(ckpt, tiny_cond_unet, SCHEDULE, half=False)
    f37 = _draws_file(tmp_path / "a.json", part, f"python -m benchmarks.quality --model m {opts} --seed 3 7",
                      checkpoint_sha256="0" * 64, weights_sha256=weights)
    f0 = _draws_file(tmp_path / "b.json", one, f"python -m benchmarks.quality --checkpoint {ckpt} {opts} --seed 0",
                     checkpoint_sha256=sha256(ckpt))
    args = quality.parser().parse_args(f"--model m {opts} --seed 0 3 7".split())
    sampled = []
    real_sample_quality = quality.sample_quality
    monkeypatch.setattr(quality, "sample_quality", lambda *a, **k: sampled.append(k["seed"]) or
                        real_sample_quality(*a, **k))
    done, provenance = quality.earlier_draws([f37], args, weights, CLASSIFIER)
    joined, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [2.0], [0, 3, 7], batch=5, evaluator=ev,
                                 done=done)
    assert sampled == [0]  # seeds 3 and 7 came from the file
    for key in ("seeds", "fid_per_seed", "accuracy_per_seed", "fid", "fid_sd", "accuracy"):
        assert joined[0][key] == pytest.approx(whole[0][key], abs=1e-3), key
    assert joined[0]["correct_per_class_per_seed"] == whole[0]["correct_per_class_per_seed"]
    assert [p["seeds"] for p in provenance] == [[3, 7]] and provenance[0]["command"].endswith("--seed 3 7")
    done, _ = quality.earlier_draws([f37, f0], args, weights, CLASSIFIER)  # every seed from files: nothing sampled
    sampled.clear()
    joined, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [2.0], [0, 3, 7], batch=5, evaluator=ev,
                                 done=done)
    assert sampled == [] and joined[0]["fid_per_seed"] == whole[0]["fid_per_seed"]
    assert joined[0]["correct_per_class_per_seed"] == whole[0]["correct_per_class_per_seed"]
    # a file from before the counts were kept gives draws without them, and a join of only such draws none
    older = [{k: v for k, v in part[0].items() if k != "correct_per_class_per_seed"}]
    f_old = _draws_file(tmp_path / "c.json", older, f"python -m benchmarks.quality --model m {opts} --seed 3 7",
                        checkpoint_sha256="0" * 64, weights_sha256=weights)
    done, _ = quality.earlier_draws([f_old], args, weights, CLASSIFIER)
    assert all("correct_per_class" not in d for d in done.values())
    assert "correct_per_class_per_seed" not in quality.pool([done[2.0, 3], done[2.0, 7]], [3, 7])
    joined, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [2.0], [0, 3, 7], batch=5, evaluator=ev,
                                 done=done)
    assert joined[0]["correct_per_class_per_seed"] == [whole[0]["correct_per_class_per_seed"][0], None, None]
    short = [{**part[0], "correct_per_class_per_seed": part[0]["correct_per_class_per_seed"][:1]}]
    f_short = _draws_file(tmp_path / "d.json", short, f"python -m benchmarks.quality --model m {opts} --seed 3 7",
                          checkpoint_sha256="0" * 64, weights_sha256=weights)
    with pytest.raises(SystemExit, match="correct_per_class_per_seed holds 1 entries for its 2 seeds"):
        quality.earlier_draws([f_short], args, weights, CLASSIFIER)


def test_draws_at_other_guidance_scales_give_the_rows_at_the_scales_asked_for(tiny_cond_unet, tmp_path,
                                                                               monkeypatch):
    from benchmarks.common import weights_sha256

    ev, weights = FakeEvaluator(), weights_sha256(tiny_cond_unet)
    opts = "--n 12 --steps 3 --batch 5"
    whole, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [1.0, 3.0], [0, 3], batch=5, evaluator=ev)
    g1, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [1.0], [0, 3], batch=5, evaluator=ev)
    g3, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [3.0], [3], batch=5, evaluator=ev)
    both, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [1.0, 3.0], [0], batch=5, evaluator=ev)
    cmd = f"python -m benchmarks.quality --model m {opts}"
    f1 = _draws_file(tmp_path / "g1.json", g1, f"{cmd} --guidance 1 --seed 0 3", weights_sha256=weights)
    f3 = _draws_file(tmp_path / "g3.json", g3, f"{cmd} --guidance 3 --seed 3", weights_sha256=weights)
    f13 = _draws_file(tmp_path / "g13.json", both, f"{cmd} --guidance 1 3 --seed 0", weights_sha256=weights)
    sampled = []
    real_sample_quality = quality.sample_quality
    monkeypatch.setattr(quality, "sample_quality", lambda *a, **k: sampled.append((k["guidance_scale"], k["seed"]))
                        or real_sample_quality(*a, **k))
    per_seed = ("seeds", "fid_per_seed", "accuracy_per_seed", "seconds_per_seed", "correct_per_class_per_seed")
    f1s3 = _draws_file(tmp_path / "g1s3.json", [{**g1[0], **{k: g1[0][k][1:] for k in per_seed}}],
                       f"{cmd} --guidance 1 --seed 3", weights_sha256=weights)
    # the scales drawn apart, at seed 3, and together, at seed 0, pool into both rows with nothing sampled here
    args = quality.parser().parse_args(f"--model m {opts} --guidance 1 3 --seed 0 3".split())
    done, provenance = quality.earlier_draws([f13, f3, f1s3], args, weights, CLASSIFIER)
    assert sorted(done) == [(1.0, 0), (1.0, 3), (3.0, 0), (3.0, 3)] and all("guidance" not in p for p in provenance)
    joined, _ = quality.evaluate(tiny_cond_unet, SCHEDULE, {}, 12, 3, [1.0, 3.0], [0, 3], batch=5, evaluator=ev,
                                 done=done)
    assert sampled == []
    for j, w in zip(joined, whole, strict=True):
        for key in ("guidance_scale", "seeds", "fid_per_seed", "accuracy_per_seed", "fid", "accuracy"):
            assert j[key] == pytest.approx(w[key], abs=1e-3), key
        assert j["correct_per_class_per_seed"] == w["correct_per_class_per_seed"]
    # a join at fewer scales takes a file's rows at those only, and its provenance names them
    args = quality.parser().parse_args(f"--model m {opts} --guidance 1 --seed 0 3".split())
    done, provenance = quality.earlier_draws([f13, f1s3], args, weights, CLASSIFIER)
    assert sorted(done) == [(1.0, 0), (1.0, 3)]
    assert [p.get("guidance") for p in provenance] == [[1.0], None]
    footer = readme_tables._joined({"draws_from": provenance})
    assert "--guidance 1 3 --seed 0` (seed 0, its s = 1 rows; h, d)" in footer
    assert "--guidance 1 --seed 3` (seed 3; h, d)" in footer
    # the same seed at the same scale from two files is refused, at two scales it is not
    with pytest.raises(SystemExit, match="seed 0 at guidance 1 is in another file too"):
        quality.earlier_draws([f13, f1], args, weights, CLASSIFIER)
    with pytest.raises(SystemExit, match=r"drawn at guidance \[3.0\], none of --guidance \[1.0\]"):
        quality.earlier_draws([f3], args, weights, CLASSIFIER)


def test_draws_of_other_settings_weights_or_seeds_are_refused(tiny_cond_unet, tmp_path):
    from benchmarks.common import weights_sha256
    from helpers.pretrained import save_checkpoint, sha256

    weights = weights_sha256(tiny_cond_unet)
    opts = "--n 12 --steps 3 --guidance 2 --batch 5"
    row = {"guidance_scale": 2.0, "steps": 3, "n": 12, "fid": 10.0, "sampling_seconds": 1.0}
    args = quality.parser().parse_args(f"--model m {opts} --seed 0 3".split())

    def refused(command, match, weights=weights, files=()):
        f = _draws_file(tmp_path / "x.json", [row], command, checkpoint_sha256="0" * 64, weights_sha256=weights)
        with pytest.raises(SystemExit, match=match):
            quality.earlier_draws([*files, f], args, weights_sha256(tiny_cond_unet), CLASSIFIER)

    cmd = f"python -m benchmarks.quality --model m {opts}"
    refused(f"{cmd} --seed 3 --batch 6", r"another batch \(6, here 5\)")
    refused(f"{cmd.replace('--n 12', '--n 13')} --seed 3", "another n")
    refused(f"{cmd} --seed 3 --sampler ddpm", "another sampler")
    refused(f"{cmd} --seed 3 --guidance 1", r"drawn at guidance \[1.0\], none of --guidance \[2.0\]")
    refused(f"{cmd} --seed 3", "scored other weights than m", weights="1" * 64)
    refused(f"{cmd} --seed 9", r"seed 9 is not among --seed \[0, 3\]")
    first = _draws_file(tmp_path / "first.json", [row], f"{cmd} --seed 3", checkpoint_sha256="0" * 64,
                        weights_sha256=weights)
    refused(f"{cmd} --seed 3", "seed 3 at guidance 2 is in another file too", files=[first])
    # an older file, with no weights recorded, whose checkpoint has changed since
    ckpt = tmp_path / "copy.pt"
    save_checkpoint(ckpt, tiny_cond_unet, SCHEDULE, half=False)
    old = _draws_file(tmp_path / "old.json", [row], f"python -m benchmarks.quality --checkpoint {ckpt} {opts} --seed 3",
                      checkpoint_sha256=sha256(ckpt))
    assert quality.earlier_draws([old], args, weights, CLASSIFIER)[0][2.0, 3]["fid"] == 10.0
    save_checkpoint(ckpt, tiny_cond_unet, SCHEDULE, half=True)
    with pytest.raises(SystemExit, match="is not the file it scored"):
        quality.earlier_draws([old], args, weights, CLASSIFIER)


def test_weights_sha256_tells_weights_apart_not_files(tiny_cond_unet, tmp_path):
    from benchmarks.common import weights_sha256
    from helpers.pretrained import load_checkpoint, save_checkpoint, sha256

    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    save_checkpoint(a, tiny_cond_unet, SCHEDULE, {"note": "a"}, half=False)
    save_checkpoint(b, tiny_cond_unet, SCHEDULE, {"note": "b"}, half=False)
    assert sha256(a) != sha256(b)
    assert weights_sha256(load_checkpoint(a)[0]) == weights_sha256(load_checkpoint(b)[0]) == weights_sha256(
        tiny_cond_unet)
    changed = load_checkpoint(a)[0]
    with torch.no_grad():
        changed.conv_out.bias[0] += 1e-6
    assert weights_sha256(changed) != weights_sha256(tiny_cond_unet)


def test_a_joined_row_names_the_commands_of_its_draws(tmp_path, monkeypatch):
    import json

    draws = [{"command": "python -m benchmarks.quality --model toy --seed 0", "hardware": "h0", "date": "d0",
              "checkpoint_sha256": "0" * 64, "seeds": [0]},
             {"command": "python -m benchmarks.quality --checkpoint c.pt --seed 1 2", "hardware": "h1", "date": "d1",
              "checkpoint_sha256": "1" * 64, "seeds": [1, 2]}]
    row = {"guidance_scale": None, "steps": 50, "n": 2000, "fid": 20.0, "seeds": [0, 1, 2],
           "fid_per_seed": [19.0, 20.0, 21.0], "fid_sd": 1.0, "sampling_seconds": 3.0}
    res = {"command": "python -m benchmarks.quality --model toy --seed 0 1 2 --draws a.json b.json", "hardware": "h",
           "date": "d", "model": "toy", "epochs": 1, "train_minutes": 1.0, "train_hardware": "cpu",
           "references": {"floor": 4.0, "grain": 37.5}, "classifier_test_accuracy": 0.9,
           "sampler": "DDIM, 50 steps, trailing, eta=0", "rows": [row], "draws_from": draws}
    (tmp_path / "quality-toy.json").write_text(json.dumps(res))
    monkeypatch.setattr(readme_tables, "RESULTS", tmp_path)
    footer = readme_tables.table_quality().split("Commands: ")[1]
    assert footer == ("`python -m benchmarks.quality --model toy --seed 0 1 2 --draws a.json b.json` (h, d, n = 2000), "
                      "joining the draws of `python -m benchmarks.quality --model toy --seed 0` (seed 0; h0, d0) and "
                      "`python -m benchmarks.quality --checkpoint c.pt --seed 1 2` (seeds 1, 2; h1, d1).")


def test_an_unconditional_file_of_several_seeds_gives_every_seed(tmp_path):
    row = {"guidance_scale": None, "steps": 50, "n": 12, "fid": 20.0, "seeds": [1, 2], "fid_per_seed": [19.0, 21.0],
           "fid_sd": 1.414, "sampling_seconds": 8.0}
    f = _draws_file(tmp_path / "u.json", [row], "python -m benchmarks.quality --model m --n 12 --guidance 1 --seed 1 2",
                    checkpoint_sha256="0" * 64, weights_sha256="w")
    args = quality.parser().parse_args("--model m --n 12 --guidance 1 --seed 0 1 2".split())
    done, _ = quality.earlier_draws([f], args, "w", CLASSIFIER)
    assert sorted(done) == [(1.0, 1), (1.0, 2)] and [done[1.0, k]["fid"] for k in (1, 2)] == [19.0, 21.0]
    assert "accuracy" not in done[1.0, 1] and done[1.0, 2]["seconds"] == 4.0 and done[1.0, 2]["seconds_shared"]
    # a share of a total is no seed's own time: a row joined from it records the total only
    row = quality.pool([done[1.0, 1], done[1.0, 2]], [1, 2])
    assert row["sampling_seconds"] == 8.0 and "seconds_per_seed" not in row
    bare = _draws_file(tmp_path / "bare.json", [row], "python -m benchmarks.quality --model m --n 12 --guidance 1 "
                       "--seed 1 2")
    with pytest.raises(SystemExit, match="records neither weights_sha256 nor checkpoint_sha256"):
        quality.earlier_draws([bare], args, "w", CLASSIFIER)


def test_the_grain_verdict_pairs_each_seed_with_its_own_reference_when_they_are_recorded():
    row = {"n": 2000, "guidance_scale": None, "fid": 12.496, "seeds": [0, 1, 2, 3, 4], "fid_sd": 0.869,
           "fid_per_seed": [13.753, 12.904, 12.409, 11.808, 11.605]}
    grains = [14.163, 13.774, 15.047, 14.396, 15.736]
    res = {"model": "mnist", "references": {"floor": 6.7, "grain": 14.623}, "classifier_test_accuracy": 0.99,
           "references_per_seed": [{"floor": 6.7, "grain": g} for g in grains]}
    diffs = [f - g for f, g in zip(row["fid_per_seed"], grains)]
    z = statistics.fmean(diffs) / (statistics.stdev(diffs) / 5 ** 0.5)  # 3.17: the grain's own spread counts
    assert f"{z:.1f}" == "-3.2"
    assert readme_tables._quality_bar(row, res) == "FID < grain: yes (paired by seed: mean 3.2 s.e. below)"
    del res["references_per_seed"]  # unpaired: the FID's s.e. alone, (12.496 − 14.623)/(0.869/√5) = 5.5
    assert readme_tables._quality_bar(row, res) == "FID < grain: yes (mean 5.5 s.e. below)"


def test_draws_scored_by_another_classifier_are_refused(tmp_path):
    row = {"guidance_scale": 1.0, "steps": 50, "n": 12, "fid": 20.0, "sampling_seconds": 8.0}
    cmd = "python -m benchmarks.quality --model m --n 12 --guidance 1 --seed 1"
    args = quality.parser().parse_args("--model m --n 12 --guidance 1 --seed 0 1".split())
    other = _draws_file(tmp_path / "other.json", [row], cmd, weights_sha256="w", classifier_sha256="d" * 64)
    with pytest.raises(SystemExit, match=r"scored by another classifier \(sha256 dddddddddddd…, here cccccccccccc…\)"):
        quality.earlier_draws([other], args, "w", CLASSIFIER)
    # an older file records no sha256: its classifier's test accuracy, and its references at its seed, must match
    def older(name, **record):
        f = _draws_file(tmp_path / name, [row], cmd, weights_sha256="w", classifier_sha256=None,
                        references={"floor": 2.012, "grain": 29.0}, **record)
        f.write_text(f.read_text().replace('"classifier_sha256": null, ', ""))
        return f

    same = older("same.json")
    assert "classifier_sha256" not in same.read_text()
    assert quality.earlier_draws([same], args, "w", CLASSIFIER)[0][1.0, 1]["fid"] == 20.0
    with pytest.raises(SystemExit, match=r"another classifier \(test accuracy 0.91, here 0.9\)"):
        quality.earlier_draws([older("accuracy.json", classifier_test_accuracy=0.91)], args, "w", CLASSIFIER)
    moved = older("moved.json")  # the same accuracy, but seed 1's grain reference 0.05 off: another feature space
    moved.write_text(moved.read_text().replace('"grain": 29.0', '"grain": 29.05'))
    with pytest.raises(SystemExit, match="another classifier \\(references at seed 1"):
        quality.earlier_draws([moved], args, "w", CLASSIFIER)


def test_a_pooled_accuracy_is_not_given_to_every_seed(tmp_path):
    row = {"guidance_scale": 1.0, "steps": 50, "n": 12, "fid": 20.0, "seeds": [1, 2], "fid_per_seed": [19.0, 21.0],
           "fid_sd": 1.414, "accuracy": 0.5, "sampling_seconds": 8.0}
    f = _draws_file(tmp_path / "c.json", [row], "python -m benchmarks.quality --model m --n 12 --guidance 1 --seed 1 2",
                    weights_sha256="w")
    args = quality.parser().parse_args("--model m --n 12 --guidance 1 --seed 0 1 2".split())
    with pytest.raises(SystemExit, match=r"its accuracy pools seeds \[1, 2\] and it holds no accuracy_per_seed"):
        quality.earlier_draws([f], args, "w", CLASSIFIER)
    f.write_text(f.read_text().replace('"accuracy": 0.5', '"accuracy": 0.5, "accuracy_per_seed": [0.25, 0.75]'))
    done, _ = quality.earlier_draws([f], args, "w", CLASSIFIER)
    assert [done[1.0, k]["accuracy"] for k in (1, 2)] == [0.25, 0.75]


class FakeClassifier(torch.nn.Linear):
    """What main() reads of the evaluator's classifier: its weights (for their sha256) and its metadata."""

    def __init__(self):
        super().__init__(2, 2)
        self.metadata = {"test_accuracy": 0.9}


def test_main_writes_a_draw_to_out_and_a_join_of_joins_keeps_every_command(tiny_cond_unet, tmp_path, monkeypatch,
                                                                          capsys):
    import json

    import benchmarks.common as common
    from helpers.pretrained import save_checkpoint

    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, tiny_cond_unet, SCHEDULE, {"dataset": "toy"}, half=False)
    torch.manual_seed(0)
    classifier = FakeClassifier()

    class Evaluator(FakeEvaluator):
        def __init__(self, dataset, device):
            assert dataset == "toy" and device == "cpu"  # --device's default
            self.classifier = classifier

    monkeypatch.setattr(quality, "QualityEvaluator", Evaluator)
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")  # nothing may land in the README's table
    run = f"--checkpoint {ckpt} --n 12 --steps 3 --guidance 2 --batch 5 --threads 1"

    def main(line):  # as from the command line, which the results file records
        monkeypatch.setattr(common, "command", lambda: f"python -m benchmarks.quality {line}")
        quality.main(line.split())

    main(f"{run} --seed 3 --out {tmp_path / 'd3.json'}")
    d3 = json.loads((tmp_path / "d3.json").read_text())
    # a sentinel, which only a draw taken from the file (not sampled again) can carry into the joins
    d3["rows"][0]["fid"], d3["rows"][0]["sampling_seconds"] = 99.0, 1234.5
    (tmp_path / "d3.json").write_text(json.dumps(d3))
    main(f"{run} --seed 0 3 --draws {tmp_path / 'd3.json'} --out {tmp_path / 'j.json'}")
    main(f"{run} --seed 0 3 7 --draws {tmp_path / 'j.json'} --out {tmp_path / 'jj.json'}")
    assert not (tmp_path / "results").exists()
    j, jj = (json.loads((tmp_path / f).read_text()) for f in ("j.json", "jj.json"))
    assert j["rows"][0]["fid_per_seed"][1] == 99.0 == jj["rows"][0]["fid_per_seed"][1]
    assert jj["rows"][0]["fid_per_seed"][0] == j["rows"][0]["fid_per_seed"][0] < 99.0
    # each seed keeps its own sampling time through both joins, not a share of the total
    assert j["rows"][0]["seconds_per_seed"][1] == 1234.5 == jj["rows"][0]["seconds_per_seed"][1]
    assert jj["rows"][0]["sampling_seconds"] == pytest.approx(sum(jj["rows"][0]["seconds_per_seed"]), abs=0.2)
    assert d3["classifier_sha256"] == weights_sha256_of(classifier)
    # a conditional model's references hold the samples' classes (0, 1, …, 9, 0, 1 at n = 12)
    assert d3["references_balanced"] and d3["references"] == {"floor": 3.512, "grain": 27.0}
    assert jj["references_per_seed"] == [{"floor": round(0.512 + s, 3), "grain": 30.0 - s} for s in (0, 3, 7)]
    # a file older than the classifier's sha256 is still recognised, by its references, which were random draws
    old = {k: v for k, v in d3.items() if k not in ("classifier_sha256", "references_balanced")}
    (tmp_path / "old.json").write_text(json.dumps({**old, "references": {"floor": 4.012, "grain": 27.0}}))
    main(f"{run} --seed 3 5 --draws {tmp_path / 'old.json'} --out {tmp_path / 'o.json'}")
    assert json.loads((tmp_path / "o.json").read_text())["rows"][0]["fid_per_seed"][0] == 99.0
    (outer,) = jj["draws_from"]
    assert outer["seeds"] == [0, 3] and outer["command"] == j["command"]
    assert [d["command"] for d in outer["draws_from"]] == [d3["command"]]
    footer = readme_tables._joined(jj)
    assert footer.count("joining the draws of") == 2 and d3["command"] in footer
    # where the results go is checked before any sampling: not a directory, not a file being joined
    with pytest.raises(SystemExit):
        main(f"{run} --seed 0 3 --draws {tmp_path / 'd3.json'} --out {tmp_path}")
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(f"{run} --seed 0 3 --draws {tmp_path / 'd3.json'} --out {tmp_path / 'd3.json'}")
    assert "one of the --draws files" in capsys.readouterr().err
    assert json.loads((tmp_path / "d3.json").read_text())["rows"][0]["fid"] == 99.0
    # a file scored by another classifier is refused by main() too
    with torch.no_grad():
        classifier.weight += 1
    with pytest.raises(SystemExit, match="scored by another classifier"):
        main(f"{run} --seed 0 3 --draws {tmp_path / 'd3.json'} --out {tmp_path / 'k.json'}")


def weights_sha256_of(module):
    from benchmarks.common import weights_sha256

    return weights_sha256(module)


def test_a_verdict_with_no_spread_among_the_draws_gives_the_difference_not_a_ratio():
    row = {"n": 2000, "guidance_scale": None, "fid": 12.0, "seeds": [0, 1], "fid_sd": 0.0, "fid_per_seed": [12.0, 12.0]}
    res = {"model": "mnist", "references": {"floor": 6.7, "grain": 14.5}, "classifier_test_accuracy": 0.99,
           "references_per_seed": [{"floor": 6.7, "grain": 14.0}, {"floor": 6.7, "grain": 15.0}]}
    # differences −2 and −3: mean −2.5, s.e. 0.7071/√2 = 0.5
    assert readme_tables._quality_bar(row, res) == "FID < grain: yes (paired by seed: mean 5.0 s.e. below)"
    res["references_per_seed"] = [{"floor": 6.7, "grain": 14.5}] * 2  # every paired difference −2.5
    assert readme_tables._quality_bar(row, res) == (
        "FID < grain: yes (paired by seed: every draw 2.50 below, with no spread to scale it by)")
    del res["references_per_seed"]
    assert readme_tables._quality_bar(row, res) == (
        "FID < grain: yes (every draw 2.50 below, with no spread to scale it by)")


def test_equal_paired_differences_have_no_spread_whatever_their_float_rounding():
    # 17.385 − 20.052 and 29.677 − 32.344 are both −2.667 to 3 places, but not as floats: an s.e. of ~1e-15
    row = {"n": 2000, "guidance_scale": None, "fid": 23.531, "seeds": [0, 1], "fid_sd": 8.692,
           "fid_per_seed": [17.385, 29.677]}
    res = {"model": "m", "references": {"floor": 6.7, "grain": 26.198}, "classifier_test_accuracy": 0.99,
           "references_per_seed": [{"floor": 6.7, "grain": 20.052}, {"floor": 6.7, "grain": 32.344}]}
    assert 17.385 - 20.052 != 29.677 - 32.344
    assert readme_tables._quality_bar(row, res) == (
        "FID < grain: yes (paired by seed: every draw 2.67 below, with no spread to scale it by)")


def test_device_is_checked_before_any_sampling_and_recorded(capsys):
    from benchmarks.common import hardware

    assert quality.parser().parse_args([]).device == "cpu"
    with pytest.raises(SystemExit):
        quality.main("--model fashion-mnist-cfg --device tpu".split())
    assert "--device: invalid choice: 'tpu' (choose from 'cpu', 'cuda')" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            quality.main("--model fashion-mnist-cfg --device cuda".split())
        assert "--device cuda: torch sees no CUDA device here" in capsys.readouterr().err
    assert hardware("cpu").endswith(f"torch {torch.__version__.split('+')[0]}") and "CUDA" not in hardware("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_seed_draws_the_same_samples_on_a_gpu_up_to_float_arithmetic(tiny_cond_unet):
    """x_T and DDPM's noise come from the seed's CPU generator and the samples come back on the CPU, so a GPU
    draw differs from the CPU's only by the network's arithmetic (on an H200, five benchmark draws at seed 0
    reproduced the CPU's FIDs to the third decimal: docs/maintaining.md, "Draws on a lent GPU")."""
    from helpers.evaluation import generate

    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    for sampler in ("ddim", "ddpm"):
        cpu, labels = generate(tiny_cond_unet, SCHEDULE, 6, steps=3, batch=4, seed=1, sampler=sampler)
        gpu, _ = generate(tiny_cond_unet.cuda(), SCHEDULE, 6, steps=3, batch=4, seed=1, sampler=sampler)
        tiny_cond_unet.cpu()
        assert gpu.device.type == "cpu" and labels.device.type == "cpu"
        assert torch.allclose(gpu, cpu, atol=1e-3)


def test_a_gap_is_read_from_the_seeds_accuracies_not_the_rounded_pool():
    """The pooled accuracy is stored to 4 places; the mean of the seeds' own (exact multiples of 1/n) is not."""
    assert readme_tables._pooled_accuracy({"accuracy": 0.8858, "accuracy_per_seed": [0.8855, 0.886]}) == 0.88575
    assert readme_tables._pooled_accuracy({"accuracy": 0.9}) == 0.9
