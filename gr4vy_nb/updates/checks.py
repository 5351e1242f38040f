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
* the ``error`` column that ``errors.csv`` adds is ignored, so that file can be uploaded again.

Each problem names the session of its row (``checkout_session_id``) when the row has one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..problems import Problems, Rule, Severity, concat
from ..tables import spec as F
from ..tables.files import CLEAR_TOKEN
from ..tables.masking import mask_value
from ..tables.reader import UploadTable, parse_cells
from .upload import Upload

__all__ = ["CLEAR_COLUMNS", "IGNORED_COLUMNS", "LONG_ZEROS", "SCIENTIFIC", "SERIAL", "check_upload"]

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


def _split_columns(t: UploadTable, found: Problems) -> list[str]:
    """The columns to type; the object/list columns' ``#N/A`` marks go to ``t.clears``."""
    keep = []
    for column in t.columns:
        if column in IGNORED_COLUMNS:
            continue
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
    upload.problems = with_sessions(concat(frames), upload)
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
        # Only the rows with problems are looked up (line numbers are unique in a file).
        rows = t.typed.index.get_indexer([int(lines[i]) for i in positions])
        keys = t.typed[F.KEY].to_numpy(dtype=object)
        for i, r in zip(positions, rows.tolist(), strict=True):
            if r >= 0 and isinstance(keys[r], str):
                ids[i] = keys[r]
    problems = problems.copy()
    problems["checkout_session_id"] = pd.array(ids, dtype="string")
    return problems
