"""``benchmarks/results_table.py``: the results table holds only what the JSON files hold."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import result_row  # noqa: E402
from results_table import build  # noqa: E402


def test_rows_missing_peers_and_failed_steps_are_shown(tmp_path):
    rows = [
        result_row("transform vs peer", "n=10", 0.002, peer="peer tool", peer_s=0.5),
        result_row("transform vs peer", "n=16", 0.02, peer="peer tool", note="capped at 120 s"),
    ]
    machine = {"device_name": "test box", "jax_backend": "cpu", "git_commit": "abcdef123"}
    (tmp_path / "bench_x.json").write_text(json.dumps({"machine": machine, "rows": rows}))
    suite = {"quick": True, "steps": [{"name": "x", "status": 1, "seconds": 3.0}]}
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    table = build(tmp_path)
    assert rows[0]["ratio"] == 0.5 / 0.002
    assert "| transform vs peer | n=10 | 0.002 | peer tool | 0.5 | 250 |" in table
    assert "| transform vs peer | n=16 | 0.02 | peer tool | - | - |  | capped at 120 s |" in table
    assert "| x | FAILED (1): its numbers are missing | 3 |" in table
    assert "test box" in table and "abcdef1" in table


def test_committed_table_is_regenerated_from_the_committed_json():
    """RESULTS.md equals what the generator makes of results/ now: no hand edits, no stale
    numbers."""
    committed = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    assert committed == build(ROOT / "benchmarks" / "results")


def test_every_result_file_carries_its_rows():
    for path in (ROOT / "benchmarks" / "results").rglob("bench_*.json"):
        assert "rows" in json.loads(path.read_text()), path


def test_interjax_bench_refuses_an_unknown_benchmark_before_running_any():
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "interjax.cli", "bench", "--only", "nosuch"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "invalid choice: 'nosuch'" in proc.stderr and "Traceback" not in proc.stderr


def _commit_exists(sha: str) -> bool:
    r = subprocess.run(["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=ROOT, check=False)
    return r.returncode == 0


def test_every_result_file_names_the_machine_and_its_commit():
    """A figure is only worth its commit: each JSON names its device and the commit it measured,
    or (results from a copy of the tree without .git) a note naming that commit. The sha must be
    in this repository's history."""
    if not _commit_exists("HEAD"):
        pytest.skip("not a git checkout")
    for path in (ROOT / "benchmarks" / "results").rglob("bench_*.json"):
        machine = json.loads(path.read_text())["machine"]
        assert machine.get("device_name"), path
        sha = machine.get("git_commit")
        if sha is None:
            named = re.findall(r"\b[0-9a-f]{7,40}\b", machine.get("git_commit_note", ""))
            assert named, f"{path}: no git_commit and no note naming the commit"
            sha = named[0]
        assert _commit_exists(sha), f"{path}: commit {sha} is not in the history"


def test_a_copy_without_git_takes_the_commit_from_the_environment(monkeypatch):
    import _common

    monkeypatch.setattr(_common, "_git", lambda *args: None)
    monkeypatch.delenv("INTERJAX_GIT_COMMIT", raising=False)
    assert _common.machine_info("box")["git_commit"] is None
    monkeypatch.setenv("INTERJAX_GIT_COMMIT", "abc1234")
    info = _common.machine_info("box")
    assert (info["git_commit"], info["git_commit_source"]) == ("abc1234", "INTERJAX_GIT_COMMIT")


def test_the_gpu_script_refuses_to_run_without_a_commit(tmp_path):
    """gpu.sh on a copy without .git and without INTERJAX_GIT_COMMIT stops before any work."""
    copy = tmp_path / "copy" / "benchmarks"
    copy.mkdir(parents=True)
    shutil.copy(ROOT / "benchmarks" / "gpu.sh", copy / "gpu.sh")
    fake_python = tmp_path / "python"  # stands in for a JAX that sees a GPU
    fake_python.write_text("#!/bin/sh\ncat > /dev/null; echo accelerator: fake\n")
    fake_python.chmod(0o755)
    env = {
        **os.environ,
        "PYTHON": str(fake_python),
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }
    env.pop("INTERJAX_GIT_COMMIT", None)
    r = subprocess.run(
        ["bash", str(copy / "gpu.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2, r.stderr
    assert "INTERJAX_GIT_COMMIT" in r.stderr
