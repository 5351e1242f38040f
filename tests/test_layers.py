"""The layers of the package: every import, at module level or inside a function, points to an earlier layer.

The order (README, "How the code is organised"): the foundations, the models, talking to the
API, the tables, the export, the update pipeline, the reports, the sandbox, the cluster runner, and the shells.
Within one layer, modules may import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.paths import REPO

PACKAGE = REPO / "gr4vy_nb"

LAYERS: list[tuple[str, ...]] = [
    ("_version", "errors"),
    ("problems", "ids", "pointers", "_data"),
    ("schema",),
    ("api.auth", "api.retry", "api.pacing", "api.transport", "api.answers"),
    ("config",),
    ("api.client", "api.probe", "api"),  # api.probe: uses the client and the config folder; read by updates.bodies
    ("tables",),
    ("export",),
    ("updates",),
    ("report",),
    ("sandbox",),
    ("cluster",),  # the archive flatten of tables.archive, mapped over a Dask cluster
    ("notebook_support", "widgets", "cli", "demo", ""),
]


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> int:
    """The layer of a module of the package (``""`` is the package itself): the most specific match."""
    best, depth = None, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".") or name == "") and len(name) > depth:
                best, depth = i, len(name)
    assert best is not None, f"gr4vy_nb.{module} is in no layer: add it to LAYERS"
    return best


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a package module (relative ones resolved), anywhere in the file."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8") if source is None else source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.startswith("gr4vy_nb"):
                target = node.module.removeprefix("gr4vy_nb").lstrip(".")
            else:
                continue
            names = [target] if node.module else [f"{target}.{a.name}".lstrip(".") for a in node.names]
            out += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name.removeprefix("gr4vy_nb").lstrip(".")) for a in node.names
                    if a.name.startswith("gr4vy_nb")]
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _wrong_imports(path: Path, source: str | None = None) -> list[str]:
    own = _layer(_module(path))
    return [f"line {line}: {target or 'gr4vy_nb'} (layer {_layer(target)})"
            for line, target in _imports(path, source) if _layer(target) > own]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module(p) or "gr4vy_nb")
def test_imports_point_to_earlier_layers(path: Path) -> None:
    wrong = _wrong_imports(path)
    assert not wrong, f"gr4vy_nb.{_module(path)} (layer {_layer(_module(path))}) imports later layers: {wrong}"


def test_the_sandbox_does_not_use_the_pipeline_or_the_tables() -> None:
    for path in (PACKAGE / "sandbox").rglob("*.py"):
        used = {t.split(".")[0] for _line, t in _imports(path)}
        assert not used & {"tables", "updates", "export", "report", "notebook_support", "widgets"}, path


def test_the_check_itself_sees_a_wrong_import() -> None:
    cells = PACKAGE / "tables" / "cells.py"
    source = ("def f():\n    from ..updates.merge import build_changes\n    from .. import errors\n"
              "    import gr4vy_nb.cli\n")
    assert _wrong_imports(cells, source) == ["line 2: updates.merge (layer 8)", "line 4: cli (layer 12)"]
    assert _layer("errors") < _layer("api.client") < _layer("tables.cells") < _layer("updates.merge")
    assert _layer("") == len(LAYERS) - 1
