"""Orbax's routine notices dropped while interjax calls Orbax, and only then.

Orbax logs routine notices (a read-only manager's settings, the directory being read only, …)
as absl warnings and infos. :func:`orbax_notices_dropped` drops those records (below ERROR, from
Orbax's own files) for the duration of a block, with a :class:`logging.Filter` added to the
``absl`` and root loggers and removed afterwards. Nothing else changes: absl's verbosity, the
loggers' levels and the user's handlers stay as they were, and the records of every other
library (or of Orbax at ERROR and above) pass as usual.

absl calls ``logging.basicConfig()`` on its first record when the root logger has no handler,
which would leave a handler behind; while the block runs, a stand-in handler that does what
Python does without any handler (``logging.lastResort``) keeps the root logger non-empty, and
is removed afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os

__all__ = ["orbax_notices_dropped", "quiet_orbax"]

_ORBAX_FILES = f"{os.sep}orbax{os.sep}"


class _OrbaxNotices(logging.Filter):
    """Drops the records below ERROR logged from Orbax's source files."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or _ORBAX_FILES not in (record.pathname or "")


class _LastResort(logging.Handler):
    """What Python does with a record when no handler is configured (``logging.lastResort``)."""

    def emit(self, record: logging.LogRecord) -> None:
        last = logging.lastResort
        if last is not None and record.levelno >= last.level:
            last.handle(record)


@contextlib.contextmanager
def orbax_notices_dropped():
    """A context manager: within the block, Orbax's routine notices (its records below ERROR)
    are not logged; afterwards the logging configuration is exactly as it was.

    interjax reads checkpoints within it (and :class:`interjax.data.CheckpointWriter` writes
    the example runs within it); wrap your own Orbax calls in it to drop the same notices.
    absl's verbosity, the loggers' levels and handlers are not changed, and every other record
    (other libraries', Orbax's errors) passes as usual.

    Example:
      >>> import logging
      >>> from interjax.checkpoints import orbax_notices_dropped
      >>> before = (logging.getLogger().handlers[:], logging.getLogger("absl").filters[:])
      >>> with orbax_notices_dropped():
      ...     pass  # Orbax calls here
      >>> (logging.getLogger().handlers, logging.getLogger("absl").filters) == before
      True
    """
    notices = _OrbaxNotices()
    absl_logger, root = logging.getLogger("absl"), logging.getLogger()
    stand_in = None
    if not root.handlers:  # else absl's first record would call logging.basicConfig()
        stand_in = _LastResort()
        root.addHandler(stand_in)
    absl_logger.addFilter(notices)
    root.addFilter(notices)  # Orbax's few stdlib `logging.warning(...)` calls
    try:
        yield
    finally:
        root.removeFilter(notices)
        absl_logger.removeFilter(notices)
        if stand_in is not None:
            root.removeHandler(stand_in)


def quiet_orbax(method):
    """Decorate a function that calls Orbax to run within :func:`orbax_notices_dropped`."""

    @functools.wraps(method)
    def quiet(*args, **kwargs):
        with orbax_notices_dropped():
            return method(*args, **kwargs)

    return quiet
