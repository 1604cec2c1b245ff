"""Small offline datasets: scikit-learn ships both tables, so nothing is downloaded.

* breast cancer (Wolberg et al.): 569 samples × 30 features, 2 classes. The 30 features are 10
  measurements (radius, texture, …) each as mean, standard error and worst value; the natural
  10 players group the three columns of one measurement (:func:`breast_cancer_players`).
* digits (Alpaydin & Kaynak): 1797 grey 8×8 images of digits 0–9, values 0–16.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from interjax.masks import Players

__all__ = [
    "Dataset",
    "breast_cancer",
    "breast_cancer_players",
    "digit_patch_players",
    "digits",
    "planted_rule_flips",
    "planted_rules",
]


@dataclasses.dataclass(frozen=True, init=False)
class Dataset:
    """Train/test arrays (float32 inputs, int32 labels) with names.

    Attributes:
      x_train, x_test: inputs ``(N_train, ...)`` and ``(N_test, ...)`` float32.
      y_train, y_test: labels ``(N_train,)`` and ``(N_test,)`` int32 in ``0 .. C-1``.
      feature_names: one name per input feature (default ``()``: unnamed).
      class_names: ``C`` names (default ``()``: unnamed; then ``num_classes`` counts the
        labels, ``max label + 1``).
      name: the dataset's name (default ``"dataset"``).

    The four arrays may be passed by position or keyword; the names are keyword-only. The old
    seven-positional form ``Dataset(x_train, y_train, x_test, y_test, feature_names,
    class_names, name)`` is still accepted for one release.

    Example:
      >>> import numpy as np
      >>> from interjax.data import Dataset, planted_rules
      >>> ds = planted_rules(num_train=8, num_test=4, num_features=4)
      >>> ds.x_train.shape, ds.y_test.shape, ds.num_classes, ds.feature_names
      ((8, 4), (4,), 2, ('x0', 'x1', 'x2', 'x3'))
      >>> x, y = np.zeros((6, 3), np.float32), np.array([0, 1, 2, 0, 1, 2], np.int32)
      >>> mine = Dataset(x_train=x, y_train=y, x_test=x[:2], y_test=y[:2], name="mine")
      >>> mine.name, mine.feature_names, mine.num_classes
      ('mine', (), 3)
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    name: str = "dataset"

    def __init__(
        self,
        x_train,
        y_train,
        x_test,
        y_test,
        *positional_names,  # the old positional form, for one release
        feature_names: tuple[str, ...] = (),
        class_names: tuple[str, ...] = (),
        name: str = "dataset",
    ):
        if positional_names:
            if len(positional_names) > 3:
                raise TypeError(
                    f"Dataset takes at most 7 positional arguments ({4 + len(positional_names)} "
                    "given); pass feature_names=, class_names=, name= by keyword"
                )
            feature_names, class_names, name = (
                *positional_names,
                *(feature_names, class_names, name)[len(positional_names) :],
            )
        for field, value in (
            ("x_train", x_train),
            ("y_train", y_train),
            ("x_test", x_test),
            ("y_test", y_test),
            ("feature_names", tuple(feature_names)),
            ("class_names", tuple(class_names)),
            ("name", str(name)),
        ):
            object.__setattr__(self, field, value)

    @property
    def num_classes(self) -> int:
        """``len(class_names)``, or ``max label + 1`` when the classes are unnamed."""
        if self.class_names:
            return len(self.class_names)
        labels = [np.asarray(y) for y in (self.y_train, self.y_test) if np.size(y)]
        return max((int(y.max()) + 1 for y in labels), default=0)


def _split(x, y, test_fraction, seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = round(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def breast_cancer(test_fraction: float = 0.3, seed: int = 0) -> Dataset:
    """The breast-cancer table, standardized with the training split's mean and std.

    ``x ← (x - μ_train) / σ_train`` per column (Wolberg et al., via scikit-learn; offline); the
    split is a seeded permutation with ``round(569 · test_fraction)`` test rows.

    Returns:
      :class:`Dataset` with ``x_*`` ``(N, 30)`` float32, ``y_*`` ``(N,)`` int32 (0 = malignant,
      1 = benign).

    Example:
      >>> import numpy as np
      >>> from interjax.data import breast_cancer
      >>> ds = breast_cancer()
      >>> ds.x_train.shape, ds.x_test.shape, ds.class_names == ("malignant", "benign")
      ((398, 30), (171, 30), True)
      >>> bool(np.allclose(ds.x_train.mean(0), 0.0, atol=1e-5))
      True
    """
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer()
    x = raw.data.astype(np.float64)
    y = raw.target.astype(np.int32)
    x_tr, y_tr, x_te, y_te = _split(x, y, test_fraction, seed)
    mu, sd = x_tr.mean(0), x_tr.std(0) + 1e-8
    return Dataset(
        x_train=((x_tr - mu) / sd).astype(np.float32),
        y_train=y_tr,
        x_test=((x_te - mu) / sd).astype(np.float32),
        y_test=y_te,
        feature_names=tuple(raw.feature_names),
        class_names=tuple(raw.target_names),
        name="breast_cancer",
    )


def breast_cancer_players(background="keep") -> Players:
    """10 players, one per measurement: player i owns columns i, i+10, i+20 (mean, se, worst).

    Returns:
      :class:`interjax.Players` with ``n = 10`` and membership ``(30,)`` (docs/method.md §1).

    Example:
      >>> from interjax.data import breast_cancer_players
      >>> players = breast_cancer_players()
      >>> players.n, players.names[:3], players.membership[[0, 10, 20]].tolist()
      (10, ('radius', 'texture', 'perimeter'), [0, 0, 0])
    """
    from sklearn.datasets import load_breast_cancer

    names = [str(f).replace("mean ", "") for f in load_breast_cancer().feature_names[:10]]
    return Players.segments(
        groups=[[i, i + 10, i + 20] for i in range(10)],
        shape=30,
        background=background,
        names=names,
    )


def digits(test_fraction: float = 0.3, seed: int = 0) -> Dataset:
    """Digits as ``(N, 8, 8, 1)`` float32 images scaled to [0, 1].

    ``x = pixel / 16`` (Alpaydin & Kaynak, via scikit-learn; offline), 10 classes; the split is
    a seeded permutation with ``round(1797 · test_fraction)`` test images.

    Example:
      >>> from interjax.data import digits
      >>> ds = digits()
      >>> ds.x_train.shape, ds.x_test.shape, float(ds.x_train.max()), ds.num_classes
      ((1258, 8, 8, 1), (539, 8, 8, 1), 1.0, 10)
    """
    from sklearn.datasets import load_digits

    raw = load_digits()
    x = (raw.images / 16.0).astype(np.float32)[..., None]
    y = raw.target.astype(np.int32)
    x_tr, y_tr, x_te, y_te = _split(x, y, test_fraction, seed)
    names = tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8))
    return Dataset(
        x_train=x_tr,
        y_train=y_tr,
        x_test=x_te,
        y_test=y_te,
        feature_names=names,
        class_names=tuple(str(d) for d in range(10)),
        name="digits",
    )


def digit_patch_players(patch_size: int = 2, select=None, background="keep") -> Players:
    """Patch players on the 8×8 digit images; default 2×2 patches, the 12 central-ish ones
    (the 4×4 patch grid without its four corners), so n = 12 ≤ 16.

    Returns:
      :class:`interjax.Players` with membership ``(8, 8)``: the player id of each pixel, ``-1``
      for pixels of no player (kept at the input's value with ``background="keep"``;
      docs/method.md §1).

    Example:
      >>> from interjax.data import digit_patch_players
      >>> players = digit_patch_players()
      >>> players.n, players.membership.shape, players.membership[0].tolist()
      (12, (8, 8), [-1, -1, 0, 0, 1, 1, -1, -1])
    """
    if select is None and patch_size == 2:
        select = [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14]
    return Players.patches((8, 8), patch_size, select=select, background=background)


def planted_rules(
    num_train: int = 256,
    num_test: int = 512,
    *,
    num_features: int = 8,
    label_noise: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """A generated task whose true rules are known: features ``x ∈ {-1, +1}^d`` and

        y = (x₀ > 0 AND x₁ > 0) OR (x₂ > 0 AND x₃ > 0),

    the other features irrelevant. A fraction ``label_noise`` of the *training* labels is
    flipped (:func:`planted_rule_flips` gives their indices); test labels are clean.
    With baseline 0, the true rules are AND interactions {0, 1} and {2, 3}, combined by an OR.

    Returns:
      :class:`Dataset` with ``x_*`` ``(N, num_features)`` float32 in {-1, +1} and ``y_*``
      ``(N,)`` int32.

    Example:
      >>> from interjax.data import planted_rules
      >>> ds = planted_rules(num_train=8, num_test=4, num_features=4)
      >>> ds.x_train.shape, ds.y_test.tolist()
      ((8, 4), [0, 0, 0, 1])
      >>> x = ds.x_test > 0
      >>> bool(((x[:, 0] & x[:, 1]) | (x[:, 2] & x[:, 3]) == ds.y_test).all())  # clean test labels
      True
    """
    if num_features < 4:
        raise ValueError("planted_rules needs at least 4 features")
    rng = np.random.default_rng(seed)

    def make(n):
        x = rng.choice([-1.0, 1.0], size=(n, num_features)).astype(np.float32)
        y = (((x[:, 0] > 0) & (x[:, 1] > 0)) | ((x[:, 2] > 0) & (x[:, 3] > 0))).astype(np.int32)
        return x, y

    x_tr, y_tr = make(num_train)
    x_te, y_te = make(num_test)
    flips = planted_rule_flips(num_train, label_noise, seed)
    y_tr = y_tr.copy()
    y_tr[flips] = 1 - y_tr[flips]
    names = tuple(f"x{i}" for i in range(num_features))
    return Dataset(
        x_train=x_tr,
        y_train=y_tr,
        x_test=x_te,
        y_test=y_te,
        feature_names=names,
        class_names=("no", "yes"),
        name="planted_rules",
    )


def planted_rule_flips(num_train: int = 256, label_noise: float = 0.1, seed: int = 0):
    """Indices of the training samples whose labels :func:`planted_rules` flipped.

    Returns:
      ``(round(label_noise · num_train),)`` sorted int indices (same seed as
      :func:`planted_rules`).

    Example:
      >>> from interjax.data import planted_rule_flips
      >>> planted_rule_flips(num_train=20, label_noise=0.1).tolist()
      [7, 12]
    """
    rng = np.random.default_rng(seed + 7919)
    return np.sort(rng.choice(num_train, round(label_noise * num_train), replace=False))
