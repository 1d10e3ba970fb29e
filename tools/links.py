"""Write the launch links (Open in Colab, launch Binder) and the Colab installer cell at the top of every
notebook, in both files of each pair, and the README's table of notebooks, from tools/nbtemplate.py
(which reads the repository address from pyproject.toml).

    python tools/links.py            # update in place (outputs are kept)
    python tools/links.py --check    # exit 1 if anything would change
"""

from __future__ import annotations

import argparse
import re
import sys

import nbformat
from nbtemplate import COLAB, LAUNCH_TAG, NOTEBOOKS, ROOT, SERIES, launch_cell, launch_links, source_path, write_pair

README = ROOT / "README.md"
TABLE = re.compile(r"(<!-- notebooks -->\n)(?:.*?\n)?(<!-- /notebooks -->)", re.S)


def readme_table() -> str:
    lines = ["| # | notebook | what it shows | launch |", "| --- | --- | --- | --- |"]
    for name, title, summary in SERIES:
        lines.append(f"| {name[:2]} | [{title}](notebooks/{name}) | {summary} | {launch_links(name)} |")
    return "\n".join(lines)


def with_launch_cell(nb, name: str) -> bool:
    """Put the launch cell first (replacing an old one); True if the notebook changed."""
    first = nb.cells[0] if nb.cells else None
    if first is not None and LAUNCH_TAG in first.metadata.get("tags", []):
        if first.source == launch_links(name):
            return False
        first.source = launch_links(name)
        return True
    nb.cells.insert(0, launch_cell(name))
    return True


def with_installer(nb) -> bool:
    """Make the first code cell the Colab installer; True if the notebook changed."""
    first = next(c for c in nb.cells if c.cell_type == "code")
    if first.source == COLAB:
        return False
    first.source = COLAB
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("only", nargs="*", help="notebook name prefixes (default: all)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if something is out of date")
    args = p.parse_args(argv)
    stale = []
    for name, _, _ in SERIES:
        path = NOTEBOOKS / name
        if not path.exists() or (args.only and not name.startswith(tuple(args.only))):
            continue
        nb = nbformat.read(path, as_version=4)
        changed = with_launch_cell(nb, name)
        changed = with_installer(nb) or changed
        if changed or not source_path(name).exists():
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                write_pair(nb, name)
    text = README.read_text()
    if not TABLE.search(text):
        sys.exit("README.md has no <!-- notebooks --> … <!-- /notebooks --> markers")
    new = TABLE.sub(lambda m: m.group(1) + readme_table() + "\n" + m.group(2), text)
    if new != text:
        stale.append("README.md")
        if not args.check:
            README.write_text(new)
    verb = "out of date" if args.check else "updated"
    print(f"{verb}: {', '.join(stale)}" if stale else "launch links up to date")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
