"""Where a checkpoint keeps the model's variables: ``find_layout`` on the metadata of the
layouts Flax and Orbax write (paths and shapes as ``item_metadata`` gives them; the real files
are read in tests/checkpoints/test_guide_runs.py)."""

import pytest

from interjax.checkpoints import CheckpointError, LayoutError, find_layout

W, B = ((3, 2), "float32"), ((2,), "float32")
MODEL = {("Dense_0", "kernel"): W, ("Dense_0", "bias"): B}


def under(prefix, leaves, value=False):
    """``leaves`` moved under ``prefix`` (and each under ``"value"``, as NNX saves a Variable)."""
    return {(*prefix, *p, *(("value",) if value else ())): s for p, s in leaves.items()}


def test_nnx_state_saved_whole_with_its_rng_state():
    """``nnx.state(model)``: every array under ``"value"``, the Dropout's key and counter beside
    the parameters (optional: not read)."""
    rng = {("drop", "rngs", "key"): ((2,), "uint32"), ("drop", "rngs", "count"): ((), "uint32")}
    ckpt = {None: under((), {**MODEL, **rng}, value=True)}
    layout = find_layout(ckpt, MODEL, optional=set(rng))
    assert layout.describe() == "(root)"
    (loc,) = layout.parts.values()
    assert loc.stored[("Dense_0", "kernel")] == ("Dense_0", "kernel", "value")


def test_pure_dict_and_a_param_literally_named_value():
    model = {**MODEL, ("attn", "value", "kernel"): W}
    layout = find_layout({None: dict(model)}, model)
    (loc,) = layout.parts.values()
    assert loc.stored[("attn", "value", "kernel")] == ("attn", "value", "kernel")


def test_linen_train_state_never_picks_the_optimizer_moments():
    """A TrainState: ``params`` beside ``step`` and Adam's ``mu``/``nu``, which have the
    parameters' structure and shapes too."""
    ckpt = {
        None: {
            ("step",): ((), "int32"),
            **under(("params",), MODEL),
            **under(("opt_state", "0", "mu"), MODEL),
            **under(("opt_state", "0", "nu"), MODEL),
        }
    }
    assert find_layout(ckpt, MODEL).describe() == "params"
    # the variables dict of a Linen model ({"params": ...}) finds the same subtree
    variables = under(("params",), MODEL)
    assert find_layout(ckpt, variables, collections=True).describe() == "params at params"


def test_linen_batch_stats_in_their_own_field():
    stats = {("BatchNorm_0", "mean"): B, ("BatchNorm_0", "var"): B}
    variables = {**under(("params",), MODEL), **under(("batch_stats",), stats)}
    ckpt = {
        "state": {
            ("step",): ((), "int32"),
            **under(("params",), MODEL),
            **under(("batch_stats",), stats),
            **under(("opt_state", "0", "mu"), MODEL),
        }
    }
    layout = find_layout(ckpt, variables, collections=True, other_items={"metrics": "Json"})
    assert layout.describe() == "params at state/params, batch_stats at state/batch_stats"
    # saved whole as {"params": ..., "batch_stats": ...}: one subtree
    whole = find_layout({None: dict(variables)}, variables, collections=True)
    assert whole.describe() == "(root)"


def test_composite_model_beside_the_nnx_optimizer():
    """``Composite(model=nnx.state(model), optimizer=nnx.state(optimizer))``: the optimizer's
    item holds ``opt_state/0/mu`` of the parameters' structure, never chosen."""
    ckpt = {
        "model": under((), MODEL, value=True),
        "optimizer": {
            ("step", "value"): ((), "uint32"),
            **under(("opt_state", "0", "mu"), MODEL, value=True),
            **under(("opt_state", "0", "nu"), MODEL, value=True),
        },
    }
    assert find_layout(ckpt, MODEL).describe() == "model"


def test_two_candidates_are_one_error_naming_both_and_the_flags():
    ckpt = {None: {**under(("params",), MODEL), **under(("ema_params",), MODEL)}}
    with pytest.raises(LayoutError, match=r"2 subtrees .* match .*: ema_params, params") as err:
        find_layout(ckpt, MODEL)
    assert "item=NAME and params_path=a/b" in str(err.value) and "\n" not in str(err.value)
    assert find_layout(ckpt, MODEL, params_path=("ema_params",)).describe() == "ema_params"


def test_nothing_matches_lists_the_items_their_keys_and_the_closest():
    wide = {("Dense_0", "kernel"): ((3, 4), "float32"), ("Dense_0", "bias"): ((4,), "float32")}
    ckpt = {"state": {("step",): ((), "int32"), **under(("params",), wide)}}
    with pytest.raises(CheckpointError) as err:
        find_layout(ckpt, MODEL, other_items={"metrics": "Json"})
    msg = str(err.value)
    assert "no subtree of the checkpoint holds the model's variables" in msg
    assert "state (top-level keys: params, step); metrics (Json, no arrays)" in msg
    assert "the closest is state/params (Dense_0/kernel: model (3, 2), checkpoint (3, 4);" in msg
    assert "item=NAME" in msg and "\n" not in msg


def test_extra_arrays_in_the_checkpoint_are_not_a_match():
    """A checkpoint of a deeper model (one more layer) is refused, not read in part."""
    deeper = {**MODEL, ("Dense_1", "kernel"): W}
    with pytest.raises(LayoutError, match="Dense_1/kernel: in the checkpoint, not in the model"):
        find_layout({None: deeper}, MODEL)


def test_explicit_item_and_path():
    ckpt = {"a": dict(MODEL), "b": dict(MODEL)}
    with pytest.raises(LayoutError, match="2 subtrees"):
        find_layout(ckpt, MODEL)
    assert find_layout(ckpt, MODEL, item="b").describe() == "b"
    with pytest.raises(LayoutError, match=r"no array item 'c'; items: a \(top-level keys"):
        find_layout(ckpt, MODEL, item="c")
    with pytest.raises(LayoutError, match=r"at item='a' params_path='x/y'"):
        find_layout(ckpt, MODEL, item="a", params_path=("x", "y"))


def test_a_checkpoint_without_arrays():
    with pytest.raises(LayoutError, match="holds no arrays"):
        find_layout({"metrics": {}}, MODEL, other_items={"metrics": "Json"})
