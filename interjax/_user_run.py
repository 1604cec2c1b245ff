"""What ``interjax analyze`` reads from the user, each part checked before any heavy work.

The data file, the players and mask value, the analysed samples, the model factory (NNX or
Linen), the checkpoint folder and the baselines (trained here, or read from the user's own
runs). Every function raises a ``ValueError`` (or ``TypeError``) with one line naming what was
found and the flag or change that fixes it; the command line turns it into exit status 2.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from interjax._caches import cached

__all__ = [
    "PlayerSpec",
    "build_players",
    "cast_like",
    "check_model_fits_data",
    "cross_entropy_of",
    "input_dtype",
    "load_data",
    "load_sample_ids",
    "masked_players_value",
    "parse_mask_value",
    "parse_players",
    "select_samples",
    "train_user_baselines",
]

MAX_PLAYERS = 16  # 2**16 masked inputs per sample and model


def load_data(path: str) -> dict[str, np.ndarray]:
    """``x_train, y_train, x_test, y_test`` of an ``.npz``, checked: ``(N, ...)`` inputs of real
    numbers or integer token ids (no NaN), ``(N,)`` class labels ``0..K-1``."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"data file {p} does not exist")
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        z = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(
            f"{p} is not an .npz archive of arrays ({type(err).__name__} reading it); write it "
            "with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
        ) from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{p} holds one array, not an .npz archive; write x_train, y_train, x_test, y_test "
            "with np.savez"
        )
    with z:
        missing = [k for k in keys if k not in z.files]
        if missing:
            raise ValueError(f"{p} lacks {missing}; it must hold x_train, y_train, x_test, y_test")
        try:
            arrays = {k: z[k] for k in keys}
        except ValueError as err:  # object arrays: not loaded without pickle
            raise ValueError(f"{p} holds a non-numeric array: {err}") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise ValueError(
                f"x_{split} {x.shape} and y_{split} {y.shape} must be (N, ...) and (N,) with N > 0"
            )
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or np.iscomplexobj(x):
            raise ValueError(f"x_{split} must hold real numbers, got dtype {x.dtype}")
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0].tolist()
            raise ValueError(
                f"x_{split} holds NaN or inf (first at {bad}); clean or impute the data first"
            )
        if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool) or np.iscomplexobj(y):
            raise ValueError(
                f"y_{split} must hold class labels 0, 1, ..., K-1, got dtype {y.dtype}"
            )
        yf = y.astype(np.float64)
        bad = ~np.isfinite(yf) | (yf != np.round(yf)) | (yf < 0)
        if bad.any():
            raise ValueError(
                f"y_{split} must hold class labels 0, 1, ..., K-1 (integers >= 0), got "
                f"{y.dtype} values like {y[bad][:3].tolist()}"
            )
        arrays[f"y_{split}"] = y.astype(np.int32)
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise ValueError("x_train and x_test must have the same shape per sample")
    if np.issubdtype(arrays["x_train"].dtype, np.integer) != np.issubdtype(
        arrays["x_test"].dtype, np.integer
    ):
        raise ValueError(
            f"x_train ({arrays['x_train'].dtype}) and x_test ({arrays['x_test'].dtype}) must "
            "both be token ids (integers) or both real numbers"
        )
    return arrays


@dataclasses.dataclass(frozen=True)
class PlayerSpec:
    """``--players``: ``N`` features of vector inputs, ``grid:RxC`` patches of images, or
    ``tokens[:N]`` positions of token-id sequences."""

    kind: str  # "features" | "grid" | "tokens"
    n: int | None = None  # features: N; tokens: N or None (every position)
    rows: int = 0
    cols: int = 0

    def __str__(self) -> str:
        if self.kind == "features":
            return str(self.n)
        if self.kind == "grid":
            return f"grid:{self.rows}x{self.cols}"
        return "tokens" if self.n is None else f"tokens:{self.n}"


def parse_players(text: str) -> PlayerSpec:
    """Parse ``--players``: ``N``, ``grid:RxC``, ``tokens`` or ``tokens:N``.

    Example:
      >>> from interjax._user_run import parse_players
      >>> [str(parse_players(t)) for t in ("10", "grid:2x5", "tokens", "tokens:6")]
      ['10', 'grid:2x5', 'tokens', 'tokens:6']
    """
    t = str(text).strip()
    usage = "expected N (features), grid:RxC (image patches) or tokens[:N] (token positions)"
    if re.fullmatch(r"\d+", t):
        spec = PlayerSpec("features", int(t))
    elif m := re.fullmatch(r"grid:(\d+)x(\d+)", t):
        spec = PlayerSpec("grid", rows=int(m.group(1)), cols=int(m.group(2)))
    elif m := re.fullmatch(r"tokens(?::(\d+))?", t):
        spec = PlayerSpec("tokens", None if m.group(1) is None else int(m.group(1)))
    else:
        raise ValueError(f"--players {text!r} is not understood: {usage}")
    n = spec.n if spec.kind != "grid" else spec.rows * spec.cols
    if n is not None and not 1 <= n <= MAX_PLAYERS:
        raise ValueError(
            f"--players {text} is out of range: expected 1..{MAX_PLAYERS} players (2**n masked "
            "inputs per sample and model)"
        )
    return spec


def parse_mask_value(text: str | None):
    """Parse ``--mask-value``: ``zero``, ``mean`` or a finite number (``None``: not given)."""
    if text is None or text in ("zero", "mean"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"--mask-value {text!r} is not understood: expected zero, mean or a number"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"--mask-value {text} must be a finite number")
    return value


def build_players(spec: PlayerSpec, x_shape: tuple[int, ...], x_dtype):
    """The :class:`interjax.Players` of ``spec`` for inputs of ``x_shape`` (one sample)."""
    from interjax.masks import Players

    integer = np.issubdtype(x_dtype, np.integer)
    shape = tuple(x_shape)
    if integer and spec.kind != "tokens":
        raise ValueError(
            f"the inputs are integers (token ids, shape {shape} per sample): use --players tokens "
            "(one player per position) or tokens:N (the first N positions), with --mask-token ID"
            "; for integer-valued features, store them as floats in the npz"
        )
    if spec.kind == "features":
        if len(shape) != 1:
            hint = (
                "use --players grid:RxC (equal patches)"
                if len(shape) in (2, 3)
                else "the command line's players fit vectors, images and token ids; use the "
                "Python API with ij.Players.segments"
            )
            raise ValueError(
                f"--players {spec.n} takes the first {spec.n} features of vector inputs (N, F); "
                f"these inputs are {shape} per sample: {hint}"
            )
        if spec.n > shape[0]:
            raise ValueError(f"--players {spec.n} exceeds the {shape[0]} input features")
        return Players.features(spec.n, num_features=shape[0])
    if spec.kind == "grid":
        if len(shape) not in (2, 3):
            raise ValueError(
                f"--players {spec} splits images (H, W) or (H, W, C) into patches; these inputs "
                f"are {shape} per sample"
            )
        try:
            return Players.grid(shape[:2], spec.rows, spec.cols)
        except ValueError as err:
            raise ValueError(f"--players {spec}: {err}") from None
    if not integer:
        raise ValueError(
            f"--players {spec} needs integer token ids (N, L); these inputs are "
            f"{np.dtype(x_dtype)} {shape} per sample: use --players N or grid:RxC"
        )
    if len(shape) != 1:
        raise ValueError(f"--players {spec} needs sequences of token ids (N, L); got {shape}")
    length = shape[0]
    n = length if spec.n is None else spec.n
    if n > length:
        raise ValueError(
            f"--players {spec} asks for {n} token players but the sequences have {length} positions"
        )
    if n > MAX_PLAYERS:
        raise ValueError(
            f"--players tokens makes one player per position, {length} here (2**{length} "
            f"masked inputs); use tokens:N with N <= {MAX_PLAYERS} (the first N positions)"
        )
    return Players.tokens(length, positions=range(n))


def input_dtype(stored: dict, x_dtype) -> np.dtype:
    """The dtype the model gets its inputs in: token ids keep theirs; real inputs are float64
    when every float array of the checkpoint is, else float32 (``stored``: path -> (shape,
    dtype), from ``CheckpointSource.stored_arrays``)."""
    if np.issubdtype(x_dtype, np.integer):
        return np.dtype(x_dtype)
    floats = [d for _, d in stored.values() if np.issubdtype(d, np.floating)]
    return np.dtype(np.float64 if floats and all(d == np.float64 for d in floats) else np.float32)


def masked_players_value(mask_value, mask_token: int | None, x_train: np.ndarray):
    """``(mask value, description)``: what masked players are replaced by.

    Integer inputs (token ids) need ``mask_token`` (``--mask-token``); real inputs take
    ``mask_value`` (``zero`` by default, ``mean`` of the training inputs, or a number).
    """
    if np.issubdtype(x_train.dtype, np.integer):
        if mask_token is None:
            raise ValueError(
                "the inputs are integer token ids: say which id stands for a masked token with "
                "--mask-token ID (the tokenizer's mask or pad id); 0 would be whatever token "
                "has id 0"
            )
        if mask_value is not None:
            raise ValueError(
                "--mask-value applies to real inputs; token ids are masked with --mask-token"
            )
        return np.asarray(mask_token, x_train.dtype), f"token id {mask_token}"
    if mask_token is not None:
        raise ValueError(
            f"--mask-token applies to integer token ids; these inputs are {x_train.dtype}: use "
            "--mask-value zero|mean|NUMBER"
        )
    if mask_value in (None, "zero"):
        return None, "zero"
    if mask_value == "mean":  # the library's mean, as in Python: the same numbers either way
        from interjax.masks import mean_mask_value

        return np.asarray(mean_mask_value(x_train)), "mean of x_train"
    return np.asarray(mask_value, np.float64), f"{mask_value:g}"


def load_sample_ids(path: str, num_train: int, num_test: int):
    """``(train_ids, test_ids)`` from ``--sample-ids FILE``: a JSON object
    ``{"train": [...], "test": [...]}`` or an ``.npz`` with arrays ``train`` and ``test``
    (indices into ``x_train`` and ``x_test``)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"--sample-ids file {p} does not exist")
    try:
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                raw = {k: z[k] for k in z.files}
        else:
            raw = json.loads(p.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(
            f"--sample-ids {p} cannot be read ({type(err).__name__}); write "
            '{"train": [...], "test": [...]} as JSON, or an npz with arrays train and test'
        ) from None
    if not isinstance(raw, dict) or set(raw) - {"train", "test"} or not raw:
        raise ValueError(
            f"--sample-ids {p} must hold train and/or test index lists, got "
            f"{sorted(raw) if isinstance(raw, dict) else type(raw).__name__}"
        )
    out = []
    for split, size in (("train", num_train), ("test", num_test)):
        ids = np.asarray(raw.get(split, []))
        if ids.size and (ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(f"--sample-ids {p}: {split} must be a flat list of integer indices")
        ids = ids.astype(np.int64).reshape(-1)
        bad = ids[(ids < 0) | (ids >= size)]
        if bad.size:
            raise ValueError(
                f"--sample-ids {p}: {split} index {int(bad[0])} is out of range for x_{split} "
                f"of {size} samples"
            )
        if len(set(ids.tolist())) != ids.size:
            raise ValueError(f"--sample-ids {p}: {split} lists a sample twice")
        out.append(ids)
    if not (out[0].size or out[1].size):
        raise ValueError(f"--sample-ids {p} lists no sample")
    return out[0], out[1]


def select_samples(num: int, sample_ids, num_train: int, heldout_ids: np.ndarray, protocol: str):
    """``(train_ids, test_ids)`` of the analysed samples: the given ids (test ids must be in
    the held-out part of the test split: the baselines never saw them), or the first ``num``
    training samples and the first ``num`` held-out ones."""
    if sample_ids is None:
        return np.arange(min(num, num_train)), np.asarray(heldout_ids[:num])
    train_ids, test_ids = sample_ids
    seen = np.setdiff1d(test_ids, heldout_ids)
    if seen.size:
        raise ValueError(
            f"--sample-ids: test samples {seen[:5].tolist()} trained the baselines (protocol "
            f"{protocol}: the baselines train on one half of the test split), so they cannot "
            "judge them; pick test ids from the held-out half (listed in summary.json's run."
            "heldout_ids of an earlier run) or use --protocol paper"
        )
    return train_ids, test_ids


def cast_like(tree, like):
    """``tree`` with every floating leaf cast to the dtype of the matching leaf of ``like``."""
    import jax
    import jax.numpy as jnp

    def cast(a, b):
        a_dtype, b_dtype = jnp.result_type(a), jnp.result_type(b)
        if jnp.issubdtype(a_dtype, jnp.floating) and jnp.issubdtype(b_dtype, jnp.floating):
            return jnp.asarray(a, b_dtype)
        return a

    return jax.tree.map(cast, tree, like)


def check_model_fits_data(factory_model, x_shape, x_dtype, labels: dict, spec: str) -> None:
    """Shape inference of the model (inference mode) on one sample of the data (nothing is
    computed): it must take the inputs and return class logits ``(B, K)`` with K above every
    label (``labels``: ``{"y_train": array, "y_test": array}``)."""
    import jax

    from interjax.evaluate import log_odds

    model = factory_model.model(factory_model.abstract, log_odds(target=0))
    probe = jax.ShapeDtypeStruct((1, *x_shape), x_dtype)
    try:
        out = jax.eval_shape(model.apply, model.params, probe)
    except Exception as err:
        first = str(err).splitlines()[0] if str(err) else ""
        if type(err).__name__ == "ModifyScopeVariableError":
            raise ValueError(
                f"the Linen model of --model {spec} updates its batch statistics whenever it is "
                "called, so masked inputs evaluated together would change each other's values; "
                "give its __call__ a train argument (BatchNorm(use_running_average=not train), "
                "as in Flax's BatchNorm guide) or a train/deterministic attribute, which "
                "interjax sets for inference"
            ) from None
        raise ValueError(
            f"the model of --model {spec} cannot take the data's inputs of shape {x_shape} per "
            f"sample ({np.dtype(x_dtype)}): {type(err).__name__}: {first}"
        ) from None
    if len(getattr(out, "shape", ())) != 2:
        raise ValueError(
            f"the model of --model {spec} must return class logits (B, K) for inputs (B, "
            f"*{x_shape}), got {getattr(out, 'shape', type(out).__name__)}"
        )
    classes = max(int(out.shape[1]), 2)
    for name, y in labels.items():
        top = int(np.max(y))
        if top >= classes:
            raise ValueError(
                f"{name} holds class {top} but the model of --model {spec} has {classes} "
                "classes; relabel the data as 0..K-1 or build a model with more outputs"
            )


def cross_entropy_of(model, params, x: np.ndarray, y: np.ndarray, batch: int = 1024) -> float:
    """Mean softmax cross-entropy of ``model`` (inference mode) with ``params`` on ``(x, y)``,
    in batches of ``batch`` (one compiled program for every checkpoint)."""
    total = _summed_loss(model.apply)
    s = sum(
        float(total(params, x[i : i + batch], y[i : i + batch])) for i in range(0, len(x), batch)
    )
    return s / len(x)


@cached("cli.summed_loss")
def _summed_loss(apply):
    import jax
    import optax

    @jax.jit
    def total(params, xb, yb):
        return optax.softmax_cross_entropy_with_integer_labels(apply(params, xb), yb).sum()

    return total


def train_user_baselines(
    factory: Callable,
    factory_model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    num: int,
    steps: int,
    learning_rate: float,
    first_seed: int,
    like,
    quiet: bool,
) -> list:
    """Train ``num`` models of the user's factory (seeds ``first_seed + k``) on ``(x, y)`` and
    return their variables in the structure of ``like`` (a restored checkpoint's), cast to its
    dtypes before training so every model runs in the checkpoint's precision."""
    from tqdm.auto import tqdm

    from interjax.checkpoints import call_factory
    from interjax.data import Trainer, train_linen_classifier
    from interjax.evaluate import from_nnx, linen_inference, log_odds

    bar = tqdm(
        total=num * steps,
        desc=f"training {num} baseline model{'s' * (num > 1)}",
        unit="step",
        disable=quiet,
        leave=False,
    )
    out, model = [], None
    for k in range(num):
        seed = first_seed + k
        built = call_factory(factory, seed)
        if factory_model.kind == "nnx":
            import jax
            from flax import nnx

            # one module object trains every baseline, each from its own seed's initial state:
            # a module whose attributes compare by identity (a functools.partial, as in Flax's
            # MNIST tutorial) would otherwise compile the training step again for each
            model = built if model is None else model
            nnx.update(model, cast_like(nnx.state(built), like))
            trainer = Trainer(model, x, y, learning_rate=learning_rate, seed=seed)
            for done in range(0, steps, 50):
                trainer.run(min(50, steps - done))
                bar.update(min(50, steps - done))
            trained = from_nnx(model, log_odds(target=0)).params
            out.append(jax.tree.map(lambda a: a, trained))  # a snapshot: the module trains on
        else:
            import jax

            module, kwargs = linen_inference(built)
            key = jax.random.key(seed)
            variables = dict(module.init({"params": key, "dropout": key}, x[:1], **kwargs))
            variables = cast_like(variables, like)
            out.append(
                train_linen_classifier(
                    built,
                    variables,
                    x,
                    y,
                    steps=steps,
                    learning_rate=learning_rate,
                    seed=seed,
                    progress=bar.update,
                )
            )
    bar.close()
    return out
