"""Archives larger than memory: JSON Lines in, the four tables out as Parquet datasets, and read back.

::

    >>> result = write_archive(["2026-11/*.jsonl.gz"], "archive/")     # what gr4vy-nb flatten runs
    >>> result.sessions, result.bad_lines                               # counts, and every line refused
    >>> read_tables("archive/", ids=run_ids, columns=["amount"])        # a subset back, filters pushed down

Layout of ``DIR``: one Parquet dataset (a folder of ``part-NNNNN.parquet`` files) per table,
``sessions/``, ``cart_items/``, ``legs/``, ``passengers/``, with exactly the columns, order and
types of :class:`~gr4vy_nb.tables.frames.SessionFrames` (every ``metadata.<key>`` of the whole
archive, in every file), then ``_flatten.json`` (counts, keys, bad lines), written last.

How it works (and why this engine): the sources are cut into *parts* (a file, or a byte range of
an uncompressed file, each owning the lines that start in it), each part is read a chunk at a
time and each chunk is flattened by :mod:`~gr4vy_nb.tables.flatten`'s own code, so a table read
back equals :func:`~gr4vy_nb.tables.frames.flatten_sessions` of the same sessions by construction
(``extra``, date-times, wrong types, nulls, empty lists). Memory holds one chunk per worker,
sized from the memory limit. Metadata keys differ from chunk to chunk, so a part's sessions are
staged (as Arrow IPC: no encoding twice) and rewritten once the keys of the whole archive are known
(:func:`finish_part`).
DuckDB's ``read_ndjson`` + one ``COPY`` per table (``metadata`` declared ``MAP(VARCHAR,
VARCHAR)``) is measured against this on the same file (``bench/archive.py``): faster (this path, two
parts at a time in threads, runs at 0.85-0.9x on 4M sessions; the difference is Arrow's JSON reader,
~70% of the CPU here), but it drops every field the declared schema does not name (no ``extra``: a
field this version does not know would be lost), silently casts values of the wrong type (``12.5``
to ``12``, ``"7"`` to ``7``) and parses date-times its own way, so its tables cannot equal
``flatten_sessions``'; exactness decided. DuckDB does the out-of-core reporting.

Bad lines (not JSON, or not an object) are never skipped silently: each is listed with its file
and line in :attr:`ArchiveResult.bad_lines` (and ``_bad_lines.csv``) and counted. Tables are
written under a temporary folder inside ``DIR`` and renamed into place only when complete, so an
interrupted run leaves no table that looks complete. Parts are independent: :mod:`gr4vy_nb.cluster`
maps the same :func:`flatten_part` and :func:`finish_part` over a Dask cluster.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from . import spec as F
from .files import write_table
from .flatten import CHUNK_BYTES, _jsonl_chunk, loads_json

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "ArchiveResult",
    "BadLine",
    "Part",
    "PartResult",
    "arrow_schema",
    "expand_sources",
    "finish_part",
    "flatten_part",
    "parse_memory",
    "plan_parts",
    "read_tables",
    "table_paths",
    "thread_mapper",
    "write_archive",
    "write_frames",
]

DEFAULT_MEMORY_LIMIT = 1 << 30
MANIFEST = "_flatten.json"
BAD_LINES = "_bad_lines.csv"
_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
_BAD_KEPT = 10_000  # bad lines listed in full per part (all are counted)
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def parse_memory(limit: int | str) -> int:
    """Bytes from ``1GB``, ``512MiB``, ``2g`` or an integer (GB = 10^9, GiB = 2^30)."""
    if isinstance(limit, int):
        return limit
    match = re.fullmatch(r"\s*([0-9.]+)\s*([kmgt]?i?b?)\s*", limit.lower())
    unit = match.group(2) if match else None
    if unit is not None and unit and not unit.endswith("b"):
        unit += "b"  # 2g, 512m
    if not match or unit not in _UNITS:
        raise ValueError(f"not a memory size: {limit!r} (e.g. 1GB, 512MiB)")
    return int(float(match.group(1)) * _UNITS[unit])


def _chunk_bytes(memory_limit: int, workers: int = 1) -> int:
    """JSON text read at a time: the process itself (~0.2 GiB with pandas and Arrow loaded) aside, the chunk,
    its parsed form and the tables built from it take ~8x the text at peak (measured: 0.32 GiB at 32 MB)."""
    per_process = memory_limit // max(workers, 1)
    return max(1 << 20, min(CHUNK_BYTES, (per_process - (200 << 20)) // 12))


# --------------------------------------------------------------------------- sources and parts


def expand_sources(sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files of ``sources``: files, folders (their JSONL and ``.gz`` files, recursively) and globs.

    Raises :class:`FileNotFoundError` naming a source that matches nothing.
    """
    items = [sources] if isinstance(sources, str | os.PathLike) else list(sources)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(_SUFFIXES))
        elif path.is_file():
            found = [path]
        else:
            found = [Path(p) for p in sorted(glob.glob(str(item), recursive=True)) if Path(p).is_file()]
        if not found:
            raise FileNotFoundError(f"{item}: no such file, or no JSON Lines file in it")
        files += found
    return files


@dataclass(frozen=True)
class Part:
    """Lines of one file: those starting in bytes ``[start, end)`` (``end`` None: to the end of the file)."""

    number: int
    path: str
    start: int = 0
    end: int | None = None
    size: int = 0  # bytes of the file this part covers (for progress)

    @property
    def gzipped(self) -> bool:
        return self.path.lower().endswith(".gz")


def plan_parts(files: Sequence[str | os.PathLike[str]], part_bytes: int | None = None) -> list[Part]:
    """Cut files into parts: whole files, or byte ranges of ``part_bytes`` (compressed files stay whole)."""
    parts: list[Part] = []
    for path in files:
        size = os.path.getsize(path)
        text = str(path)
        if part_bytes is None or text.lower().endswith(".gz") or size <= part_bytes:
            parts.append(Part(len(parts), text, 0, None, size))
            continue
        for start in range(0, size, part_bytes):
            end = min(size, start + part_bytes)
            parts.append(Part(len(parts), text, start, None if end == size else end, end - start))
    return parts


def _blocks(part: Part, chunk_bytes: int, tell: Callable[[int], None]) -> Iterator[tuple[memoryview, int]]:
    """The part's lines, about ``chunk_bytes`` of text at a time, and how many lines each holds.

    Each block is read into one reused buffer and completed to its line end, so no text is copied
    (the view is valid until the next block is asked for); ``tell`` is told of raw bytes read.
    """
    with open(part.path, "rb") as raw:
        fh: BinaryIO = gzip.GzipFile(fileobj=raw) if part.gzipped else raw  # type: ignore[assignment]
        at = part.start
        if part.start:
            raw.seek(part.start - 1)
            if raw.read(1) != b"\n":
                raw.readline()  # the line under way belongs to the part before
            at = raw.tell()
        reported = raw.tell()
        slack = 1 << 20
        buf = bytearray(chunk_bytes + slack)
        while True:
            want = chunk_bytes if part.end is None else min(chunk_bytes, part.end - at)
            n = 0
            with memoryview(buf) as whole:
                while n < want:
                    got = fh.readinto(whole[n:want])
                    if not got:
                        break
                    n += got
            if n == 0:
                return
            at += n
            data: bytes | bytearray = buf
            if buf[n - 1] != 0x0A:
                tail = fh.readline()  # the last line started in this block: it is ours to its end
                at += len(tail)
                if n + len(tail) <= len(buf):
                    buf[n:n + len(tail)] = tail
                else:  # a line longer than the slack: rare, copy
                    data = bytes(buf[:n]) + tail
                n += len(tail)
            now = raw.tell()
            tell(now - reported)
            reported = now
            lines = data.count(b"\n", 0, n) + (0 if data[n - 1] == 0x0A else 1)
            with memoryview(data) as view, view[:n] as block:
                yield block, lines


@dataclass(frozen=True)
class BadLine:
    """A line that is not a session: its file, its line number (1-based) and why."""

    file: str
    line: int
    reason: str


@dataclass
class PartResult:
    """What flattening one part gave: rows per table, lines, metadata keys, staged files, bad lines."""

    part: Part
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(F.TABLES, 0))
    lines: int = 0
    keys: set[str] = field(default_factory=set)
    stages: list[str] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)  # line numbers relative to the part until placed
    bad_count: int = 0


def _flatten_block(data: memoryview, path: str, first_line: int, result: PartResult) -> dict[str, pa.Table]:
    """Tables of one chunk of lines; lines that are not JSON objects are blanked, listed and counted."""
    try:
        return _jsonl_chunk(data, path, first_line)
    except ValueError:
        pass
    lines = bytes(data).split(b"\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = loads_json(line)
        except ValueError as exc:  # orjson's and json's decode errors are both ValueErrors
            reason = f"not valid JSON ({exc})"
        else:
            if isinstance(obj, dict):
                continue
            reason = f"a session must be a JSON object, not {type(obj).__name__}"
        result.bad_count += 1
        if len(result.bad) < _BAD_KEPT:
            result.bad.append(BadLine(path, first_line + i, reason))
        lines[i] = b""
    return _jsonl_chunk(b"\n".join(lines), path, first_line)


def arrow_schema(table: str, keys: Iterable[str] = ()) -> pa.Schema:
    """The Arrow schema of ``table`` as written: the spec's columns, order and types."""
    out = []
    for column in F.columns(table, keys):
        f = F.field_for(table, column)
        assert f is not None
        out.append(pa.field(column, f.arrow_type))
    return pa.schema(out)


def _conform(arrow: pa.Table, schema: pa.Schema) -> pa.Table:
    n = arrow.num_rows
    names = set(arrow.column_names)
    cols = [arrow.column(f.name).cast(f.type) if f.name in names else pa.nulls(n, f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def table_paths(directory: str | os.PathLike[str], table: str) -> Path:
    """The folder of ``table``'s dataset in an archive folder."""
    return Path(directory) / table


def _part_file(root: Path, table: str, part: Part) -> Path:
    return root / table / f"part-{part.number:05d}.parquet"


def flatten_part(part: Part, root: str | os.PathLike[str], chunk_bytes: int = CHUNK_BYTES,
                 progress: Callable[[int], None] | None = None) -> PartResult:
    """Flatten one part into ``root``: the child tables' files, the sessions staged (see :func:`finish_part`).

    ``progress`` is told of raw bytes read as they are read. Runs anywhere the files and ``root``
    are visible (a Dask worker included).
    """
    base = Path(root)
    result = PartResult(part)
    writers = {t: pq.ParquetWriter(_part_file(base, t, part), arrow_schema(t)) for t in F.CHILD_TABLES}
    first_line = 1
    try:
        for number, (block, lines) in enumerate(_blocks(part, chunk_bytes, progress or (lambda _n: None))):
            tables = _flatten_block(block, part.path, first_line, result)
            first_line += lines
            sessions = tables["sessions"]
            keys = [c[len(F.METADATA_PREFIX):] for c in sessions.column_names if c.startswith(F.METADATA_PREFIX)]
            result.keys.update(keys)
            # Staged as Arrow IPC (the memory layout itself: no encoding now, no decoding in finish_part).
            stage = base / "_stage" / f"part-{part.number:05d}-{number:05d}.arrow"
            staged = _conform(sessions, arrow_schema("sessions", keys))
            with pa.OSFile(str(stage), "wb") as sink, pa.ipc.new_file(sink, staged.schema) as ipc:
                ipc.write_table(staged)
            result.stages.append(str(stage))
            for table, arrow in tables.items():
                result.rows[table] += arrow.num_rows
                if table in writers:
                    writers[table].write_table(_conform(arrow, writers[table].schema))
            del tables, sessions
    finally:
        for writer in writers.values():
            writer.close()
    result.lines = first_line - 1
    return result


def finish_part(result: PartResult, root: str | os.PathLike[str], keys: Iterable[str]) -> int:
    """Rewrite a part's staged sessions with every metadata key of the archive; returns the rows written."""
    schema = arrow_schema("sessions", keys)
    rows = 0
    with pq.ParquetWriter(_part_file(Path(root), "sessions", result.part), schema) as writer:
        for stage in result.stages:
            with pa.memory_map(stage) as source:
                arrow = pa.ipc.open_file(source).read_all()
                writer.write_table(_conform(arrow, schema))
                rows += arrow.num_rows
                del arrow
            os.remove(stage)
    return rows


# --------------------------------------------------------------------------- the whole archive


@dataclass
class ArchiveResult:
    """What :func:`write_archive` wrote: where, how many rows per table, the metadata keys and the bad lines."""

    out: Path
    format: str
    rows: dict[str, int]
    metadata_keys: list[str]
    files: list[str]
    bytes_read: int
    bad_lines: list[BadLine]
    bad_count: int

    @property
    def sessions(self) -> int:
        return self.rows["sessions"]

    def summary(self) -> str:
        counts = ", ".join(f"{n:,} {t}" for t, n in self.rows.items())
        bad = f"; {self.bad_count:,} bad line(s) left out (listed in {BAD_LINES})" if self.bad_count else ""
        return f"{counts} from {len(self.files):,} file(s) into {self.out} ({self.format}){bad}"


Mapper = Callable[[Callable[..., Any], list[Any], Callable[[int], None]], list[Any]]


def _local_map(fn: Callable[..., Any], items: list[Any], progress: Callable[[int], None]) -> list[Any]:
    return [fn(item, progress=progress) for item in items]


def thread_mapper(threads: int) -> Mapper:
    """Parts run ``threads`` at a time in this process (Arrow parses and writes without holding the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    def run(fn: Callable[..., Any], items: list[Any], progress: Callable[[int], None]) -> list[Any]:
        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="flatten")
        try:
            return list(pool.map(lambda item: fn(item, progress=progress), items))
        finally:  # on an error or Ctrl-C the parts not started are dropped, not run to the end
            pool.shutdown(wait=True, cancel_futures=True)

    return run


def write_archive(sources: Any, out: str | os.PathLike[str], *, memory_limit: int | str = DEFAULT_MEMORY_LIMIT,
                  format: str = "parquet", progress: Callable[[int, int], None] | None = None,
                  mapper: Mapper | None = None, part_bytes: int | None = None, workers: int = 1,
                  chunk_bytes: int | None = None) -> ArchiveResult:
    """Flatten JSON Lines ``sources`` (files, folders, globs; ``.gz`` too) into the four tables in ``out``.

    ``format="parquet"`` writes one dataset per table (``out/sessions/`` ...); ``"csv"`` writes the
    CSV export format (``out/sessions.csv`` ...). Memory stays under ``memory_limit`` (bytes or
    ``"1GB"``) per process whatever the input size. ``progress(done_bytes, total_bytes)`` is
    called as the input is read. ``mapper`` runs the parts (default: one after another in this
    process; :mod:`gr4vy_nb.cluster` passes a Dask one) and ``part_bytes`` cuts uncompressed
    files into byte ranges; ``workers`` processes share the memory limit; ``chunk_bytes`` overrides
    the text read at a time (by default derived from the limit). Raises :class:`FileNotFoundError`
    for a source with no file.
    """
    if format not in ("parquet", "csv"):
        raise ValueError("format must be 'parquet' or 'csv'")
    chunk = chunk_bytes or _chunk_bytes(parse_memory(memory_limit), workers)
    files = expand_sources(sources)
    parts = plan_parts(files, part_bytes)
    total = sum(p.size for p in parts)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f".flatten-{uuid.uuid4().hex[:12]}.tmp"
    for sub in ("_stage", *F.TABLES):
        (tmp / sub).mkdir(parents=True)
    done = 0

    lock = threading.Lock()

    def step(n: int) -> None:
        nonlocal done
        with lock:  # parts may run in threads
            done += n
            if progress is not None:  # byte ranges overlap by the line each finishes past its end
                progress(min(done, total), total)

    try:
        if progress is not None:
            progress(0, total)
        run = mapper or _local_map
        results: list[PartResult] = run(_Flatten(str(tmp), chunk), parts, step)
        keys = sorted(set().union(*(r.keys for r in results)))
        run(_Finish(str(tmp), keys), results, lambda _n: None)
        bad, bad_count = _place_bad_lines(results)
        rows = {t: sum(r.rows[t] for r in results) for t in F.TABLES}
        for table in F.TABLES:  # a dataset even for a table no session fills
            if not any((tmp / table).iterdir()):
                pq.write_table(arrow_schema(table, keys).empty_table(), tmp / table / "part-00000.parquet")
        _publish(tmp, target, format)
        _write_bad_lines(target / BAD_LINES, bad)
        result = ArchiveResult(target, format, rows, keys, [str(f) for f in files], total, bad, bad_count)
        manifest = {"format": format, "rows": rows, "metadata_keys": keys, "files": result.files,
                    "bytes_read": total, "bad_lines": bad_count}
        (target / (MANIFEST + ".part")).write_text(json.dumps(manifest, indent=2))
        (target / (MANIFEST + ".part")).replace(target / MANIFEST)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class _Flatten:
    """:func:`flatten_part` with its settings bound (picklable, for Dask)."""

    root: str
    chunk_bytes: int

    def __call__(self, part: Part, progress: Callable[[int], None] | None = None) -> PartResult:
        return flatten_part(part, self.root, self.chunk_bytes, progress)


@dataclass(frozen=True)
class _Finish:
    root: str
    keys: list[str]

    def __call__(self, result: PartResult, progress: Callable[[int], None] | None = None) -> int:
        return finish_part(result, self.root, self.keys)


def _place_bad_lines(results: list[PartResult]) -> tuple[list[BadLine], int]:
    """Bad lines with line numbers in their file (parts of one file follow each other)."""
    before: dict[str, int] = {}
    out = []
    for r in results:
        offset = before.get(r.part.path, 0)
        out += [BadLine(b.file, b.line + offset, b.reason) for b in r.bad]
        before[r.part.path] = offset + r.lines
    return out, sum(r.bad_count for r in results)


def _write_bad_lines(path: Path, bad: list[BadLine]) -> None:
    if not bad:
        path.unlink(missing_ok=True)
        return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "line", "reason"])
        w.writerows((b.file, b.line, b.reason) for b in bad)


def _publish(tmp: Path, target: Path, format: str) -> None:
    """Move the finished tables into place: each appears whole, by a rename, or not at all."""
    shutil.rmtree(tmp / "_stage", ignore_errors=True)
    for table in F.TABLES:
        if format == "csv":
            staged = tmp / f"{table}.csv"
            _dataset_to_csv(tmp / table, staged)
            final: Path = target / f"{table}.csv"
            staged.replace(final)
        else:
            final = table_paths(target, table)
            if final.exists():
                old = tmp / f"{table}.old"
                final.replace(old)
            (tmp / table).replace(final)


def _dataset_to_csv(folder: Path, path: Path) -> None:
    """A table's dataset as the CSV export format, a record batch at a time (one header, one BOM)."""
    table = folder.name
    dataset = ds.dataset(folder, format="parquet")
    with open(path, "wb") as fh:
        header = io.BytesIO()
        write_table(_frame(table, dataset.schema.empty_table()), header, bom=True)
        fh.write(header.getvalue())
        skip = len(header.getvalue()) - 3  # the header line without the BOM
        for batch in dataset.to_batches(batch_size=50_000):
            buf = io.BytesIO()
            write_table(_frame(table, pa.Table.from_batches([batch])), buf, bom=False)
            fh.write(buf.getvalue()[skip:])


# --------------------------------------------------------------------------- reading back, writing frames


def _frame(table: str, arrow: pa.Table) -> pd.DataFrame:
    """An Arrow table of the archive as the pandas frame :class:`SessionFrames` holds (the spec's dtypes)."""
    data = {}
    for column in arrow.column_names:
        f = F.field_for(table, column)
        if f is None:
            raise ValueError(f"{table}: unknown column {column!r} in the archive")
        data[column] = F.to_pandas_array(arrow.column(column), f.kind)
    return pd.DataFrame(data, copy=False)


def read_tables(directory: str | os.PathLike[str], ids: Iterable[str] | None = None,
                columns: Sequence[str] | Mapping[str, Sequence[str]] | None = None) -> dict[str, pd.DataFrame]:
    """The four tables of an archive folder (or the sessions ``ids`` and a column subset), as pandas frames.

    The id filter and the column selection are pushed down to the Parquet reader (row groups whose
    id range misses are skipped, other columns are never read). ``columns``: names kept in every
    table that has them, or ``{table: names}``; key and index columns are always kept.
    """
    root = Path(directory)
    wanted = None if ids is None else pa.array(list(ids), pa.large_string())
    out = {}
    for table in F.TABLES:
        folder = table_paths(root, table)
        if not folder.is_dir():
            raise FileNotFoundError(f"{root}: no {table} table (not a folder written by gr4vy-nb flatten)")
        dataset = ds.dataset(folder, format="parquet")
        names = dataset.schema.names
        if columns is not None:
            chosen = columns.get(table, []) if isinstance(columns, Mapping) else columns
            always = [F.KEY, F.INDEX_COLUMNS.get(table, "")]
            names = [c for c in names if c in always or c in set(chosen)]
        flt = None if wanted is None else ds.field(F.KEY).isin(wanted)
        out[table] = _frame(table, dataset.to_table(columns=names, filter=flt))
    return out


def write_frames(tables: Mapping[str, pd.DataFrame], directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Write in-memory tables as an archive folder (one file per table), each renamed into place whole."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    keys = [c[len(F.METADATA_PREFIX):] for c in tables["sessions"].columns if c.startswith(F.METADATA_PREFIX)]
    tmp = root / f".write-{uuid.uuid4().hex[:12]}.tmp"
    paths = {}
    try:
        for table in F.TABLES:
            df = tables[table]
            schema = arrow_schema(table, keys if table == "sessions" else ())
            arrow = pa.Table.from_pandas(df, preserve_index=False)
            (tmp / table).mkdir(parents=True)
            pq.write_table(_conform(arrow, schema), tmp / table / "part-00000.parquet")
        for table in F.TABLES:
            final = table_paths(root, table)
            if final.exists():
                final.replace(tmp / f"{table}.old")
            (tmp / table).replace(final)
            paths[table] = final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return paths
