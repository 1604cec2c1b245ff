"""Orbax's routine notices are dropped only while interjax reads checkpoints (issue 13): absl's
verbosity and the user's logging configuration are the same before and after a read."""

import json
import logging
import subprocess
import sys
import textwrap
import warnings

import jax
import numpy as np
import pytest
from absl import logging as absl_logging

from interjax.checkpoints import CheckpointSource
from interjax.data import CheckpointWriter

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

ABSTRACT = {"w": jax.ShapeDtypeStruct((3,), np.float32)}
NOTICE = "read only"  # Orbax: "Given directory is read only=..." (a read-only manager)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("logging") / "ckpt"
    with CheckpointWriter(root) as writer:
        for step in (0, 1):
            writer.save(step, {"w": np.full(3, step, np.float32)})
    return root


def _config():
    absl_logger, root = logging.getLogger("absl"), logging.getLogger()
    return (
        absl_logging.get_verbosity(),
        absl_logger.level,
        list(absl_logger.filters),
        list(absl_logger.handlers),
        root.level,
        list(root.filters),
        list(root.handlers),
    )


def _orbax_notices(records):
    return [r for r in records if "orbax" in r.pathname and NOTICE in r.getMessage()]


def test_orbax_logs_the_notice_outside_interjax(folder, caplog):
    """The control: a read-only Orbax manager opened directly logs the notice (so the next
    test's silence is interjax's doing)."""
    import orbax.checkpoint as ocp

    before = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.WARNING)
    try:
        with caplog.at_level(logging.WARNING), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            options = ocp.CheckpointManagerOptions(read_only=True, create=False)
            manager = ocp.CheckpointManager(folder.absolute(), options=options)
            assert manager.all_steps() == [0, 1]
            manager.close()
    finally:
        absl_logging.set_verbosity(before)
    assert _orbax_notices(caplog.records)


def test_reading_leaves_the_logging_config_alone_and_drops_the_notice(folder, caplog):
    before_verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.WARNING)  # the user asks for absl warnings
    try:
        with caplog.at_level(logging.WARNING):
            before = _config()
            with CheckpointSource(folder, ABSTRACT) as source:
                assert source.all_steps() == [0, 1]
                assert source.restore(1)["w"].tolist() == [1.0, 1.0, 1.0]
            assert _config() == before
            logging.getLogger("absl").warning("the user's own absl warning")
        assert not _orbax_notices(caplog.records)
        assert "the user's own absl warning" in caplog.text  # other records still pass
        assert absl_logging.get_verbosity() == absl_logging.WARNING
    finally:
        absl_logging.set_verbosity(before_verbosity)


def test_fresh_process_without_logging_config(folder):
    """With no handler configured, a read prints no Orbax notice and leaves the root logger
    without handlers (absl would otherwise call logging.basicConfig on its first record)."""
    code = textwrap.dedent(
        f"""
        import json, logging, jax, numpy as np
        from absl import logging as absl_logging
        from interjax.checkpoints import CheckpointSource
        before = [absl_logging.get_verbosity(), logging.root.level, len(logging.root.handlers)]
        abstract = {{"w": jax.ShapeDtypeStruct((3,), np.float32)}}
        with CheckpointSource({str(folder)!r}, abstract) as source:
            source.restore(0)
        after = [absl_logging.get_verbosity(), logging.root.level, len(logging.root.handlers)]
        print(json.dumps({{"before": before, "after": after}}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["before"] == result["after"]
    assert result["after"][2] == 0  # still no handler on the root logger
    assert NOTICE not in proc.stderr and "absl" not in proc.stderr, proc.stderr
