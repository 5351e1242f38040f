"""The problems table: what is wrong with an input, where (file, line, column) and by which rule.

Everything that checks the user's input reports into one table of failure cases, all at once
(pandera's ``lazy=True``), built here and nowhere else:

=======================  ======================================================================
column                   holds
=======================  ======================================================================
``file``                 the file's name as the user knows it (``sessions.csv``)
``line``                 the file line (the header is line 1); ``<NA>`` for a whole file
``column``               the column's name, or ``<NA>``
``value``                the offending cell as text, **masked** when the column is personal
``rule``                 a :class:`Rule` code, or ``api.<type>`` when the update schema refused
                         a body (``<type>`` is pydantic's error type, e.g. ``string_too_long``)
``message``              what is wrong and what to do, in words; personal values masked too
``severity``             :class:`Severity`: ``error`` blocks sending, ``warning`` does not
``checkout_session_id``  the session the problem concerns, when known
=======================  ======================================================================

Build with :class:`Problems` (one row at a time, masked as it is added) and read with
:func:`frame`, :func:`errors`, :func:`first_problem` and :func:`ordered`; :func:`refuse`
turns a table with errors into the :class:`~gr4vy_nb.errors.InputError` that carries it.
:func:`summarise` groups a table by file, column and rule (what every display shows first: a count,
the first lines and their range, an example value, one message); the table itself lists every cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from functools import cache
from typing import Any

import pandas as pd

from .errors import InputError

__all__ = [
    "COLUMNS",
    "SUMMARY_COLUMNS",
    "Problems",
    "Rule",
    "Severity",
    "api_rule",
    "concat",
    "describe_problems",
    "errors",
    "first_problem",
    "frame",
    "has_errors",
    "line_span",
    "location",
    "mask_message",
    "ordered",
    "refuse",
    "summarise",
]


class Severity(StrEnum):
    """How bad a problem is: an ``error`` blocks sending anything; a ``warning`` is for the user to judge."""

    ERROR = "error"
    WARNING = "warning"


class Rule(StrEnum):
    """The rule a problem breaks (the ``rule`` column); see :func:`api_rule` for the update schema's own."""

    # the file itself
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    BINARY = "binary"
    ENCODING = "encoding"
    DELIMITER = "delimiter"
    CSV = "csv"
    RAGGED_ROW = "ragged_row"
    TOO_MANY_ROWS = "too_many_rows"
    TOO_MANY_COLUMNS = "too_many_columns"
    CELL_TOO_LONG = "cell_too_long"
    UNBALANCED_QUOTE = "unbalanced_quote"
    EMPTY_HEADER = "empty_header"
    DUPLICATE_HEADER = "duplicate_header"
    # the set of files
    MISSING_FILE = "missing_file"
    UNREADABLE = "unreadable"
    DUPLICATE_FILE = "duplicate_file"
    NO_ROWS = "no_rows"
    # cells and keys
    UNKNOWN_COLUMN = "unknown_column"
    REQUIRED = "required"
    DUPLICATE_KEY = "duplicate_key"
    TYPE_INTEGER = "type.integer"
    TYPE_NUMBER = "type.number"
    TYPE_BOOLEAN = "type.boolean"
    DATETIME_FORMAT = "datetime_format"
    DATE_FORMAT = "date_format"
    MIN_LENGTH = "min_length"
    MAX_LENGTH = "max_length"
    PATTERN = "pattern"
    UUID = "uuid"
    SPACES_TRIMMED = "spaces_trimmed"  # an id with spaces around it: trimmed (a warning)
    DUPLICATE_ID = "duplicate_id"  # an id listed again in a list of ids: dropped (a warning)
    ENUM = "enum"
    LIST_FORMAT = "list_format"
    JSON = "json"
    MINIMUM = "minimum"
    MAXIMUM = "maximum"
    MAX_ITEMS = "max_items"
    # what a cell may do to the session
    CLEAR_ONLY = "clear_only"
    CLEAR_NOT_ALLOWED = "clear_not_allowed"
    READ_ONLY = "read_only"
    CONTRADICTION = "contradiction"
    DESTRUCTIVE = "destructive"  # list elements removed, a field cleared: a warning that needs consent
    # what a spreadsheet probably did (warnings)
    SCIENTIFIC_NOTATION = "scientific_notation"
    PRECISION_LOSS = "precision_loss"
    EXCEL_DATE_SERIAL = "excel_date_serial"
    LEADING_ZEROS = "leading_zeros"
    # what a spreadsheet did to a value, seen against the current one (errors)
    SPREADSHEET_REWRITE = "spreadsheet_rewrite"
    REWRITE_KEPT = "rewrite_kept"  # cells holding the current value as an editor rewrote it: kept (a warning)
    # a masked display handed back: never data
    MASKED_VALUE = "masked_value"
    NOT_A_TABLE = "not_a_table"
    # the sessions named
    STALE = "stale"  # the row's element changed since the export (its row_version differs): not merged
    NOT_FOUND = "not_found"
    FETCH_FAILED = "fetch_failed"


def api_rule(error_type: str) -> str:
    """The rule of a body the update schema refused: ``api.`` + pydantic's error type (``api.string_too_long``)."""
    return f"api.{error_type}"


COLUMNS: tuple[str, ...] = ("file", "line", "column", "value", "rule", "message", "severity", "checkout_session_id")
"""The columns of every problems table, in order."""
_DTYPES = {c: ("Int64" if c == "line" else "string") for c in COLUMNS}

Mask = Callable[[str, Any, "str | None"], Any]
"""``mask(column, value, table)``: the value as it may be shown (see :func:`gr4vy_nb.tables.masking.mask_value`)."""


def mask_message(message: str, value: Any, masked: Any) -> str:
    """``message`` with every quotation of ``value`` replaced by ``masked``.

    Messages quote values as ``repr`` (``'Smith'``), as the inside of a ``repr`` (escapes such
    as ``\\n`` spelled out) or as the bare text; all three are replaced.
    """
    if value is None or masked == value:
        return message
    text, shown = str(value), str(masked)
    if not text:
        return message
    quoted = repr(text)
    return message.replace(quoted, repr(shown)).replace(quoted[1:-1], shown).replace(text, shown)


class Problems:
    """Problems collected one at a time, then read as one table (:meth:`frame`).

    Args:
        mask: how to show a cell's value (``mask(column, value, table)``); values of personal
            columns are masked in ``value`` and wherever the message quotes them. ``None``
            leaves values as they are (for problems that quote no personal value).

    Example::

        found = Problems(mask=mask_value)
        found.add(Rule.UUID, "'x' is not a UUID", file="sessions.csv", line=2, column="checkout_session_id",
                  value="x")
        found.frame()
    """

    def __init__(self, mask: Mask | None = None) -> None:
        self._mask = mask
        self._rows: list[dict[str, Any]] = []

    def add(self, rule: str, message: str, *, file: str | None = None, line: Any = None, column: str | None = None,
            value: Any = None, severity: str = Severity.ERROR, session_id: str | None = None,
            table: str | None = None) -> None:
        """Add one problem (``table`` says which table ``column`` belongs to, for masking)."""
        if value is not None and column is not None and self._mask is not None:
            masked = self._mask(column, value, table)
            message = mask_message(message, value, masked)
            value = masked
        self._rows.append({"file": file, "line": None if line is None or line is pd.NA else int(line),
                           "column": column, "value": None if value is None else str(value), "rule": str(rule),
                           "message": message, "severity": str(severity), "checkout_session_id": session_id})

    def warn(self, rule: str, message: str, **where: Any) -> None:
        """Add a warning (see :meth:`add`)."""
        self.add(rule, message, severity=Severity.WARNING, **where)

    def extend(self, other: Problems | pd.DataFrame) -> None:
        """Add the rows of another builder or table, as they are (already masked)."""
        if isinstance(other, Problems):
            rows = other._rows
        else:
            table = frame(other)
            rows = table.astype(object).where(table.notna(), None).to_dict("records")
        self._rows.extend(dict(r) for r in rows)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def error_count(self) -> int:
        return sum(r["severity"] == Severity.ERROR for r in self._rows)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The problems so far, as dicts (a copy of the list; the dicts are the builder's)."""
        return list(self._rows)

    def frame(self) -> pd.DataFrame:
        """The problems as a table (:data:`COLUMNS`)."""
        return frame(self._rows)


def frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame = ()) -> pd.DataFrame:
    """A problems table with exactly :data:`COLUMNS` and their dtypes (text, ``line`` as ``Int64``)."""
    if isinstance(rows, pd.DataFrame):
        df = rows.reindex(columns=list(COLUMNS))
    else:
        rows = list(rows)
        if not rows:  # the common answer, ~50x cheaper as a copy than built anew
            return _empty().copy()
        df = pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=object) for c in COLUMNS})
    if "line" in df and len(df):
        df["line"] = pd.array([None if v is None or v is pd.NA or v != v else int(v) for v in df["line"]],
                              dtype="Int64")
    return df.astype(_DTYPES).reset_index(drop=True)


@cache
def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in COLUMNS}).astype(_DTYPES)


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Problems tables one after the other (empty ones skipped)."""
    parts = [frame(f) for f in frames if f is not None and len(f)]
    return pd.concat(parts, ignore_index=True) if parts else frame()


def errors(problems: pd.DataFrame) -> pd.DataFrame:
    """The problems that block sending (severity ``error``)."""
    return problems[problems["severity"] == Severity.ERROR].reset_index(drop=True)


def has_errors(problems: pd.DataFrame | None) -> bool:
    """Whether ``problems`` holds at least one error."""
    return problems is not None and bool((problems["severity"] == Severity.ERROR).any())


def _present(value: Any) -> bool:
    return value is not None and value is not pd.NA and value == value


def location(row: Mapping[str, Any]) -> str:
    """``file, line N, column 'c'`` of one problem (the parts it has)."""
    text = str(row.get("file")) if _present(row.get("file")) else "the upload"
    if _present(row.get("line")):
        text += f", line {int(row['line'])}"
    if _present(row.get("column")):
        text += f", column {row['column']!r}"
    return text


def first_problem(problems: pd.DataFrame) -> str:
    """The first error (or, with none, the first problem) in words, with how many more there are."""
    if not len(problems):
        return "no problems"
    shown = errors(problems)
    shown = shown if len(shown) else problems.reset_index(drop=True)
    row = shown.iloc[0].to_dict()
    more = len(shown) - 1
    suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
    return f"{location(row)}: {row['message']}{suffix}"


def refuse(problems: pd.DataFrame | Iterable[Mapping[str, Any]]) -> InputError:
    """The :class:`~gr4vy_nb.errors.InputError` for problems that block an input (raise it)."""
    table = frame(problems)
    return InputError(first_problem(table), table)


def ordered(problems: pd.DataFrame) -> pd.DataFrame:
    """Errors first, then by file and line (file order kept within a line); one error per cell.

    A cell refused by the offline checks may be refused again by the update schema after the
    merge: only the first of the errors located at the same file, line and column is kept.
    """
    df = frame(problems)
    if len(df):
        located = df["line"].notna() & df["column"].notna() & (df["severity"] == Severity.ERROR)
        df = df[~(located & df.duplicated(["file", "line", "column", "severity"], keep="first"))]
    order = (df["severity"] != Severity.ERROR).astype(int)
    df = df.assign(_o=order).sort_values(["_o", "file", "line"], kind="stable", na_position="first")
    return df.drop(columns="_o").reset_index(drop=True)


SUMMARY_COLUMNS: tuple[str, ...] = ("severity", "file", "column", "rule", "count", "lines", "value", "message")
"""The columns of :func:`summarise`'s table."""
_LINES_SHOWN = 3


def line_span(lines: Iterable[Any], shown: int = _LINES_SHOWN) -> str:
    """The lines of a group in words: ``line 7``, ``lines 2, 5, 9``, ``lines 2, 3, 4, … (2–1001)``."""
    ordered_lines = sorted({int(v) for v in lines if _present(v)})
    if not ordered_lines:
        return ""
    if len(ordered_lines) == 1:
        return f"line {ordered_lines[0]}"
    head = ", ".join(str(v) for v in ordered_lines[:shown])
    if len(ordered_lines) <= shown:
        return f"lines {head}"
    return f"lines {head}, … ({ordered_lines[0]}\u2013{ordered_lines[-1]})"


def summarise(problems: pd.DataFrame) -> pd.DataFrame:
    """Problems grouped by file, column, rule and severity: one row a group (:data:`SUMMARY_COLUMNS`).

    ``count`` is the number of problems of the group, ``lines`` the first lines and their range
    (:func:`line_span`), ``value`` and ``message`` those of its first problem (values already
    masked as the table holds them). Errors come first, then groups by file and first line.
    """
    df = frame(problems)
    if not len(df):
        return pd.DataFrame({c: pd.Series([], dtype="Int64" if c == "count" else "string") for c in SUMMARY_COLUMNS})
    codes = df.groupby(["file", "column", "rule", "severity"], sort=False, dropna=False).ngroup()
    df = df.assign(_g=codes.to_numpy())
    firsts = df.drop_duplicates("_g", keep="first").set_index("_g")
    counts = df["_g"].value_counts()
    lines_of = df[df["line"].notna()].groupby("_g", sort=False)["line"]
    first_line = lines_of.min()
    spans = {g: line_span(v.to_numpy()) for g, v in lines_of}
    out = pd.DataFrame({
        "severity": firsts["severity"],
        "file": firsts["file"],
        "column": firsts["column"],
        "rule": firsts["rule"],
        "count": counts.reindex(firsts.index).astype("Int64"),
        "lines": pd.Series({g: spans.get(g, "") for g in firsts.index}, dtype="string"),
        "value": firsts["value"],
        "message": firsts["message"],
        "_o": (firsts["severity"] != Severity.ERROR).astype(int),
        "_l": first_line.reindex(firsts.index),
    })
    out = out.sort_values(["_o", "file", "_l"], kind="stable", na_position="first")
    return out.drop(columns=["_o", "_l"]).reset_index(drop=True)


def describe_problems(problems: pd.DataFrame, *, max_rows: int = 20) -> list[str]:
    """The groups of :func:`summarise` in words, one line each (for :meth:`Plan.describe` and the like)."""
    groups = summarise(problems)
    out = [f"  problems by file, column and rule ({len(problems):,} in {len(groups):,} group(s)):"]
    for g in groups.head(max_rows).itertuples(index=False):
        where = " ".join(str(v) for v in (g.file, g.column) if _present(v)) or "the upload"
        example = f", e.g. {_short(g.value)!r}" if _present(g.value) else ""
        span = f" ({g.lines})" if g.lines else ""
        out.append(f"    {g.severity}: {where} [{g.rule}] x{int(g.count):,}{span}{example}: {_short(g.message, 160)}")
    if len(groups) > max_rows:
        out.append(f"    ... and {len(groups) - max_rows} more group(s)")
    return out


def _short(text: Any, width: int = 24) -> str:
    text = str(text).replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "\u2026"
