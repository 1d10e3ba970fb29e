"""Training ε_θ: the run's configuration (``TrainConfig``), an EMA of the weights, and a resumable loop (``train``).

The loss itself (``diffusion_loss``, ``drop_labels``) is ``helpers.loss``, re-exported here; the command
line (``python -m helpers.train``) is ``helpers.train``, built from ``TrainConfig``'s fields.
"""

from __future__ import annotations

import copy
import math
import numbers
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ._checks import check_choice, check_int
from .data import DATASET_NAMES, iterate_batches, load_dataset, to_float
from .hardware import choose_device, describe_hardware, hardware_description, record_hardware
from .loss import check_p_uncond, diffusion_loss, drop_labels
from .prediction import PREDICTIONS, check_prediction
from .schedules import SCHEDULES, DiffusionSchedule
from .storage import atomic_save, torch_load
from .unet import STYLES, UNet, count_parameters, unconditional_branch

P_UNCOND_CFG = 0.1  # the label dropout of a conditional run unless one is given (Ho & Salimans use 0.1–0.2)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class EMA:
    """Exponential moving average of the weights:  θ_ema ← d·θ_ema + (1 − d)·θ.

    The decay warms up as min(d, (1 + n)/(10 + n)) after n updates, so early averages are not
    dominated by the random initialisation.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        for ema_p, p in zip(self.model.parameters(), model.parameters()):
            ema_p.lerp_(p.detach(), 1.0 - d)
        for ema_b, b in zip(self.model.buffers(), model.buffers()):
            ema_b.copy_(b)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "model": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay = state["decay"]
        self.updates = state["updates"]
        self.model.load_state_dict(state["model"])


def _option(default, help: str, **cli):
    """A ``TrainConfig`` field: its default, and the help text (and argparse ``type``/``choices``) of its
    command-line option, which ``helpers.train`` reads from the field's metadata."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"help": help, **cli})
    return field(default=default, metadata={"help": help, **cli})


@dataclass
class TrainConfig:
    """Everything a run depends on; stored in every checkpoint. Each field is an option of the command line
    (``--batch-size`` for ``batch_size``), with the default and help text given here and nowhere else.

    ``conditional=True`` (``--cfg``) trains ε_θ(x_t, t, y) with as many classes as the dataset has, and then
    ``p_uncond`` (left as None) becomes ``P_UNCOND_CFG`` = 0.1; an unconditional run has ``p_uncond`` = 0.
    """

    dataset: str = _option("fashion-mnist", "the training set", choices=DATASET_NAMES)
    epochs: int = _option(10, "passes over the training set (a resumed run may raise it)")
    batch_size: int = _option(128, "images per step")
    lr: float = _option(1e-3, "AdamW's learning rate after the warm-up")
    weight_decay: float = _option(0.0, "AdamW's weight decay")
    warmup_steps: int = _option(500, "steps of linear learning-rate warm-up from 0")
    lr_decay_epochs: int = _option(0, "cosine-decay the learning rate to 0 over the last N epochs "
                                      "(0: constant after the warm-up)")
    grad_clip: float = _option(1.0, "clip the gradients' global norm to this (0: no clipping)")
    ema_decay: float = _option(0.999, "decay d of the EMA of the weights")
    p_uncond: float | None = _option(None, f"label dropout probability; default {P_UNCOND_CFG} with --cfg "
                                           "(conditional), else 0", type=float)
    conditional: bool = _option(False, "class-conditional, for classifier-free guidance (--cfg)")
    schedule: str = _option("report", "the beta schedule", choices=tuple(SCHEDULES))
    T: int = _option(300, "number of diffusion steps")
    prediction: str = _option("epsilon", "what the network learns: the noise ε (epsilon) or v = √ᾱ_t ε − √(1−ᾱ_t) "
                                         "x_0 (v_prediction, Salimans & Ho 2022)", choices=PREDICTIONS)
    model: dict = _option({"style": "modern", "base_channels": 32},
                          "UNet keyword arguments (--style, --base-channels, --model-json)")
    seed: int = _option(0, "seed of the weights, the data order, t, ε and the label dropout")
    max_steps_per_epoch: int | None = _option(None, "end each epoch after this many steps", type=int)
    max_train_images: int | None = _option(None, "train on the first N images only", type=int)
    init_from: str | None = _option(None, "start from the EMA weights of a shipped checkpoint (its name) or of a file "
                                          "save_checkpoint wrote; on an unconditional run a class-conditional one "
                                          "gives its unconditional branch (helpers.unet.unconditional_branch)",
                                    type=str)

    def __post_init__(self):
        check_choice(self.dataset, DATASET_NAMES, "dataset")
        check_choice(self.schedule, tuple(SCHEDULES), "schedule")
        check_prediction(self.prediction)
        check_choice(self.model.get("style", "seed"), STYLES, "model['style']")
        check_int(self.epochs, "epochs", 1)
        check_int(self.batch_size, "batch_size", 1)
        check_int(self.lr_decay_epochs, "lr_decay_epochs", 0)
        if self.lr_decay_epochs > self.epochs:
            raise ValueError(f"lr_decay_epochs={self.lr_decay_epochs} must be at most epochs={self.epochs}")
        if self.p_uncond is None:
            self.p_uncond = P_UNCOND_CFG if self.conditional else 0.0
        self.p_uncond = check_p_uncond(self.p_uncond)
        if self.p_uncond > 0.0 and not self.conditional:
            raise ValueError(f"p_uncond={self.p_uncond!r} drops labels, so it needs conditional=True (--cfg); "
                             "an unconditional run has p_uncond=0.0")

    def decay_start(self) -> int:
        """The epoch after which the learning rate starts to decay (``epochs`` when it never does)."""
        return self.epochs - self.lr_decay_epochs


def build_model(config: TrainConfig, in_channels: int, num_classes: int | None) -> nn.Module:
    """``UNet(**config.model)`` for images of ``in_channels`` channels, class-conditional if the config is."""
    kwargs = dict(config.model)
    kwargs.setdefault("in_channels", in_channels)
    return UNet(num_classes=num_classes if config.conditional else None, **kwargs)


def check_init_from(source: str) -> str:
    """``source`` if it names a shipped checkpoint or a file, else a ValueError naming ``init_from``."""
    from .pretrained import available

    if source not in available() and not Path(source).is_file():
        raise ValueError(f"init_from must be a shipped checkpoint's name ({', '.join(available())}) or a "
                         f"checkpoint file, got {source!r}")
    return source


def initial_weights(config: TrainConfig, model: nn.Module) -> dict:
    """Load ``config.init_from``'s EMA weights into ``model``; a class-conditional network gives an unconditional
    run its unconditional branch ε_θ(x_t, t, ∅). The network and the schedule must be the run's.

    Returns what the run starts from, as the shipped file's metadata keeps it (``init_from``): the checkpoint,
    whether it is class-conditional, its epochs, minutes and hardware (None where its file does not say), its
    file's sha256 and, for a shipped one, its registered command.
    """
    from .pretrained import available, checkpoint_path, load_checkpoint, load_pretrained, registry, sha256

    source = check_init_from(config.init_from)
    shipped = source in available()
    path = checkpoint_path(source) if shipped else Path(source)
    start, schedule, meta = load_pretrained(source, return_metadata=True) if shipped else load_checkpoint(path)
    predicts = meta.get("train_config", {}).get("prediction", "epsilon")
    if predicts != config.prediction:
        raise ValueError(f"init_from={source!r} predicts {predicts}; this run trains prediction={config.prediction!r}")
    start = getattr(start, "net", start)  # a v-prediction network's own weights, not its ε wrapper
    held = dict(start.config)
    if start.num_classes is not None and model.num_classes is None:
        if held["style"] != "modern":  # the seed U-Net adds its class embedding after a ReLU: no bias to fold into
            raise ValueError(f"init_from={source!r} is a class-conditional {held['style']} U-Net; an unconditional "
                             f"run can start only from a modern U-Net's unconditional branch (unconditional_branch)")
        start = unconditional_branch(start)
    if start.config != model.config or (schedule.name, schedule.T) != (config.schedule, config.T):
        raise ValueError(f"init_from={source!r} holds a {held} network on the {schedule.name} schedule, "
                         f"T = {schedule.T}; this run trains a {model.config} network on the {config.schedule} "
                         f"schedule, T = {config.T}")
    model.load_state_dict(start.state_dict())
    record = {"checkpoint": source, "class_conditional": held["num_classes"] is not None,
              "epochs": meta.get("epochs"), "train_minutes": meta.get("train_minutes"),
              "hardware": meta.get("hardware"), "sha256": sha256(path)}
    return {**record, "command": registry()[source]["command"]} if shipped else record


def lr_factor(step: int, epoch: float, config: TrainConfig) -> float:
    """lr / config.lr at ``step``, taken at ``epoch`` (epochs done, fractional): a linear warm-up
    min(1, (step + 1)/warmup_steps) times, over the last ``lr_decay_epochs`` epochs, a cosine decay
    ½(1 + cos(π·u)) where u = (epoch − decay_start)/lr_decay_epochs ∈ [0, 1)."""
    warmup = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps > 0 else 1.0
    if config.lr_decay_epochs == 0 or epoch < config.decay_start():
        return warmup
    u = (epoch - config.decay_start()) / config.lr_decay_epochs
    return warmup * 0.5 * (1.0 + math.cos(math.pi * u))


def _decay_conflict(stored: TrainConfig, config: TrainConfig, begun_epochs: int, done: str) -> str | None:
    """Why ``config`` would give a step already taken (in ``begun_epochs`` epochs) another learning rate than
    ``stored`` did, or None."""
    if (stored.epochs, stored.lr_decay_epochs) == (config.epochs, config.lr_decay_epochs):
        return None

    def decay(c: TrainConfig) -> str:
        return f"decays from epoch {c.decay_start() + 1}" if c.lr_decay_epochs else "never decays"

    if stored.lr_decay_epochs and stored.decay_start() < begun_epochs:
        return (f"has {begun_epochs} epochs {done} and its learning rate {decay(stored)} of {stored.epochs}: a decay "
                f"under way cannot change; resume with --epochs {stored.epochs} --lr-decay-epochs "
                f"{stored.lr_decay_epochs}")
    if config.lr_decay_epochs and config.decay_start() < begun_epochs:
        return (f"has {begun_epochs} epochs {done} at a learning rate that {decay(stored)}; with --epochs "
                f"{config.epochs} --lr-decay-epochs {config.lr_decay_epochs} it would have decayed from epoch "
                f"{config.decay_start() + 1}. Use --lr-decay-epochs at most {config.epochs - begun_epochs} (epochs "
                f"minus the {begun_epochs} {done})")
    return None


def _check_resumable(stored: TrainConfig, config: TrainConfig, begun_epochs: int, path, under_way=False) -> None:
    """A resumed run may change ``epochs`` and ``lr_decay_epochs`` only where no step already taken would
    have had another learning rate, so that the finished run equals one run of the new command.
    ``begun_epochs``: the epochs with steps taken (``under_way``: the last of them is not finished)."""
    keep = {"epochs": stored.epochs, "lr_decay_epochs": stored.lr_decay_epochs}
    new = asdict(config)
    changed = [f"{k}={v!r}, not {new[k]!r}" for k, v in asdict(stored).items() if k not in keep and new[k] != v]
    if changed:
        raise ValueError(f"{path} was written with another configuration ({'; '.join(changed)}); start a new run "
                         f"or resume with the same options (epochs and lr_decay_epochs may change)")
    conflict = _decay_conflict(stored, config, begun_epochs, "begun" if under_way else "done")
    if conflict is None:
        return
    # where only the epoch under way's steps forbid the change, the epochs saved before it allow it
    saved = begun_epochs - 1
    if under_way and _decay_conflict(stored, config, saved, "done") is None:
        conflict += (f"; or delete {path} to resume from epoch {saved}" if saved else
                     f"; or delete {path} to start from scratch")
    raise ValueError(f"{path} {conflict}")


def partial_path(checkpoint_path) -> Path:
    """Where ``train`` keeps the epoch under way between epoch saves: ``<checkpoint_path>.partial``."""
    return Path(f"{checkpoint_path}.partial")


def _resume_source(checkpoint_path, config: TrainConfig, hardware: str, log) -> tuple[dict | None, Path]:
    """The checkpoint a resume continues, and its path: the epoch under way (``partial_path``) when it continues
    the last saved epoch on the same hardware and the run goes into it, else the last saved epoch (None when
    there is none)."""
    saved = torch_load(checkpoint_path) if os.path.exists(checkpoint_path) else None
    partial = partial_path(checkpoint_path)
    if not partial.exists():
        return saved, Path(checkpoint_path)
    ckpt = torch_load(partial)
    state = ckpt["state"]
    base = saved["state"] if saved else {"epoch": 0, "losses": [], "epoch_losses": []}
    first_step = state["step"] - state["under_way"]["steps"]
    # the same run up to the saved epoch, loss for loss: not another run's file, nor one the saved epoch has passed
    follows = (state["epoch"] == base["epoch"] and first_step == len(base["losses"])
               and state["losses"][:first_step] == base["losses"] and state["epoch_losses"] == base["epoch_losses"])
    if not follows:
        log(f"ignoring {partial}: its epoch under way does not continue "
            + (f"the run saved in {checkpoint_path}" if saved else f"a run from scratch ({checkpoint_path} is absent)"))
    elif config.epochs <= state["epoch"]:
        log(f"ignoring {partial}: the run's {config.epochs} epochs end before its epoch under way, "
            f"epoch {state['epoch'] + 1}")
    # (its seconds would be credited to this machine; a file from before under_way named its hardware is taken
    # as this machine's)
    elif state["under_way"].get("hardware", hardware) != hardware:
        log(f"ignoring {partial}: its epoch under way began on {state['under_way']['hardware']}, not {hardware}")
    else:
        return ckpt, partial
    return saved, Path(checkpoint_path)


def restore_run(checkpoint_path, config: TrainConfig, data_record: dict, model, ema: EMA, opt,
                gen: torch.Generator, hardware: str, log=print) -> dict | None:
    """Continue the run saved at ``checkpoint_path``: load its weights, EMA, optimiser and random states into
    ``model``, ``ema``, ``opt`` and ``gen`` and return its ``state`` (None: nothing saved). Its epoch under way
    (``partial_path``) is taken where it continues the last saved epoch, on this ``hardware``, and
    ``config.epochs`` reaches into it; else its last saved epoch. ``data_record``: this run's training images as
    the checkpoint records them. Raises ValueError where the saved run had another configuration (``epochs``
    and ``lr_decay_epochs`` may change where no step taken would get another learning rate) or other images
    (another dataset name or number)."""
    ckpt, path = _resume_source(checkpoint_path, config, hardware, log)
    if ckpt is None:  # the same command starts a run and resumes it; say which, since a mistyped --out starts afresh
        log(f"nothing saved at {path} to resume: starting from scratch")
        return None
    state = ckpt["state"]
    under_way = "under_way" in state
    begun = state["epoch"] + 1 if under_way else state["epoch"]
    # fields added since the checkpoint was written take their defaults: the behaviour of the code that wrote it
    _check_resumable(TrainConfig(**ckpt["config"]), config, begun, path, under_way)
    # other images (the quick-mode sample, another subset) would change every epoch's batches: not one run
    saved = ckpt["data"]
    if (saved["name"], saved["n"]) != (data_record["name"], data_record["n"]):
        raise ValueError(f"{path} was trained on {saved['n']} {saved['name']} images (from {saved['source']}), not "
                         f"{data_record['n']} {data_record['name']} (from {data_record['source']}): resume with the "
                         f"same training images (not quick mode's sample or a subset) or start a new run")
    model.load_state_dict(ckpt["model"])
    ema.load_state_dict(ckpt["ema"])
    ema.model.to(next(model.parameters()).device)
    opt.load_state_dict(ckpt["optimizer"])
    gen.set_state(ckpt["rng"]["generator"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    if "hardware_log" not in state and state["epoch"] > 0:  # written before the log existed: one run
        state["hardware_log"] = [{"hardware": ckpt.get("hardware", "unknown"), "first_epoch": 1,
                                  "last_epoch": state["epoch"], "seconds": state["train_seconds"]}]
    within = f", step {state['under_way']['steps']} of epoch {state['epoch'] + 1}" if under_way else ""
    log(f"resumed from {path} at epoch {state['epoch']}{within}")
    return state


def optimizer_step(loss: torch.Tensor, model: nn.Module, opt, grad_clip: float) -> None:
    """Clear the old gradients; g = ∇_θ L by backpropagation; g ← g · min(1, grad_clip/‖g‖) over all parameters
    (``grad_clip`` 0: no clipping); one step of ``opt``."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()


def train(config: TrainConfig, checkpoint_path, resume: bool = False, device: str = "auto", progress: bool = True,
          data=None, log=print, time_limit: float | None = None, save_every: float | None = None,
          on_epoch=None) -> dict:
    """Train with AdamW, linear LR warm-up (and a cosine decay over the last ``lr_decay_epochs`` epochs),
    gradient clipping and an EMA; checkpoint after every epoch.

    ``checkpoint_path``: where the training checkpoint is written (atomically: temporary file, then
    rename). With ``resume=True`` the run continues exactly where that checkpoint stopped: weights,
    EMA, optimizer, the noise generator and the epoch all come back. ``save_every`` (seconds; None or
    0: never): also save the epoch under way this often, to ``partial_path(checkpoint_path)``, which a
    resume on the same hardware continues step for step; the file goes once its epoch is saved, or when a
    run starts afresh (``resume=False``). ``data``: an ``ImageDataset`` to use instead of
    ``load_dataset(config.dataset)``. ``time_limit`` (seconds, for benchmarks at
    equal training time): the epoch running when it is reached ends early, is saved, and training stops. It
    counts this call's wall-clock time from its first step (data loading excluded): a resumed run gets it
    afresh, not less the ``train_seconds`` already recorded. ``on_epoch``: called with each epoch's checkpoint
    dict once it is saved (``helpers.train.epoch_exports``). Returns the final checkpoint dict.
    """
    from tqdm.auto import tqdm

    if save_every is not None and (isinstance(save_every, bool) or not isinstance(save_every, numbers.Real)
                                   or not 0 <= save_every < math.inf):
        raise ValueError(f"save_every must be None or a finite number of seconds >= 0 (0: never), got {save_every!r}")
    dev = choose_device(device)
    if data is None:
        data = load_dataset(config.dataset, "train")
    images, labels = data.images, data.labels
    if config.max_train_images:
        images, labels = images[:config.max_train_images], labels[:config.max_train_images]
    num_classes = len(data.classes) if config.conditional else None
    schedule = DiffusionSchedule.from_name(config.schedule, config.T)
    torch.manual_seed(config.seed)
    # channels_last: ~18% more images/s for these small convolutions on a CPU (benchmarked on 2 cores)
    memory_format = torch.channels_last if dev.type == "cpu" else torch.preserve_format
    model = build_model(config, images.shape[1], num_classes)
    model = model.to(dev, memory_format=memory_format)
    ema = EMA(model, config.ema_decay)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    # bf16 autocast on CUDA; bf16 has float32's exponent range, so the gradients need no loss scaling
    use_amp = dev.type == "cuda"
    hardware = hardware_description(dev)
    data_record = {"name": data.name, "source": data.source, "subset": data.subset, "n": int(images.shape[0]),
                   "classes": list(data.classes)}
    state = restore_run(checkpoint_path, config, data_record, model, ema, opt, gen, hardware, log) if resume else None
    if state is None:
        state = {"epoch": 0, "step": 0, "losses": [], "epoch_losses": [], "train_seconds": 0.0, "hardware_log": []}
        if config.init_from:  # only a fresh start reads the file (a resume keeps its record, not the file)
            # recorded now: the file it names may be re-shipped before the run is exported
            state["init_from"] = initial_weights(config, model)
            ema = EMA(model, config.ema_decay)  # the EMA starts from the loaded weights
    if not resume:
        partial_path(checkpoint_path).unlink(missing_ok=True)  # an earlier run's epoch under way
    # starting afresh where an earlier run's checkpoint exists: delete that file just before this run first saves its
    # epoch under way, so that a later resume continues this run, not the earlier one
    replaces = not resume and os.path.exists(checkpoint_path)

    steps_per_epoch = images.shape[0] // config.batch_size
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    ckpt = None
    start = last_save = time.time()

    def checkpoint() -> dict:
        return {
            "config": asdict(config),
            "model": model.state_dict(),
            "ema": ema.state_dict(),
            "optimizer": opt.state_dict(),
            "rng": {"generator": gen.get_state(), "torch": torch.get_rng_state()},
            "state": state,
            "data": data_record,
            "hardware": describe_hardware(state["hardware_log"]),
            "parameters": count_parameters(model),
        }

    for epoch in range(state["epoch"], config.epochs):
        model.train()
        order_gen = torch.Generator().manual_seed(config.seed * 100003 + epoch)  # data order per epoch
        batches = iterate_batches(images.shape[0], config.batch_size, generator=order_gen)
        # a resume from the epoch under way skips the batches it has trained on, in the same order
        under_way = state.pop("under_way", {"steps": 0, "loss_sum": 0.0, "seconds": 0.0})
        saved_steps = under_way["steps"]  # the steps of this epoch in its partial file (0: none)
        # At most one refresh a second: in Jupyter every refresh is several widget messages, and a flood of
        # them can overflow the kernel's output queue before nbval reads it (notebook 05 timed out so).
        bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress,
                   leave=False, mininterval=1.0, initial=under_way["steps"])
        t0, epoch_loss, done = time.time() - under_way["seconds"], under_way["loss_sum"], under_way["steps"]
        for i, idx in enumerate(batches):
            if i < under_way["steps"]:
                continue
            if i >= steps_per_epoch or (time_limit is not None and time.time() - start > time_limit):
                break
            x0 = to_float(images[idx]).to(dev).contiguous(memory_format=memory_format)
            y = labels[idx].to(dev) if config.conditional else None
            for g in opt.param_groups:
                g["lr"] = config.lr * lr_factor(state["step"], epoch + i / steps_per_epoch, config)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = diffusion_loss(model, schedule, x0, y, config.p_uncond, gen, config.prediction)
            if not torch.isfinite(loss):
                bar.close()
                kept = (f"{partial_path(checkpoint_path)}, epoch {epoch + 1} up to step {saved_steps}" if saved_steps
                        else f"{checkpoint_path}, epoch {state['epoch']}")
                raise TrainingDiverged(
                    f"loss became {loss.item()} at epoch {epoch + 1}, step {state['step']}; lower lr or "
                    f"grad_clip. The last good checkpoint ({kept}) is kept.")
            optimizer_step(loss, model, opt, config.grad_clip)
            ema.update(model)
            state["step"] += 1
            state["losses"].append(loss.item())
            epoch_loss += loss.item()
            done += 1
            bar.set_postfix(loss=f"{loss.item():.4f}",
                            img_s=f"{(i + 1) * config.batch_size / (time.time() - t0):.0f}", refresh=False)
            bar.update()
            if save_every and time.time() - last_save >= save_every and done < steps_per_epoch:
                state["under_way"] = {"steps": done, "loss_sum": epoch_loss, "seconds": time.time() - t0,
                                      "hardware": hardware}
                if replaces:  # first, so that a stop in between leaves no earlier run's file to resume
                    Path(checkpoint_path).unlink(missing_ok=True)
                    replaces = False
                atomic_save(checkpoint(), partial_path(checkpoint_path))
                del state["under_way"]
                saved_steps = done
                last_save = time.time()
        bar.close()
        state["epoch"] = epoch + 1
        seconds = time.time() - t0
        state["train_seconds"] += seconds
        record_hardware(state.setdefault("hardware_log", []), hardware, state["epoch"], seconds)
        state["epoch_losses"].append(epoch_loss / max(1, done))
        ckpt = checkpoint()
        atomic_save(ckpt, checkpoint_path)
        replaces = False
        # the epoch is saved whole: its partial file is out of date (a resume would ignore it, and say so)
        partial_path(checkpoint_path).unlink(missing_ok=True)
        last_save = time.time()
        log(f"epoch {state['epoch']}/{config.epochs}: loss {state['epoch_losses'][-1]:.4f}, "
            f"{state['train_seconds'] / 60:.1f} min so far")
        if on_epoch is not None:
            on_epoch(ckpt)
        if time_limit is not None and time.time() - start > time_limit:
            break
    if ckpt is None:
        ckpt = torch_load(checkpoint_path)
    return ckpt


__all__ = ["EMA", "TrainConfig", "TrainingDiverged", "P_UNCOND_CFG", "diffusion_loss", "drop_labels", "train",
           "partial_path", "restore_run", "lr_factor", "optimizer_step", "build_model", "choose_device",
           "record_hardware", "describe_hardware", "hardware_description", "initial_weights", "check_init_from"]
