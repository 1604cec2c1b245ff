"""Project-level guards: the public surface, the README's commands, the command line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import interjax as ij

ROOT = Path(__file__).resolve().parents[1]

CONTRACT = [  # DESIGN.md's public names; never removed or renamed
    "from_nnx",
    "from_linen",
    "from_fn",
    "log_odds",
    "Players",
    "evaluate",
    "and_interactions",
    "or_interactions",
    "shapley_values",
]


def test_public_surface():
    for name in CONTRACT:
        assert name in ij.__all__ and hasattr(ij, name), name
    for name in ij.__all__:
        assert hasattr(ij, name), name
    assert all(hasattr(ij.Players, c) for c in ("features", "patches", "segments", "tokens"))


def test_readme_commands_match_ci():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -e . && interjax demo" in readme
    assert "pip install -e '.[dev]' && python -m pytest -n 2" in readme
    assert "python -m pip install --quiet -e '.[dev]'" in ci
    assert "\npython -m pytest -n 2\n" in ci


@pytest.mark.slow  # ~95 s on 2 cores (the demo's whole explain task); CI runs the slow set
def test_demo_explain_end_to_end(tmp_path):
    """The demo's single-sample part through the real command line (the analysis part is
    tested in tests/analyze/test_planted.py on smaller settings)."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "interjax.cli",
            "demo",
            "--out",
            str(out),
            "--steps",
            "150",
            "--only",
            "explain",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # --quiet
    summary = json.loads((out / "demo_summary.json").read_text())
    for name, n in (("breast_cancer", 10), ("digits", 12)):
        s = summary[name]
        assert s["n"] == n and s["test_accuracy"] > 0.8
        assert s["matching_residual_and"] < 1e-9 and s["shapley_efficiency_residual"] < 1e-9
        assert len(s["strongest_and"]) == 8 and len(s["shapley"]) == n
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_cli_bad_arguments_exit_nonzero(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "interjax.cli", "demo", "--steps", "0", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "--steps must be >= 1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ruff_clean():
    """Lint and format stay clean (ruff is in the dev extra)."""
    for args in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


PUBLIC_MODULES = ["interjax", "interjax.checkpoints", "interjax.analyze", "interjax.report"]
PUBLIC_MODULES += ["interjax.data", "interjax.train"]


def _public_objects():
    import importlib
    import inspect

    for modname in PUBLIC_MODULES:
        mod = importlib.import_module(modname)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if not inspect.ismodule(obj):
                yield f"{modname}.{name}", obj


def test_every_public_name_has_a_docstring_with_an_example():
    """Issue 6: every public function and class documents itself with a runnable example, which
    pytest's ``--doctest-modules`` (pyproject ``addopts``) executes."""
    import inspect

    missing = [name for name, obj in _public_objects() if ">>>" not in (inspect.getdoc(obj) or "")]
    assert not missing, f"public names without a doctest example: {missing}"


def test_reliability_table_names_real_tests():
    """tests/README.md's table of cases points at tests that exist."""
    import re

    text = (ROOT / "tests" / "README.md").read_text()
    sources = {p: p.read_text() for p in (ROOT / "tests").rglob("*.py")}
    for path, name in re.findall(r"`([\w/]+\.py)::(test_\w+)", text):
        file = ROOT / "tests" / path
        assert file.exists(), path
        assert f"def {name}(" in sources[file], f"{path}::{name}"
    for name in set(re.findall(r"`(test_\w+)`", text)):
        assert any(f"def {name}(" in s for s in sources.values()), name
    for path in set(re.findall(r"`([\w/]+\.py)`", text)):
        assert (ROOT / "tests" / path).exists() or (ROOT / path).exists(), path


def test_no_file_points_to_the_team_contract():
    """Users get the repository, not the team's contract folder: docs, docstrings, notebooks and
    benchmarks cite ``docs/method.md`` (a bare "METHOD.md §4" slipped through once)."""
    names = ["METHOD", "DESIGN", "STYLE"]
    pattern = "|".join([r"\.\./shared", *(rf"(?<![/\w]){n}\.md" for n in names)])
    import re

    found = []
    for folder in ("interjax", "docs", "notebooks", "benchmarks", "tests"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".md", ".ipynb"} and path != Path(__file__).resolve():
                for i, line in enumerate(path.read_text().splitlines(), 1):
                    if re.search(pattern, line):
                        found.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    readme = (ROOT / "README.md").read_text()
    found += [f"README.md: {m}" for m in re.findall(pattern, readme)]
    assert not found, "\n".join(found)
