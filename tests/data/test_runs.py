"""Training runs: checkpoint schedules, resumable training, baseline splits."""

import jax
import numpy as np
import pytest
from flax import nnx

from interjax import data
from interjax.checkpoints import orbax_source

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def mlp(seed=0):
    return data.MLP(30, 2, hidden=(16,), rngs=nnx.Rngs(seed))


@pytest.mark.parametrize(("total", "num"), [(2000, 20), (100, 10), (7, 5)])
def test_save_schedule_dense_early_then_log_spaced(total, num):
    steps = data.save_schedule(total, num)
    assert steps[0] == 0 and steps[-1] == total
    assert steps == sorted(set(steps)) and len(steps) <= num + 1
    if total >= 100:
        gaps = np.diff(steps)
        assert gaps[0] <= gaps[-1] / 4  # dense early, sparse late
        assert sum(s <= total // 10 for s in steps) >= num // 3


def test_segmented_training_equals_one_run():
    ds = data.breast_cancer()
    one = data.train_classifier(mlp(), ds.x_train, ds.y_train, steps=60, seed=3)
    trainer = data.Trainer(mlp(), ds.x_train, ds.y_train, seed=3)
    trainer.run(25)
    trainer.run(35)
    a = jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.split(one)[1]))
    b = jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.split(trainer.model)[1]))
    jax.tree.map(np.testing.assert_array_equal, a, b)


def test_train_run_writes_checkpoints_and_losses(tmp_path):
    ds = data.breast_cancer()
    run = data.train_run(mlp, ds, tmp_path / "run", total_steps=120, num_saves=6)
    assert list(run.steps) == data.save_schedule(120, 6)
    assert run.train_loss[-1] < run.train_loss[0] and run.test_loss[-1] < run.test_loss[0]
    with orbax_source(run.checkpoints, model_factory=mlp) as src:
        assert src.all_steps() == list(run.steps)
        final = src.restore(run.steps[-1])
    graphdef, _ = nnx.split(mlp())
    model = nnx.merge(graphdef, final)
    np.testing.assert_allclose(
        data.cross_entropy(model, ds.x_test, ds.y_test), run.test_loss[-1], rtol=1e-5
    )
    assert data.TrainingRun.load(run.directory) == run


def test_baseline_splits():
    ds = data.breast_cancer()
    cross = data.baseline_split(ds, "cross_fit")
    train_rows = {r.tobytes() for r in ds.x_train}
    base_rows = {r.tobytes() for r in cross.x_baseline}
    held_rows = {r.tobytes() for r in cross.x_heldout}
    assert not base_rows & held_rows and not base_rows & train_rows
    assert len(base_rows | held_rows) == len({r.tobytes() for r in ds.x_test})
    paper = data.baseline_split(ds, "paper")
    np.testing.assert_array_equal(paper.x_baseline, ds.x_test)
    with pytest.raises(ValueError, match="protocol"):
        data.baseline_split(ds, "other")
    models = data.train_baselines(mlp, cross, num=2, steps=50)
    assert len(models) == 2
    p0 = nnx.to_pure_dict(nnx.split(models[0])[1])["head"]["kernel"]
    p1 = nnx.to_pure_dict(nnx.split(models[1])[1])["head"]["kernel"]
    assert not np.allclose(p0, p1)  # different seeds
