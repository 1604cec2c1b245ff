"""Across 4 (fake CPU) devices the sharded sweep gives the one-device values."""

import os
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent("""
    import sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    from flax import nnx
    import interjax as ij
    from interjax.data import MLP

    assert len(jax.devices()) == int(sys.argv[2]), jax.devices()
    net = MLP(12, 3, hidden=(16,), rngs=nnx.Rngs(0))
    xs = np.random.default_rng(0).normal(size=(3, 12)).astype(np.float32)
    model = ij.from_nnx(net, output=ij.log_odds(target=np.array([0, 1, 2])))
    stacked = ij.stack_models(model, [model.params, model.params])
    v = ij.evaluate(model, xs, ij.Players.features(9), chunk_size=16)
    vs = ij.evaluate(stacked, xs, ij.Players.features(9))
    out = {"v": np.asarray(v), "vs": np.asarray(vs)}
    if len(jax.devices()) > 1:
        v_fixed = ij.evaluate(model, xs, ij.Players.features(9), chunk_size=16, mesh=None)
        out["v_one_device_here"] = np.asarray(v_fixed)
    np.savez(sys.argv[1], **out)
""")


def run(tmp_path, devices):
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    out = tmp_path / f"v{devices}.npz"
    subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out), str(devices)], check=True, env=env, timeout=300
    )
    return np.load(out)


def test_sharded_equals_single_device(tmp_path):
    one, four = run(tmp_path, 1), run(tmp_path, 4)
    assert one["v"].shape == (3, 512) and four["vs"].shape == (2, 3, 512)
    # each mask is computed by the same program on each device: identical bits
    np.testing.assert_array_equal(four["v"], one["v"])
    np.testing.assert_array_equal(four["v"], four["v_one_device_here"])
    np.testing.assert_allclose(four["vs"], one["vs"], rtol=1e-6)
    np.testing.assert_array_equal(four["vs"][1], four["vs"][0])
