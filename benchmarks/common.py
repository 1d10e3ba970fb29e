"""Shared by the benchmark scripts: the command line, the hardware, and writing a results file."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__.split('+')[0]}"


def command() -> str:
    """The command line that ran this script, as a reader would type it from the repository root."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    head = f"-m {spec.name}" if spec is not None else Path(sys.argv[0]).name
    return " ".join(["python", head, *sys.argv[1:]])


def write_results(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"command": command(), "hardware": hardware(), "date": time.strftime("%Y-%m-%d"), **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path} (command: {payload['command']}; hardware: {payload['hardware']})")
    return path
