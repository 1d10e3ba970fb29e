"""tools/device_train.py, the one-call GPU training of the shipped runs, rehearsed on the CPU: pack the data,
run a registered command under a time limit, bring the state back in parts, join it, resume it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "device_train.py"


def run(*args, check=True):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          check=check, timeout=300)


def _module():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import device_train
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return device_train


def test_train_refuses_more_runs_than_the_returned_files_hold(tmp_path):
    r = run("--work", tmp_path, "train", "mnist", "mnist-cfg", "fashion-mnist", "fashion-mnist-cfg",
            "--epochs", "2", "--minutes", "1", "--out", tmp_path / "out", check=False)
    assert r.returncode != 0 and "at most 3 runs per call" in r.stderr


def test_unknown_name_is_refused_with_the_registered_ones(tmp_path):
    r = run("--work", tmp_path, "--device-dir", tmp_path / ".device", "pack", "mnist-large", check=False)
    assert r.returncode != 0 and "name must be one of" in r.stderr and "'mnist-cfg'" in r.stderr


def test_a_command_with_a_learning_rate_decay_is_not_raised():
    """Its learning rate depends on --epochs, so a state stopped at epoch K is not what --epochs K gives."""
    device_train = _module()
    argv = ["python", "-m", "helpers.train", "--epochs", "72", "--lr-decay-epochs", "10"]
    with pytest.raises(SystemExit, match="a run with --lr-decay-epochs cannot be raised to --epochs 90"):
        device_train.with_epochs(argv, 90)
    for flags in (["--lr-decay-epochs", "10"], ["--lr-decay-epochs=10"]):
        with pytest.raises(SystemExit, match="cannot be raised"):
            device_train.with_epochs(argv[:5] + flags, 90)
    with pytest.raises(SystemExit, match="cannot be raised"):  # argparse reads --lr-decay as --lr-decay-epochs
        device_train.with_epochs(argv[:5] + ["--lr-decay", "10"], 90)
    raised = device_train.with_epochs(argv[:5] + ["--lr-decay-epochs", "0"], 90)
    assert raised[4] == "90" and raised[5:] == ["--lr-decay-epochs", "0"]


# a run without a decay, so that --epochs can raise it and --minutes stop it (the registered mnist decays)
CONSTANT_MNIST = ("mnist=python -m helpers.train --dataset mnist --epochs 8 --style modern --base-channels 32 "
                  "--out runs/mnist/train.pt --resume")


def test_pack_train_unpack_round_trip_under_a_time_limit(tmp_path):
    from helpers.data import load_dataset

    if load_dataset("mnist", "train", download=False).subset:
        pytest.skip("needs the full MNIST (make data)")
    device_dir, out, here = tmp_path / ".device", tmp_path / "out", tmp_path / "here"
    constant = ("--command", CONSTANT_MNIST)
    r = run(*constant, "--work", tmp_path / "there", "--device-dir", device_dir, "pack", "mnist")
    assert "from scratch" in r.stdout and (device_dir / "data" / "mnist" / "train-images-idx3-ubyte.gz").is_file()
    assert "limit 64 MiB" in r.stdout
    # far more epochs than 12 seconds allow: the run is stopped, and its state is the last finished epoch's
    r = run(*constant, "--work", tmp_path / "there", "--device-dir", device_dir, "train", "mnist", "--epochs", "1000",
            "--minutes", "0.2", "--out", out, "--device", "cpu",
            "--extra", "--max-steps-per-epoch 2 --batch-size 16")
    summary = json.loads((out / "device_train.json").read_text())["mnist"]
    assert 1 <= summary["epoch"] < 1000 and summary["parts"] == 2  # 17 MB: two parts under 16 MiB
    assert all(p.stat().st_size <= 15 << 20 for p in out.glob("mnist.train.pt.*"))
    assert "== mnist" in (out / "device_train.log").read_text()
    state = tmp_path / "there" / "runs" / "mnist" / "train.pt"
    # unpack places the state where the command that trained it resumes it (the summary records it), not at the
    # registered command's --out, and refuses a --command that would place it elsewhere
    other = CONSTANT_MNIST.replace("runs/mnist/", "runs/other/")
    r = run("--command", other, "--work", here, "unpack", out, check=False)
    assert r.returncode != 0 and "runs/other/train.pt" in r.stderr and "runs/mnist/train.pt" in r.stderr
    r = run("--work", here, "unpack", out)
    joined = here / "runs" / "mnist" / "train.pt"
    assert joined.read_bytes() == state.read_bytes() and list((here / "runs").iterdir()) == [joined.parent]
    assert torch.load(joined, weights_only=True)["state"]["epoch"] == summary["epoch"]
    # a state of more epochs is never replaced by fewer, unless forced
    ckpt = torch.load(joined, weights_only=True)
    ckpt["state"]["epoch"] = summary["epoch"] + 5
    torch.save(ckpt, joined)
    r = run("--work", here, "unpack", out, check=False)
    assert r.returncode != 0 and f"holds epoch {summary['epoch'] + 5}" in r.stderr
    run("--work", here, "unpack", out, "--force")
    assert joined.read_bytes() == state.read_bytes()
    # a warm device machine keeps runs/ between calls: a carried state replaces it only if it holds more epochs
    carried = device_dir / "runs" / "mnist" / "train.pt"
    carried.parent.mkdir(parents=True)
    for carried_epoch, expected in [(summary["epoch"] + 5, summary["epoch"] + 5), (summary["epoch"] + 2,
                                                                                  summary["epoch"] + 5)]:
        ckpt["state"]["epoch"] = carried_epoch
        torch.save(ckpt, carried)
        again = tmp_path / f"out-{carried_epoch}"
        run(*constant, "--work", tmp_path / "there", "--device-dir", device_dir, "train", "mnist", "--epochs", "1000",
            "--minutes", "0", "--out", again, "--device", "cpu")  # stopped at once: the state is what was kept
        assert json.loads((again / "device_train.json").read_text())["mnist"]["epoch"] == expected


OWN = ("python -m helpers.train --dataset mnist --cfg --epochs 35 --lr-decay-epochs 10 --out runs/x/train.pt "
       "--resume")


def test_a_run_given_its_own_command_is_run_as_given():
    device_train = _module()
    commands = device_train.parse_commands([f"mnist-cfg={OWN}"], ["mnist", "mnist-cfg"])
    assert device_train.run_command("mnist-cfg", commands) == OWN.split()
    assert device_train.run_command("mnist", commands) == device_train.registered_command("mnist")
    assert device_train.with_epochs(OWN.split(), None) == OWN.split()  # no --epochs: the command as it is
    plain = ["python", "-m", "helpers.train", "--epochs=8", "--out", "o.pt", "--epochs", "9"]
    assert device_train.with_epochs(plain, 40) == ["python", "-m", "helpers.train", "--epochs=40", "--out", "o.pt",
                                                   "--epochs", "40"]
    with pytest.raises(SystemExit, match="spell out --epochs"):  # argparse reads --epoch as --epochs
        device_train.with_epochs(["python", "-m", "helpers.train", "--epoch", "8"], 40)


@pytest.mark.parametrize("pairs, names, message", [
    (["mnist-cfg"], None, "--command must be NAME=COMMAND, got 'mnist-cfg'"),
    ([f"mnist-large={OWN}"], None, "--command mnist-large=…: name must be one of"),  # shipped under a registered name
    ([f"mnist-cfg={OWN}"], ["mnist"], r"mnist-cfg is not among the runs named \(mnist\)"),  # a misspelt NAME
    ([f"mnist-cfg={OWN}"] * 2, None, "given twice"),
    ([f"mnist-cfg=python -m helpers.sample {OWN[23:]}"], None, "must be 'python -m helpers.train"),
    ([f"mnist-cfg={OWN.replace(' --resume', '')}"], None, "without --resume it starts over"),
    ([f"mnist-cfg={OWN.replace('--epochs 35', '--epochs x')}"], None, "argument --epochs: invalid int value: 'x'"),
    ([f"mnist-cfg={OWN.replace('--epochs 35', '--epochs 5')}"], None, "lr_decay_epochs=10 must be at most epochs=5"),
    ([f"mnist-cfg={OWN} --bogus 1"], None, "unrecognized arguments: --bogus 1"),
    ([f"mnist-cfg={OWN.replace('--dataset mnist', '--dataset mnistt')}"], None, "invalid choice: 'mnistt'"),
    ([f"mnist-cfg={OWN.replace('--dataset mnist', '--dataset fashion-mnist')}"], None,
     "mnist-cfg is a conditional mnist run"),
    ([f"mnist-cfg={OWN.replace(' --cfg', '')}"], None, "mnist-cfg is a conditional mnist run"),
    (["mnist-cfg=python -m helpers.train '--out"], None, "No closing quotation"),
])
def test_a_bad_command_is_refused_naming_the_option(pairs, names, message):
    with pytest.raises(SystemExit, match=message):
        _module().parse_commands(pairs, names)


def test_every_run_is_checked_before_any_starts(tmp_path):
    """fashion-mnist's registered command decays, so raising it is refused, and mnist (given a command that does
    not decay), named first, never starts."""
    r = run("--work", tmp_path, "--device-dir", tmp_path / ".device", "--command", CONSTANT_MNIST, "train", "mnist",
            "fashion-mnist", "--epochs", "90", "--minutes", "1", "--out", tmp_path / "out", "--device", "cpu",
            check=False)
    assert r.returncode != 0 and "cannot be raised to --epochs 90" in r.stderr
    assert "--dataset fashion-mnist" in r.stderr and "--dataset mnist " not in r.stderr
    assert not (tmp_path / "out" / "mnist.log").exists() and not (tmp_path / "runs").exists()


def test_unpack_refuses_a_command_for_a_run_it_has_no_parts_of(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "mnist.train.pt.00").write_bytes(b"")
    r = run("--work", tmp_path, "--command", f"mnist-cfg={OWN}", "unpack", tmp_path / "parts", check=False)
    assert r.returncode != 0 and "--command mnist-cfg=…: no parts of mnist-cfg" in r.stderr and "['mnist']" in r.stderr


def test_a_decay_run_under_its_own_command_round_trips_and_reports_whether_it_finished(tmp_path):
    from helpers.data import load_dataset

    if load_dataset("mnist", "train", download=False).subset:
        pytest.skip("needs the full MNIST (make data)")
    own = ("mnist-cfg=python -m helpers.train --dataset mnist --cfg --epochs 2 --lr-decay-epochs 1 --style modern "
           "--base-channels 16 --out runs/retrain/train.pt --resume")
    there, device_dir = tmp_path / "there", tmp_path / ".device"
    run("--work", there, "--device-dir", device_dir, "--command", own, "pack", "mnist-cfg")
    small = ["--extra", "--max-steps-per-epoch 2 --batch-size 16", "--device", "cpu"]
    r = run("--work", there, "--device-dir", device_dir, "--command", own, "train", "mnist-cfg", "--epochs", "5",
            "--minutes", "1", "--out", tmp_path / "refused", *small, check=False)
    assert r.returncode != 0 and "cannot be raised to --epochs 5" in r.stderr
    state = there / "runs" / "retrain" / "train.pt"
    for minutes, epoch, finished in [(0, 0, False), (2, 2, True)]:
        out = tmp_path / f"out-{minutes}"
        run("--work", there, "--device-dir", device_dir, "--command", own, "train", "mnist-cfg",
            "--minutes", minutes, "--out", out, *small)
        summary = json.loads((out / "device_train.json").read_text())["mnist-cfg"]
        assert (summary["epoch"], summary["finished"]) == (epoch, finished)
        assert summary["command"] == own.split("=", 1)[1]  # the command as given: not raised, not registered
    assert torch.load(state, weights_only=True)["config"]["lr_decay_epochs"] == 1
    run("--work", tmp_path / "here", "--command", own, "unpack", out)  # into the command's --out
    assert (tmp_path / "here" / "runs" / "retrain" / "train.pt").read_bytes() == state.read_bytes()
    r = run("--work", there, "--device-dir", device_dir, "--command", own, "pack", "mnist-cfg")  # from its --out
    assert "carries its state" in r.stdout
    assert (device_dir / "runs" / "mnist-cfg" / "train.pt").read_bytes() == state.read_bytes()
    # stopped at once (so killed, not exited): finished is whether the state has reached the command's --epochs
    ckpt = torch.load(state, weights_only=True)
    for epoch, finished in [(2, True), (1, False)]:
        ckpt["state"]["epoch"] = epoch
        torch.save(ckpt, state)
        stopped = tmp_path / f"out-stopped-{epoch}"
        run("--work", there, "--device-dir", tmp_path / "empty", "--command", own, "train", "mnist-cfg",
            "--minutes", 0, "--out", stopped, *small)
        summary = json.loads((stopped / "device_train.json").read_text())["mnist-cfg"]
        assert (summary["epoch"], summary["finished"], summary["returncode"] != 0) == (epoch, finished, True)
