"""Train a few variants of one run side by side on a lent GPU, for a stated time, and bring back their EMA weights.

An experiment, not a shipped run: each arm is ``python -m helpers.train`` with the common options and its own
(``NAME=OPTIONS``), written to ``runs/arms/NAME/`` with its EMA weights exported after every epoch. At
``--minutes`` every arm still training is stopped (its epoch in flight is lost). What comes back, in ``--out``:
for each arm the EMA weights of the last epoch that every arm finished, ``NAME-emaK.pt`` (the fair comparison:
the same epochs, learning rates and data order), and its own last epoch's where that is later; ``arms.json``
(each arm's command, epochs, epoch losses and seconds) and ``arms.log``. On the device (carry ``.device``, which
``python tools/device_train.py pack mnist`` fills with the data; there ``python3``):

    python3 tools/device_arms.py --minutes 7.5 --common "--dataset mnist --epochs 18 --lr-decay-epochs 6" \\
        eps-report="--prediction epsilon" eps-cosine="--schedule cosine" v-report="--prediction v_prediction"

Here, afterwards: ``python -m benchmarks.ddim_artefacts --checkpoint <files_at>/NAME-emaK.pt …`` for each arm.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
from pathlib import Path

from device_train import ROOT, read_train_command, run_side_by_side

MAX_FILES = 8  # the device tool returns at most 8 files


def parse_arms(pairs: list[str], common: list[str]) -> dict[str, list[str]]:
    """``NAME=OPTIONS`` → NAME → the arm's ``helpers.train`` options (checked by its parser and TrainConfig)."""
    arms = {}
    for pair in pairs:
        name, sep, options = pair.partition("=")
        if not sep or not name.replace("-", "").isalnum() or name in arms:
            raise SystemExit(f"each arm must be NAME=OPTIONS with a new NAME of letters, digits and '-', got {pair!r}")
        argv = [*common, *shlex.split(options), "--out", f"runs/arms/{name}/train.pt"]
        read_train_command(["python", "-m", "helpers.train", *argv], f"arm {name}")
        arms[name] = argv
    if not 1 <= len(arms) <= (MAX_FILES - 2) // 2:
        raise SystemExit(f"give 1 to {(MAX_FILES - 2) // 2} arms (two weight files each, and the summary and log)")
    return arms


def last_export(folder: Path) -> int:
    """The highest K of the ``emaK.pt`` files in ``folder`` (0: none)."""
    return max((int(p.stem[3:]) for p in folder.glob("ema*.pt") if p.stem[3:].isdigit()), default=0)


def run_arms(arms: dict[str, list[str]], minutes: float, work: Path, data: Path, out: Path, device: str) -> dict:
    for name in arms:
        (work / "runs" / "arms" / name).mkdir(parents=True, exist_ok=True)
    returncodes = run_side_by_side({name: [*argv, "--export-every", "1", "--save-every-minutes", "0", "--device",
                                           device] for name, argv in arms.items()}, minutes, work, data, out,
                                   "arms.log")
    folders = {name: work / "runs" / "arms" / name for name in arms}
    common = min(last_export(f) for f in folders.values())
    summary = {"minutes": minutes, "common_epoch": common, "arms": {}}
    for name, folder in folders.items():
        own = last_export(folder)
        for k in sorted({common, own} - {0}):
            shutil.copyfile(folder / f"ema{k}.pt", out / f"{name}-ema{k}.pt")
        state = {}
        if (folder / "train.pt").is_file():
            import torch

            state = torch.load(folder / "train.pt", map_location="cpu", weights_only=True)["state"]
        summary["arms"][name] = {"command": shlex.join(["python", "-m", "helpers.train", *arms[name]]),
                                 "returncode": returncodes[name], "epochs": own,
                                 "epoch_losses": state.get("epoch_losses", []),
                                 "train_minutes": round(state.get("train_seconds", 0.0) / 60, 2)}
    (out / "arms.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return summary


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python tools/device_arms.py", description=__doc__.split("\n\n")[0])
    p.add_argument("arms", nargs="+", metavar="NAME=OPTIONS")
    p.add_argument("--common", default="", help="helpers.train options of every arm")
    p.add_argument("--minutes", type=float, required=True, help="stop every arm after this long")
    p.add_argument("--work", type=Path, default=ROOT, help="where runs/arms/ goes (default: the repository)")
    p.add_argument("--data", type=Path, default=ROOT / ".device" / "data", help="the carried datasets")
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "device-out")))
    p.add_argument("--device", default="cuda")
    args = p.parse_args(argv)
    run_arms(parse_arms(args.arms, shlex.split(args.common)), args.minutes, args.work, args.data, args.out,
             args.device)


if __name__ == "__main__":
    main()
