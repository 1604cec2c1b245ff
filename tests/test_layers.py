"""Layering: no interjax package imports another package's private modules or names.

Each subpackage (``masks``, ``evaluate``, ``transform``, ``solve``, ``analyze``, ...) and each
public top-level module (``interop``) talks to the others through their public ``__init__``
names only. Shared internals live in the internal layer, which every package may import:
``interjax._core``, ``interjax._caches`` and ``interjax._files``. The command-line layer
(``cli.py``, ``_pipeline.py``, ``_user_run.py``, ``_demo.py``, ``_demo_run.py``) sits on top and
may import anything; the top-level ``interjax/__init__.py`` re-exports the public functions of
that layer (``analyze_run`` of ``_pipeline.py``) and nothing else of it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "interjax"
INTERNAL = {"interjax._core", "interjax._caches", "interjax._files"}
CLI_LAYER = {"cli.py", "_pipeline.py", "_user_run.py", "_demo.py", "_demo_run.py"}

# Offenders known when this test was written, in files of other packages' owners: each
# (file, imported module or name). Empty it as they are fixed; a new offender fails at once.
KNOWN_OFFENDERS: set[tuple[str, str]] = set()


def _package_of(rel: Path) -> str:
    """``interjax.X`` for a file under ``interjax/X/``; ``interjax.m`` for ``interjax/m.py``;
    ``interjax`` for ``interjax/__init__.py``."""
    if len(rel.parts) > 1:
        return f"interjax.{rel.parts[0]}"
    return "interjax" if rel.name == "__init__.py" else f"interjax.{rel.stem}"


def _module_name(rel: Path) -> str:
    parts = ["interjax", *rel.with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _resolve(node: ast.ImportFrom, rel: Path) -> str:
    if not node.level:
        return node.module or ""
    base = _module_name(rel).split(".")
    if rel.name != "__init__.py":
        base = base[:-1]  # the module's package
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _package_of_module(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else "interjax"


def _offences(module: str, names: list[str], own: str):
    """(imported thing) for each private module or name of another package."""
    if module != "interjax" and not module.startswith("interjax."):
        return
    if module == "interjax":  # from interjax import masks, _core, ...
        for name in names:
            full = f"interjax.{name}"
            if _is_private(name) and full not in INTERNAL and full != own:
                yield full
        return
    if module in INTERNAL or _package_of_module(module) == own:
        return
    private_parts = [p for p in module.split(".")[1:] if _is_private(p)]
    if private_parts:
        yield module
        return
    for name in names:
        if _is_private(name):
            yield f"{module}.{name}"


def layer_offenders() -> list[tuple[str, int, str]]:
    """Every (file, line, imported thing) that breaks the rule, outside the CLI layer."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1 and rel.name in CLI_LAYER:
            continue
        own = _package_of(rel)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if rel.as_posix() == "__init__.py" and _reexports_the_top_layer(node):
                continue
            if isinstance(node, ast.ImportFrom):
                module, names = _resolve(node, rel), [a.name for a in node.names]
                found += [(rel.as_posix(), node.lineno, o) for o in _offences(module, names, own)]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    found += [
                        (rel.as_posix(), node.lineno, o) for o in _offences(alias.name, [], own)
                    ]
    return found


def _reexports_the_top_layer(node) -> bool:
    """``from interjax._pipeline import <public names>`` (in the top-level ``__init__``)."""
    return (
        isinstance(node, ast.ImportFrom)
        and node.module in {f"interjax.{f.removesuffix('.py')}" for f in CLI_LAYER}
        and all(not _is_private(a.name) for a in node.names)
    )


def test_no_package_imports_another_packages_private_names():
    offenders = layer_offenders()
    new = [o for o in offenders if (o[0], o[2]) not in KNOWN_OFFENDERS]
    assert not new, "private imports across packages (import the public name, or move the " + (
        f"shared code to interjax/_core.py): {new}"
    )
    seen = {(o[0], o[2]) for o in offenders}
    fixed = {k for k in KNOWN_OFFENDERS - seen if (PACKAGE / k[0]).exists()}
    assert not fixed, f"fixed, remove from KNOWN_OFFENDERS: {sorted(fixed)}"


def test_the_checker_sees_offences():
    """The rule itself, on made-up imports (so an empty list above means something)."""
    rel = Path("analyze/_x.py")
    own = _package_of(rel)
    check = lambda mod, names=(): list(_offences(mod, list(names), own))  # noqa: E731
    assert check("interjax.solve._fit", ["check_options"]) == ["interjax.solve._fit"]
    assert check("interjax.solve", ["_validate"]) == ["interjax.solve._validate"]
    assert check("interjax", ["_pipeline"]) == ["interjax._pipeline"]
    assert check("interjax._core", ["check_int"]) == []
    assert check("interjax.analyze._summary", ["summarize"]) == []  # its own package
    assert check("interjax.solve", ["fit_and_or"]) == []
    node = ast.parse("from ._summary import summarize").body[0]
    assert _resolve(node, rel) == "interjax.analyze._summary"
    node = ast.parse("from ..solve._fit import x").body[0]
    assert list(_offences(_resolve(node, rel), ["x"], own)) == ["interjax.solve._fit"]
