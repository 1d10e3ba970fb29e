"""Checkpoints that rebuild themselves, and the registry of the ones shipped inside helpers.

A shipped checkpoint is one file: the EMA weights (float16 to keep it small), the UNet's
arguments, the schedule's name and T, the dataset, epochs, training time and hardware, the loss
curve and measured metrics. ``load_checkpoint`` needs nothing else to rebuild model and schedule.
Files are read with ``torch.load(..., weights_only=True)``: no pickled code runs.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

from torch import nn

from ._checks import check_choice
from .prediction import EpsilonFromV
from .schedules import DiffusionSchedule
from .storage import atomic_save, pack_weights, torch_load, unpack_weights
from .unet import UNet

FORMAT = "diffusion-step-by-step/checkpoint-v1"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, or not one of ours."""


def save_checkpoint(path, model: nn.Module, schedule: DiffusionSchedule, metadata: dict | None = None,
                    half: bool = True, raw_model: nn.Module | None = None) -> None:
    """Write ``model`` (its weights, float16 when ``half``) with everything needed to rebuild it.

    ``raw_model``: optionally the same network's un-averaged weights, stored beside the EMA ones
    so that notebooks can show what the EMA changes (``load_checkpoint(..., weights="raw")``).
    """
    if schedule.name is None:
        raise ValueError("schedule must be a named schedule (DiffusionSchedule.from_name) to be rebuilt")
    obj = {
        "format": FORMAT,
        "model_config": dict(model.config),
        "schedule": {"name": schedule.name, "T": schedule.T},
        "weights": pack_weights(model.state_dict(), half),
        "metadata": json.loads(json.dumps(metadata or {})),  # plain data only
    }
    if raw_model is not None:
        obj["raw_weights"] = pack_weights(raw_model.state_dict(), half)
    atomic_save(obj, path)


def _model_config(config: dict) -> dict:
    config = dict(config)
    if "channel_mult" in config:
        config["channel_mult"] = tuple(config["channel_mult"])
    return config


def load_checkpoint(path, device="cpu", weights: str = "ema") -> tuple[nn.Module, DiffusionSchedule, dict]:
    """Rebuild ``(model, schedule, metadata)`` from a file written by ``save_checkpoint``.

    The model is float32, in eval mode, on ``device``; a v-prediction network comes wrapped in ``EpsilonFromV``,
    so it returns ε̂ as every sampler expects. ``weights``: "ema" (the averaged weights,
    what sampling uses) or "raw" (the last optimiser step's, where the file has them).
    """
    check_choice(weights, ("ema", "raw"), "weights")
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        obj = torch_load(path)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path} could not be read (corrupt or not a torch file): "
                              f"{exc.__class__.__name__}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a {FORMAT} file")
    key = "weights" if weights == "ema" else "raw_weights"
    if key not in obj:
        raise CheckpointError(f"{path} holds no {weights} weights")
    model = UNet(**_model_config(obj["model_config"]))
    model.load_state_dict(unpack_weights(obj[key]))
    schedule = DiffusionSchedule.from_name(obj["schedule"]["name"], obj["schedule"]["T"])
    if obj["metadata"].get("train_config", {}).get("prediction", "epsilon") == "v_prediction":
        model = EpsilonFromV(model, schedule)  # the samplers take ε̂
    return model.to(device).eval(), schedule, obj["metadata"]


def export_training_checkpoint(ckpt: dict, path, metrics: dict | None = None, include_raw: bool = True) -> None:
    """Turn a training checkpoint (``helpers.training.train``) into a shipped-style file: EMA weights
    (and the raw ones) plus config, dataset, epochs, minutes, hardware, the loss curve and ``metrics``."""
    from .training import TrainConfig, build_model

    config = TrainConfig(**ckpt["config"])
    classes = ckpt["data"]["classes"]
    model = build_model(config, _in_channels(ckpt), len(classes) if config.conditional else None)
    model.load_state_dict(ckpt["ema"]["model"])
    raw = None
    if include_raw:
        raw = build_model(config, _in_channels(ckpt), len(classes) if config.conditional else None)
        raw.load_state_dict(ckpt["model"])
    schedule = DiffusionSchedule.from_name(config.schedule, config.T)
    state = ckpt["state"]
    metadata = {
        "dataset": ckpt["data"]["name"], "data_source": ckpt["data"]["source"], "subset": ckpt["data"]["subset"],
        "classes": classes, "epochs": state["epoch"], "steps": state["step"],
        "train_minutes": round(state["train_seconds"] / 60, 2), "hardware": ckpt["hardware"],
        "hardware_log": state.get("hardware_log", []),
        "parameters": ckpt["parameters"], "epoch_losses": state["epoch_losses"],
        "loss_curve": {"every": 100, "mean_loss": _chunk_means(state["losses"], 100)},
        "train_config": ckpt["config"], "ema_decay": config.ema_decay, "metrics": metrics or {},
    }
    if "init_from" in state:
        metadata["init_from"] = state["init_from"]
    save_checkpoint(path, model, schedule, metadata, raw_model=raw)


def epochs_text(record: dict) -> str:
    """The epochs behind a checkpoint, from its metadata (or a results file that copies its ``epochs`` and
    ``init_from``): "72"; for a run started from another network, that network's epochs first: "35 + 3"
    ("? + 3" where the file it started from does not say)."""
    start = record.get("init_from")
    if not start:
        return f"{record['epochs']}"
    return f"{start['epochs'] if start['epochs'] is not None else '?'} + {record['epochs']}"


def _chunk_means(values: list, every: int) -> list:
    return [round(sum(values[i:i + every]) / len(values[i:i + every]), 5) for i in range(0, len(values), every)]


def _in_channels(ckpt: dict) -> int:
    for k, v in ckpt["model"].items():
        if k.endswith("weight") and v.dim() == 4:
            return v.shape[1]
    raise CheckpointError("cannot tell the model's input channels from the checkpoint")


# ---------------------------------------------------------------- registry
def _registry() -> dict:
    with resources.files("helpers.checkpoints").joinpath("registry.json").open() as f:
        return json.load(f)


def registry() -> dict:
    """The shipped checkpoints: name → {file, sha256, description, command (the training command)}."""
    return _registry()


def available() -> list:
    """Names of the shipped checkpoints."""
    return sorted(_registry())


def checkpoint_path(name: str) -> Path:
    reg = _registry()
    if name not in reg:
        raise ValueError(f"name must be one of {', '.join(sorted(reg)) or '(none shipped yet)'}; got {name!r}")
    return Path(str(resources.files("helpers.checkpoints").joinpath(reg[name]["file"])))


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_pretrained(name: str, device="cpu", return_metadata: bool = False, weights: str = "ema"):
    """``(model, schedule)`` for a shipped checkpoint: EMA weights, eval mode, on ``device`` (CPU).

    The file's sha256 is checked against the registry first. ``weights="raw"`` gives the
    un-averaged weights instead, to compare.
    """
    path = checkpoint_path(name)
    expected = _registry()[name]["sha256"]
    if not path.is_file():
        raise CheckpointError(f"shipped checkpoint {name!r} is missing: {path}; reinstall helpers")
    if sha256(path) != expected:
        raise CheckpointError(f"shipped checkpoint {name!r} ({path}) does not match its sha256 in the registry; "
                              f"the file is corrupt or was replaced")
    model, schedule, metadata = load_checkpoint(path, device, weights)
    return (model, schedule, metadata) if return_metadata else (model, schedule)


def register(name: str, path, description: str = "", command: str = "") -> None:
    """Add or update a registry entry for a file inside helpers/checkpoints (maintainers only)."""
    reg_path = Path(str(resources.files("helpers.checkpoints").joinpath("registry.json")))
    reg = json.loads(reg_path.read_text()) if reg_path.exists() else {}
    path = Path(path)
    reg[name] = {"file": path.name, "sha256": sha256(path), "description": description, "command": command}
    reg_path.write_text(json.dumps(reg, indent=2, sort_keys=True) + "\n")
