"""Run reports: what a bulk run did, from its journal or from a results DataFrame.

Every function takes ``run``: a journal path (``str``/``Path``), an open
:class:`~gr4vy_nb.updates.journal.Journal`, an object with a ``journal`` attribute (a finished
``Run``), or a DataFrame following the *run frame contract* (:data:`RUN_COLUMNS`):

==================== ===================================================================
``checkout_session_id`` the session (text)
``status``           ``planned``, ``sending``, ``succeeded``, ``failed``, ``conflict``,
                     ``skipped`` or ``unprocessed`` (other values are counted as given)
``attempts``         requests sent for the session (``Int64``)
``http_status``      the last HTTP status received (``Int64``, NA when no answer)
``error_code``       Gr4vy's error ``code`` (text, NA when none)
``error_message``    the error message (text)
``error_field``      the session fields the server's error details point at, without list
                     indexes and comma-separated (``cart_items.name,buyer.billing_details.email_address``)
``started_at``       first request (UTC datetime; ISO 8601 text or epoch seconds are read too)
``finished_at``      final answer (UTC datetime)
``differences``      whether the server did not take every value as sent (``Int64``: 1 or 0;
                     the text of ``Run.results`` is read as 1 when not empty)
==================== ===================================================================

Only ``checkout_session_id`` and ``status`` are required; missing columns are added empty.
A journal is read through its one results table
(:func:`gr4vy_nb.updates.results.results_frame`, the same as ``Run.results``), where a
session a run never finished counts as ``unprocessed``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ..updates.journal import Journal
from ..updates.results import results_frame
from ..updates.states import STATUSES
from .common import empty_mask
from .figures import bar_figure, histogram_figure, stacked_time_bars

__all__ = [
    "RUN_COLUMNS",
    "STATUS_COLORS",
    "plot_run_latency",
    "plot_run_status",
    "plot_run_throughput",
    "run_conflicts",
    "run_errors_by_code",
    "run_errors_by_field",
    "run_frame",
    "run_frame_from_journal",
    "run_latency",
    "run_retries",
    "run_status_counts",
    "run_summary",
    "run_throughput",
]

RUN_COLUMNS: dict[str, str] = {
    "checkout_session_id": "str",
    "status": "str",
    "attempts": "Int64",
    "http_status": "Int64",
    "error_code": "str",
    "error_message": "str",
    "error_field": "str",
    "started_at": "datetime64[us, UTC]",
    "finished_at": "datetime64[us, UTC]",
    "differences": "Int64",
}
"""The run frame contract: column name -> dtype (see the module docstring)."""

# Throughput bins, smallest first; the first giving at most ~60 bins over the run wins.
_FREQS = ("100ms", "250ms", "500ms", "1s", "5s", "10s", "30s", "1min", "5min", "15min", "1h", "6h", "1D")
_PERCENTILES = (0.5, 0.9, 0.95, 0.99)


def run_frame_from_journal(path: str | os.PathLike[str] | Journal) -> pd.DataFrame:
    """Read a run journal (read-only, no lock taken) into the run frame contract.

    It is the journal's one results table (:func:`gr4vy_nb.updates.results.results_frame`,
    what ``Run.results`` holds), conformed.
    """
    if isinstance(path, Journal):
        return _with_active_time(_conform(results_frame(path)), path)
    with Journal.open(path, readonly=True) as journal:
        return _with_active_time(_conform(results_frame(journal)), journal)


def _with_active_time(df: pd.DataFrame, journal: Journal) -> pd.DataFrame:
    """``df.attrs["active_seconds"]``: the time the run's invocations were sending (pauses between them left out).

    Each invocation (apply, resume) records its ``[start, end]`` in the journal's ``active_periods``; one that
    was killed has no end, and ends at its last journaled transition. Journals without periods (older ones)
    get none: their summaries use the wall time.
    """
    periods = journal.meta.get("active_periods") or []
    if not periods:
        return df
    at = (journal.events()["at"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().tolist()
    total = 0.0
    for i, (start, end) in enumerate(periods):
        if end is None:
            until = periods[i + 1][0] if i + 1 < len(periods) else float("inf")
            inside = [t for t in at if start <= t < until]
            end = max(inside, default=start)
        total += max(0.0, float(end) - float(start))
    df.attrs["active_seconds"] = total
    return df


def run_frame(run: Any) -> pd.DataFrame:
    """The run frame contract for ``run`` (a journal path, a Journal, a Run, or a DataFrame).

    A DataFrame (such as ``Run.results`` or a ``results.csv`` read back) is copied and
    conformed: missing optional columns are added empty, dtypes are set. Raises
    ``ValueError`` when ``checkout_session_id`` or ``status`` is missing.
    """
    if isinstance(run, pd.DataFrame):
        if _conformed(run):
            return run  # already a run frame (the summaries pass theirs around): no copy
        missing = [c for c in ("checkout_session_id", "status") if c not in run]
        if missing:
            raise ValueError(f"a run frame needs the columns {missing}; see gr4vy_nb.report.runs.RUN_COLUMNS")
        return _conform(run.copy())
    if isinstance(run, str | os.PathLike | Journal):
        return run_frame_from_journal(run)
    journal = getattr(run, "journal", None) or getattr(run, "journal_path", None)
    if journal is not None:
        return run_frame_from_journal(journal if isinstance(journal, Journal) else Path(journal))
    results = getattr(run, "results", None)
    if isinstance(results, pd.DataFrame):
        return run_frame(results)
    raise TypeError(f"cannot read a run from {type(run).__name__}; pass a journal path or a DataFrame")


def _conformed(df: pd.DataFrame) -> bool:
    names = list(RUN_COLUMNS)
    if list(df.columns[: len(names)]) != names:
        return False
    for col, dtype in RUN_COLUMNS.items():
        have = df[col].dtype
        if dtype.startswith("datetime"):
            if not isinstance(have, pd.DatetimeTZDtype) or str(have.tz) != "UTC":
                return False
        elif dtype == "Int64":
            if str(have) != "Int64":
                return False
        elif not isinstance(have, pd.StringDtype):
            return False
    return True


def _conform(df: pd.DataFrame) -> pd.DataFrame:
    if "differences" in df and not pd.api.types.is_numeric_dtype(df["differences"]):
        # Run.results lists the differing fields as text: count a session once.
        df["differences"] = (~empty_mask(df["differences"])).astype("int64")
    for col, dtype in RUN_COLUMNS.items():
        if col not in df:
            df[col] = pd.Series(0 if col == "differences" else pd.NA, index=df.index, dtype="object")
        if dtype.startswith("datetime"):
            if pd.api.types.is_numeric_dtype(df[col]):
                df[col] = pd.to_datetime(df[col].astype("float64"), unit="s", utc=True)  # epoch seconds
            else:
                df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        elif dtype == "Int64":
            df[col] = pd.to_numeric(df[col]).astype("Int64")
        else:
            df[col] = df[col].astype("str")
    df["differences"] = df["differences"].fillna(0)
    return df[list(RUN_COLUMNS) + [c for c in df.columns if c not in RUN_COLUMNS]].reset_index(drop=True)


# --------------------------------------------------------------------------- summaries


def run_status_counts(run: Any) -> pd.DataFrame:
    """Sessions per status (every journal status listed, zeros included) with their share."""
    df = run_frame(run)
    counts = df["status"].value_counts()
    order = list(STATUSES) + sorted(s for s in counts.index if s not in STATUSES)
    out = pd.DataFrame({"sessions": counts.reindex(order, fill_value=0).astype("int64")})
    out.index.name = "status"
    out["share"] = out["sessions"] / max(len(df), 1)
    return out


def run_errors_by_code(run: Any) -> pd.DataFrame:
    """Failed sessions grouped by error code: sessions, the HTTP statuses seen, the most common message.

    Sessions with an error code in another status count too; conflicts without one are
    listed by :func:`run_conflicts` instead. A failure without a code is ``(no code)``.
    """
    df = run_frame(run)
    err = df[df["error_code"].notna() | (df["status"] == "failed")]
    columns = ["error_code", "sessions", "http_statuses", "example_message"]
    if err.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "sessions" else "str") for c in columns})
    err = err.assign(error_code=err["error_code"].fillna("(no code)"))
    rows = []
    for code, g in err.groupby("error_code", sort=True):
        statuses = ", ".join(str(s) for s in sorted(g["http_status"].dropna().unique().tolist()))
        messages = g["error_message"].dropna()
        example = messages.value_counts().sort_index(kind="stable").idxmax() if len(messages) else None
        rows.append((code, len(g), statuses, example))
    out = pd.DataFrame(rows, columns=columns).astype({"error_code": "str", "sessions": "int64",
                                                      "http_statuses": "str", "example_message": "str"})
    return out.sort_values(["sessions", "error_code"], ascending=[False, True], kind="stable").reset_index(drop=True)


def run_errors_by_field(run: Any) -> pd.DataFrame:
    """Sessions whose error points at each field (a session with several fields counts in each)."""
    df = run_frame(run)
    fields = df["error_field"].dropna().str.split(",").explode()
    counts = fields.value_counts()
    out = pd.DataFrame({"field": counts.index.astype("str"), "sessions": counts.to_numpy(dtype="int64")})
    return out.sort_values(["sessions", "field"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _durations(df: pd.DataFrame) -> pd.Series:
    return (df["finished_at"] - df["started_at"]).dropna().dt.total_seconds()


def run_latency(run: Any) -> pd.DataFrame:
    """Seconds from a session's first request to its final answer (retries and waits included).

    One row per status that has timings, plus ``all``: ``sessions``, ``mean``, ``p50``,
    ``p90``, ``p95``, ``p99``, ``max``.
    """
    df = run_frame(run)
    df = df.assign(seconds=(df["finished_at"] - df["started_at"]).dt.total_seconds()).dropna(subset=["seconds"])
    cols = ["sessions", "mean", *(f"p{round(q * 100)}" for q in _PERCENTILES), "max"]

    def stats(s: pd.Series) -> list[float]:
        return [len(s), s.mean(), *s.quantile(list(_PERCENTILES)).tolist(), s.max()]

    rows = {status: stats(g["seconds"]) for status, g in df.groupby("status", sort=True)}
    if len(df):
        rows["all"] = stats(df["seconds"])
    out = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    out["sessions"] = out["sessions"].astype("int64")
    out.index.name = "status"
    return out


def run_retries(run: Any) -> pd.DataFrame:
    """How many sessions took 0, 1, 2, ... requests (``attempts`` -> ``sessions``)."""
    df = run_frame(run)
    counts = df["attempts"].fillna(0).value_counts().sort_index()
    out = pd.DataFrame({"sessions": counts.to_numpy(dtype="int64")},
                       index=pd.Index(counts.index.astype("int64"), name="attempts"))
    return out


def _pick_freq(start: pd.Timestamp, end: pd.Timestamp) -> str:
    span = (end - start).total_seconds()
    for freq in _FREQS:
        if span / pd.Timedelta(freq).total_seconds() <= 60:
            return freq
    return _FREQS[-1]


def run_throughput(run: Any, freq: str | None = None) -> pd.DataFrame:
    """Sessions finished per time interval (by status) and the rate in sessions per second.

    ``freq`` is a pandas frequency (``"10s"``, ``"1min"``); by default the smallest of
    100 ms ... 1 day giving at most 60 intervals. The index is each interval's start (UTC).
    """
    df = run_frame(run).dropna(subset=["finished_at"])
    if df.empty:
        return pd.DataFrame({"finished": pd.Series(dtype="int64"), "per_second": pd.Series(dtype="float64")},
                            index=pd.DatetimeIndex([], tz="UTC", name="interval"))
    freq = freq or _pick_freq(df["finished_at"].min(), df["finished_at"].max())
    bins = df["finished_at"].dt.floor(freq)
    out = pd.crosstab(bins, df["status"])
    full = pd.date_range(out.index.min(), out.index.max(), freq=freq, tz="UTC")
    out = out.reindex(full, fill_value=0)
    out.columns = out.columns.astype("str")
    out.insert(0, "finished", out.sum(axis=1).astype("int64"))
    out["per_second"] = out["finished"] / pd.Timedelta(freq).total_seconds()
    out.index.name = "interval"
    out.columns.name = None
    return out


def run_conflicts(run: Any) -> pd.DataFrame:
    """The sessions left alone because they changed after planning (status ``conflict``)."""
    df = run_frame(run)
    return df.loc[df["status"] == "conflict", ["checkout_session_id", "error_message", "finished_at"]].reset_index(
        drop=True
    )


def run_summary(run: Any) -> pd.DataFrame:
    """The run's headline figures as a one-column table (``value`` indexed by ``metric``).

    ``sessions per second`` divides by the ``active time``: read from a journal, the time its invocations were
    running (a canary's pause before its resume is not counted); for a results table, the wall time.
    """
    df = run_frame(run)
    finished = df["finished_at"].dropna()
    started = df["started_at"].dropna()
    wall = (finished.max() - started.min()).total_seconds() if len(finished) and len(started) else float("nan")
    # A journal's active time leaves out the pauses between invocations (a canary and its resume, a kill).
    active = df.attrs.get("active_seconds")
    busy = float(active) if active is not None and len(finished) else wall
    durations = _durations(df)
    attempts = df["attempts"].fillna(0)
    metrics: dict[str, Any] = {"sessions": len(df)}
    metrics.update({s: int((df["status"] == s).sum()) for s in STATUSES})
    metrics.update({
        "write attempts": int(attempts.sum()),
        "sessions retried": int((attempts > 1).sum()),
        "applied with differences": int((df["differences"] > 0).sum()),
        "wall time (s)": round(wall, 3) if wall == wall else None,
        "active time (s)": round(busy, 3) if busy == busy else None,
        "sessions per second": round(len(finished) / busy, 3) if busy and busy == busy and busy > 0 else None,
        "median latency (s)": round(float(durations.median()), 3) if len(durations) else None,
        "p95 latency (s)": round(float(durations.quantile(0.95)), 3) if len(durations) else None,
    })
    out = pd.DataFrame({"value": pd.Series(metrics, dtype="object")})
    out.index.name = "metric"
    return out


# --------------------------------------------------------------------------- plots

STATUS_COLORS = {"succeeded": "#2e7d32", "failed": "#c62828", "conflict": "#ef6c00", "skipped": "#9e9e9e",
                 "unprocessed": "#607d8b", "planned": "#90caf9", "sending": "#1565c0"}
"""The colour of each run status in plots."""


def plot_run_status(run: Any, table: pd.DataFrame | None = None) -> Figure:
    """Bar chart of sessions per status in a run."""
    t = run_status_counts(run) if table is None else table
    t = t[t["sessions"] > 0]
    return bar_figure(t.index.tolist(), t["sessions"].tolist(), title="Run: sessions by status", xlabel="status",
                      ylabel="sessions")


def plot_run_latency(run: Any) -> Figure:
    """Histogram of seconds from each session's first request to its final answer."""
    df = run_frame(run)
    seconds = (df["finished_at"] - df["started_at"]).dt.total_seconds().dropna()
    return histogram_figure(seconds.tolist(), title="Run: time per session (retries included)",
                            xlabel="seconds", ylabel="sessions")


def plot_run_throughput(run: Any, table: pd.DataFrame | None = None) -> Figure:
    """Stacked bars of sessions finished per interval, by status."""
    t = run_throughput(run) if table is None else table
    statuses = [c for c in t.columns if c not in ("finished", "per_second")]
    freq = getattr(t.index, "freq", None)
    width = pd.Timedelta(freq) if freq is not None else (t.index[1] - t.index[0] if len(t) > 1
                                                         else pd.Timedelta(seconds=1))
    return stacked_time_bars(t.index.tolist(), {s: t[s].tolist() for s in statuses}, width=width,
                             title="Run: sessions finished over time", xlabel="time (UTC)",
                             ylabel="sessions per interval", colors=STATUS_COLORS)
