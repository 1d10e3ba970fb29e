"""Write the README's results tables from benchmarks/results/*.json (never edit them by hand).

    python -m benchmarks.readme_tables

Each table sits between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` in README.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.common import RESULTS

README = Path(__file__).resolve().parent.parent / "README.md"


def _load(name: str):
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _footer(res: dict) -> str:
    return f"\n\nCommand: `{res['command']}` ({res['hardware']}, {res.get('date', '')})."


def table_compare_styles() -> str | None:
    res = _load("compare_styles")
    if res is None:
        return None
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


def table_quality() -> str | None:
    files = sorted(RESULTS.glob("quality-*.json"))
    if not files:
        return None
    lines = ["| checkpoint | epochs | train minutes (hardware) | sampler | guidance s | FID (classifier) | "
             "floor | grain | class accuracy (classifier on real test) |",
             "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | --- |"]
    footers = []
    for f in files:
        res = json.loads(f.read_text())
        for row in res["rows"]:
            acc = (f"{row['accuracy']:.1%} ({res['classifier_test_accuracy']:.1%})" if "accuracy" in row else "—")
            s = "—" if row["guidance_scale"] is None else f"{row['guidance_scale']:g}"
            lines.append(f"| {res['model']} | {res['epochs']} | {res['train_minutes']:.0f} ({res['train_hardware']}) | "
                         f"{res['sampler']} | {s} | {row['fid']:.2f} | {res['references']['floor']:.2f} | "
                         f"{res['references']['grain']:.2f} | {acc} |")
        footers.append(f"`{res['command']}` ({res['hardware']}, {res.get('date', '')}, n = {res['rows'][0]['n']})")
    return "\n".join(lines) + "\n\nCommands: " + "; ".join(footers) + "."


TABLES = {"compare_styles": table_compare_styles, "quality": table_quality}


def main() -> None:
    text = README.read_text()
    for name, make in TABLES.items():
        table = make()
        pattern = re.compile(rf"(<!-- results:{name} -->\n).*?(\n<!-- /results:{name} -->)", re.S)
        if table is None or not pattern.search(text):
            print(f"{name}: {'no results yet' if table is None else 'no markers in README.md'}")
            continue
        text = pattern.sub(lambda m, t=table: m.group(1) + t + m.group(2), text)
        print(f"{name}: written")
    README.write_text(text)


if __name__ == "__main__":
    main()
