"""The notebooks as a series: launch links, the Colab installer, links to the conventions and the next
notebook, imports from helpers, stored outputs, and notebook 09's table against its benchmark."""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import nbtemplate  # noqa: E402
from links import readme_table  # noqa: E402

NAMES = [name for name, _, _ in nbtemplate.SERIES]


def load(name):
    return nbformat.read(ROOT / "notebooks" / name, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_series_lists_every_notebook_in_order():
    on_disk = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert NAMES == on_disk
    assert [int(n[:2]) for n in NAMES] == list(range(1, len(NAMES) + 1))


@pytest.mark.parametrize("name", NAMES)
def test_notebook_opens_with_launch_links_then_the_installer(name):
    nb = load(name)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source == nbtemplate.launch_links(name)
    slug = nbtemplate.repository_slug()
    assert f"colab.research.google.com/github/{slug}/blob/main/notebooks/{name}" in nb.cells[0].source
    assert f"mybinder.org/v2/gh/{slug}/main?labpath=notebooks%2F{name}" in nb.cells[0].source
    assert code_cells(nb)[0].source == nbtemplate.COLAB


@pytest.mark.parametrize("name", NAMES)
def test_notebook_links_conventions_and_the_next_notebook_and_uses_helpers(name):
    nb = load(name)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "(../README.md#conventions)" in markdown
    i = NAMES.index(name)
    last_md = [c.source for c in nb.cells if c.cell_type == "markdown"][-1]
    if i + 1 < len(NAMES):
        assert f"({NAMES[i + 1]})" in last_md
    else:
        assert "(../README.md#the-notebooks)" in last_md
    assert any(re.search(r"^from helpers(\.\w+)? import|^import helpers", c.source, re.M) for c in code_cells(nb))


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_executed_with_outputs_stored(name):
    cells = code_cells(load(name))
    assert all(c.execution_count is not None for c in cells), "run `make notebooks`"
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1)), "executed top to bottom in one go"
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_defines_few_functions_of_its_own(name):
    # an exercise's function (a cell with a `# BEGIN SOLUTION` block) is the student's to write, not a helper
    defs = sum(len(re.findall(r"^\s*def ", c.source, re.M)) for c in code_cells(load(name))
               if "# BEGIN SOLUTION" not in c.source)
    assert defs <= 2, "move functions into helpers, test them there, and show their source"


@pytest.mark.parametrize("in_colab", [False, True])
def test_installer_cell_installs_only_in_colab(in_colab, monkeypatch):
    import subprocess

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", object())
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(nbtemplate.COLAB, "<installer>", "exec"), {})
    if in_colab:
        assert len(calls) == 1 and calls[0][1:4] == ["-m", "pip", "install"]
        assert calls[0][-1] == f"diffusion-step-by-step @ {nbtemplate.archive_url()}"
        assert nbtemplate.archive_url().startswith(f"https://github.com/{nbtemplate.repository_slug()}/archive/")
    else:
        assert calls == []


def test_readme_lists_every_notebook_with_its_launch_links():
    readme = (ROOT / "README.md").read_text()
    assert readme_table() in readme
    for name in NAMES:
        assert nbtemplate.launch_links(name) in readme


def test_checkpoints_and_sample_ship_as_package_data():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"helpers.checkpoints" = ["*.pt", "*.json"]' in text and '"helpers.assets" = ["*.npz"' in text
    assert list((ROOT / "helpers" / "checkpoints").glob("*.pt")) and list((ROOT / "helpers" / "assets").glob("*.npz"))
    assert "pip install --no-deps ." in (ROOT / "binder" / "postBuild").read_text()


def test_notebook_09_summary_agrees_with_the_benchmark():
    from helpers.summary import summary_table

    results = json.loads((ROOT / "benchmarks" / "results" / "evaluation.json").read_text())
    outputs = [o for c in code_cells(load("09_evaluation.ipynb")) for o in c.outputs
               if o.get("data", {}).get("text/markdown", "").startswith("| n = ")]
    assert len(outputs) == 1
    assert outputs[0]["data"]["text/markdown"] == summary_table(results)


def test_notebook_memory_is_recorded_and_under_binders_limit():
    res = json.loads((ROOT / "benchmarks" / "results" / "notebooks.json").read_text())
    # Binder allows 2,048 MB in all; the Jupyter server takes about 100 MB, and a kernel's peak moved by up to
    # 80 MB between two runs of the same notebook (07: 1,603 and 1,687 MB), so a recorded peak must leave both
    budget = 2048 - 100 - 80
    for mode in ("quick", "full"):
        assert sorted(res[mode]) == NAMES
        over = {name: row["peak_mb"] for name, row in res[mode].items() if row["peak_mb"] >= budget}
        assert not over, f"{mode} mode: peaks at or above {budget} MB, too close to Binder's 2 GB: {over}"


def _readme_tables():
    if str(ROOT) not in sys.path:  # benchmarks/ is a folder of scripts beside the package, not installed
        sys.path.insert(0, str(ROOT))
    import benchmarks.readme_tables as readme_tables

    return readme_tables


def test_readme_results_tables_are_generated_from_the_results_files():
    rt = _readme_tables()
    readme = (ROOT / "README.md").read_text()
    for name, make in rt.TABLES.items():
        table = make()
        block = re.search(rf"<!-- results:{name} -->\n(.*?)<!-- /results:{name} -->", readme, re.S)
        assert block, f"README has no results:{name} block"
        assert block.group(1) == ("" if table is None else table + "\n"), f"README table {name} is stale"


@pytest.mark.parametrize("row, verdict", [
    ({"n": 2000, "guidance_scale": 1.0, "fid": 30.0}, "FID < grain: yes"),
    ({"n": 2000, "guidance_scale": None, "fid": 40.0}, "FID < grain: no"),
    ({"n": 500, "guidance_scale": 1.0, "fid": 1.0}, "— (n < 2,000)"),
    ({"n": 2000, "guidance_scale": 3.0, "fid": 90.0, "accuracy": 0.96}, "accuracy ≥ 95% and ≥ classifier: no"),
    ({"n": 2000, "guidance_scale": 3.0, "fid": 90.0, "accuracy": 0.94}, "accuracy ≥ 95% and ≥ classifier: no"),
    ({"n": 2000, "guidance_scale": 3.0, "fid": 90.0, "accuracy": 0.99}, "accuracy ≥ 95% and ≥ classifier: yes"),
    ({"n": 2000, "guidance_scale": 5.0, "fid": 9.0, "accuracy": 0.99}, "—"),
])
def test_quality_bar_verdicts(row, verdict):
    res = {"references": {"floor": 4.0, "grain": 37.5}, "classifier_test_accuracy": 0.97}
    assert _readme_tables()._quality_bar(row, res) == verdict


@pytest.mark.parametrize("ddim_acc, ddpm_acc, verdict", [
    (0.874, 0.913, "no"),   # fashion-mnist-cfg at n = 1,000: 3.9 points apart
    (0.890, 0.913, "yes"),  # 2.3 points
    (0.883, 0.913, "yes"),  # exactly 3 points is within
    (0.930, 0.913, "yes"),  # DDIM above DDPM
])
def test_quality_bar_compares_ddim_eta0_with_ddpm_at_s1(ddim_acc, ddpm_acc, verdict):
    res = {"references": {"floor": 4.0, "grain": 37.5}, "classifier_test_accuracy": 0.97}
    row = {"n": 2000, "guidance_scale": 1.0, "fid": 40.0, "accuracy": ddim_acc}
    ddpm = {"n": 2000, "guidance_scale": 1.0, "fid": 30.0, "accuracy": ddpm_acc}
    bar = _readme_tables()._quality_bar(row, res, ddpm)
    gap, se = (ddpm_acc - ddim_acc) * 100, (ddim_acc * (1 - ddim_acc) / 2000 + ddpm_acc * (1 - ddpm_acc) / 2000) ** 0.5
    side = "below" if verdict == "yes" else "above"
    assert bar == (f"FID < grain: no; accuracy within 3 points of DDPM's (gap {gap:+.1f} ± {se * 100:.1f}, "
                   f"{abs(3 - gap) / (se * 100):.2f} s.e. {side} 3): {verdict}")
    assert _readme_tables()._quality_bar(row, res) == "FID < grain: no"  # no DDPM row measured: no verdict


@pytest.mark.parametrize("fid, verdict", [(28.2, "no"), (20.0, "yes"), (19.99, "yes"), (20.01, "no")])
def test_quality_bar_holds_the_unconditional_fashion_model_to_its_fid_target(fid, verdict):
    res = {"model": "fashion-mnist", "references": {"floor": 4.0, "grain": 37.5}, "classifier_test_accuracy": 0.92}
    row = {"n": 2000, "guidance_scale": None, "fid": fid}
    assert _readme_tables()._quality_bar(row, res) == f"FID < grain: yes; FID ≤ 20: {verdict}"
    assert _readme_tables()._quality_bar(row, {**res, "model": "fashion-mnist-cfg"}) == "FID < grain: yes"


def test_quality_table_prints_each_rows_accuracy_pooled_from_its_seeds():
    """A row of several seeds stores its pooled accuracy to 4 places (88.652 % as 0.8865, which prints as 88.6 %):
    the table prints the mean of the seeds' own accuracies instead, as its accuracy bar reads them."""
    import statistics

    readme = (ROOT / "README.md").read_text()
    rows = [row for f in sorted((ROOT / "benchmarks" / "results").glob("quality-*.json"))
            for row in json.loads(f.read_text())["rows"] if "accuracy_per_seed" in row]
    assert rows, "no quality row of several seeds to check"
    for row in rows:
        pooled = statistics.fmean(row["accuracy_per_seed"])
        text = _readme_tables()._accuracy(pooled, row["n"] * len(row["accuracy_per_seed"]))
        assert f"| {text} (" in readme, f"the README's table lacks {text} for a row pooled from {row['seeds']}"


@pytest.mark.parametrize("p, n, text", [(0.884, 2000, "88.4% ± 0.7%"), (1.0, 2000, "100.0% (2,000 of 2,000)"),
                                        (0.0, 160, "0.0% (0 of 160)"), (0.995, 26000, "99.50% ± 0.04%")])
def test_quality_table_accuracy_carries_its_standard_error(p, n, text):
    assert _readme_tables()._accuracy(p, n) == text


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_paired_with_its_source_and_in_step(name):
    nb = load(name)
    pairing = {k: nb.metadata.get("jupytext", {}).get(k) for k in nbtemplate.PAIR_METADATA}
    assert pairing == nbtemplate.PAIR_METADATA, f"pair it as tools/nbtemplate.py's PAIR_METADATA says ({name})"
    source = nbtemplate.source_path(name)
    assert source.exists(), f"{source.name} is missing: run `jupytext --set-formats ipynb,py:percent notebooks/{name}`"
    drift = [i for i, (a, b) in enumerate(zip(nbtemplate.cell_signature(nbtemplate.read_source(name)),
                                              nbtemplate.cell_signature(nb))) if a != b]
    assert len(nb.cells) == len(nbtemplate.read_source(name).cells) and not drift, (
        f"notebooks/{name} and {source.name} have drifted apart (first differing cell: {drift[:1]}): "
        f"run `make sync` (the newer file wins), then `make notebooks NB={name[:2]}` if code changed")


def _sync(path):
    import subprocess

    subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(path)], check=True, capture_output=True)


def test_editing_the_source_then_make_sync_reaches_the_notebook_with_its_outputs(tmp_path):
    import os
    import shutil

    import jupytext

    name = "02_forward_noising.ipynb"
    ipynb, py = tmp_path / name, tmp_path / nbtemplate.source_path(name).name
    shutil.copy(ROOT / "notebooks" / name, ipynb)
    shutil.copy(nbtemplate.source_path(name), py)
    before = {p: p.read_bytes() for p in (ipynb, py)}
    _sync(ipynb)
    assert {p: p.read_bytes() for p in (ipynb, py)} == before, "sync of an unedited pair must change nothing"

    old = nbformat.read(ipynb, as_version=4)
    src = jupytext.read(py)
    prose = next(i for i, c in enumerate(src.cells) if c.cell_type == "markdown" and i > 2)
    edited = [i for i, c in enumerate(src.cells) if c.cell_type == "code" and old.cells[i].outputs][-1]
    src.cells[prose].source += "\n\nAn instructor's added line."
    src.cells[edited].source += "\nedited_by_instructor = 1"
    jupytext.write(src, py, fmt="py:percent")
    os.utime(py, (ipynb.stat().st_mtime + 10,) * 2)   # the edited file is the newer one
    _sync(py)

    new = nbformat.read(ipynb, as_version=4)
    assert new.cells[prose].source.endswith("An instructor's added line.")
    assert new.cells[edited].source.endswith("edited_by_instructor = 1")
    assert [c.id for c in new.cells] == [c.id for c in old.cells], "cell ids stay stable"
    untouched = [i for i, c in enumerate(old.cells) if c.cell_type == "code" and i != edited]
    assert all(new.cells[i].outputs == old.cells[i].outputs for i in untouched)
    assert sum(len(new.cells[i].outputs) for i in untouched) > 0


def test_notebook_08_guidance_sweep_agrees_with_the_benchmark():
    # notebook 08 says `python -m benchmarks.sampling_quality --n 160` reproduces its samples' scores exactly, and
    # reads them against class-balanced references: those of `python -m benchmarks.evaluation --n 160` (notebook 09)
    results = json.loads((ROOT / "benchmarks" / "results" / "sampling_quality.json").read_text())
    balanced = json.loads((ROOT / "benchmarks" / "results" / "evaluation.json").read_text())
    text = "".join(o.get("text", "") for c in code_cells(load("08_classifier_free_guidance.ipynb")) for o in c.outputs)
    line = r"^s = ([\d.]+): FID +([\d.]+), accuracy ([\d.]+) ± [\d.]+, KID +(-?[\d.]+) ± ([\d.]+)"
    printed = {float(s): tuple(map(float, values)) for s, *values in re.findall(line, text, re.M)}
    assert results["n"] == 160 and results["guidance_sweep"]["steps"] == 20
    rows = {r["guidance_scale"]: r for r in results["guidance_sweep"]["rows"]}
    assert printed and sorted(printed) == sorted(rows)
    for s, (fid, acc, kid, kid_se) in printed.items():
        assert fid == pytest.approx(rows[s]["fid"], abs=0.006) and acc == pytest.approx(rows[s]["accuracy"], abs=0.0006)
        assert kid == pytest.approx(rows[s]["kid"], abs=0.06) and kid_se == pytest.approx(rows[s]["kid_se"], abs=0.06)
    floor, grain = map(float, re.search(r"class-balanced references at n = 160: FID floor ([\d.]+), grain ([\d.]+)",
                                        text).groups())
    assert balanced["n"] == 160 and balanced["seed"] == 0 and balanced["references_balanced"]
    # the benchmark's own references are drawn the same way (class-balanced, seed 0), so they are the same numbers
    assert results["references_balanced"] and results["seed"] == 0
    for name, fid in results["references"].items():
        assert fid == pytest.approx(balanced["references"][name], abs=1e-4)
        assert results["references_kid"][name] == pytest.approx(balanced["references_kid"][name], abs=1e-4)
    assert floor == pytest.approx(balanced["references"]["floor"], abs=0.006)
    assert grain == pytest.approx(balanced["references"]["grain"], abs=0.006)
    kid_floor = float(re.search(r"KID floor (-?[\d.]+) ±", text).group(1))
    assert kid_floor == pytest.approx(balanced["references_kid"]["floor"][0], abs=0.06)


def _helpers_imports(nb) -> dict:
    """Name → object for every ``from helpers… import name`` in the notebook's code cells."""
    import ast
    import importlib

    names = {}
    for cell in code_cells(nb):
        lines = cell.source.splitlines()
        try:  # IPython magics (%matplotlib) are not Python
            tree = ast.parse("\n".join("" if ln.lstrip().startswith("%") else ln for ln in lines))
        except SyntaxError:  # the Colab installer: a magic is the whole body of an if
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "helpers":
                module = importlib.import_module(node.module)
                for alias in node.names:
                    names[alias.asname or alias.name] = getattr(module, alias.name)
    return names


def _resolve(expr: str, names: dict):
    """``q_sample``, ``UNet._build_seed`` (names the notebook imported) or ``helpers.unet._ResBlock``."""
    import importlib

    parts = expr.split(".")
    if parts[0] == "helpers":
        obj, parts = importlib.import_module(".".join(parts[:2])), parts[2:]
    else:
        obj, parts = names[parts[0]], parts[1:]
    for part in parts:
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("name", NAMES)
def test_shown_source_is_the_current_source(name):
    """Quick-mode nbval compares only marked cells, so a ``show_source`` output could go stale unseen."""
    import ast

    from helpers.viz import show_source

    nb = load(name)
    names = _helpers_imports(nb)
    for cell in code_cells(nb):
        src = cell.source.strip()
        if not src.startswith("show_source("):
            continue
        call = ast.parse(src).body[0].value
        objs = [_resolve(ast.unparse(arg), names) for arg in call.args]
        stored = [o["data"]["text/markdown"] for o in cell.outputs if "text/markdown" in o.get("data", {})]
        assert stored == [show_source(*objs).data], f"{name}: stale output of {src}: run make notebooks NB={name[:2]}"


# Code shown to students calls no private names (§7 of REVIEW.md, the expert reader's brief beside the
# repository): a helper it calls must be public, so that a student can show it too.
def _private_calls(obj) -> set:
    """The private names (``_name``, not dunders) that ``obj``'s source calls, as ``f(…)`` or ``x.f(…)`` (not those
    passed as values, ``key=_f``, nor names imported from a private module)."""
    import ast
    import inspect
    import textwrap

    called = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(obj)))):
        if isinstance(node, ast.Call):
            f = node.func
            called.add(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else "")
    return {c for c in called if c.startswith("_") and not c.endswith("__")}


def test_shown_source_calls_no_private_names():
    import ast

    found = set()
    for name in NAMES:
        nb = load(name)
        names = _helpers_imports(nb)
        for cell in code_cells(nb):
            src = cell.source.strip()
            if src.startswith("show_source("):
                for arg in ast.parse(src).body[0].value.args:
                    shown = ast.unparse(arg)
                    found |= {(name[:-6], shown, c) for c in _private_calls(_resolve(shown, names))}
    assert found == set(), "shown source calls private names: make them public"


def test_private_calls_finds_private_calls_and_only_those():
    """The detector the test above relies on: kid calls the private _check_kid_arguments; frechet_distance calls
    only public names (and no dunders count)."""
    from helpers.metrics import frechet_distance, kid

    assert _private_calls(kid) == {"_check_kid_arguments"}
    assert _private_calls(frechet_distance) == set()


def test_class_balance_draws_each_class_as_often_as_asked():
    import torch

    _readme_tables()  # puts the repository root on sys.path for benchmarks/
    from benchmarks.class_balance import at_proportions

    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 2, 2])
    idx = at_proportions(labels, torch.tensor([2, 0, 4]), torch.Generator().manual_seed(0))
    assert len(set(idx.tolist())) == len(idx) == 6
    assert torch.bincount(labels[idx], minlength=3).tolist() == [2, 0, 4]


@pytest.mark.parametrize("counts, n", [([6000] * 10, 2000), ([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851,
                                                                5949], 2000), ([1, 1, 1], 2), ([3, 0, 7], 5)])
def test_class_balance_splits_n_in_proportion(counts, n):
    import torch

    _readme_tables()
    from benchmarks.class_balance import proportional

    counts = torch.tensor(counts)
    parts = proportional(counts, n)
    share = counts.double() * n / counts.sum()
    assert int(parts.sum()) == n and torch.all((parts - share).abs() < 1)


def test_class_balance_keeps_the_entries_of_models_it_does_not_rescore(tmp_path):
    _readme_tables()
    from benchmarks.class_balance import earlier_entries

    run = {"sampler": "DDIM, 50 steps, trailing, eta=0", "seed": 0, "batch": 250}
    scored = {"command": "python -m benchmarks.class_balance", "hardware": "AMD EPYC", "date": "2026-12-02"}
    path = tmp_path / "class_balance.json"
    path.write_text(json.dumps({**scored, **run, "models": {"a": {"fid": 1.0}, "b": {"fid": 2.0}}}))
    # b is rescored: a keeps its entry, with the provenance of the file it came from
    assert earlier_entries(path, run, names=["b"]) == {"a": {**scored, "fid": 1.0}}
    assert earlier_entries(path, {**run, "batch": 500}, names=["b"]) == {}  # other samples: nothing kept
    assert earlier_entries(tmp_path / "absent.json", run, names=["b"]) == {}


def test_class_balance_samples_are_the_quality_benchmarks():
    """benchmarks/class_balance.py scores the quality benchmark's DDIM samples (same seed, batch, steps): the FID
    it records is the quality row's, for the same checkpoint at the same epoch."""
    balance = json.loads((ROOT / "benchmarks" / "results" / "class_balance.json").read_text())
    results = balance["models"]
    assert results
    for name, res in results.items():
        quality = json.loads((ROOT / "benchmarks" / "results" / f"quality-{name}.json").read_text())
        row = next(r for r in quality["rows"] if r["n"] == res["n"] and r["steps"] == res["steps"])
        # a row of several seeds keeps each seed's FID; a one-seed row is the quality benchmark's default seed 0
        fid = row["fid_per_seed"][row["seeds"].index(balance["seed"])] if "seeds" in row else row["fid"]
        assert "seeds" in row or balance["seed"] == 0
        assert quality["epochs"] == res["epochs"] and fid == res["fid"]
        assert sum(res["sample_counts"]) == res["n"] and res["df"] == len(res["classes"]) - 1


def test_a_result_that_names_its_checkpoints_hash_scored_the_shipped_file():
    """Results record the sha256 of the network they scored (benchmarks.common.checkpoint_sha256); for a shipped
    model it must be the registry's, else the checkpoint was re-shipped after the result and the result is stale."""
    import hashlib

    from benchmarks.common import checkpoint_sha256
    from helpers.pretrained import available, checkpoint_path, registry

    name = available()[0]
    assert checkpoint_sha256(name) == hashlib.sha256(checkpoint_path(name).read_bytes()).hexdigest()
    results = ROOT / "benchmarks" / "results"
    # draws not yet joined (benchmarks/draws/) too: a stale one would be refused only at the join, sessions later
    files = [*results.glob("quality-*.json"), *(ROOT / "benchmarks" / "draws").glob("*.json")]
    scored = [(res["model"], res) for res in map(json.loads, map(Path.read_text, files))]
    scored += json.loads((results / "class_balance.json").read_text())["models"].items()
    for model, res in scored:
        if "checkpoint_sha256" in res and model in available():
            assert res["checkpoint_sha256"] == registry()[model]["sha256"], f"{model}: re-run its benchmarks"


def test_a_conditional_models_quality_results_draw_class_balanced_references():
    """A class-conditional model is sampled on balanced labels, so its floor and grain must be drawn class by class
    too (benchmarks.quality records ``references_balanced``): a random draw moves the bar (on Fashion-MNIST up, on
    MNIST down)."""
    files = sorted((ROOT / "benchmarks" / "results").glob("quality-*.json"))
    conditional = [(f, res) for f, res in zip(files, map(json.loads, map(Path.read_text, files)))
                   if "accuracy" in res["rows"][0]]
    assert conditional, "no quality result of a class-conditional model"
    for f, res in conditional:
        assert res.get("references_balanced"), f"{f.name}: random references; re-draw it with benchmarks.quality"
