"""The CLI's side of issue 13: --encoding, --rewrites (issue 22; --allow-spreadsheet-rewrites), --raw
everywhere, export --format, and a progress bar that redraws at most ~10 times a second; and of issue 21:
stale rows and --ignore-stale."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

from gr4vy_nb import cli
from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.cli import main
from gr4vy_nb.config import Settings
from gr4vy_nb.sandbox.seeding import default_seed_path

SEED = [json.loads(line) for line in Path(default_seed_path()).read_text().splitlines() if line.strip()]
S0 = SEED[0]["id"]




def test_encoding_option_and_the_refusal_naming_it(env, tmp_path, capsys):
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "sessions.csv").write_bytes(f"checkout_session_id,metadata.city\n{S0},Montréal\n".encode("cp1252"))
    assert main(["plan", str(folder)]) == 2
    assert "--encoding cp1252" in capsys.readouterr().out
    assert main(["plan", str(folder), "--encoding", "cp1252", "--raw"]) == 0
    assert "Montréal" in capsys.readouterr().out
    assert main(["plan", str(folder), "--encoding", "no-such-codec"]) == 2


def test_rewrites_kept_refused_or_sent_and_raw_unmasks_the_problems(env, tmp_path, capsys):
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "passengers.csv").write_text(f"checkout_session_id,passenger_index,phone_number\n{S0},0,44509409120\n")
    assert main(["plan", str(folder), "--lists", "patch"]) == 0  # by default: kept, a warning
    out = capsys.readouterr().out
    assert "rewrite_kept" in out and "44509409120" not in out and "to update:         0" in out
    assert "hint: kept rewrites: --rewrites error refuses them" in out
    assert main(["plan", str(folder), "--rewrites", "error"]) == 2
    out = capsys.readouterr().out
    assert "spreadsheet_rewrite" in out and "44509409120" not in out  # masked, in the table and the message
    assert "hint: spreadsheet rewrites: the XLSX export" in out and "--rewrites keep keeps" in out
    assert main(["plan", str(folder), "--rewrites", "error", "--raw"]) == 2
    assert "'+44509409120'" in capsys.readouterr().out
    for flags in (["--allow-spreadsheet-rewrites"], ["--rewrites", "send"]):
        main(["plan", str(folder), *flags])
        out = capsys.readouterr().out
        # Sent: a warning (the phone number without its + is still refused by its own pattern rule).
        assert "sent as written" in out and "pattern" in out
        assert "hint: spreadsheet rewrites" not in out
    (folder / "sessions.csv").write_text(f"checkout_session_id,metadata.a\n{S0},#REF!\n")
    assert main(["plan", str(folder), "--lists", "patch"]) == 2  # a formula error: refused, with no rewrite hint
    out = capsys.readouterr().out
    assert "spreadsheet_rewrite" in out and "hint: spreadsheet rewrites" not in out


def test_export_as_xlsx(env, tmp_path, capsys):
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(s["id"] for s in SEED[:3]) + "\n")
    assert main(["export", str(ids), "--out", str(tmp_path / "x"), "--format", "xlsx"]) == 0
    assert (tmp_path / "x" / "export.xlsx").is_file() and "workbook" in capsys.readouterr().out
    assert main(["plan", str(tmp_path / "x" / "export.xlsx")]) == 0


def test_the_progress_bar_redraws_at_most_ten_times_a_second(monkeypatch):
    monkeypatch.setenv("GR4VY_NB_PROGRESS", "1")
    sink = io.StringIO()
    monkeypatch.setattr(cli.sys, "stderr", sink)
    bar = cli._Bar("reading current state")
    started = time.monotonic()
    for done in range(1, 50_001):
        bar.fetch(done, 50_000)
    elapsed = time.monotonic() - started
    bar.close()
    assert bar.redraws <= 10 * elapsed + 2, (bar.redraws, elapsed)
    text = sink.getvalue()
    assert len(text) < 20_000  # 50,003 redraws wrote 8.3 MB
    last = text.strip().split("\r")[-1]
    assert "50000/50000" in last and ("session/s" in last or "s/session" in last)  # counts and rate


def test_cli_plan_refuses_stale_rows_and_ignore_stale_sends_them(env, tmp_path, capsys):
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{S0}\n")
    assert main(["export", str(ids), "--out", "export"]) == 0
    with Gr4vyClient(Settings.for_sandbox(env)) as c:
        airline = c.get_checkout_session(S0)["airline"]
        airline["passengers"][1]["first_name"] = "Other"
        c.update_checkout_session(S0, {"airline": airline})
    capsys.readouterr()
    assert main(["plan", "export"]) == 2
    out = capsys.readouterr().out
    assert "stale" in out and "passenger #1 has changed since this file was exported" in out and "Other" not in out
    assert "or add --ignore-stale to overwrite the changes" in out
    assert main(["apply", "export", "--ignore-stale", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "stale" in out and "ignored as asked" in out
    with Gr4vyClient(Settings.for_sandbox(env)) as c:
        assert c.get_checkout_session(S0)["airline"]["passengers"][1]["first_name"] == SEED[0]["airline"][
            "passengers"][1]["first_name"]  # overwritten, as asked
