"""tools/device_draws.sh, the quality draws of one device-tool call, rehearsed on the CPU: the draws run from the
repository with --device and --out runs/draws/NAME, already drawn ones are skipped, nothing starts after the
deadline, and what finished comes back in one archive."""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rehearse(tmp_path, jobs, seconds):
    """Run the script from a copy of the repository's layout in ``tmp_path`` (its runs/draws/ there, not here)."""
    repo = tmp_path / "repo"
    (repo / "tools").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "tools" / "device_draws.sh", repo / "tools")
    for package in ("helpers", "benchmarks"):
        if not (repo / package).exists():
            (repo / package).symlink_to(ROOT / package)
    (tmp_path / "jobs").write_text(jobs)
    env = {**os.environ, "OUT": str(tmp_path / "out"), "DIFFUSION_QUICK": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["bash", str(repo / "tools" / "device_draws.sh"), str(tmp_path / "jobs"), str(seconds), "2", "cpu"],
                   cwd=tmp_path, env=env, check=True, timeout=600, capture_output=True)
    with tarfile.open(tmp_path / "out" / "draws.tar.gz") as tar:
        return repo, {Path(m.name).name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}


def test_the_draws_run_with_the_device_and_come_back_in_one_archive(tmp_path):
    options = "--model fashion-mnist-cfg --n 20 --steps 2 --guidance 1 --batch 20 --threads 1"
    jobs = f"# a comment\n{options} --seed 1 --out a.json\n\n{options} --seed 2 --out b.json\n{options} --seed 3\n"
    repo, back = rehearse(tmp_path, jobs + f"{options} --seed 4 --out c.json\n", 300)
    assert sorted(back) == ["a.json", "b.json", "c.json", "draws.log"]
    a = json.loads(back["a.json"])
    assert a["command"].endswith("--seed 1 --device cpu --out runs/draws/a.json") and "CUDA" not in a["hardware"]
    assert (repo / "runs" / "draws" / "a.json").read_text() == back["a.json"]
    assert "no --out NAME.json, not drawn" in back["draws.log"] and back["draws.log"].count("rc=0") == 3
    # a second call on the same (warm) machine skips what the first drew
    (repo / "runs" / "draws" / "c.json").unlink()
    _, again = rehearse(tmp_path, jobs + f"{options} --seed 4 --out c.json\n", 300)
    assert sorted(again) == ["c.json", "draws.log"]


def test_nothing_starts_after_the_deadline(tmp_path):
    _, back = rehearse(tmp_path, "--model fashion-mnist-cfg --n 20 --steps 2 --seed 1 --out a.json\n", 0)
    assert list(back) == []  # no draw, and no log line for one
