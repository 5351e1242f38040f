"""Lists of checkout session ids read from files: the one reader behind ``export``, ``report`` and the notebooks.

An id list is any of:

* a text file with one id per line (blank lines and lines starting with ``#`` skipped);
* a CSV file (``,``, ``;`` or tab) with an id column, other columns ignored (an earlier export's
  ``sessions.csv``, a ``not_found.csv`` or ``errors.csv``);
* an Excel workbook (``.xlsx``): the first sheet with an id column, or a sheet of one column of ids.

The id column's header is ``checkout_session_id`` however it is written: quoted (``"checkout_session_id"``,
as a CSV writer quoting every cell makes it), or as a person would type it (``Checkout Session ID``,
``checkout-session-id``): letters and digits compared without regard to case. A file of one column may
have no header at all. Every id is put in the API's form (:func:`gr4vy_nb.ids.canonical_id`: lower case).

What is forgiven is reported, line by line, as warnings (:attr:`IdList.notes`): spaces around an id are
trimmed (``spaces_trimmed``), an id listed again is dropped (``duplicate_id``). What is not forgiven
refuses the file (:class:`~gr4vy_nb.errors.InputError`), naming file, line and value: a cell that is not
a UUID (``uuid``), a table without an id column (``required``), a file with no ids (``empty``).

::

    >>> listed = read_id_list("ids.csv")
    >>> listed.ids, listed.describe()
    (['4d645fa6-…', …], ['ids.csv: 2 id(s) had spaces around them, trimmed (lines 3, 7)'])
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..ids import ID_COLUMN, UUID_PATTERN, canonical_id, is_id_header
from ..problems import Problems, Rule, Severity, refuse
from ..problems import frame as problems_frame
from .files import DEFAULT_LIMITS, Limits, read_table, read_text
from .workbooks import is_workbook, read_workbook

__all__ = ["IdList", "read_id_list", "trimmed_ids"]

_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class IdList:
    """The ids of a file, each once, in first-seen order, and what was forgiven reading them.

    ``column``: the id column's header as written (``None`` for a file of ids without a header);
    ``trimmed``: the lines whose id had spaces around it; ``duplicates``: the lines repeating an id listed
    before; ``notes``: the same as a problems table of warnings (rules ``spaces_trimmed``, ``duplicate_id``).
    """

    ids: list[str]
    file: str
    column: str | None = None
    trimmed: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    notes: pd.DataFrame = field(default_factory=problems_frame)

    def describe(self) -> list[str]:
        """What was forgiven, in words, counted and with its lines (empty when nothing was)."""
        out = []
        if self.trimmed:
            out.append(f"{self.file}: {len(self.trimmed)} id(s) had spaces around them, trimmed "
                       f"({_lines(self.trimmed)})")
        if self.duplicates:
            out.append(f"{self.file}: {len(self.duplicates)} id(s) listed again, dropped ({_lines(self.duplicates)})")
        return out

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return (f"IdList({len(self.ids)} id(s) from {self.file!r}, {len(self.trimmed)} trimmed, "
                f"{len(self.duplicates)} duplicate(s))")


def _lines(lines: list[int], shown: int = 10) -> str:
    text = ", ".join(str(n) for n in lines[:shown]) + (f" and {len(lines) - shown} more" if len(lines) > shown else "")
    return ("line " if len(lines) == 1 else "lines ") + text


def read_id_list(source: Any, *, name: str | None = None, encoding: str | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> IdList:
    """The session ids of a file (a path, or bytes named ``name``): text, CSV or XLSX; see the module docstring.

    Raises:
        InputError: a value is not a session id, a table has no id column, or there is no id at all; its
            ``problems`` name file, line and value of each.
    """
    if is_workbook(source, name):
        return _from_workbook(source, name, limits)
    if isinstance(source, bytes | bytearray | memoryview) and name is None:
        name = "<upload>"
    text, label = read_text(source, name=name, encoding=encoding, limits=limits)
    first = next((line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")), "")
    if any(d in first.strip() for d in _DELIMITERS):  # a delimiter between cells, not spaces around one id
        table = read_table(source if not isinstance(source, memoryview) else bytes(source), name=name,
                           encoding=encoding, limits=limits)
        return _from_table(table.frame, label, header_line=1)
    cells: list[tuple[int, str]] = []
    header = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if header is None and not cells and is_id_header(line):
            header = line.strip()
            continue
        cells.append((number, _unquoted(line)))
    return _collect(cells, label, header, None)


def _unquoted(cell: str) -> str:
    """A one-column CSV's cell without its quotes (``"id"`` as a writer quoting every cell makes it), spaces kept."""
    inner = cell.strip()
    if len(inner) >= 2 and inner[0] == inner[-1] == '"':
        lead = cell[: len(cell) - len(cell.lstrip())]
        trail = cell[len(cell.rstrip()):]
        return lead + inner[1:-1] + trail
    return cell


def _from_table(frame: pd.DataFrame, label: str, *, header_line: int) -> IdList:
    column = next((str(c) for c in frame.columns if is_id_header(str(c))), None)
    if column is None:
        names = [str(c) for c in frame.columns]
        if len(names) == 1 and canonical_id(names[0]) is not None:  # one column of ids, no header
            cells = [(header_line, names[0]), *_cells(frame, names[0])]
            return _collect(cells, label, None, None)
        shown = ", ".join(repr(c) for c in names[:8])
        found = Problems()
        found.add(Rule.REQUIRED, f"no {ID_COLUMN} column (the columns are {shown}); a header such as "
                  f"{ID_COLUMN} or 'Checkout Session ID' names it", file=label, line=header_line, column=ID_COLUMN)
        raise refuse(found.frame())
    return _collect(_cells(frame, column), label, column, column)


def _cells(frame: pd.DataFrame, column: str) -> list[tuple[int, str]]:
    values = frame[column].astype(object).tolist()
    return [(int(line), str(v)) for line, v in zip(frame.index.tolist(), values, strict=True)
            if v is not None and v is not pd.NA and str(v).strip()]


def _from_workbook(source: Any, name: str | None, limits: Limits) -> IdList:
    if name is None and isinstance(source, str | os.PathLike):
        name = os.path.basename(os.fspath(source))
    sheets, problems = read_workbook(source, name=name, limits=limits)
    if len(problems):
        raise refuse(problems)
    usable = [(sheet, t) for sheet, t in sheets if len(t.frame.columns)]
    chosen = next(((s, t) for s, t in usable if any(is_id_header(str(c)) for c in t.frame.columns)),
                  usable[0] if usable else None)
    if chosen is None:
        found = Problems()
        found.add(Rule.EMPTY, "no session ids in this workbook", file=name or "<upload>")
        raise refuse(found.frame())
    table = chosen[1]
    first_row = int(table.frame.index[0]) - 1 if len(table.frame) else 1
    return _from_table(table.frame, table.file, header_line=max(1, first_row))


def _collect(cells: Iterable[tuple[int, str]], label: str, header: str | None, column: str | None) -> IdList:
    found = Problems()
    notes = Problems()
    ids: dict[str, int] = {}
    trimmed: list[int] = []
    duplicates: list[int] = []
    for line, value in cells:
        sid = canonical_id(value)
        if sid is None:
            found.add(Rule.UUID, f"{value.strip()!r} is not a checkout session id (a UUID such as "
                      "4d645fa6-d13c-413a-82f8-eda197b1165f)", file=label, line=line, column=column, value=value)
            continue
        if value != value.strip():
            trimmed.append(line)
            notes.add(Rule.SPACES_TRIMMED, "spaces around this id were trimmed", file=label, line=line,
                      column=column, value=value, severity=Severity.WARNING, session_id=sid)
        if sid in ids:
            duplicates.append(line)
            notes.add(Rule.DUPLICATE_ID, f"this id is listed already (line {ids[sid]}): dropped", file=label,
                      line=line, column=column, value=value, severity=Severity.WARNING, session_id=sid)
            continue
        ids[sid] = line
    if len(found):
        raise refuse(found.frame())
    if not ids:
        found.add(Rule.EMPTY, "no session ids in this file", file=label)
        raise refuse(found.frame())
    return IdList(ids=list(ids), file=label, column=header, trimmed=trimmed, duplicates=duplicates,
                  notes=notes.frame())


def trimmed_ids(values: pd.Series) -> pd.Series:
    """Where a cell of an id column is a session id with spaces around it (the cells a reader trims)."""
    text = values.astype("string")
    stripped = text.str.strip()
    return (text.ne(stripped) & stripped.str.fullmatch(UUID_PATTERN)).fillna(False).astype(bool)
