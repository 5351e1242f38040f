"""Offline checks of an upload: every cell against the field spec, what ``#N/A`` may clear, spreadsheet damage.

:func:`check_upload` types every table of an :class:`~gr4vy_nb.updates.upload.Upload`
(:func:`gr4vy_nb.tables.reader.parse_cells`) and adds what only an update cares about, all
problems at once, nothing fetched or sent:

* columns named after an object or list of the session (``cart_items``, ``airline``,
  ``buyer``, ``metadata``, ``airline.legs``, ...) may only hold ``#N/A`` (clear it whole)
  (``clear_only``); ``#N/A`` may not clear a key, an index, a required field or ``extra``
  (``clear_not_allowed``);
* warnings where a spreadsheet has probably damaged a value: a long number in scientific
  notation (``scientific_notation``), more than 15 significant digits ending in zeros
  (``precision_loss``), an Excel date serial number in a date column (``excel_date_serial``);
* spreadsheet error values other than ``#N/A`` (``#VALUE!``, ``#REF!``, ...) are refused
  (``spreadsheet_rewrite``);
* a cell holding a masked display (``H*** #km4fhq``: what every table shows of personal data,
  :data:`gr4vy_nb.tables.masking.TOKEN_PATTERN`) is refused (``masked_value``): it is not the value;
* the ``error`` column that ``errors.csv`` adds is ignored, so that file can be uploaded again.

:func:`check_against_current` runs once the sessions are fetched (before the merge): every cell
whose text differs from the session's current value is compared with it, and one that is what
an editor (a spreadsheet, pandas) makes of the current value (the same number, date, boolean or
amount written differently, a text cut at 32,767 characters:
:func:`gr4vy_nb.tables.rewrites.rewrite_of`) is kept as the current value by default (nothing is
sent for it; a ``rewrite_kept`` warning a cell, one message per file and column), or refused
(``spreadsheet_rewrite``, ``rewrites="error"``, with advice for the editor the file evidently came
from), or sent as written
(``rewrites="send"``); the damage warnings above are dropped for the cells equal to their current
value (an unedited export gets none).

Each problem names the session of its row (``checkout_session_id``) when the row has one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..problems import Problems, Rule, Severity, concat
from ..tables import spec as F
from ..tables.cells import format_column
from ..tables.files import CLEAR_TOKEN
from ..tables.masking import HASH_TOKEN_PATTERN, TOKEN_PATTERN, mask_series, mask_style, mask_value
from ..tables.reader import UploadTable, parse_cells
from ..tables.rewrites import ERROR_PATTERN, clip, rewrite_of
from .states import Rewrites
from .upload import Upload

__all__ = ["CLEAR_COLUMNS", "DAMAGE_RULES", "IGNORED_COLUMNS", "LONG_ZEROS", "SCIENTIFIC", "SERIAL",
           "check_against_current", "check_upload",
           "editor_help"]

DAMAGE_RULES = frozenset({Rule.SCIENTIFIC_NOTATION, Rule.PRECISION_LOSS, Rule.EXCEL_DATE_SERIAL, Rule.LEADING_ZEROS})
"""The warnings of likely spreadsheet damage: dropped for cells equal to the current value."""

IGNORED_COLUMNS = frozenset({"error"})
"""Columns read and ignored: ``error`` is what ``errors.csv`` adds, so it can be uploaded again."""
CLEAR_COLUMNS = {c.column: c for c in F.containers("sessions")}
"""The columns of ``sessions.csv`` named after an object or list: ``#N/A`` there clears it whole."""

SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
LONG_ZEROS = re.compile(r"^\d{15}0+$")
SERIAL = re.compile(r"^\d{5}(?:[.,]\d+)?$")
# Either of the first two patterns with any space around (a superset of what utf8_trim_whitespace
# trims: Unicode separators, ASCII controls \t-\r and \x1c-\x1f, \x85): one pass over a column
# finds the few cells worth trimming and matching exactly.
_SPACE_CLASS = r"[\s\x0b\x1c-\x1f\x85\x{180E}\p{Z}]*"
_DAMAGE_LOOSE = rf"^{_SPACE_CLASS}(?:{SCIENTIFIC.pattern[1:-1]}|{LONG_ZEROS.pattern[1:-1]}){_SPACE_CLASS}$"


def _arrow(series: pd.Series) -> pa.Array:
    arr = pa.array(series.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _excel_serial(text: str) -> str:
    serial = float(text.replace(",", "."))
    when = datetime(1899, 12, 30, tzinfo=UTC) + timedelta(days=serial)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if serial % 1 else when.strftime("%Y-%m-%d")


def _damage_message(rule: str, value: str, f: F.Field) -> str:
    if rule == Rule.SCIENTIFIC_NOTATION:
        return (f"{value!r} looks like a long number a spreadsheet turned into scientific notation "
                "(digits are lost); format the column as Text and type the full value")
    if rule == Rule.PRECISION_LOSS:
        return (f"{value!r} has more than 15 digits ending in zeros: a spreadsheet keeps only 15 "
                "significant digits, so the last ones may have been lost")
    # The date itself is not shown for personal columns (a date of birth).
    would = "" if f.personal else f" (it would be {_excel_serial(value.strip())})"
    shown = "this" if f.personal else repr(value)
    return (f"{shown} looks like an Excel date serial number{would}; format the column as Text and write the date "
            "as text")


def _damage_warnings(t: UploadTable, column: str, f: F.Field, found: Problems) -> None:
    """Warnings for text a spreadsheet has probably mangled (regexes run column-wise, in Arrow).

    Only the cells that can match are looked at closely: for text, those a single loose
    pattern finds (any surrounding space allowed); for dates, those that did not parse (a
    date or date-time that parses never looks like a serial number).
    """
    raw = _arrow(t.text[column])
    if f.kind == "str":
        patterns = [(Rule.SCIENTIFIC_NOTATION, SCIENTIFIC.pattern), (Rule.PRECISION_LOSS, LONG_ZEROS.pattern)]
        rows = np.flatnonzero(np.asarray(pc.fill_null(pc.match_substring_regex(raw, _DAMAGE_LOOSE), False),
                                         dtype=bool))
    else:
        patterns = [(Rule.EXCEL_DATE_SERIAL, SERIAL.pattern)]
        assert t.typed is not None
        rows = np.flatnonzero(t.text[column].notna().to_numpy(dtype=bool) & t.typed[column].isna().to_numpy(dtype=bool))
    cleared = t.cleared[column].to_numpy(dtype=bool)
    rows = rows[~cleared[rows]]
    if not len(rows):
        return
    text = pc.utf8_trim_whitespace(raw.take(pa.array(rows)).cast(pa.string()))
    for rule, pattern in patterns:
        hits = rows[np.asarray(pc.fill_null(pc.match_substring_regex(text, pattern), False), dtype=bool)]
        for r in hits.tolist():
            value = t.text[column].iloc[r]
            found.add(rule, _damage_message(rule, value, f), file=t.file, line=t.text.index[r], column=column,
                      value=value, severity=Severity.WARNING, table=t.table)


def _error_values(t: UploadTable, column: str, found: Problems) -> None:
    """Spreadsheet error values (a formula that failed) are refused: they are not values."""
    raw = _arrow(t.text[column])
    if not len(raw):
        return
    hits = np.asarray(pc.fill_null(pc.match_substring_regex(raw, ERROR_PATTERN, ignore_case=True), False), dtype=bool)
    hits &= ~t.cleared[column].to_numpy(dtype=bool)
    for r in np.flatnonzero(hits).tolist():
        value = t.text[column].iloc[r]
        found.add(Rule.SPREADSHEET_REWRITE, f"{value.strip()!r} is a spreadsheet error (a formula that failed), not a "
                  f"value: fix the formula or type the value (leave the cell empty to keep the current value, "
                  f"{CLEAR_TOKEN} to clear it)", file=t.file, line=t.text.index[r], column=column, table=t.table)


MASKED_MESSAGE = ("this is the masked display of a value (what tables show of personal data), not the value: "
                  "leave the cell empty to keep the current value, or type the real value")


def _masked_values(t: UploadTable, column: str, found: Problems) -> None:
    """A masked display handed back (a copy of a shown table) is refused cell by cell: it is never data."""
    raw = _arrow(t.text[column])
    if not len(raw):
        return
    hits = np.asarray(pc.fill_null(pc.match_substring_regex(raw, TOKEN_PATTERN), False), dtype=bool)
    if mask_style(column, t.table) == "hash":
        hits |= np.asarray(pc.fill_null(pc.match_substring_regex(raw, HASH_TOKEN_PATTERN), False), dtype=bool)
    for r in np.flatnonzero(hits).tolist():
        found.add(Rule.MASKED_VALUE, MASKED_MESSAGE, file=t.file, line=t.text.index[r], column=column,
                  value=t.text[column].iloc[r], table=t.table)


def _split_columns(t: UploadTable, found: Problems) -> list[str]:
    """The columns to type; the object/list columns' ``#N/A`` marks go to ``t.clears``."""
    keep = []
    for column in t.columns:
        if column in IGNORED_COLUMNS:
            continue
        _error_values(t, column, found)
        _masked_values(t, column, found)
        if t.table == "sessions" and column in CLEAR_COLUMNS:
            cells = t.text[column]
            cleared = t.cleared[column].to_numpy(dtype=bool)
            bad = cells.notna().to_numpy(dtype=bool) & ~cleared
            for line, value in zip(t.text.index[bad], cells[bad], strict=True):
                found.add(Rule.CLEAR_ONLY, f"{column} is a whole object or list: only {CLEAR_TOKEN} (clear it) or an "
                          "empty cell is accepted here; set its fields in their own columns", file=t.file, line=line,
                          column=column, value=value, table=t.table)
            t.clears[column] = cleared
            continue
        keep.append(column)
    return keep


def _clear_refusal(t: UploadTable, column: str, f: F.Field) -> str | None:
    """Why ``#N/A`` may not clear this column, or ``None`` when it may."""
    if f.role in ("key", "index"):
        return f"{column} identifies the row; it cannot be {CLEAR_TOKEN}"
    if f.required:
        return f"{column} is required for each {t.table[:-1].replace('_', ' ')}; it cannot be cleared"
    if f.role == "extra":
        return "extra is read-only; it cannot be cleared"
    return None


def _check_table(t: UploadTable, found: Problems) -> pd.DataFrame:
    """Type one table (``t.typed``) and check what its cells may do; returns its cell problems."""
    keep = _split_columns(t, found)
    parsed = parse_cells(t.table, t.text[keep], file=t.file, cleared=t.cleared[keep])
    t.typed = typed = parsed.frame
    if F.KEY in typed:  # ids compare as the API writes them: in lower case
        typed[F.KEY] = pd.Series(pd.arrays.ArrowStringArray(pc.utf8_lower(_arrow(typed[F.KEY])).cast(
            pa.large_string())), index=typed.index, name=F.KEY)
    for column in keep:
        f = F.field_for(t.table, column)
        if f is None:
            continue
        cleared = t.cleared[column].to_numpy(dtype=bool)
        reason = _clear_refusal(t, column, f) if cleared.any() else None
        if reason:
            for line in t.text.index[cleared]:
                found.add(Rule.CLEAR_NOT_ALLOWED, reason, file=t.file, line=line, column=column, value=CLEAR_TOKEN,
                          table=t.table)
        if f.kind in ("str", "datetime", "date"):
            _damage_warnings(t, column, f, found)
    return parsed.problems


def check_upload(upload: Upload) -> Upload:
    """Check every cell of every table offline; fill ``typed`` and ``problems`` (returned for chaining).

    Nothing is fetched or sent. Problems carry file, line, column, the value (masked when
    personal), the rule broken, a message and a severity (``error`` blocks, ``warning`` not).
    """
    if upload.checked:
        return upload
    found = Problems(mask=mask_value)
    frames = [upload.problems]
    for t in upload.tables.values():
        frames.append(_check_table(t, found))
    frames.append(found.frame())
    problems = concat(frames)
    # A masked display is named as such, before what the cell rules make of its text (one error per cell).
    first = (problems["rule"] == Rule.MASKED_VALUE).to_numpy(dtype=bool)
    problems = pd.concat([problems[first], problems[~first]], ignore_index=True) if first.any() else problems
    upload.problems = with_sessions(problems, upload)
    upload.checked = True
    return upload


def with_sessions(problems: pd.DataFrame, upload: Upload) -> pd.DataFrame:
    """``problems`` with ``checkout_session_id`` filled from the row each is on (where it is empty)."""
    if not len(problems):
        return problems
    ids = problems["checkout_session_id"].astype(object).tolist()
    files = problems["file"].tolist()
    lines = problems["line"].tolist()
    wanted: dict[str, list[int]] = defaultdict(list)  # file -> problems to look up
    for i, line in enumerate(lines):
        if not isinstance(ids[i], str) and line is not pd.NA and line is not None:
            wanted[files[i]].append(i)
    tables = {t.file: t for t in upload.tables.values() if t.typed is not None and F.KEY in t.typed}
    for file, positions in wanted.items():
        t = tables.get(file)
        if t is None:
            continue
        assert t.typed is not None
        # Only the rows with problems are looked up (line numbers are unique in a file). The id is quoted as
        # the user wrote it (a problem names their cell), not as the comparison lower-cases it.
        rows = t.typed.index.get_indexer([int(lines[i]) for i in positions])
        keys = t.typed[F.KEY].to_numpy(dtype=object)
        if F.KEY in t.text.columns and t.text.index.equals(t.typed.index):
            written = t.text[F.KEY].to_numpy(dtype=object)
            keys = [w.strip() if isinstance(w, str) and isinstance(k, str) else k
                    for w, k in zip(written, keys, strict=True)]
        for i, r in zip(positions, rows.tolist(), strict=True):
            if r >= 0 and isinstance(keys[r], str):
                ids[i] = keys[r]
    problems = problems.copy()
    problems["checkout_session_id"] = pd.array(ids, dtype="string")
    return problems


# --------------------------------------------------------------------------- against the current state


_SPREADSHEET_HELP = ("import the file with this column as Text (LibreOffice: tick 'Format quoted field as text' or "
                     "set the column type to Text; Excel: Data > From Text/CSV, column type Text) or edit the XLSX "
                     "export")
_PANDAS_HELP = ("read the file with SessionFrames.read_csv (typed, lossless) or pd.read_csv(f, dtype=str, "
                "keep_default_na=False)")
_PANDAS_LOOK = re.compile(r"^(?:[+-]?\d+\.0|True|False|[+-]?\d(?:\.\d+)?e[+-]\d+)$")
"""Text pandas writes and a spreadsheet does not: integers as floats, Python's booleans, lower-case exponents."""


def editor_help(editor: str) -> str:
    """How to keep an editor from rewriting values (``editor``: ``pandas`` or ``spreadsheet``)."""
    return _PANDAS_HELP if editor == "pandas" else _SPREADSHEET_HELP


def _editor(news: list[str]) -> str:
    """The editor a file's rewritten cells evidently came from: ``pandas`` or ``spreadsheet``."""
    return "pandas" if any(_PANDAS_LOOK.match(n.strip()) for n in news) else "spreadsheet"


def _current_rows(t: UploadTable, current: pd.DataFrame) -> np.ndarray:
    """The row of ``current`` (flattened current sessions) each uploaded row is about (``-1``: none)."""
    assert t.typed is not None
    n = len(t.typed)
    if not n or not len(current) or F.KEY not in t.typed:
        return np.full(n, -1, dtype=np.int64)
    keys = pc.utf8_lower(_arrow(t.typed[F.KEY]).cast(pa.string()))
    ckeys = pc.utf8_lower(_arrow(current[F.KEY]).cast(pa.string()))
    if t.table == "sessions":
        return np.asarray(pc.fill_null(pc.index_in(keys, value_set=ckeys), -1), dtype=np.int64)
    index = F.CHILD_TABLES[t.table].index
    if index not in t.typed or index not in current:
        return np.full(n, -1, dtype=np.int64)
    # Both sides keyed by one text, "session|index": only rows with an index have a current element.
    def joined(k: pa.Array, i: pd.Series) -> pa.Array:
        idx = pa.array(i.astype("Int64").array).cast(pa.string())
        return pc.binary_join_element_wise(k, idx, "|")
    found = pc.index_in(joined(keys, t.typed[index]), value_set=joined(ckeys, current[index]))
    return np.asarray(pc.fill_null(found, -1), dtype=np.int64)


def _text_at(column: pd.Series, rows: np.ndarray) -> pa.Array:
    """The column as an export writes it (text), at ``rows`` (``-1``: null)."""
    text, _free = format_column(column)
    take = pa.array(np.where(rows >= 0, rows, 0))
    out = text.take(take) if len(text) else pa.nulls(len(rows), pa.string())
    return pc.if_else(pa.array(rows >= 0), out, pa.scalar(None, pa.string())).cast(pa.string())


@dataclass
class _Rewritten:
    """The rewritten cells of one table found against the current values: ``(row, column, new, old, how)``."""

    t: UploadTable
    keys: np.ndarray
    cells: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    equal: set[tuple[int, str]] = field(default_factory=set)  # cells whose typed value is the current one


def _compare_table(t: UploadTable, current: pd.DataFrame, unchanged: set[tuple[str, int, str]],
                   damage: dict[tuple[str, str], list[int]]) -> _Rewritten | None:
    rows = _current_rows(t, current)
    if not (rows >= 0).any():
        return None
    assert t.typed is not None
    keys = t.typed[F.KEY].to_numpy(dtype=object) if F.KEY in t.typed else np.full(len(rows), None)
    out = _Rewritten(t, keys)
    for column in t.columns:
        f = F.field_for(t.table, column)
        if f is None or f.role in ("key", "index") or column not in current:
            continue
        u = _arrow(t.text[column]).cast(pa.string())
        c = _text_at(current[column], rows)
        cleared = t.cleared[column].to_numpy(dtype=bool)
        warned = damage.get((t.file, column), [])
        if warned:  # only the cells with a damage warning are looked up
            same = np.asarray(pc.fill_null(pc.equal(u, c), False), dtype=bool)
            positions = t.text.index.get_indexer(warned)
            unchanged.update((t.file, line, column) for line, r in zip(warned, positions.tolist(), strict=True)
                             if r >= 0 and same[r])
        differs = np.asarray(pc.fill_null(pc.not_equal(u, c), False), dtype=bool) & ~cleared
        equal = np.zeros(len(differs), dtype=bool)
        if f.kind != "str" and column in t.typed and differs.any():
            # A typed cell whose value is the current one changes nothing (4200 and 4200.0 are one amount).
            typed_text, _ = format_column(t.typed[column])
            equal = np.asarray(pc.fill_null(pc.equal(typed_text.cast(pa.string()), c), False), dtype=bool)
        positions = np.flatnonzero(differs)
        if not len(positions):
            continue
        take = pa.array(positions)
        for r, new, old in zip(positions.tolist(), u.take(take).to_pylist(), c.take(take).to_pylist(), strict=True):
            how = rewrite_of(old, new)
            if how is not None:
                out.cells.append((r, column, new, old, how))
                if equal[r]:
                    out.equal.add((r, column))
    return out


def _refuse_or_send(found: _Rewritten, rewrites: str, problems: Problems) -> None:
    """``error``: each rewritten cell refused, with the advice for the editor the file came from; ``send``: a
    warning each (the text is sent as written). Cells whose typed value is the current one change nothing."""
    t = found.t
    lines = t.text.index.to_numpy()
    help_ = editor_help(_editor([new for _r, _c, new, _o, _h in found.cells]))
    for r, column, new, old, how in found.cells:
        if (r, column) in found.equal:
            continue
        shown_old = clip(str(mask_value(column, old, t.table)))
        shown_new = clip(str(mask_value(column, new, t.table)))
        if rewrites == Rewrites.SEND:
            message = (f"{shown_new} is what an editor makes of the current value {shown_old} ({how}); sent "
                       "as written (rewrites are sent as written for this plan)")
        else:
            message = (f"{shown_new} is what an editor makes of the current value {shown_old} ({how}), not an "
                       f"edit; nothing is sent while it stands. To keep the current value, {help_}; "
                       "if you mean it, plan again sending rewrites as written")
        problems.add(Rule.SPREADSHEET_REWRITE, message, file=t.file, line=int(lines[r]), column=column,
                     value=mask_value(column, new, t.table),
                     severity=Severity.WARNING if rewrites == Rewrites.SEND else Severity.ERROR,
                     session_id=found.keys[r] if isinstance(found.keys[r], str) else None)


def _keep(found: _Rewritten) -> tuple[pd.DataFrame, set[tuple[str, int, str]]]:
    """Each rewritten cell keeps the current value (its typed cell emptied: nothing is sent for it).

    Returns a ``rewrite_kept`` warning per cell, every cell of a column with the column's one message
    (so a grouped display says it once per file and column), and the cells kept, whose other problems
    (``1.23E+12`` is no integer) no longer stand.
    """
    t = found.t
    assert t.typed is not None
    lines = t.text.index.to_numpy()
    by_column: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for r, column, new, old, _how in found.cells:
        by_column[column].append((r, new, old))
    kept: set[tuple[str, int, str]] = set()
    parts = []
    for column, cells in by_column.items():
        rows = np.asarray([r for r, _n, _o in cells], dtype=np.int64)
        if column in t.typed:
            empty = np.zeros(len(t.typed), dtype=bool)
            empty[rows] = True
            t.typed[column] = t.typed[column].mask(empty)
        kept.update((t.file, int(line), column) for line in lines[rows].tolist())
        r, new, old = cells[0]
        shown_old = clip(str(mask_value(column, old, t.table)))
        shown_new = clip(str(mask_value(column, new, t.table)))
        n = len(cells)
        cells_hold = "cell holds" if n == 1 else "cells hold"
        message = (f"{t.file} {column}: {n:,} {cells_hold} the current value as an editor rewrote it (e.g. line "
                   f"{int(lines[r])} {shown_new} for {shown_old}): kept as they are, nothing is sent for them")
        news = pd.Series([new for _r, new, _o in cells], dtype="string")
        style = mask_style(column, t.table)
        keys = found.keys[rows]
        parts.append(pd.DataFrame({
            "file": t.file, "line": lines[rows], "column": column,
            "value": news if style is None else mask_series(news, style), "rule": str(Rule.REWRITE_KEPT),
            "message": message, "severity": str(Severity.WARNING),
            "checkout_session_id": [k if isinstance(k, str) else None for k in keys.tolist()]}))
    return concat(parts), kept


def check_against_current(upload: Upload, frames: Any, *, rewrites: str = Rewrites.KEEP) -> pd.DataFrame:
    """Compare every changed cell with the session's current value; the upload's problems, updated.

    ``frames`` is the current sessions flattened (:func:`~gr4vy_nb.tables.frames.flatten_sessions`).
    A cell whose new text is what an editor makes of the current value (:func:`rewrite_of`) is, by
    ``rewrites`` (:class:`~gr4vy_nb.updates.states.Rewrites`): ``keep``, the current value kept (its
    typed cell emptied, so nothing is sent for it; its other problems dropped) with a ``rewrite_kept``
    warning a cell, one message per file and column; ``error``, a ``spreadsheet_rewrite`` error;
    ``send``, sent as written with a ``spreadsheet_rewrite`` warning. The damage warnings of cells
    equal to their current value are dropped. The upload's own problems are replaced too.
    """
    if not upload.checked:
        check_upload(upload)
    rewrites = Rewrites(rewrites)
    found = Problems()  # values are masked here, so that messages quote only masked text
    problems = upload.problems
    damage: dict[tuple[str, str], list[int]] = defaultdict(list)  # (file, column) -> lines with a damage warning
    if len(problems):
        hit = problems[problems["rule"].isin(list(DAMAGE_RULES)) & problems["line"].notna()]
        for file, line, column in zip(hit["file"], hit["line"], hit["column"], strict=True):
            damage[(str(file), str(column))].append(int(line))
    unchanged: set[tuple[str, int, str]] = set()
    kept: set[tuple[str, int, str]] = set()
    kept_warnings: list[pd.DataFrame] = []
    for t in upload.tables.values():
        if t.typed is None or not len(t.text):
            continue
        rewritten = _compare_table(t, frames[t.table], unchanged, damage)
        if rewritten is None or not rewritten.cells:
            continue
        if rewrites == Rewrites.KEEP:
            warnings, cells = _keep(rewritten)
            kept_warnings.append(warnings)
            kept |= cells
        else:
            _refuse_or_send(rewritten, rewrites, found)
    if unchanged or kept:
        def stands(file: Any, line: Any, column: Any, rule: Any) -> bool:
            if not isinstance(line, int | np.integer):
                return True
            cell = (str(file), int(line), str(column))
            return not (cell in kept or (rule in DAMAGE_RULES and cell in unchanged))
        keep = [stands(*row) for row in zip(problems["file"], problems["line"].astype(object), problems["column"],
                                            problems["rule"], strict=True)]
        problems = problems[np.asarray(keep, dtype=bool)].reset_index(drop=True)
    # First: of two errors on one cell (14/03/2062 in a date column), the one saying why is kept.
    upload.problems = concat([found.frame(), problems, *kept_warnings])
    return upload.problems
