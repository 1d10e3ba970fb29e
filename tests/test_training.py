"""The loss, label dropout, EMA, and a resumable training loop on a tiny model."""

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from helpers.data import ImageDataset, sample_images
from helpers.schedules import DiffusionSchedule
from helpers.training import (
    EMA,
    TrainConfig,
    TrainingDiverged,
    describe_hardware,
    diffusion_loss,
    drop_labels,
    lr_factor,
    optimizer_step,
    partial_path,
    record_hardware,
    train,
)
from helpers.unet import UNet

TINY = {"style": "modern", "base_channels": 16, "channel_mult": (1, 2), "depth": 1, "attention": False}


@pytest.fixture(scope="module")
def tiny_data():
    x, y = sample_images(64, as_uint8=True)
    return ImageDataset("fashion-mnist", "train", x, y, classes=tuple(range(10)), source="sample")


def test_drop_labels_rate_matches_p_uncond():
    y = torch.zeros(200_000, dtype=torch.long)
    for p in (0.1, 0.5):
        dropped = drop_labels(y, p, null_label=10, generator=torch.Generator().manual_seed(0))
        rate = (dropped == 10).float().mean().item()
        # binomial standard error, 5 sigma
        assert abs(rate - p) < 5 * math.sqrt(p * (1 - p) / y.numel())
        assert set(dropped.unique().tolist()) <= {0, 10}
    assert torch.equal(drop_labels(y, 0.0, 10), y)
    with pytest.raises(ValueError, match="p_uncond"):
        drop_labels(y, 1.5, 10)


def test_loss_is_mse_of_noise_prediction():
    """With a model that predicts zero, the loss is E[ε²] ≈ 1."""

    class Zero(torch.nn.Module):
        num_classes = None

        def forward(self, x, t, y=None):
            return torch.zeros_like(x)

    sched = DiffusionSchedule.from_name("report", 300)
    x0 = torch.zeros(256, 1, 8, 8)
    loss = diffusion_loss(Zero(), sched, x0, generator=torch.Generator().manual_seed(0)).item()
    n = x0.numel()
    assert abs(loss - 1.0) < 5 * math.sqrt(2 / n)


def test_loss_is_finite_and_falls_on_a_tiny_model():
    torch.manual_seed(0)
    sched = DiffusionSchedule.from_name("report", 300)
    x0, _ = sample_images(32)
    model = UNet(**TINY)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(30):
        loss = diffusion_loss(model, sched, x0, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_loss_rejects_labels_for_unconditional_model():
    sched = DiffusionSchedule.from_name("report", 300)
    with pytest.raises(ValueError, match="unconditional"):
        diffusion_loss(UNet(**TINY), sched, torch.zeros(2, 1, 28, 28), y=torch.tensor([1, 2]))


def test_ema_update_follows_its_formula():
    model = torch.nn.Linear(3, 1)
    ema = EMA(model, decay=0.9, warmup=False)
    before = [p.clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)
    for b, e, p in zip(before, ema.model.parameters(), model.parameters()):
        torch.testing.assert_close(e, 0.9 * b + 0.1 * p)
    ema_w = EMA(model, decay=0.999)
    assert ema_w.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)


def _config(epochs):
    return TrainConfig(epochs=epochs, batch_size=16, lr=2e-3, warmup_steps=3, model=TINY, conditional=True,
                       p_uncond=0.2, seed=3)


def test_resume_matches_uninterrupted_run(tmp_path, tiny_data):
    full = train(_config(3), tmp_path / "full.pt", progress=False, data=tiny_data, log=lambda m: None)
    train(_config(1), tmp_path / "part.pt", progress=False, data=tiny_data, log=lambda m: None)
    resumed = train(_config(3), tmp_path / "part.pt", resume=True, progress=False, data=tiny_data,
                    log=lambda m: None)
    assert resumed["state"]["epoch"] == 3
    for key in ("model",):
        for k, v in full[key].items():
            assert torch.equal(v, resumed[key][k]), k
    for k, v in full["ema"]["model"].items():
        assert torch.equal(v, resumed["ema"]["model"][k]), k
    assert full["state"]["losses"] == resumed["state"]["losses"]


def test_resume_with_nothing_saved_says_it_starts_from_scratch(tmp_path, tiny_data):
    """``--resume`` with no state at ``--out`` (a mistyped path, a lost ``runs/``) starts a new run, and says so:
    the run equals one started without ``resume``."""
    messages = []
    fresh = train(_config(1), tmp_path / "none.pt", resume=True, progress=False, data=tiny_data,
                  log=messages.append)
    assert f"nothing saved at {tmp_path / 'none.pt'} to resume: starting from scratch" in messages
    plain = train(_config(1), tmp_path / "plain.pt", progress=False, data=tiny_data, log=lambda m: None)
    assert fresh["state"]["losses"] == plain["state"]["losses"]
    messages.clear()
    train(_config(2), tmp_path / "none.pt", resume=True, progress=False, data=tiny_data, log=messages.append)
    assert not any("starting from scratch" in m for m in messages)


def test_resume_on_other_hardware_keeps_each_run_apart(tmp_path, tiny_data, monkeypatch):
    import helpers.training as training

    path = tmp_path / "run.pt"
    monkeypatch.setattr(training, "hardware_description", lambda dev: "machine A")
    one = train(_config(2), path, progress=False, data=tiny_data, log=lambda m: None)
    assert one["hardware"] == "machine A"
    assert [(r["first_epoch"], r["last_epoch"]) for r in one["state"]["hardware_log"]] == [(1, 2)]
    monkeypatch.setattr(training, "hardware_description", lambda dev: "machine B")
    two = train(_config(3), path, resume=True, progress=False, data=tiny_data, log=lambda m: None)
    runs = two["state"]["hardware_log"]
    assert [(r["hardware"], r["first_epoch"], r["last_epoch"]) for r in runs] == [
        ("machine A", 1, 2), ("machine B", 3, 3)]
    assert sum(r["seconds"] for r in runs) == pytest.approx(two["state"]["train_seconds"])
    assert two["hardware"].startswith("machine A: epochs 1-2, ") and "; machine B: epochs 3-3, " in two["hardware"]


def test_resume_of_a_checkpoint_without_hardware_log_credits_its_epochs(tmp_path, tiny_data, monkeypatch):
    import helpers.training as training

    path = tmp_path / "run.pt"
    monkeypatch.setattr(training, "hardware_description", lambda dev: "old CPU")
    old = train(_config(1), path, progress=False, data=tiny_data, log=lambda m: None)
    del old["state"]["hardware_log"]  # as written before the log existed
    torch.save(old, path)
    monkeypatch.setattr(training, "hardware_description", lambda dev: "new GPU")
    new = train(_config(2), path, resume=True, progress=False, data=tiny_data, log=lambda m: None)
    assert [(r["hardware"], r["first_epoch"], r["last_epoch"]) for r in new["state"]["hardware_log"]] == [
        ("old CPU", 1, 1), ("new GPU", 2, 2)]
    assert new["state"]["hardware_log"][0]["seconds"] == old["state"]["train_seconds"]


def test_record_hardware_merges_only_consecutive_epochs_on_one_machine():
    log = record_hardware([], "A", 1, 60.0)
    record_hardware(log, "A", 2, 60.0)
    record_hardware(log, "B", 3, 6.0)
    record_hardware(log, "A", 4, 60.0)
    assert [(r["hardware"], r["first_epoch"], r["last_epoch"], r["seconds"]) for r in log] == [
        ("A", 1, 2, 120.0), ("B", 3, 3, 6.0), ("A", 4, 4, 60.0)]
    assert describe_hardware(log[:1]) == "A"
    assert describe_hardware(log) == "A: epochs 1-2, 2.0 min; B: epochs 3-3, 0.1 min; A: epochs 4-4, 1.0 min"


def test_checkpoint_written_atomically_and_loads_weights_only(tmp_path, tiny_data):
    path = tmp_path / "run.pt"
    train(_config(1), path, progress=False, data=tiny_data, log=lambda m: None)
    assert path.exists() and not (tmp_path / "run.pt.tmp").exists()
    ckpt = torch.load(path, weights_only=True)
    assert {"config", "model", "ema", "optimizer", "rng", "state", "hardware"} <= set(ckpt)


def test_resume_with_another_configuration_is_refused(tmp_path, tiny_data):
    path = tmp_path / "run.pt"
    train(_config(1), path, progress=False, data=tiny_data, log=lambda m: None)
    other = _config(2)
    other.lr = 1.0
    with pytest.raises(ValueError, match="another configuration"):
        train(other, path, resume=True, progress=False, data=tiny_data, log=lambda m: None)


def test_resume_on_other_images_is_refused(tmp_path, tiny_data):
    """Another training set (fewer images, or another dataset's name) would change every epoch's batches; the
    same images read from another folder are the same run."""
    path = tmp_path / "run.pt"
    train(_config(1), path, progress=False, data=tiny_data, log=lambda m: None)
    fewer = ImageDataset("fashion-mnist", "train", tiny_data.images[:48], tiny_data.labels[:48],
                         classes=tiny_data.classes, source="a subset")
    renamed = ImageDataset("mnist", "train", tiny_data.images, tiny_data.labels, classes=tiny_data.classes,
                           source="elsewhere")
    for other, shown in ((fewer, "48 fashion-mnist .from a subset."), (renamed, "64 mnist .from elsewhere.")):
        with pytest.raises(ValueError, match=f"was trained on 64 fashion-mnist images .from sample., not {shown}: "
                                             f"resume with the same training images"):
            train(_config(2), path, resume=True, progress=False, data=other, log=lambda m: None)
    moved = ImageDataset("fashion-mnist", "train", tiny_data.images, tiny_data.labels, classes=tiny_data.classes,
                         source="elsewhere")
    assert train(_config(2), path, resume=True, progress=False, data=moved, log=lambda m: None)["state"]["epoch"] == 2


def test_lr_factor_warms_up_holds_then_follows_the_cosine_to_zero():
    config = TrainConfig(epochs=10, lr_decay_epochs=4, warmup_steps=100)
    assert lr_factor(0, 0.0, config) == pytest.approx(0.01)  # (0 + 1)/100
    assert lr_factor(49, 0.5, config) == pytest.approx(0.5)
    assert lr_factor(10_000, 5.99, config) == 1.0  # after the warm-up, before epoch 10 − 4
    for epoch, u in ((6.0, 0.0), (7.0, 0.25), (8.0, 0.5), (9.0, 0.75), (9.999, 0.99975)):
        assert lr_factor(10_000, epoch, config) == pytest.approx(0.5 * (1 + math.cos(math.pi * u)))
    assert lr_factor(10_000, 9.999, config) < 1e-6
    assert lr_factor(10_000, 9.0, TrainConfig(epochs=10)) == 1.0  # lr_decay_epochs=0: constant


def test_optimizer_step_takes_one_step_along_the_clipped_gradient_of_this_loss_only():
    """With SGD at lr 1 a step moves θ by exactly −g·min(1, c/‖g‖); old gradients are cleared, not added."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    x = torch.randn(5, 3)
    (model(x) ** 2).sum().backward()  # a stale gradient the step must clear
    theta = [p.detach().clone() for p in model.parameters()]
    loss = 10 * (model(x) ** 2).sum()
    grads = torch.autograd.grad(loss, list(model.parameters()), retain_graph=True)
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    assert norm > 1.0  # so that clipping to 1 changes the step
    optimizer_step(loss, model, opt, grad_clip=1.0)
    for p, p0, g in zip(model.parameters(), theta, grads):
        torch.testing.assert_close(p.detach(), p0 - g / norm, rtol=1e-5, atol=1e-6)
    theta = [p.detach().clone() for p in model.parameters()]
    loss = (model(x) ** 2).sum()
    grads = torch.autograd.grad(loss, list(model.parameters()), retain_graph=True)
    optimizer_step(loss, model, opt, grad_clip=0)  # 0: no clipping
    for p, p0, g in zip(model.parameters(), theta, grads):
        torch.testing.assert_close(p.detach(), p0 - g, rtol=1e-5, atol=1e-6)


def test_lr_decay_is_applied_to_the_optimizer(tmp_path, tiny_data):
    """The run with a decay equals, step for step, the one without up to and including the decay's first step
    (u = 0), and then differs at every step; the optimizer's last learning rate is the cosine's."""
    log = lambda m: None  # noqa: E731
    const = train(_config(3), tmp_path / "c.pt", progress=False, data=tiny_data, log=log)
    decayed_config = _config(3)
    decayed_config.lr_decay_epochs = 2
    decayed = train(decayed_config, tmp_path / "d.pt", progress=False, data=tiny_data, log=log)
    steps = len(const["state"]["losses"]) // 3
    a, b = const["state"]["losses"], decayed["state"]["losses"]
    assert b[:steps + 1] == a[:steps + 1]
    assert all(x != y for x, y in zip(a[steps + 2:], b[steps + 2:]))  # the first step at a lower rate is steps + 1
    # the last step is taken at u = (3 − 1/steps − 1)/2
    last_lr = decayed["optimizer"]["param_groups"][0]["lr"]
    u = (3 - 1 / steps - 1) / 2
    assert last_lr == pytest.approx(2e-3 * 0.5 * (1 + math.cos(math.pi * u)))


class _Stop(Exception):
    pass


def _run(path, data, epochs, decay, resume=False, stop_after=None):
    """``_config`` with ``epochs`` and ``lr_decay_epochs``; ``stop_after``: interrupt the run once that epoch is
    saved, as a killed process would be."""
    def log(message):
        if stop_after is not None and message.startswith(f"epoch {stop_after}/"):
            raise _Stop
    config = _config(epochs)
    config.lr_decay_epochs = decay
    try:
        return train(config, path, resume=resume, progress=False, data=data, log=log)
    except _Stop:
        return None


def _assert_same_run(a, b):
    assert a["state"]["losses"] == b["state"]["losses"]
    for k, v in a["ema"]["model"].items():
        assert torch.equal(v, b["ema"]["model"][k]), k


@pytest.mark.parametrize("before, after", [
    ((2, 0), (4, 2)),  # a decay added after the epochs done
    ((6, 0), (4, 2)),  # epochs lowered and a decay added, as fashion-mnist's 80 → 72 with 10
    ((5, 1), (4, 2)),  # a decay not yet started moved
    ((4, 3), (4, 3)),  # stopped in the middle of a decay, resumed with the same options
])
def test_resume_that_changes_no_step_taken_equals_the_new_command_from_scratch(tmp_path, tiny_data, before, after):
    """Stopped after 2 epochs of ``before`` (epochs, lr_decay_epochs), resumed with ``after``: the run of
    ``after``'s command from scratch, step for step."""
    full = _run(tmp_path / "full.pt", tiny_data, *after)
    _run(tmp_path / "part.pt", tiny_data, *before, stop_after=2)
    assert torch.load(tmp_path / "part.pt", weights_only=True)["state"]["epoch"] == 2
    _assert_same_run(full, _run(tmp_path / "part.pt", tiny_data, *after, resume=True))


def test_resume_refuses_a_decay_that_would_change_steps_already_taken(tmp_path, tiny_data):
    """Each refusal names what the run did and the values that are allowed."""
    _run(tmp_path / "const.pt", tiny_data, 2, 0)
    with pytest.raises(ValueError, match=r"2 epochs done at a learning rate that never decays; with --epochs 4 "
                                         r"--lr-decay-epochs 3 it would have decayed from epoch 2\. Use "
                                         r"--lr-decay-epochs at most 2"):
        _run(tmp_path / "const.pt", tiny_data, 4, 3, resume=True)
    _run(tmp_path / "decayed.pt", tiny_data, 4, 2, stop_after=3)
    with pytest.raises(ValueError, match=r"3 epochs done and its learning rate decays from epoch 3 of 4: a decay "
                                         r"under way cannot change; resume with --epochs 4 --lr-decay-epochs 2"):
        _run(tmp_path / "decayed.pt", tiny_data, 6, 2, resume=True)
    other = _config(3)
    other.lr = 1.0
    with pytest.raises(ValueError, match=r"another configuration \(lr=0\.002, not 1\.0\)"):
        train(other, tmp_path / "const.pt", resume=True, progress=False, data=tiny_data, log=lambda m: None)


def test_resume_of_a_checkpoint_written_before_lr_decay_existed(tmp_path, tiny_data):
    """A stored config without ``lr_decay_epochs`` had a constant learning rate, which is its default 0."""
    path = tmp_path / "old.pt"
    old = train(_config(1), path, progress=False, data=tiny_data, log=lambda m: None)
    del old["config"]["lr_decay_epochs"]
    torch.save(old, path)
    resumed = train(_config(2), path, resume=True, progress=False, data=tiny_data, log=lambda m: None)
    assert resumed["state"]["epoch"] == 2 and resumed["config"]["lr_decay_epochs"] == 0


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, tiny_data, monkeypatch):
    import helpers.training as training

    path = tmp_path / "run.pt"
    train(_config(1), path, progress=False, data=tiny_data, log=lambda m: None)
    good = torch.load(path, weights_only=True)
    original = training.diffusion_loss
    # As after an exploding step: every loss from now on is NaN.
    monkeypatch.setattr(training, "diffusion_loss", lambda *a, **k: original(*a, **k) * float("nan"))
    with pytest.raises(TrainingDiverged, match="last good checkpoint"):
        train(_config(2), path, resume=True, progress=False, data=tiny_data, log=lambda m: None)
    after = torch.load(path, weights_only=True)
    assert after["state"]["epoch"] == good["state"]["epoch"] == 1
    for k, v in good["model"].items():
        assert torch.equal(v, after["model"][k])


# ------------------------------------------------------------------ the epoch under way (save_every, <out>.partial)
EVERY_STEP = 1e-9  # save_every (seconds) that saves the epoch under way after every step


def _counting_steps(monkeypatch, kill_at=None, clock=None):
    """Count optimizer steps (the list ``calls``); with ``kill_at``, raise ``_Stop`` inside that step, as a stopped
    process would be: after its loss drew t and ε, before its update. ``clock``: ``_fake_clock``'s, which each
    step moves on by a second."""
    import helpers.training as training

    original, calls = training.optimizer_step, []

    def step(*args, **kwargs):
        calls.append(1)
        if clock is not None:
            clock[0] += 1.0
        if len(calls) == kill_at:
            raise _Stop
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "optimizer_step", step)
    return calls


def _fake_clock(monkeypatch) -> list:
    """``time.time()`` in ``helpers.training`` reads ``clock[0]`` (seconds), which only the caller moves."""
    import types

    import helpers.training as training

    clock = [0.0]
    monkeypatch.setattr(training, "time", types.SimpleNamespace(time=lambda: clock[0]))
    return clock


def _killed_at_step(path, data, epochs, kill_at, monkeypatch, save_every=EVERY_STEP, seed=3, decay=0, clock=None):
    """``_config(epochs)`` (with ``seed``, ``lr_decay_epochs=decay``) from scratch, killed inside optimizer step
    ``kill_at``."""
    config = _config(epochs)
    config.seed, config.lr_decay_epochs = seed, decay
    with monkeypatch.context() as m:
        _counting_steps(m, kill_at, clock)
        with pytest.raises(_Stop):
            train(config, path, progress=False, data=data, log=lambda m: None, save_every=save_every)


def test_resume_from_the_epoch_under_way_matches_uninterrupted_run(tmp_path, tiny_data, monkeypatch):
    """64 images in batches of 16 are 4 steps an epoch: killed in step 7 (epoch 2), the run resumes after
    step 6 from <out>.partial, takes the 6 steps left, and ends where the uninterrupted run does."""
    full = train(_config(3), tmp_path / "full.pt", progress=False, data=tiny_data, log=lambda m: None)
    path = tmp_path / "part.pt"
    _killed_at_step(path, tiny_data, 3, 7, monkeypatch)
    assert partial_path(path) == tmp_path / "part.pt.partial"
    partial = torch.load(partial_path(path), weights_only=True)
    assert torch.load(path, weights_only=True)["state"]["epoch"] == 1
    assert partial["state"]["epoch"] == 1 and partial["state"]["step"] == 6
    assert partial["state"]["under_way"]["steps"] == 2 and len(partial["state"]["losses"]) == 6
    messages, calls = [], _counting_steps(monkeypatch)
    resumed = train(_config(3), path, resume=True, progress=False, data=tiny_data, log=messages.append)
    assert messages[0] == f"resumed from {partial_path(path)} at epoch 1, step 2 of epoch 2"
    assert len(calls) == 6
    _assert_same_run(full, resumed)
    assert full["state"]["epoch_losses"] == resumed["state"]["epoch_losses"]
    for k, v in full["model"].items():
        assert torch.equal(v, resumed["model"][k]), k
    assert "under_way" not in resumed["state"] and not partial_path(path).exists()  # gone once its epoch is saved


def test_a_resumed_run_saving_its_epoch_under_way_can_be_stopped_and_resumed_again(tmp_path, tiny_data,
                                                                                   monkeypatch):
    """As `--resume` runs (it saves every 10 minutes): stopped again in the same epoch, then in the next, the
    saved epoch stays, and the run still ends as the uninterrupted one."""
    full = train(_config(3), tmp_path / "full.pt", progress=False, data=tiny_data, log=lambda m: None)
    path = tmp_path / "run.pt"
    _killed_at_step(path, tiny_data, 3, 6, monkeypatch)  # epoch 2 under way after 1 step
    for kill_at, saved_epoch, steps in ((2, 1, 2), (4, 2, 1)):  # in epoch 2 after 2 steps; in epoch 3 after 1
        with monkeypatch.context() as m:
            _counting_steps(m, kill_at)
            with pytest.raises(_Stop):
                train(_config(3), path, resume=True, progress=False, data=tiny_data, log=lambda m: None,
                      save_every=EVERY_STEP)
        assert torch.load(path, weights_only=True)["state"]["epoch"] == saved_epoch
        assert torch.load(partial_path(path), weights_only=True)["state"]["under_way"]["steps"] == steps
    resumed = train(_config(3), path, resume=True, progress=False, data=tiny_data, log=lambda m: None,
                    save_every=EVERY_STEP)
    _assert_same_run(full, resumed)
    for k, v in full["model"].items():
        assert torch.equal(v, resumed["model"][k]), k


def test_nan_loss_names_the_epoch_under_way_when_it_is_saved(tmp_path, tiny_data, monkeypatch):
    import helpers.training as training

    original, calls = training.diffusion_loss, []

    def loss(*args, **kwargs):  # NaN from step 7 on: epoch 2's third step
        calls.append(1)
        return original(*args, **kwargs) * (float("nan") if len(calls) >= 7 else 1.0)

    monkeypatch.setattr(training, "diffusion_loss", loss)
    path = tmp_path / "run.pt"
    with pytest.raises(TrainingDiverged, match=r"The last good checkpoint \(.*run\.pt\.partial, epoch 2 up to step "
                                               r"2\) is kept\.$"):
        train(_config(2), path, progress=False, data=tiny_data, log=lambda m: None, save_every=EVERY_STEP)
    calls.clear()
    with pytest.raises(TrainingDiverged, match=r"The last good checkpoint \(.*run\.pt, epoch 1\) is kept\.$"):
        train(_config(2), path, progress=False, data=tiny_data, log=lambda m: None)


def test_a_partial_that_the_saved_epoch_has_passed_is_ignored(tmp_path, tiny_data, monkeypatch):
    full = train(_config(3), tmp_path / "full.pt", progress=False, data=tiny_data, log=lambda m: None)
    path = tmp_path / "run.pt"
    _killed_at_step(path, tiny_data, 3, 4, monkeypatch)  # epoch 1 under way after 3 steps, no epoch saved
    stale = partial_path(path).read_bytes()
    messages = []
    train(_config(1), path, resume=True, progress=False, data=tiny_data, log=messages.append)
    assert messages[0] == f"resumed from {partial_path(path)} at epoch 0, step 3 of epoch 1"
    assert not partial_path(path).exists()
    partial_path(path).write_bytes(stale)  # as if the process stopped between the epoch's save and the removal
    messages = []
    resumed = train(_config(3), path, resume=True, progress=False, data=tiny_data, log=messages.append)
    assert messages[:2] == [f"ignoring {partial_path(path)}: its epoch under way does not continue the run saved "
                            f"in {path}", f"resumed from {path} at epoch 1"]
    _assert_same_run(full, resumed)


def test_another_runs_partial_at_the_same_step_is_ignored(tmp_path, tiny_data, monkeypatch):
    """Run B (seed 4) stopped at the epoch and step where run A's (seed 3) partial file is: the counts agree,
    the losses do not."""
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    _killed_at_step(a, tiny_data, 2, 7, monkeypatch)
    _killed_at_step(b, tiny_data, 2, 7, monkeypatch, seed=4)
    partial_path(b).write_bytes(partial_path(a).read_bytes())
    other = _config(2)
    other.seed = 4
    messages = []
    train(other, b, resume=True, progress=False, data=tiny_data, log=messages.append)
    assert messages[:2] == [f"ignoring {partial_path(b)}: its epoch under way does not continue the run saved in "
                            f"{b}", f"resumed from {b} at epoch 1"]
    path = tmp_path / "c.pt"
    partial_path(path).write_bytes(partial_path(a).read_bytes())  # epoch 2 under way, and no epoch saved
    messages = []
    train(_config(2), path, resume=True, progress=False, data=tiny_data, log=messages.append)
    assert messages[0] == (f"ignoring {partial_path(path)}: its epoch under way does not continue a run from "
                           f"scratch ({path} is absent)")


def test_no_partial_without_save_every_and_none_left_once_its_epoch_is_saved(tmp_path, tiny_data, monkeypatch):
    path = tmp_path / "run.pt"
    _killed_at_step(path, tiny_data, 2, 3, monkeypatch, save_every=None)
    _killed_at_step(tmp_path / "zero.pt", tiny_data, 2, 3, monkeypatch, save_every=0)
    assert not partial_path(path).exists() and not partial_path(tmp_path / "zero.pt").exists()
    _killed_at_step(path, tiny_data, 2, 5, monkeypatch)  # in epoch 2's first step: epoch 1 is saved, no partial
    assert not partial_path(path).exists()
    assert torch.load(path, weights_only=True)["state"]["epoch"] == 1


def test_a_new_run_removes_an_earlier_runs_partial(tmp_path, tiny_data, monkeypatch):
    path = tmp_path / "run.pt"
    _killed_at_step(path, tiny_data, 2, 3, monkeypatch)
    assert partial_path(path).exists()
    # a run started afresh (no resume), stopped in its first step: the earlier run's epoch under way is gone
    _killed_at_step(path, tiny_data, 2, 1, monkeypatch, save_every=None)
    assert not partial_path(path).exists()


def test_a_resume_that_ends_before_the_epoch_under_way_ignores_it(tmp_path, tiny_data, monkeypatch):
    """Lowered to the epochs saved, the run is the saved one; the epoch under way does not count as begun."""
    path = tmp_path / "run.pt"
    _killed_at_step(path, tiny_data, 3, 7, monkeypatch)
    messages = []
    ckpt = train(_config(1), path, resume=True, progress=False, data=tiny_data, log=messages.append)
    assert messages[0] == (f"ignoring {partial_path(path)}: the run's 1 epochs end before its epoch under way, "
                           f"epoch 2")
    assert ckpt["state"]["epoch"] == 1 and len(ckpt["state"]["losses"]) == 4


def test_the_epoch_under_way_counts_as_begun_when_a_decay_is_added(tmp_path, tiny_data, monkeypatch):
    """Epoch 1 saved, epoch 2 under way at a constant rate: a decay over epoch 2 would change steps taken; from
    the epoch-1 file alone --epochs 2 --lr-decay-epochs 1 is allowed, and the error says so."""
    path = tmp_path / "run.pt"
    _killed_at_step(path, tiny_data, 2, 7, monkeypatch)
    with pytest.raises(ValueError, match=r"2 epochs begun at a learning rate that never decays; with --epochs 2 "
                                         r"--lr-decay-epochs 1 it would have decayed from epoch 2\. Use "
                                         r"--lr-decay-epochs at most 0 \(epochs minus the 2 begun\); or delete "
                                         r".*run\.pt\.partial to resume from epoch 1$"):
        _run(path, tiny_data, 2, 1, resume=True)
    partial_path(path).unlink()
    assert _run(path, tiny_data, 2, 1, resume=True)["state"]["epoch"] == 2


def test_the_delete_hint_appears_only_where_the_epochs_saved_allow_the_change(tmp_path, tiny_data, monkeypatch):
    # epoch 3 under way, 2 saved: a decay from epoch 2 would change the saved epochs' steps too
    path = tmp_path / "two.pt"
    _killed_at_step(path, tiny_data, 3, 11, monkeypatch)
    with pytest.raises(ValueError, match=r"3 epochs begun .* at most 0 \(epochs minus the 3 begun\)$"):
        _run(path, tiny_data, 3, 2, resume=True)
    # epoch 1 under way, none saved: deleting the file starts the new command from scratch
    path = tmp_path / "none.pt"
    _killed_at_step(path, tiny_data, 2, 3, monkeypatch)
    with pytest.raises(ValueError, match=r"1 epochs begun .*; or delete .*none\.pt\.partial to start from scratch$"):
        _run(path, tiny_data, 2, 2, resume=True)
    # a decay under way (from epoch 2 of 4) in the epoch under way: the saved epoch 1 had not begun it
    path = tmp_path / "decay.pt"
    _killed_at_step(path, tiny_data, 4, 7, monkeypatch, decay=3)
    with pytest.raises(ValueError, match=r"has 2 epochs begun and its learning rate decays from epoch 2 of 4: a "
                                         r"decay under way cannot change; resume with --epochs 4 --lr-decay-epochs 3; "
                                         r"or delete .*decay\.pt\.partial to resume from epoch 1$"):
        _run(path, tiny_data, 5, 3, resume=True)


def test_the_epoch_under_way_is_saved_every_save_every_seconds(tmp_path, tiny_data, monkeypatch):
    """On a clock that moves 1 s a step (4 steps an epoch), save_every=1.5 saves the epoch under way after
    steps 2 and 6: 1.5 s after the last save of either kind, and never at an epoch's last step, where the
    epoch itself is saved."""
    import helpers.training as training

    clock, saves, original = _fake_clock(monkeypatch), [], training.atomic_save

    def save(obj, path):
        saves.append((Path(path).name, obj["state"]["step"]))
        original(obj, path)

    monkeypatch.setattr(training, "atomic_save", save)
    _counting_steps(monkeypatch, clock=clock)
    train(_config(2), tmp_path / "run.pt", progress=False, data=tiny_data, log=lambda m: None, save_every=1.5)
    assert saves == [("run.pt.partial", 2), ("run.pt", 4), ("run.pt.partial", 6), ("run.pt", 8)]
    saves.clear()
    train(_config(2), tmp_path / "long.pt", progress=False, data=tiny_data, log=lambda m: None, save_every=3600)
    assert saves == [("long.pt", 4), ("long.pt", 8)]


def test_a_resumed_epoch_counts_the_seconds_of_both_parts(tmp_path, tiny_data, monkeypatch):
    """4 s an epoch on the fake clock: killed in step 7 after a save at step 6 (2 s into epoch 2), resumed much
    later, the run has trained 8 s, as the uninterrupted one."""
    clock = _fake_clock(monkeypatch)
    with monkeypatch.context() as m:
        _counting_steps(m, clock=clock)
        full = train(_config(2), tmp_path / "full.pt", progress=False, data=tiny_data, log=lambda m: None)
    assert full["state"]["train_seconds"] == 8.0
    clock[0] = 0.0
    path = tmp_path / "run.pt"
    _killed_at_step(path, tiny_data, 2, 7, monkeypatch, clock=clock)
    clock[0] = 1000.0
    _counting_steps(monkeypatch, clock=clock)
    resumed = train(_config(2), path, resume=True, progress=False, data=tiny_data, log=lambda m: None)
    assert resumed["state"]["train_seconds"] == 8.0
    assert [r["seconds"] for r in resumed["state"]["hardware_log"]] == [8.0]


def test_a_partial_from_other_hardware_is_ignored(tmp_path, tiny_data, monkeypatch):
    """Its seconds would be credited to the machine that resumes it, so the run goes on from the saved epoch."""
    import helpers.training as training

    path = tmp_path / "run.pt"
    monkeypatch.setattr(training, "hardware_description", lambda dev: "machine A")
    _killed_at_step(path, tiny_data, 2, 7, monkeypatch)
    monkeypatch.setattr(training, "hardware_description", lambda dev: "machine B")
    messages = []
    train(_config(2), path, resume=True, progress=False, data=tiny_data, log=messages.append)
    assert messages[:2] == [f"ignoring {partial_path(path)}: its epoch under way began on machine A, not machine B",
                            f"resumed from {path} at epoch 1"]


def test_a_run_started_afresh_over_an_old_file_resumes_its_own_epoch_under_way(tmp_path, tiny_data, monkeypatch):
    """The old run's epochs saved are removed once the new run saves its epoch under way, not before."""
    path = tmp_path / "run.pt"
    train(_config(1), path, progress=False, data=tiny_data, log=lambda m: None)
    _killed_at_step(path, tiny_data, 2, 1, monkeypatch, seed=4)  # stopped before it saved anything
    assert torch.load(path, weights_only=True)["config"]["seed"] == 3
    _killed_at_step(path, tiny_data, 2, 3, monkeypatch, seed=4)
    assert not path.exists()
    new = _config(2)
    new.seed = 4
    full = train(new, tmp_path / "full.pt", progress=False, data=tiny_data, log=lambda m: None)
    messages = []
    resumed = train(new, path, resume=True, progress=False, data=tiny_data, log=messages.append)
    assert messages[0] == f"resumed from {partial_path(path)} at epoch 0, step 2 of epoch 1"
    _assert_same_run(full, resumed)


@pytest.mark.parametrize("save_every", [-1, "600", float("nan"), float("inf"), True])
def test_save_every_must_be_seconds(tmp_path, tiny_data, save_every):
    with pytest.raises(ValueError, match=r"save_every must be None or a finite number of seconds >= 0 \(0: never\), "
                                         r"got "):
        train(_config(1), tmp_path / "run.pt", progress=False, data=tiny_data, save_every=save_every)


def test_command_line_saves_the_epoch_under_way_every_ten_minutes_by_default(capsys, monkeypatch):
    import helpers.train as cli

    seen = {}
    monkeypatch.setattr(cli, "train", lambda *args, **kwargs: seen.update(kwargs))
    cli.main(["--epochs", "1"])
    assert seen["save_every"] == 600.0
    cli.main(["--save-every-minutes", "0.5"])
    assert seen["save_every"] == 30.0
    for bad in ("-1", "inf"):
        with pytest.raises(SystemExit):
            cli.parse_args(["--save-every-minutes", bad])
        assert (f"--save-every-minutes must be a finite number >= 0 (0: at epoch ends only), got {float(bad)}"
                in capsys.readouterr().err)


# ------------------------------------------------------------------ TrainConfig and the command line built from it
def test_p_uncond_defaults_to_label_dropout_only_for_a_conditional_run():
    assert TrainConfig().p_uncond == 0.0
    assert TrainConfig(conditional=True).p_uncond == 0.1
    assert TrainConfig(conditional=True, p_uncond=0.0).p_uncond == 0.0
    assert TrainConfig(conditional=True, p_uncond=0.25).p_uncond == 0.25


@pytest.mark.parametrize("kwargs, match", [
    (dict(p_uncond=0.1), "p_uncond=0.1 drops labels, so it needs conditional=True"),
    (dict(conditional=True, p_uncond=1.5), r"p_uncond must be a probability in \[0, 1\]"),
    (dict(dataset="imagenet"), "dataset must be one of 'fashion-mnist', 'mnist', 'cifar10'"),
    (dict(schedule="quadratic"), "schedule must be one of 'linear', 'report', 'cosine'"),
    (dict(model={"style": "vit"}), r"model\['style'\] must be one of 'seed', 'modern'"),
    (dict(batch_size=0), "batch_size must be an int with 1 <= batch_size"),
    (dict(lr_decay_epochs=-1), "lr_decay_epochs must be an int with 0 <= lr_decay_epochs"),
    (dict(epochs=5, lr_decay_epochs=6), "lr_decay_epochs=6 must be at most epochs=5"),
])
def test_train_config_rejects_bad_values_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_command_line_defaults_are_train_config_defaults():
    from dataclasses import fields

    from helpers.train import config_from_args, parse_args

    assert config_from_args(parse_args([])) == TrainConfig()
    for f in fields(TrainConfig):
        assert f.metadata.get("help"), f"TrainConfig.{f.name} has no help text for the command line"


def test_cfg_sets_conditional_and_the_default_label_dropout():
    from helpers.train import config_from_args, parse_args

    cfg = config_from_args(parse_args(["--cfg"]))
    assert cfg.conditional and cfg.p_uncond == 0.1
    assert config_from_args(parse_args(["--cfg", "--p-uncond", "0.2"])).p_uncond == 0.2
    assert config_from_args(parse_args(["--dataset", "mnist"])) == TrainConfig(dataset="mnist")


def test_every_field_is_an_option_and_model_options_fill_the_model_dict():
    from helpers.train import config_from_args, parse_args

    argv = ["--dataset", "mnist", "--epochs", "3", "--batch-size", "32", "--lr", "0.002", "--weight-decay", "0.01",
            "--warmup-steps", "7", "--grad-clip", "0.5", "--ema-decay", "0.99", "--cfg", "--p-uncond", "0.2",
            "--schedule", "cosine", "--T", "100", "--seed", "4", "--max-steps-per-epoch", "9",
            "--max-train-images", "640", "--style", "seed", "--base-channels", "64", "--model-json", '{"depth": 3}']
    want = TrainConfig(dataset="mnist", epochs=3, batch_size=32, lr=0.002, weight_decay=0.01, warmup_steps=7,
                       grad_clip=0.5, ema_decay=0.99, p_uncond=0.2, conditional=True, schedule="cosine", T=100,
                       model={"style": "seed", "base_channels": 64, "depth": 3}, seed=4, max_steps_per_epoch=9,
                       max_train_images=640)
    assert config_from_args(parse_args(argv)) == want


def test_p_uncond_without_cfg_is_refused_by_the_command_line(capsys):
    from helpers.train import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--p-uncond", "0.1"])
    assert "--p-uncond drops labels, so it needs --cfg" in capsys.readouterr().err


def test_loss_rejects_label_dropout_without_labels_and_labels_out_of_range():
    sched = DiffusionSchedule.from_name("report", 300)
    with pytest.raises(ValueError, match="needs labels y"):
        diffusion_loss(UNet(**TINY), sched, torch.zeros(2, 1, 28, 28), p_uncond=0.1)
    with pytest.raises(ValueError, match="y must be in 0..9, or 10 for the null label"):
        diffusion_loss(UNet(num_classes=10, **TINY), sched, torch.zeros(2, 1, 28, 28), y=torch.tensor([1, 11]))


def test_loss_module_is_what_training_exports():
    import helpers.loss
    import helpers.training

    assert helpers.training.diffusion_loss is helpers.loss.diffusion_loss
    assert helpers.training.drop_labels is helpers.loss.drop_labels


def _conditional_file(tmp_path, model_options=TINY):
    """A class-conditional network with random weights everywhere (the null row and conv_out too), saved as
    a shipped checkpoint is."""
    from helpers.pretrained import save_checkpoint

    torch.manual_seed(5)
    model = UNet(num_classes=10, **model_options)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    path = tmp_path / "cond.pt"
    save_checkpoint(path, model, DiffusionSchedule.from_name("report", 300), half=False)
    return model.eval(), path


def test_init_from_starts_an_unconditional_run_at_the_conditional_networks_null_label_branch(tmp_path, tiny_data):
    cond, path = _conditional_file(tmp_path)
    config = TrainConfig(epochs=1, batch_size=16, lr=0.0, warmup_steps=1, model=TINY, init_from=str(path),
                         max_steps_per_epoch=2)
    ckpt = train(config, tmp_path / "run.pt", progress=False, data=tiny_data, log=lambda m: None)
    model = UNet(**TINY)
    model.load_state_dict(ckpt["model"])
    x, t = torch.randn(3, 1, 28, 28), torch.tensor([0, 100, 299])
    with torch.no_grad():  # lr = 0: the weights (and their EMA) are still the start's
        torch.testing.assert_close(model.eval()(x, t), cond(x, t, torch.full((3,), 10)), rtol=1e-5, atol=1e-6)
    for k, v in ckpt["model"].items():
        assert torch.equal(ckpt["ema"]["model"][k], v), k
    assert ckpt["config"]["init_from"] == str(path)


def test_init_from_a_network_of_another_shape_or_nothing_is_refused(tmp_path, tiny_data):
    _, path = _conditional_file(tmp_path, {**TINY, "base_channels": 8})
    # the file's own network is named (class-conditional), not the branch taken from it
    for source, match in [(str(path), "init_from=.*'base_channels': 8, 'num_classes': 10.*this run trains"),
                          (str(tmp_path / "absent.pt"), "init_from must be a shipped checkpoint's name")]:
        config = TrainConfig(epochs=1, batch_size=16, model=TINY, init_from=source, max_steps_per_epoch=1)
        with pytest.raises(ValueError, match=match):
            train(config, tmp_path / "run.pt", progress=False, data=tiny_data, log=lambda m: None)


def test_an_unconditional_run_cannot_start_from_a_class_conditional_seed_unet(tmp_path, tiny_data):
    seed = {"style": "seed", "base_channels": 32}
    _, path = _conditional_file(tmp_path, seed)
    config = TrainConfig(epochs=1, batch_size=16, model=seed, init_from=str(path), max_steps_per_epoch=1)
    with pytest.raises(ValueError, match="class-conditional seed U-Net; an unconditional run can start only from a "
                                         "modern U-Net's unconditional branch"):
        train(config, tmp_path / "run.pt", progress=False, data=tiny_data, log=lambda m: None)


def test_a_conditional_run_starts_from_the_whole_conditional_network(tmp_path, tiny_data):
    cond, path = _conditional_file(tmp_path)
    config = TrainConfig(epochs=1, batch_size=16, lr=0.0, warmup_steps=1, model=TINY, conditional=True,
                         init_from=str(path), max_steps_per_epoch=2)
    ckpt = train(config, tmp_path / "run.pt", progress=False, data=tiny_data, log=lambda m: None)
    for k, v in cond.state_dict().items():  # the label table too
        assert torch.equal(ckpt["model"][k], v), k
    assert ckpt["state"]["init_from"]["class_conditional"] and ckpt["state"]["init_from"]["epochs"] is None


def test_a_run_started_from_another_resumes_as_one_run(tmp_path, tiny_data):
    _, path = _conditional_file(tmp_path)

    def config(epochs):
        return TrainConfig(epochs=epochs, batch_size=16, lr=2e-3, warmup_steps=3, model=TINY, init_from=str(path),
                           seed=3)

    full = train(config(3), tmp_path / "full.pt", progress=False, data=tiny_data, log=lambda m: None)
    train(config(1), tmp_path / "part.pt", progress=False, data=tiny_data, log=lambda m: None)
    resumed = train(config(3), tmp_path / "part.pt", resume=True, progress=False, data=tiny_data, log=lambda m: None)
    for k, v in full["model"].items():  # the resume continues the trained weights, not the start's again
        assert torch.equal(v, resumed["model"][k]), k
    assert full["state"]["losses"] == resumed["state"]["losses"]
    assert resumed["state"]["init_from"] == full["state"]["init_from"]


def test_a_resume_does_not_need_the_file_the_run_started_from(tmp_path, tiny_data):
    _, path = _conditional_file(tmp_path)
    config = TrainConfig(epochs=1, batch_size=16, warmup_steps=1, model=TINY, init_from=str(path),
                         max_steps_per_epoch=1)
    first = train(config, tmp_path / "run.pt", progress=False, data=tiny_data, log=lambda m: None)
    path.unlink()  # the start is recorded in the run's state; its weights were replaced by the saved ones
    resumed = train(replace(config, epochs=2), tmp_path / "run.pt", resume=True, progress=False, data=tiny_data,
                    log=lambda m: None)
    assert resumed["state"]["epoch"] == 2 and resumed["state"]["init_from"] == first["state"]["init_from"]


def test_command_line_refuses_an_init_from_that_names_nothing(capsys):
    from helpers.train import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--init-from", "mnist-cgf"])
    assert "--init-from must be a shipped checkpoint's name (" in capsys.readouterr().err


def test_export_every_writes_each_kth_epochs_ema_weights_beside_the_run(tmp_path, tiny_data, capsys):
    from helpers.pretrained import load_checkpoint
    from helpers.train import epoch_exports, parse_args

    out = tmp_path / "run" / "train.pt"
    out.parent.mkdir()
    train(_config(3), out, progress=False, data=tiny_data, log=lambda m: None, on_epoch=epoch_exports(out, 2))
    assert sorted(p.name for p in out.parent.glob("ema*.pt")) == ["ema2.pt"]  # epochs 1 and 3 are not multiples
    two = train(_config(2), tmp_path / "two.pt", progress=False, data=tiny_data, log=lambda m: None)
    model, _, meta = load_checkpoint(out.parent / "ema2.pt")
    assert meta["epochs"] == 2
    for k, v in model.state_dict().items():  # the EMA weights after epoch 2, as a 2-epoch run ends with them
        assert torch.equal(v, two["ema"]["model"][k].half().to(v.dtype)), k  # (shipped-style files are float16)
    with pytest.raises(SystemExit):
        parse_args(["--export-every", "-1"])
    assert "--export-every must be an integer >= 0 (0: never), got -1" in capsys.readouterr().err
