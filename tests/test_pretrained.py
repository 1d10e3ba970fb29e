"""Checkpoints rebuild model and schedule alone; the registry matches the shipped files."""

import json
import pickle

import pytest
import torch

from helpers import pretrained
from helpers.pretrained import CheckpointError, load_checkpoint, load_pretrained, save_checkpoint, sha256
from helpers.schedules import DiffusionSchedule
from helpers.unet import UNet


def _model(**kw):
    torch.manual_seed(0)
    return UNet(style="modern", base_channels=16, channel_mult=(1, 2), depth=1, attention=False, **kw).eval()


def test_round_trip_rebuilds_model_and_schedule(tmp_path):
    model = _model(num_classes=10)
    sched = DiffusionSchedule.from_name("report", 300)
    save_checkpoint(tmp_path / "m.pt", model, sched, {"dataset": "fashion-mnist", "epochs": 3}, half=False)
    loaded, sched2, meta = load_checkpoint(tmp_path / "m.pt")
    assert meta == {"dataset": "fashion-mnist", "epochs": 3}
    assert sched2.T == 300 and sched2.name == "report"
    torch.testing.assert_close(sched2.alphas_cumprod, sched.alphas_cumprod, rtol=0, atol=0)
    assert not loaded.training and loaded.num_classes == 10
    x, t, y = torch.randn(2, 1, 28, 28), torch.tensor([5, 200]), torch.tensor([1, 10])
    torch.testing.assert_close(loaded(x, t, y), model(x, t, y), rtol=0, atol=0)


def test_half_precision_file_is_close(tmp_path):
    model = _model()
    sched = DiffusionSchedule.from_name("cosine", 100)
    save_checkpoint(tmp_path / "m.pt", model, sched)
    loaded, _, _ = load_checkpoint(tmp_path / "m.pt")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x, t = torch.randn(2, 1, 28, 28), torch.tensor([5, 50])
    torch.testing.assert_close(loaded(x, t), model(x, t), rtol=1e-2, atol=1e-2)


def test_missing_and_corrupt_files_raise_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="could not be read"):
        load_checkpoint(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": {}}, other)
    with pytest.raises(CheckpointError, match="is not a"):
        load_checkpoint(other)


def test_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match="name must be one of"):
        load_pretrained("no-such-model")


def test_registry_sha256_match_the_shipped_files():
    registry = pretrained._registry()
    for name, entry in registry.items():
        path = pretrained.checkpoint_path(name)
        assert path.is_file(), f"{name}: {path} is missing"
        assert sha256(path) == entry["sha256"], name


def test_registered_command_is_the_one_each_checkpoint_was_trained_with():
    import shlex
    from dataclasses import asdict

    from helpers.train import config_from_args, parse_args
    from helpers.training import TrainConfig

    for name, entry in pretrained.registry().items():
        _, _, meta = load_pretrained(name, return_metadata=True)
        argv = shlex.split(entry["command"])
        assert argv[:3] == ["python", "-m", "helpers.train"], name
        config = asdict(config_from_args(parse_args(argv[3:])))
        stored = asdict(TrainConfig(**meta["train_config"]))  # fields added since the file take their defaults
        assert {k: stored[k] for k in config} == config, name
        assert meta["epochs"] == config["epochs"], f"{name} stopped before its command's --epochs"
        assert not meta["subset"] and meta["dataset"] == config["dataset"], name


def test_shipped_checkpoints_load_in_eval_mode():
    for name in pretrained.available():
        model, sched = load_pretrained(name)
        assert not model.training
        assert isinstance(sched, DiffusionSchedule)
        with torch.no_grad():
            out = model(torch.zeros(1, model.in_channels, 28, 28), torch.tensor([0]))
        assert out.shape == (1, model.in_channels, 28, 28) and torch.isfinite(out).all()


def test_tampered_shipped_file_is_detected(tmp_path, monkeypatch):
    model = _model()
    path = tmp_path / "x.pt"
    save_checkpoint(path, model, DiffusionSchedule.from_name("report", 300))
    reg = {"x": {"file": "x.pt", "sha256": "0" * 64}}
    monkeypatch.setattr(pretrained, "_registry", lambda: reg)
    monkeypatch.setattr(pretrained, "checkpoint_path", lambda name: path)
    with pytest.raises(CheckpointError, match="sha256"):
        load_pretrained("x")
    reg["x"]["sha256"] = sha256(path)
    loaded, _ = load_pretrained("x")
    assert json.dumps(loaded.config)


def test_export_keeps_ema_and_raw_weights_and_the_loss_curve(tmp_path):
    from helpers.data import ImageDataset, sample_images
    from helpers.pretrained import export_training_checkpoint
    from helpers.training import TrainConfig, train

    x, y = sample_images(32, as_uint8=True)
    data = ImageDataset("fashion-mnist", "train", x, y, classes=tuple(range(10)), source="sample")
    tiny = {"style": "modern", "base_channels": 16, "channel_mult": (1, 2), "depth": 1, "attention": False}
    cfg = TrainConfig(epochs=2, batch_size=8, warmup_steps=2, model=tiny, conditional=True, p_uncond=0.1)
    ckpt = train(cfg, tmp_path / "run.pt", progress=False, data=data, log=lambda m: None)
    export_training_checkpoint(ckpt, tmp_path / "m.pt", metrics={"fid": 1.0})
    ema, sched, meta = load_checkpoint(tmp_path / "m.pt")
    raw, _, _ = load_checkpoint(tmp_path / "m.pt", weights="raw")
    assert meta["epochs"] == 2 and meta["steps"] == 8 and meta["metrics"] == {"fid": 1.0}
    assert len(meta["epoch_losses"]) == 2 and len(meta["loss_curve"]["mean_loss"]) == 1
    assert ema.num_classes == 10 and sched.name == "report"
    for (k, a), b in zip(ema.state_dict().items(), raw.state_dict().values()):
        torch.testing.assert_close(a, ckpt["ema"]["model"][k].half().float())
        torch.testing.assert_close(b, ckpt["model"][k].half().float())
    with pytest.raises(ValueError, match="weights"):
        load_checkpoint(tmp_path / "m.pt", weights="best")


def test_export_of_a_run_started_from_another_records_that_networks_training(tmp_path):
    from helpers.data import ImageDataset, sample_images
    from helpers.pretrained import export_training_checkpoint
    from helpers.training import TrainConfig, train

    x, y = sample_images(32, as_uint8=True)
    data = ImageDataset("fashion-mnist", "train", x, y, classes=tuple(range(10)), source="sample")
    tiny = {"style": "modern", "base_channels": 16, "channel_mult": (1, 2), "depth": 1, "attention": False}
    first = TrainConfig(epochs=2, batch_size=8, warmup_steps=2, model=tiny, conditional=True)
    export_training_checkpoint(train(first, tmp_path / "a.pt", progress=False, data=data, log=lambda m: None),
                               tmp_path / "cond.pt")
    _, _, start = load_checkpoint(tmp_path / "cond.pt")
    then = TrainConfig(epochs=1, batch_size=8, warmup_steps=2, model=tiny, init_from=str(tmp_path / "cond.pt"))
    export_training_checkpoint(train(then, tmp_path / "b.pt", progress=False, data=data, log=lambda m: None),
                               tmp_path / "uncond.pt")
    _, _, meta = load_checkpoint(tmp_path / "uncond.pt")
    assert meta["epochs"] == 1 and meta["train_config"]["init_from"] == str(tmp_path / "cond.pt")
    assert meta["init_from"] == {"checkpoint": str(tmp_path / "cond.pt"), "class_conditional": True, "epochs": 2,
                                 "train_minutes": start["train_minutes"], "hardware": start["hardware"],
                                 "sha256": sha256(tmp_path / "cond.pt")}
    from helpers.training import build_model, initial_weights

    config = TrainConfig(dataset="mnist", init_from="mnist-cfg")  # a shipped start: its registered command and hash
    shipped = initial_weights(config, build_model(config, 1, None))
    assert shipped["command"] == pretrained.registry()["mnist-cfg"]["command"]
    assert shipped["sha256"] == sha256(pretrained.checkpoint_path("mnist-cfg"))
    assert shipped["epochs"] == load_pretrained("mnist-cfg", return_metadata=True)[2]["epochs"]


def test_atomic_save_replaces_the_file_whole_and_leaves_no_temporary(tmp_path, monkeypatch):
    from helpers import storage

    path = tmp_path / "sub" / "x.pt"
    storage.atomic_save({"a": torch.ones(2)}, path)  # creates the folder
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in path.parent.iterdir()] == ["x.pt"]

    def crash(obj, f):
        open(f, "wb").write(b"torn")
        raise OSError("disk full")

    monkeypatch.setattr(storage.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        storage.atomic_save({"a": torch.zeros(2)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))  # the old file is intact


class _RunsOnLoad:
    """An object whose unpickling would call ``print``: code that a weights-only load must refuse."""

    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_torch_load_reads_tensors_and_plain_data_but_refuses_pickled_code(tmp_path, capsys):
    from helpers.storage import torch_load

    plain = {"w": torch.arange(6.0).reshape(2, 3), "meta": {"epochs": [1, 2], "name": "x"}}
    torch.save(plain, tmp_path / "plain.pt")
    back = torch_load(tmp_path / "plain.pt")
    assert torch.equal(back["w"], plain["w"]) and back["w"].device.type == "cpu" and back["meta"] == plain["meta"]

    torch.save({"payload": _RunsOnLoad()}, tmp_path / "code.pt")
    with pytest.raises(pickle.UnpicklingError):
        torch_load(tmp_path / "code.pt")
    assert "pickled code ran" not in capsys.readouterr().out


def test_pack_weights_halves_floats_only_and_unpack_restores_float32():
    from helpers.storage import pack_weights, unpack_weights

    state = {"w": torch.randn(3, 3, dtype=torch.float64).t(), "steps": torch.tensor([7]), "b": torch.randn(3)}
    packed = pack_weights(state)
    assert packed["w"].dtype == packed["b"].dtype == torch.float16 and packed["steps"].dtype == torch.int64
    assert packed["w"].is_contiguous()
    assert pack_weights(state, half=False)["w"].dtype == torch.float64
    unpacked = unpack_weights(packed)
    assert unpacked["w"].dtype == torch.float32 and torch.equal(unpacked["steps"], state["steps"])
    torch.testing.assert_close(unpacked["w"], state["w"].float(), rtol=1e-3, atol=1e-3)


def test_classifier_files_use_the_same_packing(tmp_path, monkeypatch):
    import helpers.classifier as classifier
    from helpers.classifier import Classifier, load_classifier, save_classifier

    torch.manual_seed(0)
    model = Classifier().eval()
    path = tmp_path / "classifier-x.pt"
    save_classifier(model, {"test_accuracy": 0.5}, path)
    obj = torch.load(path, weights_only=True)
    assert obj["weights"]["head.weight"].dtype == torch.float16 and not (tmp_path / "classifier-x.pt.tmp").exists()
    monkeypatch.setattr(classifier, "classifier_path", lambda dataset: path)
    loaded = load_classifier("x")
    assert loaded.metadata == {"test_accuracy": 0.5}
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    torch.testing.assert_close(loaded(x), model(x), rtol=2e-2, atol=2e-2)
