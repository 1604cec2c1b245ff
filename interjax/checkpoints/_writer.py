"""Writing checkpoint sequences (used by interjax's own training helper, never on user folders)."""

from __future__ import annotations

import warnings
from pathlib import Path

__all__ = ["CheckpointWriter"]


class CheckpointWriter:
    """Save parameter pytrees as Orbax steps in a new folder (synchronously, one per step).

    Refuses a folder that already holds checkpoints: interjax does not add to, or overwrite, a
    run it did not start in the same call.
    """

    def __init__(self, directory):
        import orbax.checkpoint as ocp

        self.directory = Path(directory)
        if self.directory.exists() and any(self.directory.iterdir()):
            raise FileExistsError(
                f"{self.directory} is not empty; interjax writes checkpoints only into a new "
                "folder. Choose another --out or remove it."
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self._ocp = ocp
        options = ocp.CheckpointManagerOptions(enable_async_checkpointing=False, create=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._manager = ocp.CheckpointManager(
                self.directory.resolve(),
                item_handlers=ocp.StandardCheckpointHandler(),
                options=options,
            )

    def save(self, step: int, params) -> None:
        from flax import nnx

        tree = nnx.to_pure_dict(params) if isinstance(params, nnx.State) else params
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._manager.save(int(step), args=self._ocp.args.StandardSave(tree))

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
