"""The sandbox is an independent yardstick: none of its modules imports the toolkit's models or helpers.

Only ``gr4vy_nb._data`` (the vendored OpenAPI document and the sample sessions),
``gr4vy_nb._version`` and ``gr4vy_nb.errors`` may be imported from outside the sandbox, at
module level or inside a function; anything else would let a modelling mistake of the
toolkit be shared by the emulator and stay invisible to every test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.paths import REPO

SANDBOX = REPO / "gr4vy_nb" / "sandbox"
ALLOWED = ("gr4vy_nb._data", "gr4vy_nb._version", "gr4vy_nb.errors", "gr4vy_nb.sandbox")


def _toolkit_imports(source: str, module: str) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import of the package in ``source`` (of ``gr4vy_nb.sandbox.<module>``)."""
    package = ["gr4vy_nb", "sandbox"]  # every sandbox module, __init__ included, lives in this package
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
                names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            elif node.module and (node.module == "gr4vy_nb" or node.module.startswith("gr4vy_nb.")):
                names = [node.module] if node.module != "gr4vy_nb" else [f"gr4vy_nb.{a.name}" for a in node.names]
            else:
                continue
            found += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "gr4vy_nb"]
    return found


def _forbidden(source: str, module: str = "app") -> list[str]:
    return [f"line {line}: {name}" for line, name in _toolkit_imports(source, module)
            if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED)]


MODULES = sorted(p for p in SANDBOX.rglob("*.py") if "__pycache__" not in p.parts)


def test_there_are_sandbox_modules() -> None:
    assert {p.name for p in MODULES} >= {"app.py", "document.py", "keys.py", "seeding.py", "store.py", "tokens.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SANDBOX)))
def test_sandbox_module_imports_nothing_of_the_toolkit(path: Path) -> None:
    assert _forbidden(path.read_text(encoding="utf-8"), path.stem) == []


@pytest.mark.parametrize("source", [
    "from ..schema import CheckoutSession\n",
    "from .. import pointers\n",
    "from ..api.auth import thumbprint\n",
    "import gr4vy_nb.ids\n",
    "from gr4vy_nb.schema import error_body\n",
    "from gr4vy_nb import schema\n",
    "def f():\n    from ..updates.upload import locate\n    return locate\n",
    "class A:\n    def m(self):\n        import gr4vy_nb.tables as t\n        return t\n",
])
def test_the_check_catches_toolkit_imports(source: str) -> None:
    assert _forbidden(source) != []


@pytest.mark.parametrize("source", [
    "from .._data import api_document\n",
    "from .._version import __version__\n",
    "from ..errors import ConfigError\n",
    "from .document import contract\n",
    "from . import keys\n",
    "import gr4vy_nb.errors\n",
    "def f():\n    from gr4vy_nb._data import sample_sessions_path\n",
    "import json\nfrom jsonschema import Draft202012Validator\n",
])
def test_the_check_lets_the_allowed_imports_pass(source: str) -> None:
    assert _forbidden(source) == []
