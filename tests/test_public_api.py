"""The curated public surface: every exported name exists, is documented, and imports lazily."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import gr4vy_nb


@pytest.mark.parametrize("name", [n for n in gr4vy_nb.__all__ if n != "__version__"])
def test_exported_name_exists_and_is_documented(name: str) -> None:
    value = getattr(gr4vy_nb, name)
    doc = inspect.getdoc(value)
    assert doc and len(doc.strip()) > 10, f"gr4vy_nb.{name} has no docstring"


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = gr4vy_nb.no_such_thing  # type: ignore[attr-defined]


def test_import_is_cheap() -> None:
    code = "import sys, gr4vy_nb; print(sorted(m for m in ('fastapi', 'matplotlib', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_core_never_imports_widgets_or_cli_frameworks() -> None:
    code = (
        "import sys, gr4vy_nb\n"
        "for n in ('Settings','Gr4vyClient','SessionFrames','plan_updates','apply_plan','build_report'):\n"
        "    getattr(gr4vy_nb, n)\n"
        "print(sorted(m for m in ('ipywidgets', 'argparse_cli', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
