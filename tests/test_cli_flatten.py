"""The CLI's side of issue 24: gr4vy-nb flatten (Parquet, CSV, bad lines, a progress bar in bytes, --cluster),
and gr4vy-nb report of the folder it writes."""

from __future__ import annotations

import gzip

import orjson
import pytest

from gr4vy_nb.cli import main
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from tests.paths import SAMPLE


def test_flatten_then_report(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GR4VY_NB_PROGRESS", "1")
    with gzip.open(tmp_path / "b.jsonl.gz", "wb") as fh:
        fh.write(SAMPLE.read_bytes())
    (tmp_path / "in").mkdir()
    renamed = [dict(orjson.loads(line), id=f"00000000-0000-4000-8000-{i:012d}")
               for i, line in enumerate(SAMPLE.read_bytes().splitlines())]
    (tmp_path / "in" / "a.jsonl").write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in renamed))
    assert main(["flatten", str(tmp_path / "in"), str(tmp_path / "*.gz"), "--out", str(tmp_path / "flat"),
                 "--memory-limit", "256MB"]) == 0
    captured = capsys.readouterr()
    assert "400 sessions" in captured.out and "2 file(s)" in captured.out
    assert "flatten" in captured.err and "B/s" in captured.err  # the bar: bytes read, rate
    back = SessionFrames.read_parquet(tmp_path / "flat")
    assert len(back) == 400 and back.select(back.sessions["checkout_session_id"][200:]).equals(
        flatten_sessions(SAMPLE))
    assert main(["report", str(tmp_path / "flat"), "--out", str(tmp_path / "r.html")]) == 0
    assert "400 sessions" in (tmp_path / "r.html").read_text()


def test_bad_lines_are_printed_with_file_and_line_and_exit_1(tmp_path, capsys) -> None:
    src = tmp_path / "a.jsonl"
    src.write_bytes(SAMPLE.read_bytes() + b"{oops\n")
    assert main(["flatten", str(src), "--out", str(tmp_path / "csv"), "--format", "csv"]) == 1
    captured = capsys.readouterr()
    assert f"{src}: line 201: not valid JSON" in captured.err
    assert "1 bad line(s)" in captured.out
    assert (tmp_path / "csv" / "sessions.csv").exists() and (tmp_path / "csv" / "_bad_lines.csv").exists()


@pytest.mark.parametrize(("args", "message"), [(["--memory-limit", "lots"], "memory size"),
                                               (["--cluster", "local:none"], "local:N")])
def test_bad_options_exit_2(tmp_path, capsys, args, message) -> None:
    assert main(["flatten", str(SAMPLE), "--out", str(tmp_path / "o"), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_source_exits_2(tmp_path, capsys) -> None:
    assert main(["flatten", str(tmp_path / "nothing.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "nothing.jsonl" in capsys.readouterr().err
