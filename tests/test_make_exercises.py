"""tools/make_exercises.py: solutions become stubs, outputs go, only notebooks with exercises are written."""

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.exercises import NOT_IMPLEMENTED, check_q_sample

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("make_exercises", ROOT / "tools" / "make_exercises.py")
make_exercises = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_exercises)

Q_SAMPLE_CELL = """import torch


def q_sample(schedule, x0, t, noise):
    # BEGIN SOLUTION x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε
    a = schedule.gather(schedule.alphas_cumprod, t, x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
    # END SOLUTION
"""

LAUNCH = ("[Colab](https://colab.research.google.com/github/o/r/blob/main/notebooks/01_ex.ipynb) "
          "[Binder](https://mybinder.org/v2/gh/o/r/main?labpath=notebooks%2F01_ex.ipynb)")


def code(source, outputs=True):
    cell = new_code_cell(source, execution_count=3 if outputs else None)
    if outputs:
        cell.outputs = [new_output("stream", name="stdout", text="42\n")]
        cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    return cell


def solution_markdown(text):
    cell = new_markdown_cell(text)
    cell.metadata["tags"] = ["solution"]
    return cell


@pytest.fixture
def series(tmp_path):
    """notebooks/01_ex.ipynb (exercises), 02_plain.ipynb (none); the student versions go to exercises/."""
    src = tmp_path / "notebooks"
    src.mkdir()
    launch = new_markdown_cell(LAUNCH)
    launch.metadata["tags"] = ["launch-links"]
    nb = new_notebook(cells=[
        launch,
        new_markdown_cell("# 01 · exercise"),
        code(Q_SAMPLE_CELL),
        code("for i in range(3):\n    if i:\n        # BEGIN SOLUTION\n        print(i)\n        # END SOLUTION\n"
             "    print('after')\n"),
        code('x = 1\n\t# BEGIN SOLUTION say "hi" \\o/\n\ty = 2\n\t# END SOLUTION\n# BEGIN SOLUTION\nz = 3\n'
             '# END SOLUTION'),
        solution_markdown("The answer uses $\\sqrt{\\bar\\alpha_t}$."),
        code("from helpers.exercises import check_q_sample\ncheck_q_sample(q_sample)"),
    ], metadata={"jupytext": {"formats": "ipynb,py:percent"}, "widgets": {"state": {}}})
    nbformat.write(nb, src / "01_ex.ipynb")
    nbformat.write(new_notebook(cells=[code("print(42)")]), src / "02_plain.ipynb")
    return src, tmp_path / "exercises"


def test_strip_solutions_keeps_indentation_and_hint():
    out = make_exercises.strip_solutions(Q_SAMPLE_CELL)
    assert "BEGIN SOLUTION" not in out and "a.sqrt()" not in out
    assert ('    # YOUR CODE HERE\n    raise NotImplementedError("exercise: x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε")\n'
            in out)
    assert out.startswith("import torch\n\n\ndef q_sample(schedule, x0, t, noise):\n")


@pytest.mark.parametrize("source, phrase", [
    ("# BEGIN SOLUTION\nx = 1\n", "without END"),
    ("x = 1\n# END SOLUTION\n", "without BEGIN"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "inside another"),
])
def test_strip_solutions_rejects_unbalanced_markers(source, phrase):
    with pytest.raises(ValueError, match=phrase):
        make_exercises.strip_solutions(source)


def test_markers_must_be_whole_lines():
    source = "x = 1  # BEGIN SOLUTION\n# BEGIN SOLUTIONS\n"
    assert make_exercises.strip_solutions(source) == source


def test_generate_writes_student_version(series):
    src, out = series
    changed = make_exercises.generate(src, out)
    assert changed == [out / "01_ex.ipynb"]
    assert not (out / "02_plain.ipynb").exists()  # no exercise, no student version
    nb = nbformat.read(out / "01_ex.ipynb", as_version=4)
    sources = [cell.source for cell in nb.cells]
    assert "exercises/01_ex.ipynb" in sources[0] and "labpath=exercises%2F01_ex.ipynb" in sources[0]
    assert "notebooks/01_ex.ipynb" in sources[1]  # the note pointing at the solutions, after the launch links
    assert not any("sqrt{\\bar" in s for s in sources)  # the solution-tagged markdown is gone
    assert "        # YOUR CODE HERE\n        raise NotImplementedError(\"exercise\")\n    print('after')" in sources[4]
    assert sources[5] == ('x = 1\n\t# YOUR CODE HERE\n\traise NotImplementedError(\'exercise: say "hi" \\\\o/\')\n'
                          '# YOUR CODE HERE\nraise NotImplementedError("exercise")')
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None and "execution" not in cell.metadata
    assert "jupytext" not in nb.metadata and "widgets" not in nb.metadata
    nbformat.validate(nb)


def test_generated_stub_fails_the_checker_with_not_implemented(series):
    src, out = series
    make_exercises.generate(src, out)
    student = nbformat.read(out / "01_ex.ipynb", as_version=4)
    namespace = {}
    exec(student.cells[3].source, namespace)
    with pytest.raises(AssertionError) as info:
        check_q_sample(namespace["q_sample"])
    assert str(info.value) == NOT_IMPLEMENTED
    solution = {}
    exec(nbformat.read(src / "01_ex.ipynb", as_version=4).cells[2].source, solution)
    check_q_sample(solution["q_sample"])  # the committed solution passes


def test_check_detects_stale_and_orphaned_files(series, capsys):
    src, out = series
    args = ["--src", str(src), "--out", str(out)]
    assert make_exercises.main(args + ["--check"]) == 1  # nothing written yet
    assert "01_ex.ipynb" in capsys.readouterr().out
    assert make_exercises.main(args) == 0
    assert make_exercises.main(args + ["--check"]) == 0
    assert make_exercises.generate(src, out) == []  # writing again changes nothing

    nb = nbformat.read(src / "01_ex.ipynb", as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace("x_t = √ᾱ_t", "x_t =")
    nbformat.write(nb, src / "01_ex.ipynb")
    capsys.readouterr()
    assert make_exercises.main(args + ["--check"]) == 1
    assert "stale" in capsys.readouterr().out
    before = (out / "01_ex.ipynb").read_text()
    make_exercises.generate(src, out, check=True)
    assert (out / "01_ex.ipynb").read_text() == before  # --check writes nothing

    (out / "03_gone.ipynb").write_text("{}")
    assert out / "03_gone.ipynb" in make_exercises.generate(src, out, check=True)
    make_exercises.generate(src, out)
    assert not (out / "03_gone.ipynb").exists()


def test_outputs_do_not_matter(series):
    """Re-executing the solution notebook (new outputs) leaves the student version as it is."""
    src, out = series
    make_exercises.generate(src, out)
    nb = nbformat.read(src / "01_ex.ipynb", as_version=4)
    nb.cells[2].outputs = [new_output("stream", name="stdout", text="other\n")]
    nb.cells[2].execution_count = 99
    nbformat.write(nb, src / "01_ex.ipynb")
    assert make_exercises.generate(src, out, check=True) == []


def test_invalid_student_code_is_refused(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    nb = new_notebook(cells=[code("def f():\n# BEGIN SOLUTION\n    return 1\n# END SOLUTION\n")])
    nbformat.write(nb, src / "01_bad.ipynb")
    with pytest.raises(ValueError, match="not valid Python"):
        make_exercises.generate(src, tmp_path / "exercises")


# ------------------------------------------------------------------ the repository's own exercises
def _exercise_pairs(nb):
    """(exercise cell, checker cell) for every code cell with a marked block or a stub, and the code cell after it."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    return [(c, nxt) for c, nxt in zip(cells, cells[1:])
            if "# BEGIN SOLUTION" in c.source or "raise NotImplementedError(\"exercise" in c.source]


def _run_pair(exercise, checker):
    """Run an exercise cell and its checker cell in a fresh namespace (both are self-contained: they may use
    torch and math, and import their checker)."""
    import math

    import torch

    namespace = {"torch": torch, "math": math}
    exec(compile(exercise.source, "<exercise>", "exec"), namespace)
    exec(compile(checker.source, "<checker>", "exec"), namespace)


def test_student_versions_are_generated_from_the_current_notebooks():
    stale = make_exercises.generate(ROOT / "notebooks", ROOT / "exercises", check=True)
    assert not stale, f"stale student versions {[str(p) for p in stale]}: run `make exercises`"


SOLVED = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
                if make_exercises.has_exercise(nbformat.read(p, as_version=4)))


def test_the_series_has_exercises():
    assert len(SOLVED) >= 5, SOLVED


@pytest.mark.parametrize("name", SOLVED)
def test_each_stub_fails_its_checker_and_each_solution_passes(name, capsys):
    solved = _exercise_pairs(nbformat.read(ROOT / "notebooks" / name, as_version=4))
    student = _exercise_pairs(nbformat.read(ROOT / "exercises" / name, as_version=4))
    assert solved and len(solved) == len(student)
    for (exercise, checker), (stub, student_checker) in zip(solved, student):
        assert "check_" in checker.source and checker.source == student_checker.source
        _run_pair(exercise, checker)
        assert "✓" in capsys.readouterr().out
        with pytest.raises(AssertionError, match="not implemented yet"):
            _run_pair(stub, student_checker)
