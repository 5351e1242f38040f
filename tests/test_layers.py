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
    ("problems", "ids", "pointers", "instants", "_data"),
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
    ("notebook_support", "widgets", "cli", "cli_args", "demo", ""),
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


# --------------------------------------------------------------------------- the shape of the update pipeline

UPDATES = sorted(p for p in (PACKAGE / "updates").glob("*.py"))
SHELLS = ("notebook_support", "widgets", "cli", "cli_args", "demo")
MAX_NAMED = 6


def _long_signatures(source: str) -> list[str]:
    """Public functions and methods of public classes taking more than MAX_NAMED named parameters.

    ``self``/``cls`` and ``**kwargs`` are not counted (a keyword an options value took over is
    accepted through ``**kwargs`` and mapped in one place: ``updates.options.with_keywords``).
    """
    out = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                visit(node.body, f"{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
                a = node.args
                named = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs) if x.arg not in ("self", "cls")]
                if a.vararg is not None:
                    named.append(a.vararg.arg)
                if len(named) > MAX_NAMED:
                    out.append(f"{prefix}{node.name} ({len(named)})")

    visit(ast.parse(source).body, "")
    return out


@pytest.mark.parametrize("path", UPDATES, ids=lambda p: p.stem)
def test_no_public_function_of_the_pipeline_takes_more_than_six_named_parameters(path: Path) -> None:
    assert _long_signatures(path.read_text(encoding="utf-8")) == []


def test_the_signature_check_sees_a_long_one() -> None:
    source = ("def ok(a, b, *, c=1, d=2, e=3, f=4, **kw): ...\n"
              "def too_long(a, *, b, c, d, e, f, g): ...\n"
              "class Journal:\n    def mark(self, a, b, c, d, e, f, g): ...\n"
              "    def _private(self, a, b, c, d, e, f, g): ...\n")
    assert _long_signatures(source) == ["too_long (7)", "Journal.mark (7)"]


def _strings(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of every string constant that is not a docstring."""
    tree = ast.parse(source)
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


SHELL_WORDS = ("--allow", "checkbox", "GR4VY_NB_")
"""Flags, widgets and the toolkit's environment variables: the shells' words, never the domain's."""


def _below_the_shells(path: Path) -> bool:
    module = _module(path)
    # The sandbox is a program of its own (`gr4vy-nb sandbox`, its flags); config is the one reader of the environment.
    return not any(module == s or module.startswith(s + ".") for s in (*SHELLS, "sandbox", "config")) and module != ""


@pytest.mark.parametrize("path", [p for p in MODULES if _below_the_shells(p)], ids=lambda p: _module(p))
def test_no_module_below_the_shells_speaks_the_shells_language(path: Path) -> None:
    found = [(line, word) for line, text in _strings(path.read_text(encoding="utf-8")) for word in SHELL_WORDS
             if word in text]
    assert found == [], f"gr4vy_nb.{_module(path)} names flags, checkboxes or variables: {found}"


def test_the_pipeline_reads_nothing_under_the_config_folder() -> None:
    """The probe result is an input of planning (the shell looks it up once), never a file read inside updates/."""
    readers = {"config_dir", "saved_probe", "probe_path", "CONFIG_DIR_ENV"}
    for path in UPDATES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for a in node.names}
        called = {getattr(node.func, "id", getattr(node.func, "attr", None)) for node in ast.walk(tree)
                  if isinstance(node, ast.Call)}
        assert not (imported | called) & readers, path
