"""Where training runs: choosing the device, and recording which machine trained which epochs.

A checkpoint may be trained in several runs (resumed on other hardware); its ``hardware_log`` keeps one
entry per run, so the training time is never credited to the wrong machine.
"""

from __future__ import annotations

import platform

import torch


def choose_device(device: str = "auto") -> torch.device:
    """"auto" → CUDA if present, then Apple's MPS, else CPU; any other value is passed to ``torch.device``."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_threads(noun: str = "thread") -> str:
    """The number of torch CPU threads, with ``noun`` singular or plural: "1 thread", "2 threads"."""
    n = torch.get_num_threads()
    return f"{n} {noun}{'' if n == 1 else 's'}"


def hardware_description(device: torch.device) -> str:
    """The GPU's name, or the CPU and the number of torch threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {cpu_threads()}"


def record_hardware(log: list, hardware: str, epoch: int, seconds: float) -> list:
    """Add one finished epoch (1-based) to ``log``, a list of runs {hardware, first_epoch, last_epoch, seconds}.

    A run resumed on other hardware (say epochs 1-12 on a CPU, 13-40 on a GPU) starts a new entry, so a
    checkpoint's training time is never credited to the wrong machine.
    """
    if log and log[-1]["hardware"] == hardware and log[-1]["last_epoch"] == epoch - 1:
        log[-1]["last_epoch"] = epoch
        log[-1]["seconds"] += seconds
    else:
        log.append({"hardware": hardware, "first_epoch": epoch, "last_epoch": epoch, "seconds": seconds})
    return log


def describe_hardware(log: list) -> str:
    """One line for a hardware log: the hardware alone, or each run with its epochs and minutes."""
    if len(log) == 1:
        return log[0]["hardware"]
    return "; ".join(f"{r['hardware']}: epochs {r['first_epoch']}-{r['last_epoch']}, {r['seconds'] / 60:.1f} min"
                     for r in log)
