"""Train shipped checkpoints further on a lent GPU in one call of the device tool, and bring the states back.

A device call carries the working tree (tracked files count) and the paths it names, 64 MiB in all, runs one
command for at most 10 minutes, and returns at most 8 files of at most 16 MiB, 64 MiB together. A training
state is about 17 MB and a gzipped training set about 10 MB (MNIST) or 26 MB (Fashion-MNIST), so:

    # here: the datasets (gzipped) and the states in runs/, if any, into the ignored .device/; checks the size
    python tools/device_train.py [--command NAME=COMMAND] pack NAME…
    # there (device tool: carry [".device"], timeout_s 600): every run at once, stopped after --minutes
    python3 tools/device_train.py [--command NAME=COMMAND] train NAME… [--epochs K] --minutes 8.5
    # here: join the parts that came back into each run's --out, where its command resumes it
    python tools/device_train.py unpack <files_at>
    python tools/ship_checkpoint.py runs/<run>/train.pt NAME --command "…"   # then benchmarks, README

With ``--epochs K``, each run is its command (the registered one, helpers/checkpoints/registry.json, unless
``--command`` gives another) raised to K. A run stopped at ``--minutes`` loses only the epoch in flight: the state
on disk is the last finished epoch's (written atomically), and, as the learning rate does not depend on the number
of epochs (raising a command with ``--lr-decay-epochs`` is refused), a state of K epochs is the one the command
with ``--epochs K`` gives. At most 3 runs fit one call's returned files.

Without ``--epochs``, ``train`` runs each command as it is: a registered command with a decay, or, given as
``--command NAME=COMMAND`` placed before the verb, whichever verb, a retrain not yet shipped. A stopped state
is then not a finished run (``"finished": false`` in the summary), but the same command resumes it where it
stopped, here or on a later call, to which ``pack`` carries it. docs/maintaining.md ("Training on a lent GPU")
spells out mnist-cfg's retrain and says how mnist's differs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "helpers" / "checkpoints" / "registry.json"
MIB = 1 << 20
CARRY_LIMIT = 64 * MIB  # the device tool's limit on what travels, tracked files included
PART_SIZE = 15 * MIB  # under the 16 MiB limit on each returned file
MAX_RUNS = 3  # two parts per state, and the summary: 3 runs make 7 of the 8 files that come back


def registered_command(name: str) -> list[str]:
    registry = json.loads(REGISTRY.read_text())
    if name not in registry:
        raise SystemExit(f"name must be one of {sorted(registry)}, got {name!r}")
    return shlex.split(registry[name]["command"])


def run_command(name: str, commands: dict[str, list[str]]) -> list[str]:
    """The run's command: ``commands[name]`` (a retrain under way, not yet shipped), else the registered one."""
    return commands[name] if name in commands else registered_command(name)


def parse_commands(pairs: list[str], names: list[str] | None = None) -> dict[str, list[str]]:
    """The ``--command NAME=COMMAND`` options, each checked, as NAME → argv. ``names``: the runs of the verb; a
    command for any other run is refused, since a misspelt NAME would otherwise run the registered command."""
    commands = {}
    for pair in pairs:
        name, sep, command = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--command must be NAME=COMMAND, got {pair!r}")
        try:
            registered = registered_command(name)  # a retrain is of a registered name: that is what gets shipped
        except SystemExit as e:
            raise SystemExit(f"--command {name}=…: {e}") from None
        if name in commands:
            raise SystemExit(f"--command {name}=…: given twice")
        if names is not None and name not in names:
            raise SystemExit(f"--command {name}=…: {name} is not among the runs named ({', '.join(names)})")
        commands[name] = train_argv(name, command, registered)
    return commands


def train_argv(name: str, command: str, registered: list[str]) -> list[str]:
    """``command`` split, if ``helpers.train``'s own parser and checks accept it, it resumes from its ``--out``,
    and it trains what ``registered`` trains (the dataset, conditional or not); else a clear error."""
    usage = f"--command {name}=…: must be 'python -m helpers.train … --resume', got {command!r}"
    try:
        argv = shlex.split(command)
    except ValueError as e:  # an unclosed quote
        raise SystemExit(f"{usage}: {e}") from None
    if len(argv) < 3 or argv[1:3] != ["-m", "helpers.train"]:
        raise SystemExit(usage)
    args, config = read_train_command(argv, usage)
    if not args.resume:  # it would start again from scratch over the carried state
        raise SystemExit(f"{usage}: without --resume it starts over")
    _, shipped = read_train_command(registered, "registered")
    if (config.dataset, config.conditional) != (shipped.dataset, shipped.conditional):
        raise SystemExit(f"{usage}: {name} is a {'conditional' if shipped.conditional else 'unconditional'} "
                         f"{shipped.dataset} run")
    return argv


def read_train_command(argv: list[str], usage: str):
    """``(args, TrainConfig)`` as ``python -m helpers.train`` reads ``argv``, or ``usage`` and its complaint."""
    if str(ROOT) not in sys.path:  # helpers, where the device's Python has not installed it
        sys.path.insert(0, str(ROOT))
    from helpers.train import config_from_args, parse_args

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = parse_args(argv[3:])
        return args, config_from_args(args)  # TrainConfig checks its fields (decay ≤ epochs, …)
    except SystemExit:  # argparse: an unknown option, a value of the wrong type
        raise SystemExit(f"{usage}: {err.getvalue().strip().splitlines()[-1]}") from None
    except (ValueError, TypeError) as e:
        raise SystemExit(f"{usage}: {e}") from None


def with_epochs(argv: list[str], epochs: int | None) -> list[str]:
    """``argv`` raised to ``epochs``; as it is if ``epochs`` is None (the run goes on under its own command)."""
    if epochs is None:
        return list(argv)
    if read_train_command(argv, shlex.join(argv))[1].lr_decay_epochs > 0:
        # its learning rate depends on --epochs, so a run stopped early is not the one any command gives
        raise SystemExit(f"{shlex.join(argv)}: a run with --lr-decay-epochs cannot be raised to --epochs {epochs} "
                         "and stopped at any epoch; train it with its own command (leave out --epochs)")
    out = [str(epochs) if i and argv[i - 1] == "--epochs" else f"--epochs={epochs}" if a.startswith("--epochs=")
           else a for i, a in enumerate(argv)]
    if read_train_command(out, shlex.join(out))[1].epochs != epochs:  # an abbreviation such as --epoch
        raise SystemExit(f"{shlex.join(argv)}: spell out --epochs to raise it")
    return out


def state_path(work: Path, name: str, commands: dict[str, list[str]]) -> Path:
    return work / read_train_command(run_command(name, commands), name)[0].out


def tracked_bytes() -> int:
    """What the device tool sends besides the carried paths: tracked and untracked-not-ignored files."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / f.decode()).stat().st_size for f in files if f and (ROOT / f.decode()).is_file())


def pack(names: list[str], work: Path, device_dir: Path, commands: dict[str, list[str]]) -> None:
    """Copy each run's dataset (gzipped IDX files) and its training state, if there is one, into ``device_dir``."""
    import gzip

    from helpers.data import load_dataset

    for dataset in sorted({read_train_command(run_command(n, commands), n)[1].dataset for n in names}):
        found = load_dataset(dataset, "train", download=False)
        if found.subset:
            raise SystemExit(f"{dataset}: only {found.source} here; fetch the full set first (make data)")
        folder = Path(found.source.split(": ", 1)[1])
        target = device_dir / "data" / dataset
        target.mkdir(parents=True, exist_ok=True)
        for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
            if (folder / f"{stem}.gz").is_file():
                shutil.copyfile(folder / f"{stem}.gz", target / f"{stem}.gz")
            else:
                (target / f"{stem}.gz").write_bytes(gzip.compress((folder / stem).read_bytes(), 6))
    for name in names:
        src = state_path(work, name, commands)
        if src.is_file():
            dst = device_dir / "runs" / name / "train.pt"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            print(f"{name}: carries its state {src} ({src.stat().st_size / MIB:.1f} MiB)")
        else:
            print(f"{name}: no state in {src}; the run starts from scratch")
    carried = sum(f.stat().st_size for f in device_dir.rglob("*") if f.is_file())
    total = tracked_bytes() + carried
    print(f"the call carries {total / MIB:.1f} MiB ({carried / MIB:.1f} MiB in {device_dir}); limit 64 MiB")
    if total > CARRY_LIMIT:
        raise SystemExit(f"{total / MIB:.1f} MiB is over the device tool's 64 MiB: pack fewer runs per call")


def train(names: list[str], epochs: int | None, minutes: float, work: Path, device_dir: Path, out: Path, device: str,
          extra: list[str], commands: dict[str, list[str]]) -> None:
    """Run each run's command (raised to ``epochs``, if given) side by side; stop all at ``minutes``; split the
    states."""
    if len(names) > MAX_RUNS:
        raise SystemExit(f"at most {MAX_RUNS} runs per call (the files that come back), got {len(names)}")
    runs = {name: with_epochs(run_command(name, commands), epochs) for name in names}  # all checked before any starts
    for name in names:
        carried, state = device_dir / "runs" / name / "train.pt", state_path(work, name, commands)
        state.parent.mkdir(parents=True, exist_ok=True)
        if carried.is_file() and _epoch(carried) > _epoch(state):  # a warm machine keeps an earlier call's runs/
            shutil.copyfile(carried, state)
    returncodes = run_side_by_side({name: [*runs[name][3:], "--device", device, *extra] for name in names}, minutes,
                                   work, device_dir / "data", out, "device_train.log")
    summary = {}
    for name in names:
        summary[name] = _split(state_path(work, name, commands), out, name)
        summary[name]["returncode"] = returncodes[name]
        # the state is a finished run only at its command's --epochs; before that, the same command resumes it
        summary[name]["command"] = shlex.join(runs[name])
        summary[name]["finished"] = summary[name]["epoch"] == read_train_command(runs[name], name)[1].epochs
    (out / "device_train.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


def run_side_by_side(runs: dict[str, list[str]], minutes: float, work: Path, data: Path, out: Path,
                     log_name: str) -> dict[str, int]:
    """Run ``python -m helpers.train`` with each of ``runs``' options at once, each given an equal share of the CPU
    threads (its options come after, so they can change it) and the datasets in ``data``; stop all still running
    after ``minutes`` (the epoch in flight is lost: the state on disk is the last finished epoch's). Their output
    goes to one log, ``out/log_name``, so that the files that come back stay under the 8-file limit. Returns each
    run's exit status."""
    env = {**os.environ, "DIFFUSION_DATA": str(data), "DIFFUSION_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE",
           "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    threads = max(1, (os.cpu_count() or 2) // len(runs))
    out.mkdir(parents=True, exist_ok=True)
    procs, logs = {}, {}
    for name, options in runs.items():
        argv = [sys.executable, "-m", "helpers.train", "--no-progress", "--threads", str(threads), *options]
        logs[name] = open(out / f"{name}.log", "w")
        procs[name] = subprocess.Popen(argv, cwd=work, env=env, stdout=logs[name], stderr=subprocess.STDOUT)
        print(" ".join(argv[1:]), flush=True)
    deadline = time.time() + 60 * minutes
    while time.time() < deadline and any(p.poll() is None for p in procs.values()):
        time.sleep(2)
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
            p.wait()
    with open(out / log_name, "a") as log:
        for name in runs:
            logs[name].close()
            log.write(f"== {name}\n" + (out / f"{name}.log").read_text())
            (out / f"{name}.log").unlink()
    return {name: p.returncode for name, p in procs.items()}


def _epoch(state: Path) -> int:
    """The number of finished epochs in a training state (0 if there is none)."""
    import torch

    return torch.load(state, map_location="cpu", weights_only=True)["state"]["epoch"] if state.is_file() else 0


def _split(state: Path, out: Path, name: str) -> dict:
    if not state.is_file():
        return {"epoch": 0, "parts": 0}
    import torch

    ckpt = torch.load(state, map_location="cpu", weights_only=True)
    data = state.read_bytes()
    parts = [data[i:i + PART_SIZE] for i in range(0, len(data), PART_SIZE)]
    for i, part in enumerate(parts):
        (out / f"{name}.train.pt.{i:02d}").write_bytes(part)
    return {"epoch": ckpt["state"]["epoch"], "parts": len(parts), "bytes": len(data),
            "hardware": ckpt["hardware"], "train_minutes": round(ckpt["state"]["train_seconds"] / 60, 2)}


def unpack(folder: Path, work: Path, force: bool, commands: dict[str, list[str]]) -> None:
    """Join ``<name>.train.pt.NN`` into the state path of the command that trained it (the summary's, else
    ``--command``'s or the registered one's); refuse to replace a state of more epochs."""
    names = sorted({p.name.split(".train.pt.")[0] for p in folder.glob("*.train.pt.*")})
    if stray := sorted(set(commands) - set(names)):
        raise SystemExit(f"--command {stray[0]}=…: no parts of {stray[0]} in {folder} (it holds {names})")
    summary_file = folder / "device_train.json"
    trained = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    for name in names:
        parts = sorted(folder.glob(f"{name}.train.pt.*"))
        data = b"".join(p.read_bytes() for p in parts)
        target = state_path(work, name, commands)
        if name in trained:  # where its own command resumes it, whatever the registry says now
            recorded = work / read_train_command(shlex.split(trained[name]["command"]), name)[0].out
            if name in commands and recorded != target:
                raise SystemExit(f"--command {name}=…: its --out is {target}, but the parts were trained by "
                                 f"{trained[name]['command']!r}, whose --out is {recorded}")
            target = recorded
        tmp = target.with_suffix(".joined.tmp")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        epoch = _epoch(tmp)
        if not force:
            have = _epoch(target)
            if have > epoch:
                tmp.unlink()
                raise SystemExit(f"{target} holds epoch {have}, the parts only {epoch}: kept it (--force replaces)")
        os.replace(tmp, target)
        print(f"{name}: {target} at epoch {epoch}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python tools/device_train.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=ROOT, help="where runs/ is (default: the repository)")
    p.add_argument("--device-dir", type=Path, default=ROOT / ".device", help="the carried folder")
    p.add_argument("--command", action="append", default=[], metavar="NAME=COMMAND",
                   help="train NAME with this command instead of its registered one (a retrain not yet shipped); "
                        "before the verb, the same for pack, train and unpack")
    sub = p.add_subparsers(dest="verb", required=True)
    names = ", ".join(json.loads(REGISTRY.read_text()))
    for verb in ("pack", "train"):
        sub.add_parser(verb).add_argument("names", nargs="+", help=f"registered checkpoints: {names}")
    t = sub.choices["train"]
    t.add_argument("--epochs", type=int, help="raise each run to this many epochs (default: its command's own)")
    t.add_argument("--minutes", type=float, required=True, help="stop every run after this long")
    t.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "device-out")))
    t.add_argument("--device", default="cuda")
    t.add_argument("--extra", default="", help="more options for every command (a smoke test's small run)")
    u = sub.add_parser("unpack")
    u.add_argument("folder", type=Path)
    u.add_argument("--force", action="store_true", help="replace a state of more epochs")
    args = p.parse_args(argv)
    commands = parse_commands(args.command, None if args.verb == "unpack" else args.names)
    try:
        extra = shlex.split(getattr(args, "extra", ""))
    except ValueError as e:
        raise SystemExit(f"--extra: {e}") from None
    if args.verb == "pack":
        pack(args.names, args.work, args.device_dir, commands)
    elif args.verb == "train":
        train(args.names, args.epochs, args.minutes, args.work, args.device_dir, args.out, args.device,
              extra, commands)
    else:
        unpack(args.folder, args.work, args.force, commands)


if __name__ == "__main__":
    main()
