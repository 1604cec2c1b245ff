"""The CLI's persistent compilation cache (interjax/_compile_cache.py): a second process loads the
solver's compiled program from disk instead of compiling it; off when asked; a folder that cannot
be made is a warning, not an error; the library alone never turns it on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from interjax import cli
from interjax._compile_cache import compile_cache_dir, enable_compile_cache

# one real fit (n = 4) in a fresh process; prints the cache hits and the folder used
_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import jax
    jax.config.update("jax_enable_x64", True)
    from jax import monitoring
    hits = []
    monitoring.register_event_listener(
        lambda name, **kw: hits.append(name) if name.endswith("/cache_hits") else None
    )
    from interjax._compile_cache import enable_compile_cache
    folder = enable_compile_cache(disabled=sys.argv[1] == "off")
    import interjax as ij, jax.numpy as jnp
    t = time.perf_counter()
    fit = ij.fit_and_or(jnp.arange(16.0) ** 1.5, solver=ij.PDHG(tol=1e-2))
    fit.objective.block_until_ready()
    print(json.dumps({"hits": len(hits), "folder": None if folder is None else str(folder),
                      "seconds": time.perf_counter() - t, "converged": bool(fit.converged)}))
    """
)


def _child(tmp_path, mode: str, **env) -> dict:
    environ = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg"), **env}
    environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # two processes that each start JAX and fit (about 30 s on 2 cores)
def test_second_process_loads_the_compiled_fit(tmp_path):
    first = _child(tmp_path, "on")
    folder = tmp_path / "xdg" / "interjax" / "jax"
    assert first["folder"] == str(folder) and first["converged"] and first["hits"] == 0
    assert any(folder.iterdir()), "the first process wrote no compiled program"
    second = _child(tmp_path, "on")
    assert second["hits"] >= 1 and second["converged"]


def test_environment_turns_it_off_or_moves_it(tmp_path):
    assert compile_cache_dir({"INTERJAX_COMPILE_CACHE": "off"}) is None
    assert compile_cache_dir({"INTERJAX_COMPILE_CACHE": str(tmp_path)}) == tmp_path
    home = compile_cache_dir({})
    assert home is not None and home.parts[-2:] == ("interjax", "jax")


@pytest.fixture
def no_cache_configured():
    """JAX's cache folder unset for one test (the test session may set one), then restored."""
    import jax

    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    yield
    jax.config.update("jax_compilation_cache_dir", before)


def test_unwritable_folder_warns_and_stays_off(tmp_path, no_cache_configured):
    import jax

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.warns(RuntimeWarning, match="cannot be used"):
        assert enable_compile_cache(environ={"INTERJAX_COMPILE_CACHE": str(blocker / "x")}) is None
    assert not jax.config.jax_compilation_cache_dir


def test_a_configured_folder_is_kept(tmp_path, no_cache_configured):
    import jax

    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "theirs"))
    got = enable_compile_cache(environ={"INTERJAX_COMPILE_CACHE": str(tmp_path)})
    assert got == tmp_path / "theirs"


def test_cli_option_and_only_the_cli_turns_it_on():
    assert cli._parser().parse_args(["--no-compile-cache", "demo"]).no_compile_cache
    assert not cli._parser().parse_args(["demo"]).no_compile_cache
    # the library never changes JAX's configuration: only cli.main calls enable_compile_cache
    package = Path(cli.__file__).parent
    callers = sorted(
        str(f.relative_to(package))
        for f in package.rglob("*.py")
        if "enable_compile_cache(" in f.read_text() and f.name != "_compile_cache.py"
    )
    assert callers == ["cli.py"]
