"""The ``gr4vy-nb`` command: a thin shell over the package (argparse in, text and exit codes out).

::

    gr4vy-nb sandbox                      # the local emulator, in the foreground
    gr4vy-nb export ids.txt --out export/ # sessions -> sessions.csv, cart_items.csv, legs.csv, passengers.csv
    gr4vy-nb plan edits/                  # check, fetch, merge, diff: sends nothing
    gr4vy-nb apply edits/ --workers 8     # plan, then apply with a journal under runs/
    gr4vy-nb resume runs/<run>.sqlite     # finish a cancelled, stopped or killed run
    gr4vy-nb rollback runs/<run>.sqlite   # put back what a run changed
    gr4vy-nb runs                         # the journals under runs/ with their totals
    gr4vy-nb report export/ --out report.html
    gr4vy-nb flatten archive/ --out flat/ # JSON Lines of any size -> the four tables as Parquet

The target comes from ``GR4VY_ID``, ``GR4VY_ENVIRONMENT``, ``GR4VY_PRIVATE_KEY_FILE``,
``GR4VY_MERCHANT_ACCOUNT_ID`` and ``GR4VY_BASE_URL`` (or a ``.env`` file). For the local
sandbox: run ``gr4vy-nb sandbox`` in another terminal and set the two variables it prints,
``GR4VY_BASE_URL=http://127.0.0.1:8787`` and ``GR4VY_PRIVATE_KEY_FILE=~/.gr4vy-nb/sandbox-key.pem``.

Exit codes: 0 all done; 1 some sessions failed (or need attention); 2 bad input or usage,
nothing sent; 3 configuration or credentials, nothing sent (or, mid-run, nothing more sent).
Progress bars go to stderr, results to stdout. Personal data is masked in what is printed
unless ``--raw``; keys and tokens are never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ._version import __version__
from .errors import (
    ApiError,
    AuthError,
    ConfigError,
    Gr4vyError,
    InputError,
    PermissionDenied,
    RunError,
    TransportError,
)
from .schema import EXPIRES_IN_DEFAULT, EXPIRES_IN_MAX, EXPIRES_IN_MIN
from .updates.states import RESULT_STATUSES, RunState, SessionStatus

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_CONFIG = 0, 1, 2, 3
_PROBLEMS_SHOWN = 40


# --------------------------------------------------------------------------- output helpers


def _quiet(stream_name: str) -> None:
    """The reader of stdout/stderr went away (``gr4vy-nb apply … | head``): write to the null device from now on.

    The command itself goes on (a run is finished and journaled, not abandoned half-way), and the
    interpreter's final flush no longer fails on the closed pipe.
    """
    stream = getattr(sys, stream_name)
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (captured output): just replace it
        fd = None
    devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - kept open for the rest of the process
    if fd is not None:
        try:
            os.dup2(devnull.fileno(), fd)
            return
        except OSError:
            pass
    setattr(sys, stream_name, devnull)


def _write(text: str, stream_name: str) -> None:
    try:
        print(text, file=getattr(sys, stream_name), flush=True)
    except BrokenPipeError:
        _quiet(stream_name)


def _out(text: str = "") -> None:
    _write(text, "stdout")


def _err(text: str) -> None:
    _write(text, "stderr")


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Rows as an aligned text table."""
    cells = [[str(h) for h in header]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _clip(value: Any, width: int = 60) -> str:
    text = "" if value is None or value is pd.NA else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_problems(problems: Any, limit: int = _PROBLEMS_SHOWN) -> None:
    if problems is None or not len(problems):
        return
    rows = []
    for r in problems.head(limit).itertuples(index=False):
        line = "" if r.line is None or r.line is pd.NA else r.line
        column = "" if r.column is None or r.column is pd.NA else r.column
        rows.append([r.severity, r.file, line, column, _clip(r.value, 24), r.rule, _clip(r.message, 1000)])
    _out(_table(rows, ["severity", "file", "line", "column", "value", "rule", "message"]))
    if len(problems) > limit:
        _out(f"... and {len(problems) - limit} more problem(s)")


class _Bar:
    """A tqdm progress bar on stderr (nothing when stderr is not a terminal and not forced).

    Redrawn at most every :attr:`INTERVAL` seconds (tqdm's ``mininterval``), however often it is
    told of progress, with counts, rate and time left; the last state is drawn on :meth:`close`.
    """

    INTERVAL = 0.1

    def __init__(self, desc: str, unit: str = "session") -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=0, desc=desc, unit=unit, file=sys.stderr, leave=True, dynamic_ncols=True,
                         mininterval=self.INTERVAL, miniters=1, smoothing=0.1,
                         disable=None if not os.environ.get("GR4VY_NB_PROGRESS") else False)
        self._lock = threading.Lock()
        self._postfix_at = 0.0
        self._redraws = 0

    @property
    def redraws(self) -> int:
        """How many times progress redrew the bar so far (the first and the last drawing aside)."""
        return self._redraws

    def fetch(self, done: int, total: int) -> None:
        with self._lock:
            if self._bar.total != total:
                self._bar.total = total
            self._advance(done)

    def _advance(self, done: int) -> None:
        if self._bar.disable:
            return
        before = self._bar.last_print_t
        self._bar.update(done - self._bar.n)  # redraws only when mininterval has passed
        if self._bar.last_print_t != before:
            self._redraws += 1

    def run(self, p: Any) -> None:
        with self._lock:
            if self._bar.total != p.total:
                self._bar.total = p.total
            if self._bar.disable:
                return
            now = time.monotonic()
            if now - self._postfix_at >= self.INTERVAL or p.done >= p.total:
                self._postfix_at = now
                self._bar.set_postfix(ok=p.succeeded, failed=p.failed, conflict=p.conflict, retrying=p.retrying,
                                      refresh=False)
            self._advance(p.done)

    def close(self) -> None:
        self._bar.close()


# --------------------------------------------------------------------------- target


def _client(args: argparse.Namespace, workers: int | None = None) -> Any:
    """A client for the configured target; ConfigError (exit 3) with how-to when there is none."""
    from .api.client import Gr4vyClient
    from .config import Settings

    settings = Settings.from_env(required=True)
    # Twice the workers: a run re-reads sessions ahead of writing them, on connections of its own.
    return Gr4vyClient(settings, workers=2 * max(1, workers or getattr(args, "workers", None) or 8))


def _say_target(client: Any) -> None:
    s = client.settings
    if s.is_production:
        _err(f"TARGET: {s.target.upper()} — MERCHANT ACCOUNT {s.merchant_account_id.upper()}")
    else:
        _err(f"target: {s.target} at {s.base_url}, merchant account {s.merchant_account_id!r}")


# --------------------------------------------------------------------------- commands


def _cmd_sandbox(args: argparse.Namespace, rest: list[str]) -> int:
    from .sandbox.server import main as sandbox_main

    return int(sandbox_main(rest))


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_sessions, read_ids

    ids = read_ids(args.ids)
    with _client(args) as client:
        _say_target(client)
        bar = _Bar("fetching")
        try:
            result = export_sessions(ids, client, args.out, progress=bar.fetch, format=args.format)
        finally:
            bar.close()
    _out(f"exported {result.exported} of {result.requested} session(s) to {result.out_dir}")
    for name, path in result.files.items():
        _out(f"  {name}: {path}")
    if len(result.warnings):
        _out("Warnings:")
        _print_problems(result.warnings)
    if result.failed:
        _out(f"{result.failed} session(s) could not be fetched: see not_found.csv")
    return int(result.exit_code)


def _make_plan(args: argparse.Namespace, client: Any) -> Any:
    from .updates.plan import Plan, plan_updates

    source = Path(args.source)
    if source.is_file() and source.suffix.lower() == ".json":
        plan = Plan.load(source)
        _out(f"loaded the plan {source} (made {_when(plan.created_at)})")
        return plan
    bar = _Bar("reading current state")
    try:
        from .tables.masking import unmasked

        with unmasked(args.raw):  # --raw: problems and notes quote personal values too
            return plan_updates(source, client=client, expires_in=args.expires_in, workers=args.workers,
                                progress=bar.fetch, rate=args.rate, run_workers=args.workers,
                                lists=getattr(args, "lists", "replace"), encoding=args.encoding,
                                allow_spreadsheet_rewrites=args.allow_spreadsheet_rewrites)
    finally:
        bar.close()


def _when(stamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _show_plan(plan: Any, args: argparse.Namespace) -> None:
    if len(plan.problems):
        _out("Problems:")
        _print_problems(plan.problems)
        _out()
    _out(plan.describe(raw=args.raw, max_rows=args.limit))


def _cmd_plan(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _say_target(client)
        plan = _make_plan(args, client)
    _show_plan(plan, args)
    if args.save:
        _out(f"plan saved to {plan.save(args.save)}")
    if args.problems and len(plan.problems):
        from .tables.files import write_table

        write_table(plan.problems, args.problems)
        _out(f"problems written to {args.problems}")
    if not plan.ok:
        _out("\nNothing can be sent while errors remain: fix them and plan again.")
        return EXIT_INPUT
    return EXIT_OK


def _run_summary(run: Any) -> None:
    counts = run.counts
    rows = [[s, counts[s]] for s in RESULT_STATUSES]
    rows.append(["total", counts["total"]])
    _out()
    _out(_table(rows, ["status", "sessions"]))
    if counts["applied_with_differences"]:
        _out(f"\n{counts['applied_with_differences']} succeeded session(s) were applied WITH DIFFERENCES: the server "
             "did not keep every value as sent (see results.csv).")
    bad = run.results[run.results.status.isin([SessionStatus.FAILED, SessionStatus.CONFLICT])]
    if len(bad):
        _out("\nFirst sessions that did not go through:")
        _out(_table([[r.checkout_session_id, r.status, _clip(r.message, 100)] for r in bad.head(10).itertuples()],
                    ["checkout_session_id", "status", "message"]))
    for note in run.notes:
        _out(f"\nnote: {note}")
    _out(f"\nrun {run.run_id} ({run.kind}): {run.state}" + (f" — {run.stop_reason}" if run.stop_reason else ""))
    _out(f"  journal:   {run.journal}")
    for name, path in run.files.items():
        _out(f"  {name + ':':<10} {path}")
    if run.state in (RunState.CANCELLED, RunState.STOPPED, RunState.PAUSED) or counts[SessionStatus.UNPROCESSED]:
        _out(f"Resume with: gr4vy-nb resume {run.journal}")


def _run_with_bar(desc: str, call: Callable[..., Any], **kw: Any) -> Any:
    bar = _Bar(desc)
    try:
        return call(progress=bar.run, **kw)
    finally:
        bar.close()


def _cmd_apply(args: argparse.Namespace) -> int:
    from .updates.runs import apply_plan

    with _client(args) as client:
        _say_target(client)
        if client.settings.is_production and not args.yes:
            _err(f"REFUSING TO WRITE TO {client.settings.target.upper()} without --yes. Run `gr4vy-nb plan` first, "
                 "check the diff, then add --yes.")
            return EXIT_INPUT
        plan = _make_plan(args, client)
        _show_plan(plan, args)
        if not plan.ok:
            _out("\nNothing was sent: fix the errors and try again.")
            return EXIT_INPUT
        if not plan.changes:
            _out("\nNothing to send: no session changes.")
        if plan.consent and not args.allow_destructive:
            _out(f"\nNothing was sent: the plan would {plan.consent} (listed above as DESTRUCTIVE). Check them, "
                 "then add --allow-destructive to apply them, or plan with --lists patch to keep the list "
                 "elements your files do not list.")
            return EXIT_INPUT
        run = _run_with_bar("applying", apply_plan, plan=plan, client=client, journal=args.journal,
                            runs_dir=args.runs_dir, workers=args.workers, rate=args.rate, first=args.first,
                            conflict_check=not args.no_conflict_check, allow_destructive=args.allow_destructive)
    _run_summary(run)
    return int(run.exit_code)


def _cmd_resume(args: argparse.Namespace) -> int:
    from .updates.runs import resume_run

    with _client(args) as client:
        _say_target(client)
        run = _run_with_bar("resuming", resume_run, journal=args.journal, client=client, workers=args.workers,
                            rate=args.rate, check_inputs=not args.ignore_changed_inputs)
    _run_summary(run)
    return int(run.exit_code)


def _cmd_rollback(args: argparse.Namespace) -> int:
    from .updates.runs import rollback_run

    with _client(args) as client:
        _say_target(client)
        if client.settings.is_production and not args.yes:
            _err(f"REFUSING TO WRITE TO {client.settings.target.upper()} without --yes.")
            return EXIT_INPUT
        run = _run_with_bar("rolling back", rollback_run, journal=args.journal, client=client, force=args.force,
                            workers=args.workers, rate=args.rate)
    _run_summary(run)
    return int(run.exit_code)


def _cmd_probe(args: argparse.Namespace) -> int:
    from .api.probe import probe_target

    with _client(args, workers=1) as client:
        _say_target(client)
        if client.settings.is_production and not args.yes:
            _err(f"REFUSING TO PROBE {client.settings.target.upper()} without --yes: the probe creates one checkout "
                 "session (marked as a probe in its metadata), updates it a few times and deletes it.")
            return EXIT_INPUT
        result = probe_target(client)
    _out(result.describe())
    return int(result.exit_code)


def _cmd_runs(args: argparse.Namespace) -> int:
    from .updates.results import list_runs

    runs = list_runs(args.dir)
    if runs.empty:
        _out(f"no run journals under {args.dir}")
        return EXIT_OK
    rows = []
    for r in runs.itertuples(index=False):
        created = "" if str(r.created_at) in ("NaT", "nan") else str(r.created_at)[:19]
        by = getattr(r, "rolled_back_by", None)
        state = f"{r.state}, rolled back by {by}" if isinstance(by, str) and by else r.state
        rows.append([r.run_id, r.kind or "", created, state, *(
            "" if str(getattr(r, s)) in ("<NA>", "nan") else int(getattr(r, s))
            for s in (*RESULT_STATUSES, "total")), r.journal])
    _out(_table(rows, ["run", "kind", "created (UTC)", "state", *RESULT_STATUSES, "total", "journal"]))
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    try:
        from .report import report_command
    except ImportError:
        _err("gr4vy-nb report: the reporting module is not available in this installation")
        return EXIT_CONFIG
    from .tables.files import default_encoding

    with default_encoding(args.encoding):
        path = report_command(args.source, args.out, raw=args.raw, run=args.run)
    _out(f"report written to {path}")
    return EXIT_OK


def _cmd_flatten(args: argparse.Namespace) -> int:
    from .cluster import flatten_to_parquet

    bar = _Bar("flatten", unit="B")
    bar._bar.unit_scale, bar._bar.unit_divisor = True, 1024  # bytes read: 1.2GB, 85.3MB/s, and the time left
    try:
        result = flatten_to_parquet(args.sources, args.out, memory_limit=args.memory_limit, cluster=args.cluster,
                                    format=args.format, progress=bar.fetch)
    except (FileNotFoundError, ValueError) as exc:
        raise InputError(str(exc)) from None
    finally:
        bar.close()
    for bad in result.bad_lines[:_PROBLEMS_SHOWN]:
        _err(f"{bad.file}: line {bad.line}: {bad.reason}")
    if result.bad_count > _PROBLEMS_SHOWN:
        _err(f"... and {result.bad_count - _PROBLEMS_SHOWN:,} more bad line(s)")
    _out(result.summary())
    return EXIT_FAILED if result.bad_count else EXIT_OK


def _add_flatten(sub: Any) -> None:
    fl = sub.add_parser("flatten", help="flatten JSON Lines archives of any size into the four tables (Parquet)",
                        description="Flatten JSON Lines (files, .gz, folders, globs) into the four tables, every "
                        "metadata key included: a Parquet dataset per table in DIR (or the CSV files), memory under "
                        "--memory-limit. Bad lines are listed in DIR/_bad_lines.csv (exit 1).")
    fl.add_argument("sources", nargs="+", metavar="SOURCE")
    fl.add_argument("--out", required=True, metavar="DIR")
    fl.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                    help="parquet: a dataset per table (default); csv: sessions.csv ... (the export format)")
    fl.add_argument("--memory-limit", default="1GiB", metavar="SIZE",
                    help="memory budget, e.g. 1GB or 512MiB (default 1GiB; for local:N, all workers together)")
    fl.add_argument("--cluster", metavar="ADDRESS", help="run on a Dask cluster: a scheduler address "
                    "(tcp://host:8786) or local:N for a local cluster of N worker processes")


# --------------------------------------------------------------------------- parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of requests per second")
    return value


def _encoding(text: str) -> str:
    import codecs

    try:
        codecs.lookup(text)
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {text!r}") from None
    return text


def _expires_in(text: str) -> int:
    value = int(text)
    if not EXPIRES_IN_MIN <= value <= EXPIRES_IN_MAX:
        raise argparse.ArgumentTypeError(f"must be between {EXPIRES_IN_MIN} and {EXPIRES_IN_MAX} seconds")
    return value


def _add_export(sub: Any) -> None:
    e = sub.add_parser("export", help="fetch sessions by id and write the four CSV files",
                       description="Fetch the sessions listed in IDS (a text file, one id per line, or a CSV with a "
                                   "checkout_session_id column) and write sessions.csv, cart_items.csv, legs.csv, "
                                   "passengers.csv and not_found.csv into DIR.")
    e.add_argument("ids", metavar="IDS")
    e.add_argument("--out", required=True, metavar="DIR")
    e.add_argument("--workers", type=_positive_int, default=8, metavar="N", help="concurrent reads (default 8)")
    e.add_argument("--format", choices=("csv", "xlsx"), default="csv",
                   help="csv: the four CSV files (default); xlsx: one workbook, export.xlsx, a sheet per table, "
                        "every text field a text cell (leading zeros and long numbers survive Excel)")


def _add_planning(sp: argparse.ArgumentParser) -> None:
    """The arguments ``plan`` and ``apply`` share."""
    sp.add_argument("source", metavar="DIR", help="a folder with any of sessions.csv, cart_items.csv, legs.csv, "
                    "passengers.csv (or one CSV file, or a plan saved with plan --save)")
    sp.add_argument("--expires-in", type=_expires_in, default=EXPIRES_IN_DEFAULT, metavar="S",
                    help=f"seconds ({EXPIRES_IN_MIN}-{EXPIRES_IN_MAX}) sent with each update: the API resets each "
                         f"updated session's expiry to that long after its update (default {EXPIRES_IN_DEFAULT})")
    sp.add_argument("--workers", type=_positive_int, default=8, metavar="N", help="concurrent requests (default 8)")
    sp.add_argument("--rate", type=_rate, metavar="RPS", help="most requests per second, all workers together (the "
                    "plan uses it to say how many sessions will likely expire before the run reaches them)")
    sp.add_argument("--raw", action="store_true", help="show personal data unmasked: in the diff, the problems, "
                    "the notes and the warnings")
    sp.add_argument("--encoding", metavar="NAME", type=_encoding,
                    help="the files' encoding when not UTF-8 or UTF-16 with a BOM (e.g. cp1252, utf-16-le)")
    sp.add_argument("--allow-spreadsheet-rewrites", action="store_true",
                    help="send cells that are what a spreadsheet makes of the current value (1E06 for 1000000, "
                         "TRUE for true, 0.5 for 0.50, ...) as written, instead of refusing them")
    sp.add_argument("--lists", choices=("replace", "patch"), default="replace",
                    help="how the rows of cart_items.csv, legs.csv and passengers.csv change a session's list: "
                         "replace (default: the rows are the complete new list; elements not listed are removed, "
                         "which apply refuses without --allow-destructive) or patch (a row with an index patches "
                         "that element, the others are kept, rows without an index are appended)")
    sp.add_argument("--limit", type=_non_negative_int, default=20, metavar="N",
                    help="changed values to print (default 20)")


def _add_plan(sub: Any) -> None:
    pl = sub.add_parser("plan", help="check the CSVs, fetch, merge and print the diff; sends no write",
                        description="Validate the CSV files in DIR, fetch the current state of every session named, "
                                    "merge the edits onto it and print the problems, the summary and the diff. "
                                    "Sends no write. Exit 0 when the plan can be applied, 2 when it has errors.")
    _add_planning(pl)
    pl.add_argument("--save", metavar="PLAN.json", help="save the plan, to apply it later with apply PLAN.json")
    pl.add_argument("--problems", metavar="FILE.csv", help="write the problems table to this CSV file")


def _add_apply(sub: Any) -> None:
    ap = sub.add_parser("apply", help="plan, then apply with a journal; prints where the results are",
                        description="Plan DIR as `plan` does, then send the updates with a journal (resumable) and "
                                    "write results.csv, succeeded.csv and errors.csv next to it. Against a "
                                    "PRODUCTION target, --yes is required.")
    _add_planning(ap)
    ap.add_argument("--journal", metavar="FILE", help="the journal to create (default runs/<run id>.sqlite)")
    ap.add_argument("--runs-dir", default="runs", metavar="DIR", help="where journals go by default (default runs)")
    ap.add_argument("--first", type=_non_negative_int, metavar="N",
                    help="canary: send only the first N sessions, then stop (resume sends the rest)")
    ap.add_argument("--no-conflict-check", action="store_true",
                    help="do not re-read each session before writing it (faster; a session changed by someone else "
                         "since planning is then overwritten)")
    ap.add_argument("--yes", action="store_true", help="confirm writing to a production target")
    ap.add_argument("--allow-destructive", action="store_true",
                    help="consent to the plan's destructive changes (list elements removed, fields, keys, objects "
                         "or lists cleared with #N/A); without it such a plan is refused (exit 2) and nothing is sent")


def _add_running(sp: argparse.ArgumentParser) -> None:
    """The arguments ``resume`` and ``rollback`` share."""
    sp.add_argument("journal", metavar="JOURNAL", help="a run journal (runs/<run id>.sqlite)")
    sp.add_argument("--workers", type=_positive_int, metavar="N", help="concurrent requests (default: the run's)")
    sp.add_argument("--rate", type=_rate, metavar="RPS", help="most requests per second (default: the run's)")


def _add_resume_and_rollback(sub: Any) -> None:
    rs = sub.add_parser("resume", help="continue a cancelled, stopped, paused or killed run",
                        description="Continue a run from its journal: every session not known to have succeeded is "
                                    "re-read and sent again if needed. A finished run sends nothing.")
    _add_running(rs)
    rs.add_argument("--ignore-changed-inputs", action="store_true",
                    help="resume even though the input files changed since the run started")
    rb = sub.add_parser("rollback", help="put back the before-state of what a run changed",
                        description="For every session the run changed, re-read it and, if it still holds what the "
                                    "run wrote, put back the values it had before (only the fields the run changed). "
                                    "Sessions changed since are reported as conflicts and left alone unless --force. "
                                    "The rollback is itself a journaled run.")
    _add_running(rb)
    rb.add_argument("--force", action="store_true", help="overwrite sessions changed since the run")
    rb.add_argument("--yes", action="store_true", help="confirm writing to a production target")


def _add_runs_and_report(sub: Any) -> None:
    ru = sub.add_parser("runs", help="list run journals with their totals",
                        description="List the run journals under DIR (default runs) with their state and totals.")
    ru.add_argument("dir", nargs="?", default="runs", metavar="DIR")
    rp = sub.add_parser("report", help="write the exploratory HTML report",
                        description="Write a self-contained HTML report of SOURCE: a folder of the four CSVs, a "
                                    "folder written by gr4vy-nb flatten (Parquet: summarised out of core, any size), "
                                    "a JSONL export, or a file of session ids to fetch.")
    rp.add_argument("source", metavar="SOURCE")
    rp.add_argument("--out", required=True, metavar="report.html")
    rp.add_argument("--run", metavar="JOURNAL", help="add the section of this run")
    rp.add_argument("--raw", action="store_true", help="show personal data unmasked")
    rp.add_argument("--encoding", metavar="NAME", type=_encoding,
                    help="the CSV files' encoding when not UTF-8 or UTF-16 with a BOM (e.g. cp1252)")


def _add_probe(sub: Any) -> None:
    pr = sub.add_parser("probe", help="check what the target's PUT really does (merge or replace, expiry, ...)",
                        description="Create one throwaway checkout session on the target (marked as a probe in its "
                                    "metadata), check the API behaviours the toolkit relies on (PUT merges or "
                                    "replaces, null clears, lists replaced whole, expiry reset, documented fields, "
                                    "400 and 404 answers, headers), delete it and print what was found. The result "
                                    "is saved per target in the config folder (~/.gr4vy-nb, or GR4VY_NB_CONFIG_DIR): "
                                    "only on a target found to merge do updates send just the changed fields. "
                                    "Exit 0 when every assumption holds, 1 when one does not, 3 when the target "
                                    "cannot be reached or refuses the key. Against PRODUCTION, --yes is required.")
    pr.add_argument("--yes", action="store_true", help="confirm probing a production target (one session is "
                    "created and deleted)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gr4vy-nb",
        description="Read, report on and safely bulk-update Gr4vy checkout sessions from CSV files.",
        epilog="Target and credentials come from GR4VY_ID, GR4VY_ENVIRONMENT, GR4VY_PRIVATE_KEY_FILE, "
               "GR4VY_MERCHANT_ACCOUNT_ID and GR4VY_BASE_URL (or a .env file). Exit codes: 0 all done, "
               "1 some sessions failed, 2 bad input or usage (nothing sent), 3 configuration or credentials.",
    )
    p.add_argument("--version", action="version", version=f"gr4vy-nb {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("sandbox", add_help=False, help="run the local checkout-sessions emulator in the foreground "
                   "(see gr4vy-nb sandbox --help)")
    for add in (_add_export, _add_plan, _add_apply, _add_resume_and_rollback, _add_runs_and_report, _add_probe):
        add(sub)
    _add_flatten(sub)
    return p


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "export": _cmd_export, "plan": _cmd_plan, "apply": _cmd_apply, "resume": _cmd_resume,
    "rollback": _cmd_rollback, "runs": _cmd_runs, "report": _cmd_report, "probe": _cmd_probe,
}
_COMMANDS["flatten"] = _cmd_flatten


def _fail(code: int, message: str) -> int:
    _err(f"gr4vy-nb: {message}")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gr4vy-nb`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sandbox":
        return _cmd_sandbox(argparse.Namespace(), argv[1:])
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse printed
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT
    except BrokenPipeError:  # `gr4vy-nb --help | head`
        _quiet("stdout")
        return EXIT_OK
    if args.command is None:
        try:
            parser.print_help()
        except BrokenPipeError:
            _quiet("stdout")
        return EXIT_INPUT
    # Library errors become CLI errors here, in one place.
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # output cut short outside _out/_err (a progress bar, a library print): quietly
        _quiet("stdout")
        _quiet("stderr")
        return EXIT_OK
    except InputError as exc:
        if exc.problems is not None and len(exc.problems):
            _print_problems(exc.problems)
        return _fail(EXIT_INPUT, f"{exc} (nothing was sent)")
    except (ConfigError, AuthError, PermissionDenied) as exc:
        extra = ""
        if isinstance(exc, PermissionDenied):
            extra = f"; the key lacks the scope {exc.missing_scope or 'needed'}"
        return _fail(EXIT_CONFIG, f"{exc}{extra}")
    except TransportError as exc:
        return _fail(EXIT_CONFIG, f"cannot reach the API: {exc.message}; is the target right "
                                  "(GR4VY_BASE_URL / GR4VY_ID) and is it running?")
    except RunError as exc:
        return _fail(EXIT_INPUT, str(exc))
    except ApiError as exc:
        return _fail(EXIT_FAILED, str(exc))
    except Gr4vyError as exc:
        return _fail(EXIT_FAILED, str(exc))
    except KeyboardInterrupt:
        return _fail(130, "interrupted")


if __name__ == "__main__":
    sys.exit(main())
