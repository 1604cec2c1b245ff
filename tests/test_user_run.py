"""What ``interjax analyze`` reads from the user (interjax/_user_run.py), piece by piece."""

import json

import numpy as np
import pytest
from flax import nnx

import interjax as ij
from interjax import _user_run as user
from interjax.checkpoints import describe_factory
from tests.guide_runs.reference import load_script


@pytest.mark.parametrize(
    ("text", "shape", "dtype", "kind", "n"),
    [
        ("6", (30,), np.float32, "features", 6),
        ("grid:2x2", (8, 8, 1), np.float32, "patches", 4),
        ("grid:4x1", (8, 8), np.float32, "patches", 4),
        ("tokens", (8,), np.int32, "tokens", 8),
        ("tokens:3", (8,), np.int64, "tokens", 3),
    ],
)
def test_players_as_the_data_come(text, shape, dtype, kind, n):
    players = user.build_players(user.parse_players(text), shape, dtype)
    assert (players.kind, players.n) == (kind, n)
    assert str(user.parse_players(text)) == text
    players.element_map(shape)  # fits one input


def test_token_players_are_the_first_positions():
    players = user.build_players(user.parse_players("tokens:3"), (5,), np.int32)
    assert players.membership.tolist() == [0, 1, 2, -1, -1]


@pytest.mark.parametrize(
    ("value", "token", "dtype", "expected"),
    [
        (None, None, np.float32, (None, "zero")),
        ("zero", None, np.float32, (None, "zero")),
        (0.5, None, np.float32, (0.5, "0.5")),
        (None, 3, np.int32, (3, "token id 3")),
    ],
)
def test_mask_values(value, token, dtype, expected):
    x = np.arange(12).reshape(4, 3).astype(dtype)
    baseline, description = user.masked_players_value(value, token, x)
    assert description == expected[1]
    assert (baseline is None) == (expected[0] is None)
    if baseline is not None:
        assert float(baseline) == expected[0]
    mean, description = user.masked_players_value("mean", None, np.arange(6.0).reshape(3, 2))
    assert mean.tolist() == [2.0, 3.0] and description == "mean of x_train"


def test_sample_ids_from_json_or_npz(tmp_path):
    (tmp_path / "ids.json").write_text(json.dumps({"train": [4, 1], "test": [2]}))
    np.savez(tmp_path / "ids.npz", train=np.array([0]), test=np.array([5, 6]))
    train, test = user.load_sample_ids(tmp_path / "ids.json", 10, 10)
    assert train.tolist() == [4, 1] and test.tolist() == [2]
    train, test = user.load_sample_ids(tmp_path / "ids.npz", 10, 10)
    assert train.tolist() == [0] and test.tolist() == [5, 6]
    (tmp_path / "bad.json").write_text(json.dumps({"train": [10]}))
    with pytest.raises(ValueError, match="train index 10 is out of range for x_train of 10"):
        user.load_sample_ids(tmp_path / "bad.json", 10, 10)
    (tmp_path / "twice.json").write_text(json.dumps({"test": [1, 1]}))
    with pytest.raises(ValueError, match="test lists a sample twice"):
        user.load_sample_ids(tmp_path / "twice.json", 10, 10)
    heldout = np.array([1, 3, 5])
    assert user.select_samples(2, None, 10, heldout, "cross_fit")[1].tolist() == [1, 3]
    with pytest.raises(ValueError, match=r"test samples \[2\] trained the baselines"):
        user.select_samples(2, (np.array([0]), np.array([2, 3])), 10, heldout, "cross_fit")


def test_baselines_trained_one_after_another_are_each_their_own(tmp_path):
    """The baselines share one module object (so the training step compiles once); each is a
    snapshot, equal to the same seed trained alone."""
    mod = load_script("nnx_cnn")
    x, y = (a[:128] for a in mod.load_data()[2:])
    described = describe_factory(mod.make_model)
    like = nnx.split(mod.make_model(0))[1]  # a restored checkpoint's structure and dtypes
    kwargs = dict(steps=20, learning_rate=1e-3, like=like, quiet=True)
    three = user.train_user_baselines(mod.make_model, described, x, y, num=3, first_seed=7,
                                      **kwargs)  # fmt: skip
    alone = user.train_user_baselines(mod.make_model, described, x, y, num=1, first_seed=8,
                                      **kwargs)  # fmt: skip
    model = described.model(three[0], ij.log_odds(target=0))
    logits = [np.asarray(model.apply(p, x[:8])) for p in (*three, *alone)]
    np.testing.assert_array_equal(logits[1], logits[3])
    assert not np.allclose(logits[0], logits[1]) and not np.allclose(logits[1], logits[2])
