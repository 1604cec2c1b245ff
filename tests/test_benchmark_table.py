"""``benchmarks/results_table.py``: the results table holds only what the JSON files hold."""

import json
import sys
from pathlib import Path

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
