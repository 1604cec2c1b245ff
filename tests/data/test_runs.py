"""Training runs: checkpoint schedules, resumable training; the baseline protocol
(interjax.analyze) and its old names in interjax.data; the Dataset records."""

import dataclasses
import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx

from interjax import analyze, data
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
    cross = analyze.baseline_split(ds, "cross_fit")
    train_rows = {r.tobytes() for r in ds.x_train}
    base_rows = {r.tobytes() for r in cross.x_baseline}
    held_rows = {r.tobytes() for r in cross.x_heldout}
    assert not base_rows & held_rows and not base_rows & train_rows
    assert len(base_rows | held_rows) == len({r.tobytes() for r in ds.x_test})
    paper = analyze.baseline_split(ds, "paper")
    np.testing.assert_array_equal(paper.x_baseline, ds.x_test)
    with pytest.raises(ValueError, match="protocol"):
        analyze.baseline_split(ds, "other")
    models = analyze.train_baselines(mlp, cross, train=data.train_classifier, num=2, steps=50)
    assert len(models) == 2
    p0 = nnx.to_pure_dict(nnx.split(models[0])[1])["head"]["kernel"]
    p1 = nnx.to_pure_dict(nnx.split(models[1])[1])["head"]["kernel"]
    assert not np.allclose(p0, p1)  # different seeds


def test_baseline_split_takes_arrays_a_mapping_or_a_dataset():
    ds = data.breast_cancer()
    arrays = {"x_test": ds.x_test, "y_test": ds.y_test}
    by_dataset = analyze.baseline_split(ds, seed=3)
    for other in (
        analyze.baseline_split(arrays, seed=3),
        analyze.baseline_split(x_test=ds.x_test, y_test=ds.y_test, seed=3),
    ):
        for field in ("x_baseline", "y_baseline", "x_heldout", "y_heldout", "heldout_ids"):
            np.testing.assert_array_equal(getattr(other, field), getattr(by_dataset, field))
    with pytest.raises(TypeError, match="no 'y_test' entry"):
        analyze.baseline_split({"x_test": ds.x_test})
    with pytest.raises(TypeError, match="not both"):
        analyze.baseline_split(ds, x_test=ds.x_test, y_test=ds.y_test)
    with pytest.raises(TypeError, match="x_test and y_test"):
        analyze.baseline_split(object())
    with pytest.raises(ValueError, match="samples"):
        analyze.baseline_split(x_test=ds.x_test, y_test=ds.y_test[:-1])


def test_old_data_names_still_work_for_one_release():
    """interjax.data keeps the protocol's old names as aliases (issue 13); the data version of
    train_baselines trains with the example loop and gives what the analysis's version gives."""
    assert data.baseline_split is analyze.baseline_split
    assert data.BaselineSplit is analyze.BaselineSplit
    from interjax.checkpoints import CheckpointWriter

    assert CheckpointWriter is data.CheckpointWriter
    split = data.baseline_split(data.planted_rules(num_train=8, num_test=32))
    factory = lambda seed: data.MLP(8, 2, hidden=(8,), rngs=nnx.Rngs(seed))  # noqa: E731
    old = data.train_baselines(factory, split, num=2, steps=5, batch_size=8)
    new = analyze.train_baselines(
        factory, split, train=data.train_classifier, num=2, steps=5, batch_size=8
    )
    for a, b in zip(old, new, strict=True):
        jax.tree.map(
            np.testing.assert_array_equal,
            nnx.to_pure_dict(nnx.split(a)[1]),
            nnx.to_pure_dict(nnx.split(b)[1]),
        )


def test_analyze_does_not_import_data():
    """The import direction: data may import analyze, never the reverse."""
    code = (
        "import sys, interjax.analyze; "
        "print(sorted(m for m in sys.modules if m.startswith('interjax.data')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip() == "[]"


def test_dataset_keywords_defaults_and_the_old_positional_form():
    x = np.zeros((4, 2), np.float32)
    y = np.array([0, 1, 2, 1], np.int32)
    ds = data.Dataset(x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    assert (ds.feature_names, ds.class_names, ds.name, ds.num_classes) == ((), (), "dataset", 3)
    named = data.Dataset(x, y, x, y, feature_names=["a", "b"], class_names=("p", "q", "r"))
    assert named.feature_names == ("a", "b") and named.num_classes == 3
    old = data.Dataset(x, y, x[:2], y[:2], (), (), "user")  # the seven-positional form
    assert old.name == "user" and old.class_names == ()
    assert dataclasses.replace(old, name="renamed").name == "renamed"
    with pytest.raises(TypeError, match="keyword"):
        data.Dataset(x, y, x, y, (), (), "a", "extra")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"
    text = data.TextDataset(x_train=x, y_train=y, x_test=x, y_test=y)
    assert (text.pad_id, text.mask_id, text.class_names[1]) == (0, 1, "positive")
