"""to_shapiq against shapiq's own ExactComputer on the same game, its plots, and bad input."""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

import interjax as ij

shapiq = pytest.importorskip("shapiq")
from shapiq.game_theory.exact import ExactComputer  # noqa: E402

jax.config.update("jax_enable_x64", True)
matplotlib.use("Agg")


def _exact(v: np.ndarray, index: str, order: int):
    """shapiq's exact index of the game ``T ↦ v[bitmask(T)]``."""
    n = v.size.bit_length() - 1

    def game(coalitions: np.ndarray) -> np.ndarray:
        return v[(coalitions.astype(int) << np.arange(n)).sum(axis=1)]

    return ExactComputer(n_players=n, game=game)(index, order=order)


def _assert_same(ours, theirs):
    assert ours.index == theirs.index
    assert ours.n_players == theirs.n_players
    assert set(ours.dict_values) == set(theirs.dict_values)
    for key, value in theirs.dict_values.items():
        np.testing.assert_allclose(ours[key], value, atol=1e-10, err_msg=str(key))
    np.testing.assert_allclose(ours.baseline_value, theirs.baseline_value, atol=1e-12)


@pytest.mark.parametrize("n", [1, 3, 5])
@pytest.mark.parametrize(
    ("index", "order"), [("Moebius", None), ("Co-Moebius", None), ("SV", 1), ("BV", 1), ("SII", 2)]
)
def test_exact_indices_equal_shapiq(n, index, order):
    if index == "SII" and n < 2:
        pytest.skip("pairwise interactions need two players")
    v = np.random.default_rng(n).normal(size=2**n)
    ours = ij.to_shapiq(jnp.asarray(v), index)
    assert not ours.estimated and ours.estimation_budget == 2**n
    _assert_same(ours, _exact(v, index, order or n))


def test_keys_are_size_graded():
    iv = ij.to_shapiq(np.arange(8.0), "Moebius")
    keys = sorted(iv.interaction_lookup, key=iv.interaction_lookup.get)
    assert keys == [(), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]


@pytest.mark.parametrize("fold", ["singletons", "empty"])
def test_and_or_fit_parts_are_moebius_and_co_moebius_of_their_games(fold):
    v = np.random.default_rng(7).normal(size=(2, 2**4))
    fit = ij.fit_and_or(jnp.asarray(v), q_ratio=0.05, fold=fold)
    for sample in (0, 1):
        v_and = np.asarray(ij.and_inverse(fit.and_[sample]))
        v_or = np.asarray(ij.or_inverse(fit.or_[sample]))
        np.testing.assert_allclose(v_and + v_or, v[sample] + np.asarray(fit.q[sample]), atol=1e-9)
        _assert_same(ij.to_shapiq(fit, kind="and", sample=sample), _exact(v_and, "Moebius", 4))
        _assert_same(ij.to_shapiq(fit, kind="or", sample=sample), _exact(v_or, "Co-Moebius", 4))


def test_sample_and_max_order():
    v = np.random.default_rng(0).normal(size=(2, 3, 2**3))
    iv = ij.to_shapiq(v, "Moebius", sample=4, max_order=1)  # flat index 4 = [1, 1]
    assert iv.max_order == 1 and set(iv.dict_values) == {(), (0,), (1,), (2,)}
    np.testing.assert_allclose(iv[(2,)], v[1, 1, 4] - v[1, 1, 0])


def test_shapiq_plots_draw(tmp_path):
    import matplotlib.pyplot as plt

    v = np.random.default_rng(3).normal(size=2**4)
    names = np.array(["a", "b", "c", "d"])
    sii = ij.to_shapiq(v, "SII")
    fit = ij.fit_and_or(jnp.asarray(v))
    and_part = ij.to_shapiq(fit, kind="and")
    plots = [  # shapiq's plots draw on pyplot's current figure: one figure each
        lambda: sii.plot_network(show=False),
        lambda: and_part.plot_upset(show=False),
        lambda: ij.to_shapiq(v, "SV").plot_force(feature_names=names, show=False),
        lambda: and_part.plot_waterfall(feature_names=names, show=False),
    ]
    for draw in plots:
        assert draw() is not None
        plt.close("all")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ij.to_shapiq(np.zeros(8), "Shapley"), "index must be one of"),
        (lambda: ij.to_shapiq(np.zeros(6), "Moebius"), "2\\*\\*n entries"),
        (lambda: ij.to_shapiq(np.zeros((2, 8)), "SV"), "pick one sample with sample=i"),
        (lambda: ij.to_shapiq(np.zeros((2, 8)), "SV", sample=2), "out of range"),
        (lambda: ij.to_shapiq(np.zeros(8), "SV", sample=0), "no batch axis"),
        (lambda: ij.to_shapiq(np.array([0, 1, np.nan, 2.0]), "SV"), "NaN or inf"),
        (lambda: ij.to_shapiq(np.float64(1.0), "SV"), "values of shape"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_fit_options_are_checked():
    fit = ij.fit_and_or(jnp.arange(4.0))
    with pytest.raises(ValueError, match="kind must be"):
        ij.to_shapiq(fit, kind="xor")
    with pytest.raises(ValueError, match="not index="):
        ij.to_shapiq(fit, "Moebius")


def test_missing_shapiq_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "shapiq", None)  # import shapiq now raises ImportError
    with pytest.raises(ImportError, match="pip install shapiq"):
        ij.to_shapiq(np.zeros(4), "SV")
