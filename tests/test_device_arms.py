"""tools/device_arms.py, side-by-side training of an experiment's arms on a lent GPU, rehearsed on the CPU."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "device_arms.py"
TINY = "--dataset mnist --max-steps-per-epoch 2 --batch-size 16 --base-channels 16"


def run(*args, check=True):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          check=check, timeout=300)


@pytest.mark.parametrize("arms, complaint", [
    (["a=--schedule cosine", "a=--seed 1"], "a new NAME"),
    (["a/b=--seed 1"], "a new NAME"),
    (["a", "b=--seed 1"], "NAME=OPTIONS"),
    (["a=--prediction v"], "arm a: "),  # helpers.train's own parser refuses the value
    ([f"a{i}=--seed {i}" for i in range(4)], "give 1 to 3 arms"),
])
def test_bad_arms_are_refused_before_anything_runs(tmp_path, arms, complaint):
    r = run(*arms, "--minutes", "1", "--work", tmp_path, "--out", tmp_path / "out", "--device", "cpu", check=False)
    assert r.returncode != 0 and complaint in r.stderr and not (tmp_path / "out").exists()


def test_arms_stop_at_the_time_limit_and_bring_back_the_common_epoch(tmp_path):
    from helpers.data import load_dataset
    from helpers.pretrained import load_checkpoint

    mnist = load_dataset("mnist", "train", download=False)
    if mnist.subset:
        pytest.skip("needs the full MNIST (make data)")
    out = tmp_path / "out"
    # "slow" takes 3 times the steps of "fast": at the limit fast has finished more epochs than slow
    # no data carried: the run reads MNIST where this machine keeps it (helpers.data's next place after
    # $DIFFUSION_DATA)
    run("fast=--prediction v_prediction", "slow=--max-steps-per-epoch 6", "--common", f"{TINY} --epochs 1000",
        "--minutes", "0.3", "--work", tmp_path, "--data", tmp_path / "none", "--out", out, "--device", "cpu")
    summary = json.loads((out / "arms.json").read_text())
    fast, slow, common = summary["arms"]["fast"]["epochs"], summary["arms"]["slow"]["epochs"], summary["common_epoch"]
    assert 1 <= common == slow < fast < 1000
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["arms.json", "arms.log", f"fast-ema{common}.pt", f"fast-ema{fast}.pt",
                            f"slow-ema{common}.pt"])
    model, _, meta = load_checkpoint(out / f"fast-ema{common}.pt")
    assert meta["epochs"] == common and meta["train_config"]["prediction"] == "v_prediction"
    assert type(model).__name__ == "EpsilonFromV"
    assert "--prediction v_prediction" in summary["arms"]["fast"]["command"]
