"""Fixtures shared by the test folders: runs written by researchers' own training scripts."""

import os
import time

import pytest

from tests.guide_runs.reference import make_runs


@pytest.fixture(scope="session")
def guide_runs(tmp_path_factory):
    """Every (script, layout) run of tests/guide_runs, trained and saved in a fresh process
    without x64 (as a researcher trains); the folder to pass to ``reference.run_dir``. Made
    once per test session: the pytest-xdist workers share it (the first one writes it)."""
    root = tmp_path_factory.getbasetemp().parent / "guide_runs"
    done, lock = root / ".done", root.parent / "guide_runs.lock"
    deadline = time.monotonic() + 900
    while not done.exists():
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:  # another worker is writing the runs
            if time.monotonic() > deadline:
                raise TimeoutError(f"{lock} held for 15 minutes") from None
            time.sleep(0.5)
            continue
        try:
            root.mkdir(exist_ok=True)
            make_runs(root)
            done.touch()
        finally:
            os.close(fd)
            os.unlink(lock)
    return root
