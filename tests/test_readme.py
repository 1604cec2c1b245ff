"""The README's set-up section and ``.ci/run`` agree: CI runs the README's test command, then
the slow set, and the README says so (the install and test command themselves are checked in
``tests/test_project.py::test_readme_commands_match_ci``)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_default_then_the_slow_tests():
    ci = (ROOT / ".ci" / "run").read_text()
    calls = re.findall(r"^python -m pytest.*$", ci, flags=re.M)
    assert calls == ["python -m pytest -n 2", "python -m pytest -n 2 -m slow"]
    assert "slow_status=$?" in ci and 'exit "$slow_status"' in ci  # both statuses count
    assert '"$code" -eq 5' in ci  # no tests collected fails


def test_readme_says_ci_runs_the_slow_tests():
    readme = (ROOT / "README.md").read_text()
    flat = " ".join(readme.split())
    assert "CI also runs them after the default run (`python -m pytest -n 2 -m slow`" in flat


def test_slow_tests_exist():
    """``-m slow`` in CI must select something (exit code 5 would fail CI)."""
    here = Path(__file__).resolve()
    paths = [p for p in (ROOT / "tests").rglob("test_*.py") if p.resolve() != here]
    sources = [p.read_text() for p in paths]
    assert sum(s.count("@pytest.mark.slow") for s in sources) >= 4


def test_tests_cited_by_ci_exist():
    """``.ci/run`` names the tests that keep it and the README in step: each named file and
    test exists (it once cited a file that did not)."""
    ci = (ROOT / ".ci" / "run").read_text()
    cited = re.findall(r"(tests/[\w/]+\.py)(?:::(\w+))?", ci)
    assert cited
    for path, name in cited:
        assert (ROOT / path).exists(), path
        if name:
            assert f"def {name}(" in (ROOT / path).read_text(), f"{path}::{name}"
