"""Writing checkpoint sequences of the example runs (:func:`interjax.data.train_run`).

Used by interjax's own example training runs (the demo, tests, notebooks), never on a user's
folders: reading is :mod:`interjax.checkpoints`'s, which never writes. Moved here from
``interjax.checkpoints._writer``; ``interjax.checkpoints.CheckpointWriter`` stays importable as
an alias for one release.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from interjax.checkpoints import orbax_notices_dropped

__all__ = ["CheckpointWriter"]


class CheckpointWriter:
    """Save parameter pytrees as Orbax steps in a new folder (synchronously, one per step).

    Refuses a folder that already holds checkpoints: interjax does not add to, or overwrite, a
    run it did not start in the same call. Each :meth:`save` writes one sub-folder named by the
    step, readable with :func:`interjax.checkpoints.orbax_source` (docs/method.md §4: the target's
    checkpoint sequence). Use it as a context manager (or call :meth:`close`).

    Example:
      >>> import tempfile, numpy as np
      >>> from pathlib import Path
      >>> from interjax.data import CheckpointWriter
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     with CheckpointWriter(Path(tmp, "run")) as writer:
      ...         for step in (0, 10, 100):
      ...             writer.save(step, {"w": np.zeros(3, np.float32)})
      ...     print(sorted(int(p.name) for p in Path(tmp, "run").iterdir()))
      [0, 10, 100]
    """

    def __init__(self, directory):
        import orbax.checkpoint as ocp

        self.directory = Path(directory)
        if self.directory.exists() and any(self.directory.iterdir()):
            raise FileExistsError(
                f"{self.directory} is not empty; interjax writes checkpoints only into a new "
                "folder. Choose another folder or remove this one."
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self._ocp = ocp
        options = ocp.CheckpointManagerOptions(enable_async_checkpointing=False, create=True)
        with warnings.catch_warnings(), orbax_notices_dropped():
            warnings.simplefilter("ignore")
            self._manager = ocp.CheckpointManager(
                self.directory.resolve(),
                item_handlers=ocp.StandardCheckpointHandler(),
                options=options,
            )

    def save(self, step: int, params) -> None:
        """Write ``params`` (a pytree of arrays, or an NNX State) as step ``step``."""
        from flax import nnx

        tree = nnx.to_pure_dict(params) if isinstance(params, nnx.State) else params
        with warnings.catch_warnings(), orbax_notices_dropped():
            warnings.simplefilter("ignore")
            self._manager.save(int(step), args=self._ocp.args.StandardSave(tree))

    def close(self) -> None:
        """Wait for pending writes and release Orbax's resources."""
        with orbax_notices_dropped():
            self._manager.wait_until_finished()
            self._manager.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
