"""An unedited export saved through LibreOffice Calc plans zero changes (issue 13, item 8; issue 22).

LibreOffice's *default* CSV import turns quoted digits into numbers (``"021464"`` -> ``21464``),
``TRUE``/``FALSE`` into booleans, and so on; saving writes what it made of them. By default every
such cell keeps its current value (``rewrite_kept``); with ``rewrites="error"`` each must either
equal its current value (no change) or be refused as a ``spreadsheet_rewrite``: a plan made from
the saved files may hold no diff row that no error stands against. tests/test_editors.py makes
edits after the round trip (LibreOffice, Gnumeric, pandas) and applies them.

* the committed fixtures under ``tests/data/libreoffice/`` (made by ``make_fixtures`` below with
  LibreOffice 7.4 from Debian's ``libreoffice-calc-nogui``) run everywhere;
* ``test_libreoffice_itself`` runs ``soffice`` on a fresh export when it is installed (``.ci/run``
  installs it), and is skipped otherwise.

The sandbox gives seeded sessions their own expiry times, so the fixtures are compared with the
sandbox's sessions after their ``expires_at`` column is set to the current values (the column is
read-only: a different value would be ignored, with a warning). The committed fixtures predate row
versions (each file gets the "could not be checked" note); tests/tables/test_versions.py saves fresh
exports through LibreOffice and Gnumeric and checks their ``row_version`` column.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.export import export_sessions
from gr4vy_nb.sandbox.seeding import default_seed_path
from gr4vy_nb.updates.plan import plan_updates

DATA = Path(__file__).resolve().parent / "data" / "libreoffice"
TABLES = ("sessions", "cart_items", "legs", "passengers")
SESSIONS = 3  # the first seeded sessions: a cart, legs, passengers, a buyer, a card
# LibreOffice's CSV filter options: separator 44 (,), text delimiter 34 ("), charset 76 (UTF-8), from line 1;
# token 5 (column formats) empty, 6 language (1033: en-US), 7 "quoted field as text", 8 "detect special numbers".
DEFAULT_IMPORT = "CSV:44,34,76,1"
SPECIAL_NUMBERS_IMPORT = "CSV:44,34,76,1,,1033,false,true"
CSV_EXPORT = "csv:Text - txt - csv (StarCalc):44,34,76,1"


def _ids() -> list[str]:
    import json

    lines = Path(default_seed_path()).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["id"] for line in lines if line.strip()][:SESSIONS]


@pytest.fixture
def client(sandbox_clean):
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean), workers=4) as c:
        yield c


def _soffice(infilter: str, convert_to: str, out: Path, *files: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["soffice", "--headless", f"--infilter={infilter}", "--convert-to", convert_to, "--outdir",
                    str(out), *map(str, files)], check=True, capture_output=True, timeout=240)


def _with_current_expiry(folder: Path, client) -> None:
    """Put the sandbox's own ``expires_at`` into a saved ``sessions.csv`` (the fixtures were made elsewhere)."""
    path = folder / "sessions.csv"
    if not path.exists():
        return
    from gr4vy_nb.tables.files import read_table, write_table

    table = read_table(path)
    frame = table.frame.copy()
    current = {sid: client.get_checkout_session(sid)["expires_at"] for sid in frame["checkout_session_id"]}
    frame["expires_at"] = [pd.Timestamp(current[s]).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
                           for s in frame["checkout_session_id"]]
    write_table(frame, path, bom=False)


def assert_no_silent_change(plan) -> None:
    """Every changed value of the plan has an error on its cell (or the plan changes nothing)."""
    refused = {(r.file, r.line, r.column) for r in plan.errors.itertuples()}
    silent = [(r.path, r.before, r.after) for r in plan.diff.itertuples()
              if (r.file, r.line, r.column) not in refused]
    assert silent == [], f"changes that nobody refused: {silent}"
    rewrites = plan.problems[plan.problems.rule == "spreadsheet_rewrite"]
    assert plan.changes == [] or not plan.ok
    return rewrites


@pytest.mark.parametrize("variant", ["default", "special_numbers", "default_xlsx"])
def test_committed_libreoffice_saves_plan_no_silent_change(client, tmp_path, variant):
    folder = tmp_path / variant
    shutil.copytree(DATA / variant, folder)
    _with_current_expiry(folder, client)
    # By default every rewritten cell keeps its current value: zero changes, one warning per file and column.
    plan = plan_updates(folder, client=client)
    assert plan.ok and plan.changes == [] and plan.diff.empty, plan.problems
    kept = plan.warnings[plan.warnings.rule == "rewrite_kept"]
    assert (kept.groupby(["file", "column"]).message.nunique() == 1).all()  # one message per file and column
    sku = kept[kept.column == "sku"]
    assert len(sku) >= 3 and f"{len(sku)} cells hold" in sku.message.iloc[0]
    assert "'21464' for '021464'" in sku.message.iloc[0]
    if variant != "default_xlsx":  # (the workbook holds cart_items only)
        # Booleans LibreOffice rewrote (true -> TRUE) are kept apart too, not passed over in silence.
        booleans = kept[kept.column.isin(["stop_over", "airline.is_cardholder_traveling",
                                          "airline.restricted_ticket"])]
        assert len(booleans) >= 9 and set(booleans.value) <= {"TRUE", "FALSE"}
    # --rewrites error: LibreOffice drops the SKUs' leading zeros: refused, each naming the current value.
    plan = plan_updates(folder, client=client, rewrites="error")
    rewrites = assert_no_silent_change(plan)
    sku = rewrites[rewrites.column == "sku"]
    assert len(sku) >= 3 and sku.message.str.contains("'021464'").any()
    assert plan.diff.empty


def test_unedited_export_plans_zero_changes(client, tmp_path):
    export_sessions(_ids(), client, tmp_path / "export")
    plan = plan_updates(tmp_path / "export", client=client)
    assert plan.ok and plan.changes == [] and plan.diff.empty
    assert not len(plan.warnings[plan.warnings.rule.isin(
        ["scientific_notation", "precision_loss", "excel_date_serial", "leading_zeros"])])


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
@pytest.mark.parametrize("infilter", [DEFAULT_IMPORT, SPECIAL_NUMBERS_IMPORT], ids=["default", "special_numbers"])
def test_libreoffice_itself(client, tmp_path, infilter):
    export = tmp_path / "export"
    export_sessions(_ids(), client, export)
    files = [export / f"{t}.csv" for t in TABLES]
    saved = tmp_path / "saved"
    _soffice(infilter, CSV_EXPORT, saved, *files)
    assert_no_silent_change(plan_updates(saved, client=client, rewrites="error"))
    plan = plan_updates(saved, client=client)
    assert plan.ok and plan.changes == [], plan.problems
    book = tmp_path / "book"
    _soffice(infilter, "xlsx", book, export / "cart_items.csv")
    assert_no_silent_change(plan_updates(book / "cart_items.xlsx", client=client, rewrites="error"))
    plan = plan_updates(book / "cart_items.xlsx", client=client)
    assert plan.ok and plan.changes == [], plan.problems


def make_fixtures(out: Path = DATA) -> None:  # pragma: no cover - run by hand: python -m tests.test_libreoffice
    """Export the first seeded sessions from a fresh sandbox and save them through LibreOffice."""
    import tempfile

    from gr4vy_nb.sandbox import start_sandbox

    with tempfile.TemporaryDirectory() as tmp, start_sandbox(mode="thread") as sandbox, \
            Gr4vyClient(Settings.for_sandbox(sandbox), workers=4) as c:
        export = Path(tmp) / "export"
        export_sessions(_ids(), c, export)
        files = [export / f"{t}.csv" for t in TABLES]
        for name, infilter in (("default", DEFAULT_IMPORT), ("special_numbers", SPECIAL_NUMBERS_IMPORT)):
            shutil.rmtree(out / name, ignore_errors=True)
            _soffice(infilter, CSV_EXPORT, out / name, *files)
        shutil.rmtree(out / "default_xlsx", ignore_errors=True)
        _soffice(DEFAULT_IMPORT, "xlsx", out / "default_xlsx", export / "cart_items.csv")


if __name__ == "__main__":  # pragma: no cover
    make_fixtures()
