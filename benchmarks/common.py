"""Shared by the benchmark scripts: the command line, the hardware, and writing a results file."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from helpers.hardware import cpu_threads, hardware_description

RESULTS = Path(__file__).resolve().parent / "results"


def checkpoint_parser(doc: str, out: str, batch: int, n: int | None = None) -> argparse.ArgumentParser:
    """The options of every benchmark that samples a shipped checkpoint: --model, --n (when ``n`` is given)
    and --seed, --batch, --threads and --out, with these defaults; the description is ``doc``'s first paragraph."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--model", default="fashion-mnist-cfg", help="a shipped checkpoint name")
    if n is not None:
        p.add_argument("--n", type=int, default=n, help="samples per setting (and for the references)")
        p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=batch, help="images per sampler call (DDPM's noise depends on it)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=out, help="results file name (benchmarks/results/<out>.json)")
    return p


def hardware(device: str = "cpu") -> str:
    """What ran a benchmark: the CPU and its torch threads, or a GPU's name for ``device`` "cuda…"."""
    if torch.device(device).type == "cuda":
        return f"{hardware_description(torch.device(device))} (CUDA), torch {torch.__version__.split('+')[0]}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {cpu_threads('torch thread')}, torch {torch.__version__.split('+')[0]}"


def command() -> str:
    """The command line that ran this script, as a reader would type it from the repository root."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    head = f"-m {spec.name}" if spec is not None else Path(sys.argv[0]).name
    return " ".join(["python", head, *sys.argv[1:]])


def checkpoint_sha256(source: str) -> str:
    """Which network a result scored: the sha256 of a shipped checkpoint's file (``source`` its name, as the
    registry holds it) or of the checkpoint file at ``source``."""
    from helpers.pretrained import available, registry, sha256

    return registry()[source]["sha256"] if source in available() else sha256(source)


def weights_sha256(model: torch.nn.Module) -> str:
    """Which weights a result scored, whatever file they came from (a shipped checkpoint or a copy of its
    export): the sha256 of the state dict's names, dtypes, shapes and values, in order."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def write_results(name: str, payload: dict, path: Path | None = None, device: str = "cpu") -> Path:
    """``payload`` with the command, hardware (``device``'s) and date, to benchmarks/results/<name>.json, or to
    ``path``."""
    path = Path(path) if path is not None else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"command": command(), "hardware": hardware(device), "date": time.strftime("%Y-%m-%d"), **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path} (command: {payload['command']}; hardware: {payload['hardware']})")
    return path
