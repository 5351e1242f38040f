"""The notebooks: committed clean, holding no logic, and running top to bottom with no configuration.

Each notebook is executed by :func:`~gr4vy_nb.notebook_support.render_notebooks` (what ``make
demo`` runs): nbclient, a fresh kernel of this virtualenv, a scratch folder, every ``GR4VY_*``
variable removed but the test sandbox's URL and key. As committed, running every cell sends no
write (issue 14: checked against the sandbox's counters); with their ``APPLY`` flags turned on
they apply, review and roll back their examples. The executed outputs (and the widget state saved
with them) are then searched for personal data of the sample sessions, which must appear masked only.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from gr4vy_nb.notebook_support import NOTEBOOKS, read_sessions_jsonl, render_notebooks
from gr4vy_nb.sandbox import Sandbox
from tests.paths import REPO, SAMPLE

NOTEBOOKS_DIR = REPO / "notebooks"

# Statements a notebook cell may hold: imports, assignments and expressions (calls, names).
_ALLOWED = (ast.Module, ast.Import, ast.ImportFrom, ast.alias, ast.Assign, ast.Expr, ast.Call, ast.Name,
            ast.Attribute, ast.Constant, ast.keyword, ast.Load, ast.Store, ast.Subscript, ast.Tuple, ast.BinOp,
            ast.Div, ast.JoinedStr, ast.FormattedValue,
            # a pandas rule (notebook 04) is an expression: masks combined with &, amounts multiplied, columns listed
            ast.BitAnd, ast.Mult, ast.List)


def _personal_values() -> set[str]:
    """Emails, phone numbers, passport numbers and surnames of the sample data: never shown raw."""
    values: set[str] = set()
    for s in read_sessions_jsonl(SAMPLE):
        for p in (s.get("airline") or {}).get("passengers") or []:
            for key in ("email_address", "passport_number", "phone_number"):
                if p.get(key):
                    values.add(str(p[key]))
        buyer = s.get("buyer") or {}
        billing = buyer.get("billing_details") or {}
        for key in ("email_address", "phone_number"):
            if billing.get(key):
                values.add(str(billing[key]))
    return {v for v in values if len(v) >= 6}


# ------------------------------------------------------------------------------ committed files


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs_or_widget_state(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata, "widget state is saved in the notebook: clear it"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a cell has outputs"
            assert cell.execution_count is None, f"{name}: a cell has an execution count"
        assert not cell.get("attachments"), f"{name}: a cell has attachments"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_starts_by_saying_what_it_does_and_changes(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert "**What it does:**" in first.source and "**What it changes:**" in first.source
    assert "**Target:**" in first.source


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_code_cells_hold_no_logic(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        for node in ast.walk(ast.parse(source)):
            assert isinstance(node, _ALLOWED), (
                f"{name}: {type(node).__name__} in a cell; move the logic into the package:\n{cell.source}")


# The public surface a notebook may import from: the package's own names, and these modules.
_PUBLIC_MODULES = ("gr4vy_nb", "gr4vy_nb.report", "gr4vy_nb.widgets", "gr4vy_nb.notebook_support")


def _imports(source: str) -> list[tuple[str, str | None]]:
    """``(module, name)`` of each import in a cell (``name`` is ``None`` for ``import module``)."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.extend((module, alias.name) for alias in node.names)
    return found


def _import_problem(module: str, name: str | None) -> str | None:
    """Why ``from module import name`` (or ``import module``) reaches past the public surface, or ``None``."""
    import gr4vy_nb

    if module not in _PUBLIC_MODULES:
        return f"{module} is not public (import from {', '.join(_PUBLIC_MODULES)})"
    if module == "gr4vy_nb" and name is not None and name not in gr4vy_nb.__all__ and (
            f"gr4vy_nb.{name}" not in _PUBLIC_MODULES):
        return f"gr4vy_nb.{name} is neither in gr4vy_nb.__all__ nor a public module"
    if name == "*":
        return f"from {module} import *"
    return None


@pytest.mark.parametrize(("module", "name", "ok"), [
    ("gr4vy_nb", "plan_updates", True),
    ("gr4vy_nb", "report", True),
    ("gr4vy_nb.widgets", "BulkUpdateApp", True),
    ("gr4vy_nb.notebook_support", "connect", True),
    ("gr4vy_nb.report", None, True),
    ("gr4vy_nb.updates.runs", "apply_plan", False),
    ("gr4vy_nb.updates.plan", "plan_updates", False),
    ("gr4vy_nb.notebook_support.runs", "open_run", False),
    ("gr4vy_nb", "updates", False),
    ("gr4vy_nb", "_version", False),
    ("gr4vy_nb.updates", None, False),
    ("gr4vy_nb.widgets", "*", False),
    ("pandas", None, False),
    (".updates", "runs", False),
])
def test_the_public_import_rule(module: str, name: str | None, ok: bool) -> None:
    assert (_import_problem(module, name) is None) == ok


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_code_cells_import_only_the_public_surface(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    imports = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        for module, imported in _imports(source):
            imports += 1
            problem = _import_problem(module, imported)
            assert problem is None, f"{name}: {problem}; import from the public surface instead:\n{cell.source}"
    assert imports, f"{name} imports nothing: is the rule looking at the right cells?"


def test_notebooks_match_their_build_script() -> None:
    proc = subprocess.run([sys.executable, str(NOTEBOOKS_DIR / "_build_notebooks.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------------------ execution


def _output_text(nb: nbformat.NotebookNode) -> str:
    parts: list[str] = [json.dumps(nb.metadata.get("widgets", {}))]
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            for mime, data in out.get("data", {}).items():
                if mime != "image/png":
                    parts.append(data if isinstance(data, str) else json.dumps(data))
    return "\n".join(parts)


def _outputs_of(nb: nbformat.NotebookNode, marker: str) -> list[dict[str, Any]]:
    for cell in nb.cells:
        if cell.cell_type == "code" and marker in cell.source:
            return list(cell.outputs)
    raise AssertionError(f"no cell with {marker!r}")


def _sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    return {"GR4VY_BASE_URL": sandbox.base_url, "GR4VY_PRIVATE_KEY_FILE": str(sandbox.private_key_file)}


def _sent(sandbox: Sandbox) -> dict[str, int]:
    """Requests other than reads the sandbox has seen, by method."""
    requests = sandbox.stats()["requests"]
    return {m: sum(by.values()) for m, by in requests.items() if m not in ("GET", "HEAD", "OPTIONS")
            and sum(by.values())}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox) -> dict[str, tuple[nbformat.NotebookNode,
                                                                                            Path]]:
    """The notebooks executed in order with their ``APPLY`` flags on, against the test sandbox.

    As ``make demo`` does, but with writes allowed (``render_notebooks(apply=True)``), so that the code
    cells that write are run too: 02 applies and rolls back its example, 03 reviews that run.
    """
    sandbox.reset(reseed=True)
    try:
        return render_notebooks(NOTEBOOKS_DIR, tmp_path_factory.mktemp("notebooks"), env=_sandbox_env(sandbox),
                                apply=True)
    finally:
        sandbox.reset(reseed=True)


def test_run_all_as_committed_sends_no_write(sandbox_clean: Sandbox, tmp_path: Path) -> None:
    """Issue 14: running every cell of every notebook, as committed, writes nothing (on a target with sessions)."""
    done = render_notebooks(NOTEBOOKS_DIR, tmp_path, env=_sandbox_env(sandbox_clean))
    assert _sent(sandbox_clean) == {}, _sent(sandbox_clean)
    assert dict(sandbox_clean.stats()["writes"]) == {}
    assert not list((tmp_path / "run").rglob("*.sqlite")), "a notebook made a run"
    for name, (nb, _) in done.items():
        text = _output_text(nb)
        assert "Traceback" not in text, name
        assert all(out.output_type != "error" for cell in nb.cells for out in cell.get("outputs", [])), name
    for name in ("02_bulk_update_from_csv.ipynb", "03_review_and_report.ipynb", "04_edit_in_the_notebook.ipynb"):
        text = _output_text(done[name][0])
        assert "APPLY is False, so nothing is sent" in text, name
    assert "no apply run against" in _output_text(done["03_review_and_report.ipynb"][0])


@pytest.fixture(scope="module")
def executed(rendered: dict[str, tuple[nbformat.NotebookNode, Path]]) -> dict[str, nbformat.NotebookNode]:
    return {name: nb for name, (nb, _) in rendered.items()}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_runs_top_to_bottom_on_the_embedded_sandbox(executed: dict[str, nbformat.NotebookNode],
                                                    name: str) -> None:
    nb = executed[name]
    text = _output_text(nb)
    assert "local sandbox emulator" in text
    assert "Traceback" not in text
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_outputs_show_no_personal_data(executed: dict[str, nbformat.NotebookNode], name: str) -> None:
    text = _output_text(executed[name])
    leaked = sorted(v for v in _personal_values() if v in text)
    assert not leaked, f"{name} shows personal data unmasked: {leaked[:5]}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_html_renderings_are_written_and_masked(rendered: dict[str, tuple[nbformat.NotebookNode, Path]],
                                                name: str) -> None:
    page = rendered[name][1].read_text(encoding="utf-8")
    assert "What it changes" in page and "local sandbox emulator" in page
    leaked = sorted(v for v in _personal_values() if v in page)
    assert not leaked, f"{name}.html shows personal data unmasked: {leaked[:5]}"


def test_explore_notebook_plots_and_tables(executed: dict[str, nbformat.NotebookNode]) -> None:
    nb = executed["01_explore_sessions.ipynb"]
    pngs = sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
    assert pngs >= 4
    assert "150 sessions" in _output_text(nb).replace(",", "")


def test_bulk_notebook_applies_and_rolls_back(executed: dict[str, nbformat.NotebookNode]) -> None:
    nb = executed["02_bulk_update_from_csv.ipynb"]
    bad = _output_text(nb)
    assert re.search(r"\bline\b", bad) and "column" in bad
    run_text = "".join(o.get("text", "") for o in _outputs_of(nb, "writes.run(resume_run"))
    assert "finished" in run_text and "failed 0" in run_text
    undo_text = "".join(o.get("text", "") for o in _outputs_of(nb, "writes.run(rollback_run"))
    assert "(rollback): finished" in undo_text and "conflict 0" in undo_text


def test_review_notebook_reports_inline(executed: dict[str, nbformat.NotebookNode]) -> None:
    nb = executed["03_review_and_report.ipynb"]
    inline = "".join(o.get("data", {}).get("text/html", "") for o in _outputs_of(nb, "InlineHTML.from_file"))
    assert inline.startswith("<iframe") and "srcdoc=" in inline
    assert "(apply): finished" in _output_text(nb)
    # 02 rolled that run back already: with APPLY on, 03's rollback finds nothing left to put back
    assert "(rollback): finished" in _output_text(nb)


def test_edit_notebook_plans_and_applies_its_pandas_rules(executed: dict[str, nbformat.NotebookNode]) -> None:
    nb = executed["04_edit_in_the_notebook.ipynb"]
    plan_text = "".join(o.get("text", "") for o in _outputs_of(nb, "plan = plan_updates(frames"))
    assert "to update:" in plan_text and "0 error(s)" in plan_text and "tax_amount: 0 -> " in plan_text
    run_text = "".join(o.get("text", "") for o in _outputs_of(nb, "writes.run(apply_plan"))
    assert "finished" in run_text and "failed 0" in run_text
