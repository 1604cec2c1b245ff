"""The tutorials in notebooks/: each is executed top to bottom on CPU, and the paired .ipynb is
kept in sync with its jupytext percent script (the script is the source of truth).

Regenerate a notebook after editing its script with
``jupytext --to ipynb --update-metadata '{"jupytext": null}' notebooks/NAME.py``
(or ``python tests/test_notebooks.py`` to re-pair all of them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("*.py"))
MAX_OUTPUT_BYTES = 200_000  # "outputs small": text plus the inline PNGs of one tutorial


def _paired(script: Path):
    nb = jupytext.read(script)
    nb.metadata.pop("jupytext", None)
    return nb


def _sources(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_four_tutorials():
    names = {s.stem for s in SCRIPTS}
    assert {"quickstart", "images", "text", "training_dynamics"} <= names, names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_ipynb_matches_script_and_has_no_outputs(script):
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `python tests/test_notebooks.py`"
    stored = nbformat.read(ipynb, as_version=4)
    assert _sources(stored) == _sources(_paired(script)), (
        f"{ipynb.name} is out of sync with {script.name}: run `python tests/test_notebooks.py`"
    )
    for cell in stored.cells:  # diff-friendly: outputs are never committed
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, ipynb.name


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_tutorial_runs_top_to_bottom(script, tmp_path):
    nb = _paired(script)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # files a tutorial writes land here
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    size = len(nbformat.writes(nb).encode())
    assert size < MAX_OUTPUT_BYTES, f"{script.name}: executed notebook is {size} bytes"


def _pair_all() -> None:
    for script in SCRIPTS:
        nbformat.write(_paired(script), script.with_suffix(".ipynb"))
        print("wrote", script.with_suffix(".ipynb"))


if __name__ == "__main__":
    _pair_all()
    sys.exit(0)
