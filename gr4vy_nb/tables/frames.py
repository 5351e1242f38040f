"""Checkout sessions as four related DataFrames, the exact inverse, and their CSV and Excel files.

::

    >>> frames = flatten_sessions(sessions)          # dicts, models, or a JSONL path
    >>> frames
    SessionFrames(200 sessions, 543 cart_items, 221 legs, 229 passengers)
    >>> frames.sessions["buyer.billing_details.address.city"]
    >>> frames.to_csv("export/")                      # sessions.csv, cart_items.csv, legs.csv, passengers.csv
    >>> SessionFrames.read_csv("export/").equals(frames)
    True
    >>> unflatten_sessions(frames) == [normalize_session(s) for s in sessions]
    True

The tables, their columns and dtypes come from the field spec (:mod:`gr4vy_nb.tables.spec`);
flattening is :mod:`gr4vy_nb.tables.flatten`, its inverse and what the flat form cannot tell
apart :mod:`gr4vy_nb.tables.unflatten`, the files :mod:`gr4vy_nb.tables.files` and
:mod:`gr4vy_nb.tables.reader`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from ..problems import frame as problems_frame
from . import spec as F
from .columns import conform_frame, empty_frame
from .files import DEFAULT_LIMITS, Limits, write_table
from .flatten import CHUNK_SESSIONS, flatten_tables
from .masking import mask_frame, masked_columns
from .reader import ParsedCells, parse_cells, read_frames
from .unflatten import normalize_session, presence, unflatten_sessions
from .workbooks import write_workbook

__all__ = [
    "ParsedCells",
    "SessionFrames",
    "flatten_sessions",
    "normalize_session",
    "parse_cells",
    "presence",
    "unflatten_sessions",
]


class SessionFrames:
    """Sessions as four related tables: ``sessions``, ``cart_items``, ``legs``, ``passengers``.

    Construct with :func:`flatten_sessions`, :meth:`read_csv` or :meth:`read_jsonl`; the
    constructor also accepts DataFrames built by hand, which it conforms to the spec (every
    column present, in order, with its dtype; an unknown column is a :class:`ValueError`).
    ``len(frames)`` is the number of sessions.  ``warnings`` holds non-fatal problems found
    when reading files (e.g. a ``;`` delimiter).
    """

    def __init__(self, sessions: pd.DataFrame | None = None, cart_items: pd.DataFrame | None = None,
                 legs: pd.DataFrame | None = None, passengers: pd.DataFrame | None = None, *,
                 conform: bool = True) -> None:
        given = {"sessions": sessions, "cart_items": cart_items, "legs": legs, "passengers": passengers}
        for table, df in given.items():
            if df is None:
                df = empty_frame(table)
            elif conform:
                df = conform_frame(table, df)
            setattr(self, table, df)
        self.warnings: pd.DataFrame = problems_frame()
        self.base: SessionFrames | None = None
        self.versions: dict[str, dict[tuple[str, int | None], str]] | None = None
        """Read from an export an editor changed: each row's ``row_version`` by key (planned, the rows are checked
        for changes made since the export, as the files would be)."""

    sessions: pd.DataFrame
    cart_items: pd.DataFrame
    legs: pd.DataFrame
    passengers: pd.DataFrame

    # ----------------------------------------------------------------- basics

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables by name, in order."""
        return {t: getattr(self, t) for t in F.TABLES}

    def __getitem__(self, table: str) -> pd.DataFrame:
        if table not in F.TABLES:
            raise KeyError(table)
        return getattr(self, table)

    def __len__(self) -> int:
        return len(self.sessions)

    def __repr__(self) -> str:
        counts = ", ".join(f"{len(df):,} {t}" for t, df in self.tables().items())
        return f"SessionFrames({counts})"

    def equals(self, other: SessionFrames) -> bool:
        """Whether every table equals the other's (values, dtypes and column order; index ignored)."""
        return all(a.reset_index(drop=True).equals(b.reset_index(drop=True))
                   and list(a.columns) == list(b.columns)
                   and list(a.dtypes) == list(b.dtypes)
                   for a, b in zip(self.tables().values(), other.tables().values(), strict=True))

    @property
    def metadata_keys(self) -> list[str]:
        """The metadata keys that have a column, sorted."""
        return [c[len(F.METADATA_PREFIX):] for c in self.sessions.columns if c.startswith(F.METADATA_PREFIX)]

    def select(self, ids: Iterable[str], *, missing: str = "raise") -> SessionFrames:
        """The sessions with these ids (in table order) and their rows in the other tables.

        ``missing="raise"`` (default) raises :class:`KeyError` naming ids not in ``sessions``;
        ``missing="ignore"`` skips them.
        """
        wanted = pd.Index(list(ids), dtype="string[pyarrow]")
        if missing == "raise":
            absent = wanted.difference(self.sessions[F.KEY].dropna())
            if len(absent):
                shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
                raise KeyError(f"not in these frames: {shown}")
        elif missing != "ignore":
            raise ValueError("missing must be 'raise' or 'ignore'")
        out = {t: df[df[F.KEY].isin(wanted).fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)
               for t, df in self.tables().items()}
        selected = SessionFrames(**out, conform=False)
        selected.versions = self.versions
        if self.base is not None:
            selected.base = self.base.select(ids, missing="ignore")
        return selected

    def remember(self) -> SessionFrames:
        """Remember the tables as they are now as :attr:`base`, the state the sessions were fetched in; returns self.

        Frames that remember their base are judged three ways when planned (:mod:`gr4vy_nb.updates.threeway`):
        only the cells edited since are sent, a cell someone else changed since (and not edited here) keeps its
        new value, and a cell changed on both sides is a conflict. The fetch path (:func:`gr4vy_nb.export.
        fetch_sessions`) and :meth:`read_jsonl` remember; frames built by hand or read from CSV do not.
        """
        # pandas copy-on-write: a shallow copy costs nothing and no later edit of these tables reaches it.
        self.base = SessionFrames(**{t: df.copy(deep=False) for t, df in self.tables().items()}, conform=False)
        return self

    def masked(self) -> SessionFrames:
        """A copy with personal and card data masked (:mod:`~gr4vy_nb.tables.masking`); masked columns become text.

        The copy knows it is masked (:attr:`masked_columns`): the update pipeline refuses it whole,
        since a masked value is a display, never data.
        """
        return SessionFrames(**{t: mask_frame(t, df) for t, df in self.tables().items()}, conform=False)

    @property
    def masked_columns(self) -> dict[str, list[str]]:
        """``{table: columns}`` masked for display in these frames (empty for real data)."""
        return {t: cols for t, df in self.tables().items() if (cols := masked_columns(df))}

    def presence(self) -> pd.DataFrame:
        """Which objects and lists each session has (see :func:`presence`)."""
        return presence(self)

    def to_sessions(self) -> list[dict[str, Any]]:
        """The sessions as JSON-ready dicts: :func:`unflatten_sessions`."""
        return unflatten_sessions(self)

    # ----------------------------------------------------------------- files

    def to_csv(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``sessions.csv``, ``cart_items.csv``, ``legs.csv``, ``passengers.csv`` into ``directory``.

        The directory is created if needed; existing files are replaced.  Returns the paths.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for table, df in self.tables().items():
            paths[table] = out / f"{table}.csv"
            write_table(df, paths[table])
        return paths

    @classmethod
    def read_csv(cls, source: Any, *, encoding: str | None = None, limits: Limits = DEFAULT_LIMITS,
                 errors: str = "raise") -> SessionFrames:
        """Read any subset of the four tables: a folder, a path or a list of them, or ``{table: path or bytes}``.

        Files an export wrote, every row as exported (each row's ``row_version`` is the version of its own
        cells), make frames that remember that state as their :attr:`base`: edited with pandas and planned, they
        are judged three ways like freshly fetched frames. Files an editor changed do not (plan the files).

        Read and typed by :func:`gr4vy_nb.tables.reader.read_frames`; tables without a file are
        empty, columns missing from a file are empty.  With ``errors="raise"`` (default) every
        problem in every file is collected, then raised at once as an
        :class:`~gr4vy_nb.errors.InputError` carrying the problems table; with
        ``errors="collect"`` cells that break a rule are left empty and listed in
        :attr:`warnings` with the other problems.
        """
        versions: dict[str, list[Any]] = {}
        frames, problems = read_frames(source, encoding=encoding, limits=limits, errors=errors,  # type: ignore[arg-type]
                                       versions=versions)
        result = cls(**frames)
        result.warnings = problems
        if versions and _as_exported(result, versions):
            result.remember()  # an export as it was written: its cells are the state the sessions were fetched in
        elif versions:
            result.versions = _keyed_versions(result, versions)
        return result

    @classmethod
    def read_jsonl(cls, path: str | os.PathLike[str]) -> SessionFrames:
        """Flatten a JSONL file of sessions (one JSON object per line), remembering them as :attr:`base`."""
        return flatten_sessions(path).remember()

    def to_jsonl(self, path: str | os.PathLike[str]) -> None:
        """Write the sessions, unflattened, as JSONL (one JSON object per line)."""
        with open(path, "wb") as fh:
            for session in unflatten_sessions(self):
                fh.write(orjson.dumps(session) + b"\n")

    @classmethod
    def read_parquet(cls, directory: str | os.PathLike[str], ids: Iterable[str] | None = None,
                     columns: Any = None) -> SessionFrames:
        """Read an archive folder (``gr4vy-nb flatten``, :meth:`to_parquet`): all of it, or a subset.

        ``ids``: only these sessions (and their rows in the other tables); ``columns``: only these
        columns (a list kept in every table that has them, or ``{table: [...]}``), key and index
        columns always. Both are pushed down to the Parquet reader
        (:func:`gr4vy_nb.tables.archive.read_tables`), so a subset of a large archive costs the
        subset. With a column subset the tables keep only those columns.
        """
        from .archive import read_tables  # Parquet datasets: loaded when an archive is read, not with every frame

        return cls(**read_tables(directory, ids=ids, columns=columns), conform=False)

    def to_parquet(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write the four tables as an archive folder (``DIR/sessions/`` ...) that :meth:`read_parquet` reads back."""
        from .archive import write_frames

        return write_frames(self.tables(), directory)

    def to_excel(self, path: str | os.PathLike[str]) -> None:
        """Write an Excel workbook with one sheet per table (:func:`gr4vy_nb.tables.workbooks.write_workbook`)."""
        write_workbook(self.tables(), path)


def flatten_sessions(sessions: Any, *, chunk_size: int = CHUNK_SESSIONS) -> SessionFrames:
    """Flatten sessions into :class:`SessionFrames`.

    ``sessions``: an iterable of session dicts (as the API returns them) or schema models,
    consumed in chunks of ``chunk_size`` (a generator is fine), or the path of a JSONL file.
    Null objects and lists, empty lists and missing keys are all fine; fields unknown to this
    version and values of the wrong type are kept in ``extra``.  A line of a JSONL file that
    is not a JSON object raises :class:`ValueError` naming the line.
    """
    return SessionFrames(**flatten_tables(sessions, chunk_size=chunk_size), conform=False)


def _as_exported(frames: SessionFrames, versions: dict[str, list[Any]]) -> bool:
    """Whether every table read carries row versions, each the version of its row's own cells (an untouched export)."""
    from .versions import row_versions

    for table, df in frames.tables().items():
        given = versions.get(table)
        if given is None:
            if len(df):
                return False
            continue
        if len(given) != len(df) or row_versions(table, df) != [None if v is None or v is pd.NA else str(v)
                                                                for v in given]:
            return False
    return True


def _keyed_versions(frames: SessionFrames, versions: dict[str, list[Any]]) -> dict[str, dict[tuple[str, int | None],
                                                                                          str]]:
    """Each table's row versions by key (lower-case session id, element index): rows may be edited, sorted, dropped."""
    out = {}
    for table, given in versions.items():
        df = frames[table]
        index = None if table == "sessions" else F.CHILD_TABLES[table].index
        ids = df[F.KEY].astype(str).str.lower().tolist()
        at = [None] * len(df) if index is None else [None if i is None or i is pd.NA else int(i)
                                                     for i in df[index].tolist()]
        out[table] = {(i, x): str(v) for i, x, v in zip(ids, at, given, strict=True)
                      if v is not None and v is not pd.NA}
    return out
