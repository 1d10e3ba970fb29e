"""Execute notebooks, one kernel each, and record every kernel's peak memory and wall time.

    python tools/run_notebooks.py --store          # full mode, outputs stored in place (= make notebooks)
    python tools/run_notebooks.py --quick          # quick mode (DIFFUSION_QUICK=1), outputs not stored
    python tools/run_notebooks.py 05 09 --store    # only notebooks whose names start with 05 or 09

The peak is the kernel's maximum resident set size (getrusage of the finished child), the number
that counts against Binder's 2 GB; the Jupyter server beside it adds about 100 MB. Results go to
benchmarks/results/notebooks.json under "full" or "quick"; `python -m benchmarks.readme_tables`
puts them in the README.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from nbtemplate import NOTEBOOKS, SERIES  # noqa: E402


def execute(path: Path, store: bool, timeout: int) -> dict:
    """Run in a child process: execute ``path``; its kernel is this process's only child."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
                   ).execute()
    seconds = time.time() - t0
    if store:
        nbformat.write(nb, path)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    return {"peak_mb": round(peak_kb / 1024), "seconds": round(seconds)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("only", nargs="*", help="notebook name prefixes (default: all)")
    p.add_argument("--quick", action="store_true", help="DIFFUSION_QUICK=1 (outputs are never stored)")
    p.add_argument("--store", action="store_true", help="write the outputs into the notebooks (full mode only)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(execute(Path(args.child), args.store, args.timeout)))
        return 0
    if args.quick and args.store:
        p.error("--store stores full-mode outputs only; drop --quick")
    names = [n for n, _, _ in SERIES if (NOTEBOOKS / n).exists() and (not args.only or n.startswith(tuple(args.only)))]
    if not names:
        p.error(f"no notebook matches {args.only}")
    mode = "quick" if args.quick else "full"
    env = {**os.environ, "MPLBACKEND": "agg", "DIFFUSION_QUICK": "1" if args.quick else "0"}
    results_path = ROOT / "benchmarks" / "results" / "notebooks.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name in names:
        print(f"== {name} ({mode} mode)", flush=True)
        cmd = [sys.executable, __file__, "--child", str(NOTEBOOKS / name), "--timeout", str(args.timeout)]
        out = subprocess.run(cmd + (["--store"] if args.store else []), env=env, stdout=subprocess.PIPE, text=True)
        if out.returncode:
            print(f"{name} failed", file=sys.stderr)
            return out.returncode
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"   peak {row['peak_mb']} MB, {row['seconds']} s", flush=True)
        results.setdefault(mode, {})[name] = row
        from benchmarks.common import hardware

        results[f"{mode}_hardware"] = hardware()
        results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
