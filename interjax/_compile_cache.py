"""The command line's persistent compilation cache: compiled programs kept across runs.

The first fit of a new shape compiles the solver for several seconds (one program per ``n``,
batch width and settings). JAX can keep compiled programs on disk and load them in later
processes (its persistent compilation cache); ``interjax`` turns it on at the start of each
command, in a per-user folder, unless asked not to:

* ``interjax --no-compile-cache ...`` or ``INTERJAX_COMPILE_CACHE=0``: off for that run;
* ``INTERJAX_COMPILE_CACHE=/some/folder``: that folder;
* a cache folder already set for JAX (``JAX_COMPILATION_CACHE_DIR``) is left as it is;
* otherwise ``$XDG_CACHE_HOME/interjax/jax`` (``~/.cache/interjax/jax``).

The library itself never changes JAX's configuration: only :func:`interjax.cli.main` calls
:func:`enable_compile_cache`, once. A folder that cannot be made turns the cache off with a
warning, never an error (a cache is an optimization). Delete the folder to empty it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

__all__ = ["compile_cache_dir", "enable_compile_cache"]

ENV = "INTERJAX_COMPILE_CACHE"
_OFF = ("0", "off", "false", "no")
# programs that compile faster than this are not written (JAX's default is 1 s; the solver's and
# the sweep's programs take 0.3-15 s on a 2-core CPU)
MIN_COMPILE_SECONDS = 0.3


def compile_cache_dir(environ=None) -> Path | None:
    """The folder of the persistent cache, or ``None`` when it is off (see the module doc).

    Example:
      >>> compile_cache_dir({"INTERJAX_COMPILE_CACHE": "0"}) is None
      True
      >>> str(compile_cache_dir({"INTERJAX_COMPILE_CACHE": "/tmp/ij-cache"}))
      '/tmp/ij-cache'
      >>> str(compile_cache_dir({"XDG_CACHE_HOME": "/tmp/xdg"}))
      '/tmp/xdg/interjax/jax'
    """
    environ = os.environ if environ is None else environ
    value = environ.get(ENV, "").strip()
    if value.lower() in _OFF:
        return None
    if value:
        return Path(value).expanduser()
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "interjax" / "jax"


def enable_compile_cache(disabled: bool = False, environ=None) -> Path | None:
    """Turn JAX's persistent compilation cache on for this process (the CLI's one call).

    Returns the folder in use, or ``None`` when the cache stays off (``disabled``, the
    environment says so, or the folder cannot be made: then with a warning). A cache folder
    already configured for JAX is kept and returned.

    Example:
      >>> enable_compile_cache(disabled=True) is None
      True
    """
    import jax

    if disabled:
        return None
    configured = jax.config.jax_compilation_cache_dir
    if configured:
        return Path(configured)
    folder = compile_cache_dir(environ)
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".interjax-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        warnings.warn(
            f"the compilation cache folder {folder} cannot be used ({err}); running without it "
            f"(set {ENV}=/a/writable/folder, or {ENV}=0 to silence this)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return folder
