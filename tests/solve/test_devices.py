"""A batch of fits dealt over several (fake CPU) devices gives the fits of one device."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import interjax as ij
from interjax.cli import cpu_devices_wanted

SCRIPT = textwrap.dedent("""
    import sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np
    import interjax as ij

    assert len(jax.local_devices()) == 3, jax.local_devices()
    rng = np.random.default_rng(0)
    a, o = np.zeros((7, 64)), np.zeros((7, 64))
    for i in range(7):
        a[i, rng.choice(64, 4, replace=False)] = rng.normal(size=4)
        o[i, rng.choice(64, 4, replace=False)] = rng.normal(size=4)
    v = ij.reconstruct(jnp.asarray(a), jnp.asarray(o)) + 0.01 * rng.normal(size=(7, 64))
    out = {}
    for name, devices in (("one", 1), ("all", None), ("two", 2)):
        fit = ij.fit_and_or(v, solver=ij.PDHG(tol=1e-3, devices=devices))
        for k in ("and_", "or_", "objective", "lower_bound", "iterations", "status"):
            out[f"{name}_{k}"] = np.asarray(getattr(fit, k))
    np.savez(sys.argv[1], **out)
""")


def test_fits_dealt_over_three_devices_equal_the_fits_of_one(tmp_path):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=3")
    out = tmp_path / "fits.npz"
    subprocess.run([sys.executable, "-c", SCRIPT, str(out)], check=True, env=env, timeout=300)
    got = np.load(out)
    for k in ("and_", "or_", "objective", "lower_bound", "iterations", "status"):
        # 7 fits over 3 devices: 3, 2 and 2 fits plus two empty problems; over 2: 4 and 3
        np.testing.assert_array_equal(got[f"all_{k}"], got[f"one_{k}"], err_msg=k)
        np.testing.assert_array_equal(got[f"two_{k}"], got[f"one_{k}"], err_msg=k)
    assert (got["one_status"] == int(ij.FitStatus.CONVERGED)).all()


@pytest.mark.parametrize("devices", [0, -1, 1.5, "2"])
def test_bad_device_counts_are_refused_when_the_solver_is_made(devices):
    with pytest.raises((ValueError, TypeError), match="devices"):
        ij.PDHG(devices=devices)


def test_the_command_line_asks_for_one_cpu_device_per_core_unless_told():
    assert cpu_devices_wanted({}) == len(os.sched_getaffinity(0))
    assert cpu_devices_wanted({"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}) is None
    assert cpu_devices_wanted({"JAX_NUM_CPU_DEVICES": "1"}) is None
    assert cpu_devices_wanted({"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}) >= 1
