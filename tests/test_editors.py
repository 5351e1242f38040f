"""Files from any editor (issue 22): pandas' defaults, LibreOffice's default import and Gnumeric as outside judges.

An unedited export of every seeded session is read and written back by each editor with its defaults:

* pandas: ``pd.read_csv(f)`` then ``df.to_csv(f, index=False)`` (``021464`` -> ``21464``, ``795`` -> ``795.0``,
  ``816017752891`` -> ``816017752891.0``, ``true`` -> ``True``);
* LibreOffice Calc: its default CSV import, saved as CSV (``soffice --convert-to``);
* Gnumeric: ``ssconvert`` with its default CSV import (dates become ``2098/10/08 14:00:00``, ...).

Each plans zero changes (``gr4vy-nb plan`` exits 0) and writes nothing; three edits made after the round trip
are planned alone, and applying writes exactly those three sessions with exactly those values (the sandbox's own
write counters). ``--rewrites error`` restores the refusal (nothing written); ``--rewrites send`` sends the text
as written. The spreadsheet programs are skipped where not installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.cli import main
from gr4vy_nb.config import Settings
from gr4vy_nb.export import export_sessions
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.runs import apply_plan
from tests.updates.helpers import IDS

TABLES = ("sessions", "cart_items", "legs", "passengers")
LIBREOFFICE_IMPORT = "CSV:44,34,76,1"
LIBREOFFICE_CSV = "csv:Text - txt - csv (StarCalc):44,34,76,1"
EDITORS = [
    "pandas",
    pytest.param("libreoffice", marks=pytest.mark.skipif(shutil.which("soffice") is None,
                                                         reason="LibreOffice (soffice) is not installed")),
    pytest.param("gnumeric", marks=pytest.mark.skipif(shutil.which("ssconvert") is None,
                                                      reason="Gnumeric (ssconvert) is not installed")),
]


@pytest.fixture
def client(env):
    with Gr4vyClient(Settings.for_sandbox(env), workers=8) as c:
        yield c


def _round_trip(editor: str, export: Path, out: Path) -> None:
    """Every CSV of ``export`` opened and saved by ``editor`` with its defaults, into ``out``."""
    out.mkdir(parents=True)
    files = [export / f"{t}.csv" for t in TABLES]
    if editor == "pandas":
        for f in files:
            pd.read_csv(f).to_csv(out / f.name, index=False)
    elif editor == "libreoffice":
        subprocess.run(["soffice", "--headless", f"--infilter={LIBREOFFICE_IMPORT}", "--convert-to", LIBREOFFICE_CSV,
                        "--outdir", str(out), *map(str, files)], check=True, capture_output=True, timeout=240)
    else:
        for f in files:
            subprocess.run(["ssconvert", str(f), str(out / f.name)], check=True, capture_output=True, timeout=120)


def _edit(editor: str, path: Path, row: int, column: str, value: object) -> str:
    """Change one cell (data row ``row``) the way ``editor`` would save it; returns the row's session id."""
    if editor == "pandas":  # edited in pandas, written with its defaults
        df = pd.read_csv(path)
        df.loc[row, column] = value
        df.to_csv(path, index=False)
        return str(df.loc[row, "checkout_session_id"])
    with path.open(encoding="utf-8-sig", newline="") as f:  # typed into the spreadsheet's cell: its text changes
        rows = list(csv.reader(f))
    rows[row + 1][rows[0].index(column)] = str(value)
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return rows[row + 1][rows[0].index("checkout_session_id")]


def _writes(env) -> dict[str, int]:
    return {sid: n for sid, n in env.stats()["writes"].items() if n}


@pytest.fixture
def exported(client, tmp_path) -> Path:
    export_sessions(IDS, client, tmp_path / "export")
    return tmp_path / "export"


@pytest.mark.parametrize("editor", EDITORS)
def test_an_unedited_round_trip_plans_nothing_and_three_edits_plan_alone(editor, env, client, exported, tmp_path,
                                                                        capsys):
    saved = tmp_path / editor
    _round_trip(editor, exported, saved)
    plan = plan_updates(saved, client=client)
    assert plan.ok and plan.changes == [] and plan.diff.empty, plan.problems[plan.problems.severity == "error"]
    assert set(plan.problems.rule) <= {"rewrite_kept", "read_only"}, set(plan.problems.rule)
    kept = plan.problems[plan.problems.rule == "rewrite_kept"]
    assert "sku" in set(kept.column)  # 021464 -> 21464 in every editor
    assert main(["plan", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "rewrite_kept" in out and "to update:         0" in out
    # --rewrites error: today's refusal, with advice for the editor the files came from.
    refused = plan_updates(saved, client=client, rewrites="error")
    assert not refused.ok and set(refused.errors.rule) == {"spreadsheet_rewrite"}
    advice = "SessionFrames.read_csv" if editor == "pandas" else "Format quoted field as text"
    assert refused.errors.message.str.contains(advice, regex=False).all()

    # Three edits after the round trip: a shipping amount (a float column in pandas: 123.0), a metadata value
    # and a passenger's first name.
    edits = {
        (_edit(editor, saved / "cart_items.csv", 0, "shipping_amount", 123), "cart_items[0].shipping_amount"): 123,
        (_edit(editor, saved / "sessions.csv", 0, "metadata.channel", "kiosk"), "metadata.channel"): "kiosk",
        (_edit(editor, saved / "passengers.csv", 0, "first_name", "Zed"), "airline.passengers[0].first_name"): "Zed",
    }
    plan = plan_updates(saved, client=client)
    assert plan.ok, plan.errors
    assert {(r.checkout_session_id, r.path): r.after for r in plan.diff.itertuples()} == edits
    assert main(["plan", str(saved), "--rewrites", "error"]) == 2  # the refusal: nothing can be applied
    assert _writes(env) == {}
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    assert run.counts["succeeded"] == len({sid for sid, _path in edits}) and run.counts["failed"] == 0
    assert set(_writes(env)) == {sid for sid, _path in edits} and all(n == 1 for n in _writes(env).values())
    for (sid, _path), value in edits.items():
        session = client.get_checkout_session(sid)
        got = {123: lambda s: s["cart_items"][0]["shipping_amount"],
               "kiosk": lambda s: s["metadata"]["channel"],
               "Zed": lambda s: s["airline"]["passengers"][0]["first_name"]}[value](session)
        assert got == value


def test_rewrites_send_sends_the_text_as_written(env, client, exported, tmp_path):
    saved = tmp_path / "pandas"
    saved.mkdir()
    pd.read_csv(exported / "cart_items.csv").to_csv(saved / "cart_items.csv", index=False)
    current = pd.read_csv(exported / "cart_items.csv", dtype=str, keep_default_na=False)
    plan = plan_updates(saved, client=client, rewrites="send")
    assert plan.ok
    skus = plan.diff[plan.diff.path.str.endswith(".sku")]
    assert len(skus) and set(skus.after) <= {s.lstrip("0") for s in current.sku}  # 021464 sent as 21464
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    assert run.counts["failed"] == 0 and set(_writes(env)) == set(skus.checkout_session_id)
    sid = skus.checkout_session_id.iloc[0]
    assert client.get_checkout_session(sid)["cart_items"][0]["sku"] == "21464"


def test_a_value_longer_than_a_spreadsheet_cell_goes_round_whole_and_its_cut_is_kept(env, client, tmp_path):
    sid = IDS[1]
    client.update_checkout_session(sid, {"metadata": {"note": "N" * 40_000}})
    export_sessions([sid], client, tmp_path / "export")
    plan = plan_updates(tmp_path / "export", client=client)  # unedited: read whole, no change, nothing to say
    assert plan.ok and plan.changes == [] and plan.problems.empty, plan.problems
    sessions = pd.read_csv(tmp_path / "export" / "sessions.csv", dtype=str, keep_default_na=False)
    assert sessions["metadata.note"].str.len().tolist() == [40_000]
    sessions["metadata.note"] = sessions["metadata.note"].str[:32_767]  # what a spreadsheet keeps of it
    sessions.to_csv(tmp_path / "export" / "sessions.csv", index=False)
    plan = plan_updates(tmp_path / "export", client=client)
    assert plan.ok and plan.changes == []
    assert plan.problems[["rule", "column"]].values.tolist() == [["rewrite_kept", "metadata.note"]]
    assert "\u2026 (32,767 characters) for 'NNN" in plan.problems.message.iloc[0]  # both shown clipped
    assert "\u2026 (40,000 characters)): kept as they are" in plan.problems.message.iloc[0]
    refused = plan_updates(tmp_path / "export", client=client, rewrites="error")
    assert "cut at 32,767 characters" in refused.errors.message.iloc[0]
