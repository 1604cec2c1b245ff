"""Strict numerics for the whole suite: float64 everywhere numbers are checked (STYLE.md).

One persistent compilation cache for the whole test session: the xdist workers and every
``interjax`` process a test starts (the CLI tests, the notebooks) load a program another one
already compiled, instead of compiling it again. It lives in a fresh temporary folder, removed
at the end, so a session never reads programs of an earlier one (nor writes the CLI's cache in
the user's home folder); ``JAX_COMPILATION_CACHE_DIR`` set by the caller is used as it is, and
``INTERJAX_TEST_COMPILE_CACHE=0`` turns every persistent cache off.
"""

import os
import shutil
import tempfile

import jax

jax.config.update("jax_enable_x64", True)

_CACHE = "JAX_COMPILATION_CACHE_DIR"
_MIN_SECONDS = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"
_ours: list[str] = []


def pytest_configure(config):
    if os.environ.get("INTERJAX_TEST_COMPILE_CACHE", "1") == "0":
        os.environ["INTERJAX_COMPILE_CACHE"] = "0"  # nor the CLI's own cache in the user's home
        return
    if not os.environ.get(_CACHE) and not hasattr(config, "workerinput"):
        # the controller makes the folder; the workers and subprocesses inherit the variables
        os.environ[_CACHE] = tempfile.mkdtemp(prefix="interjax-tests-jax-cache-")
        os.environ.setdefault(_MIN_SECONDS, "0.2")
        _ours.append(os.environ[_CACHE])
    if os.environ.get(_CACHE):
        jax.config.update("jax_compilation_cache_dir", os.environ[_CACHE])
        jax.config.update(
            "jax_persistent_cache_min_compile_time_secs", float(os.environ.get(_MIN_SECONDS, 1))
        )


def pytest_unconfigure(config):
    for folder in _ours:
        shutil.rmtree(folder, ignore_errors=True)
