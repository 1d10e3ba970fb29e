"""Write the student versions of the notebooks: exercises/NN_name.ipynb, with the solutions replaced by stubs.

The committed notebooks (notebooks/NN_name.ipynb, paired with NN_name.py) carry the solutions. Convention:

- Inside a code cell, a solution sits between a line ``# BEGIN SOLUTION`` and a line ``# END SOLUTION``
  (each alone on its line, any indentation; several blocks per cell are fine, nested ones are not). Text after
  ``BEGIN SOLUTION`` on the same line is the hint::

      def q_sample(schedule, x0, t, noise):
          # BEGIN SOLUTION x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε
          a = schedule.gather(schedule.alphas_cumprod, t, x0)
          return a.sqrt() * x0 + (1 - a).sqrt() * noise
          # END SOLUTION

  The student version replaces the whole block, markers included, by two lines at the BEGIN marker's
  indentation::

          # YOUR CODE HERE
          raise NotImplementedError("exercise: x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε")

  (``raise NotImplementedError("exercise")`` when there is no hint). The checkers in ``helpers.exercises`` turn
  that error into "not implemented yet: …".
- A cell tagged ``solution`` (a markdown cell that discusses the answer, say) is dropped.
- Every output and execution count is cleared, the launch links point at exercises/ instead of notebooks/,
  the jupytext pairing and widget state are dropped, and a short note saying where the solutions are goes
  first (after the launch links).

Only notebooks with at least one marked block get a student version; exercises/ holds nothing else, so a
student version whose notebook lost its exercises is removed.

    python tools/make_exercises.py            # write exercises/NN_*.ipynb
    python tools/make_exercises.py --check    # exit 1, naming the stale files, if any would change
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?:[ \t]+(?P<hint>\S.*?))?[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
SOLUTION_TAG = "solution"
PATTERN = "[0-9][0-9]_*.ipynb"
NOTE_ID = "exercise-version-note"


def _string_literal(text: str) -> str:
    return f'"{text}"' if '"' not in text and "\\" not in text else repr(text)


def strip_solutions(source: str, where: str = "cell") -> str:
    """The cell source with every BEGIN/END SOLUTION block replaced by ``# YOUR CODE HERE`` and a raise."""
    out, block = [], None
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        begin, end = BEGIN.match(line.rstrip("\r\n")), END.match(line.rstrip("\r\n"))
        if begin:
            if block is not None:
                raise ValueError(f"{where}, line {number}: BEGIN SOLUTION inside another solution block")
            block = begin
        elif end:
            if block is None:
                raise ValueError(f"{where}, line {number}: END SOLUTION without BEGIN SOLUTION")
            indent, hint = block.group("indent"), block.group("hint")
            message = f"exercise: {hint}" if hint else "exercise"
            out.append(f"{indent}# YOUR CODE HERE\n")
            out.append(f"{indent}raise NotImplementedError({_string_literal(message)})" + ("\n" if line.endswith("\n")
                                                                                          else ""))
            block = None
        elif block is None:
            out.append(line)
    if block is not None:
        raise ValueError(f"{where}: BEGIN SOLUTION without END SOLUTION")
    return "".join(out)


def has_exercise(nb) -> bool:
    return any(cell.cell_type == "code" and any(BEGIN.match(line) for line in cell.source.splitlines())
               for cell in nb.cells)


def _compiles(source: str) -> bool:
    """Whether the cell is valid Python once IPython's line magics and shell escapes are commented out."""
    code = re.sub(r"^([ \t]*)([%!])", r"\1#\2", source, flags=re.M)
    try:
        compile(code, "<cell>", "exec")
    except SyntaxError:
        return False
    return True


def student_notebook(nb, name: str):
    """A copy of ``nb`` with the solutions stripped, solution cells dropped and outputs cleared."""
    nb = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(nb.cells):
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            continue
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            source = strip_solutions(cell.source, f"{name}, cell {index}")
            if source != cell.source and _compiles(cell.source) and not _compiles(source):
                raise ValueError(f"{name}, cell {index}: the student version is not valid Python "
                                 "(is END SOLUTION at the end of the block, BEGIN at its indentation?)")
            cell.source, cell.outputs, cell.execution_count = source, [], None
        else:
            cell.source = cell.source.replace("/notebooks/", "/exercises/").replace("labpath=notebooks%2F",
                                                                                    "labpath=exercises%2F")
        cells.append(cell)
    note = nbformat.v4.new_markdown_cell(
        f"*Exercise version: the cells marked `# YOUR CODE HERE` raise `NotImplementedError` until you fill "
        f"them in; each checker cell after them tells you what is still wrong. The solutions are in "
        f"[notebooks/{name}](../notebooks/{name}). Generated by `tools/make_exercises.py`: edit the notebook, "
        f"not this file.*")
    note.id = NOTE_ID
    first = 1 if cells and "launch-links" in cells[0].metadata.get("tags", []) else 0
    cells.insert(first, note)
    nb.cells = cells
    nb.metadata.pop("widgets", None)  # widget state belongs to the cleared outputs
    nb.metadata.pop("jupytext", None)  # no .py pair for the student version
    return nb


def render(nb) -> str:
    """The file's text, as ``nbformat.write`` would write it."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def generate(src_dir, out_dir, check: bool = False) -> list[Path]:
    """Write ``out_dir/NN_*.ipynb`` for every ``src_dir/NN_*.ipynb`` with exercises (remove the others there).

    Returns the files that changed (with ``check=True``: that would change; nothing is written)."""
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    wanted = {}
    for path in sorted(src_dir.glob(PATTERN)):
        nb = nbformat.read(path, as_version=4)
        if has_exercise(nb):
            wanted[out_dir / path.name] = render(student_notebook(nb, path.name))
    changed = [path for path, text in wanted.items()
               if not path.exists() or path.read_text(encoding="utf-8") != text]
    orphans = [path for path in sorted(out_dir.glob(PATTERN)) if path not in wanted]
    if not check:
        if changed:
            out_dir.mkdir(parents=True, exist_ok=True)
        for path in changed:
            path.write_text(wanted[path], encoding="utf-8")
        for path in orphans:
            path.unlink()
    return sorted(changed + orphans)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a student version is stale")
    parser.add_argument("--src", default=ROOT / "notebooks", type=Path, help="the notebooks with the solutions")
    parser.add_argument("--out", default=ROOT / "exercises", type=Path, help="where the student versions go")
    args = parser.parse_args(argv)
    changed = generate(args.src, args.out, check=args.check)
    shown = [str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in changed]
    if args.check:
        if shown:
            print("stale student versions (run `python tools/make_exercises.py`): " + ", ".join(shown))
            return 1
        print("student versions up to date")
        return 0
    print("updated " + ", ".join(shown) if shown else "student versions already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
