"""Archives: JSON Lines -> the four tables as Parquet (or CSV) under a memory limit, and read back.

Every comparison is with :func:`flatten_sessions` of the same sessions in memory (the reference the
archive must equal), or with a plain DuckDB/pyarrow read of the files written.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest

from gr4vy_nb.tables import archive
from gr4vy_nb.tables.archive import (
    expand_sources,
    parse_memory,
    plan_parts,
    read_tables,
    thread_mapper,
    write_archive,
)
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions


def _odd_sessions(sample: list[dict]) -> list[dict]:
    """Sessions the columns cannot hold as they are: unknown fields, wrong types, nulls, empty lists."""
    a = dict(sample[0], id="00000000-0000-4000-8000-00000000000a", future_field={"x": [1, None]}, amount="12")
    a["cart_items"] = [dict(sample[0]["cart_items"][0], new_item_field=3, quantity=None)]
    b = {"type": "checkout-session", "id": "00000000-0000-4000-8000-00000000000b", "cart_items": [],
         "metadata": {}, "airline": None, "buyer": None, "expires_at": "2099-01-01T00:00:00.1234567+02:00"}
    c = {"type": "checkout-session", "id": "00000000-0000-4000-8000-00000000000c", "metadata": None,
         "expires_at": "next tuesday",
         "airline": {"legs": [], "passengers": [{"first_name": "Ann", "age_group": "adult", "odd": True}]}}
    return [a, b, c]


def _write(path: Path, sessions: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sessions))
    return path


@pytest.fixture(scope="module")
def archive_sessions(sample) -> list[dict]:
    """The sample 4 times (fresh ids), odd sessions in the middle, a metadata key only on the last line."""
    out = []
    for round_ in range(4):
        for i, s in enumerate(sample):
            out.append(dict(s, id=f"{round_:08d}-0000-4000-8000-{i:012d}"))
        if round_ == 1:
            out += _odd_sessions(sample)
    last = dict(out[-1])
    last["metadata"] = {**(last.get("metadata") or {}), "only_on_the_last_line": "yes"}
    out[-1] = last
    return out


def assert_same(a: SessionFrames, b: SessionFrames) -> None:
    for table in a.tables():
        x, y = a[table], b[table]
        assert list(x.columns) == list(y.columns), table
        assert list(x.dtypes) == list(y.dtypes), table
        assert x.reset_index(drop=True).equals(y.reset_index(drop=True)), table
    assert a.equals(b)


def test_parquet_equals_flatten_sessions_chunked_and_in_byte_ranges(tmp_path, archive_sessions) -> None:
    src = _write(tmp_path / "a.jsonl", archive_sessions)
    expected = flatten_sessions(archive_sessions)
    assert "metadata.only_on_the_last_line" in expected.sessions
    assert expected.sessions["extra"].notna().sum() >= 2 and expected.cart_items["extra"].notna().any()
    # 64 KiB chunks: ~25 chunks, so the key of the last line is first seen in the last chunk.
    whole = write_archive(src, tmp_path / "whole", chunk_bytes=1 << 16)
    assert whole.rows == {t: len(df) for t, df in expected.tables().items()}
    assert_same(SessionFrames.read_parquet(tmp_path / "whole"), expected)
    # Byte ranges that cut lines in the middle: every line is read once, by the part it starts in.
    parts = plan_parts([src], part_bytes=100_003)
    assert len(parts) > 5 and all(p.end is None or p.end - p.start == 100_003 for p in parts)
    write_archive(src, tmp_path / "ranges", chunk_bytes=1 << 15, part_bytes=100_003)
    assert_same(SessionFrames.read_parquet(tmp_path / "ranges"), expected)
    # The same parts two at a time in threads (what flatten_to_parquet does without a cluster).
    seen = []
    threaded = write_archive(src, tmp_path / "threads", chunk_bytes=1 << 15, part_bytes=100_003,
                             mapper=thread_mapper(2), workers=2, progress=lambda d, t: seen.append((d, t)))
    assert threaded.rows == whole.rows and seen[-1] == (src.stat().st_size, src.stat().st_size)
    assert_same(SessionFrames.read_parquet(tmp_path / "threads"), expected)
    # Every file of a table has every metadata key (a reader without schema merging sees them all).
    for f in (tmp_path / "ranges" / "sessions").iterdir():
        assert "metadata.only_on_the_last_line" in pq.read_schema(f).names


def test_folders_globs_and_gzip_in_file_order(tmp_path, archive_sessions) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    first, second = archive_sessions[:300], archive_sessions[300:]
    _write(folder / "a.jsonl", first)
    with gzip.open(folder / "sub" / "b.jsonl.gz", "wb") as fh:
        fh.write(b"".join(orjson.dumps(s) + b"\n" for s in second))
    (folder / "notes.txt").write_text("not an archive")
    assert [p.name for p in expand_sources(folder)] == ["a.jsonl", "b.jsonl.gz"]
    assert [p.name for p in expand_sources(str(folder / "**" / "*.jsonl*"))] == ["a.jsonl", "b.jsonl.gz"]
    result = write_archive([folder], tmp_path / "out", chunk_bytes=1 << 16)
    assert result.bytes_read == sum(p.stat().st_size for p in expand_sources(folder))
    assert_same(SessionFrames.read_parquet(tmp_path / "out"), flatten_sessions(archive_sessions))
    with pytest.raises(FileNotFoundError, match="nothing"):
        expand_sources([tmp_path / "nothing*.jsonl"])


def test_bad_lines_are_listed_with_file_and_line_and_counted(tmp_path, sample) -> None:
    good = [dict(s, id=f"00000000-0000-4000-8000-{i:012d}") for i, s in enumerate(sample)]
    lines = [orjson.dumps(s) for s in good]
    lines.insert(10, b'{"id": "broken", ')  # line 11
    lines.insert(150, b"[1, 2, 3]")  # line 151
    lines.append(b"")
    lines.append(b"not json at all")  # line 204, after an empty line
    src = tmp_path / "bad.jsonl"
    src.write_bytes(b"\n".join(lines))  # no newline at the end either
    result = write_archive(src, tmp_path / "out", chunk_bytes=1 << 15, part_bytes=50_000)
    assert result.bad_count == 3
    assert [(b.file, b.line) for b in result.bad_lines] == [(str(src), 11), (str(src), 151), (str(src), 204)]
    assert "JSON object" in result.bad_lines[1].reason and "not valid JSON" in result.bad_lines[0].reason
    listed = (tmp_path / "out" / archive.BAD_LINES).read_text().splitlines()
    assert listed[0] == "file,line,reason" and len(listed) == 4 and listed[3].startswith(f"{src},204,")
    assert json.loads((tmp_path / "out" / archive.MANIFEST).read_text())["bad_lines"] == 3
    assert_same(SessionFrames.read_parquet(tmp_path / "out"), flatten_sessions(good))


def test_an_interrupted_run_leaves_no_table_that_looks_complete(tmp_path, sample, monkeypatch) -> None:
    src = _write(tmp_path / "a.jsonl", sample)
    write_archive(src, tmp_path / "out")
    before = SessionFrames.read_parquet(tmp_path / "out")
    more = _write(tmp_path / "b.jsonl", [dict(s, id=f"00000000-0000-4000-8000-{i:012d}") for i, s in enumerate(sample)])
    real = archive.flatten_part
    calls = []

    def dies_on_the_second_part(part, *args, **kw):
        calls.append(part)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(part, *args, **kw)

    monkeypatch.setattr(archive, "flatten_part", dies_on_the_second_part)
    with pytest.raises(KeyboardInterrupt):
        write_archive([src, more], tmp_path / "out")
    # In threads too, and the parts not started are not run after the interruption.
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        write_archive([src, more, src, more, src], tmp_path / "out", mapper=thread_mapper(1))
    assert len(calls) < 5
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [archive.MANIFEST, "cart_items", "legs",
                                                                  "passengers", "sessions"]
    assert_same(SessionFrames.read_parquet(tmp_path / "out"), before)  # the previous run's tables, untouched


def test_read_parquet_pushes_down_ids_and_columns(tmp_path, archive_sessions) -> None:
    src = _write(tmp_path / "a.jsonl", archive_sessions)
    write_archive(src, tmp_path / "out", chunk_bytes=1 << 16)
    full = flatten_sessions(archive_sessions)
    ids = [archive_sessions[i]["id"] for i in (3, 250, 401, 799)] + ["not-there"]
    part = SessionFrames.read_parquet(tmp_path / "out", ids=ids)
    assert_same(part, full.select(ids, missing="ignore"))
    few = read_tables(tmp_path / "out", ids=ids[:2], columns=["amount", "quantity", "metadata.channel"])
    assert list(few["sessions"].columns) == ["checkout_session_id", "amount", "metadata.channel"]
    assert list(few["cart_items"].columns) == ["checkout_session_id", "item_index", "quantity"]
    assert list(few["legs"].columns) == ["checkout_session_id", "leg_index"]
    # The same answer from DuckDB reading the files on its own.
    con = duckdb.connect()
    glob = str(tmp_path / "out" / "cart_items" / "*.parquet")
    q = con.execute(f"SELECT sum(quantity), count(*) FROM read_parquet('{glob}') WHERE checkout_session_id IN (?, ?)",
                    ids[:2]).fetchone()
    assert q == (int(few["cart_items"]["quantity"].sum()), len(few["cart_items"]))


def test_to_parquet_round_trip(tmp_path, archive_sessions) -> None:
    frames = flatten_sessions(archive_sessions)
    paths = frames.to_parquet(tmp_path / "out")
    assert sorted(paths) == sorted(frames.tables())
    assert_same(SessionFrames.read_parquet(tmp_path / "out"), frames)
    frames.select(frames.sessions["checkout_session_id"][:5]).to_parquet(tmp_path / "out")  # replaced whole
    assert len(SessionFrames.read_parquet(tmp_path / "out")) == 5


def test_csv_format_is_the_export_format(tmp_path, archive_sessions) -> None:
    src = _write(tmp_path / "a.jsonl", archive_sessions)
    result = write_archive(src, tmp_path / "csv", format="csv", chunk_bytes=1 << 16)
    assert result.format == "csv"
    expected = flatten_sessions(archive_sessions).to_csv(tmp_path / "reference")
    for table, path in expected.items():
        assert (tmp_path / "csv" / f"{table}.csv").read_bytes() == path.read_bytes(), table
    assert not any(p.name.startswith(".") for p in (tmp_path / "csv").iterdir())


@pytest.mark.parametrize(("text", "expected"), [("1GB", 10**9), ("1GiB", 1 << 30), ("512MB", 512 * 10**6),
                                                 ("2g", 2 * 10**9), (12345, 12345), ("1.5 GB", 1_500_000_000)])
def test_parse_memory(text, expected) -> None:
    assert parse_memory(text) == expected


def test_parse_memory_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="memory size"):
        parse_memory("lots")
