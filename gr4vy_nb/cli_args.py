"""The ``gr4vy-nb`` command's arguments: every subcommand, its flags and their checks (argparse).

:func:`parser` builds the parser :func:`gr4vy_nb.cli.main` reads; the commands themselves are in
:mod:`gr4vy_nb.cli`. A flag's check (a positive number, an encoding Python knows, an ``expires_in``
the API accepts) refuses a bad value with argparse's usage error (exit 2) before anything is read.
"""

from __future__ import annotations

import argparse
import codecs
from collections.abc import Callable
from typing import Any

from ._version import __version__
from .schema import EXPIRES_IN_DEFAULT, EXPIRES_IN_MAX, EXPIRES_IN_MIN

__all__ = ["parser"]


def _command(sub: Any, name: str, summary: str, description: str,
             *shared: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    """A subcommand with the argument groups it shares with others (``_add_planning``, ``_add_running``)."""
    sp = sub.add_parser(name, help=summary, description=description)
    for add in shared:
        add(sp)
    return sp


def _add_yes(sp: argparse.ArgumentParser, text: str = "confirm writing to a production target") -> None:
    """``--yes``: the PRODUCTION confirmation of a command that writes."""
    sp.add_argument("--yes", action="store_true", help=text)


def _add_flatten(sub: Any) -> None:
    fl = _command(sub, "flatten", "flatten JSON Lines archives of any size into the four tables (Parquet)",
                  "Flatten JSON Lines (files, .gz, folders, globs) into the four tables, every "
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


# --------------------------------------------------------------------------- the flags' checks


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
    e = _command(sub, "export", "fetch sessions by id and write the four CSV files",
                 "Fetch the sessions listed in IDS (a text file, one id per line, or a CSV or "
                 "XLSX with a checkout_session_id column) and write sessions.csv, cart_items.csv, "
                 "legs.csv, passengers.csv and not_found.csv into DIR.")
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
    sp.add_argument("--rewrites", choices=("keep", "error", "send"), default="keep",
                    help="cells that are what an editor (a spreadsheet, pandas) makes of the current value (21464 for "
                         "021464, 795.0 for 795, TRUE for true, 1E06 for 1000000, ...): keep (default: the current "
                         "value stays, nothing is sent for them, one warning per file and column), error (refuse "
                         "them) or send (send them as written)")
    sp.add_argument("--allow-spreadsheet-rewrites", action="store_true",
                    help="the same as --rewrites send")
    sp.add_argument("--lists", choices=("replace", "patch"), default="replace",
                    help="how the rows of cart_items.csv, legs.csv and passengers.csv change a session's list: "
                         "replace (default: the rows are the complete new list; elements not listed are removed, "
                         "which apply refuses without --allow-destructive) or patch (a row with an index patches "
                         "that element, the others are kept, rows without an index are appended)")
    sp.add_argument("--ignore-stale", action="store_true",
                    help="merge rows whose session or element has changed since they were exported (their "
                         "row_version differs) with a warning each, instead of refusing them; this overwrites "
                         "the other writer's change")
    sp.add_argument("--limit", type=_non_negative_int, default=20, metavar="N",
                    help="changed values to print (default 20)")


def _add_plan(sub: Any) -> None:
    pl = _command(sub, "plan", "check the CSVs, fetch, merge and print the diff; sends no write",
                  "Validate the CSV files in DIR, fetch the current state of every session named, merge the edits "
                  "onto it and print the problems, the summary and the diff. Sends no write. Exit 0 when the plan "
                  "can be applied, 2 when it has errors.", _add_planning)
    pl.add_argument("--save", metavar="PLAN.json", help="save the plan, to apply it later with apply PLAN.json")
    pl.add_argument("--problems", metavar="FILE.csv", help="write the problems table to this CSV file")


def _add_apply(sub: Any) -> None:
    ap = _command(sub, "apply", "plan, then apply with a journal; prints where the results are",
                  "Plan DIR as `plan` does, then send the updates with a journal (resumable) and write results.csv, "
                  "succeeded.csv and errors.csv next to it. Against a PRODUCTION target, --yes is required.",
                  _add_planning, _add_yes)
    ap.add_argument("--journal", metavar="FILE", help="the journal to create (default runs/<run id>.sqlite)")
    ap.add_argument("--runs-dir", default="runs", metavar="DIR", help="where journals go by default (default runs)")
    ap.add_argument("--first", type=_non_negative_int, metavar="N",
                    help="canary: send only the first N sessions, then stop (resume sends the rest)")
    ap.add_argument("--no-conflict-check", action="store_true",
                    help="do not re-read each session before writing it (faster; a session changed by someone else "
                         "since planning is then overwritten)")
    ap.add_argument("--allow-destructive", action="store_true",
                    help="consent to the plan's destructive changes (list elements removed, fields, keys, objects "
                         "or lists cleared with #N/A); without it such a plan is refused (exit 2) and nothing is sent")


def _add_running(sp: argparse.ArgumentParser) -> None:
    """The arguments ``resume`` and ``rollback`` share."""
    sp.add_argument("journal", metavar="JOURNAL", help="a run journal (runs/<run id>.sqlite)")
    sp.add_argument("--workers", type=_positive_int, metavar="N", help="concurrent requests (default: the run's)")
    sp.add_argument("--rate", type=_rate, metavar="RPS", help="most requests per second (default: the run's)")


def _add_resume_and_rollback(sub: Any) -> None:
    rs = _command(sub, "resume", "continue a cancelled, stopped, paused or killed run",
                  "Continue a run from its journal: every session not known to have succeeded is re-read and sent "
                  "again if needed. A finished run sends nothing.", _add_running)
    rs.add_argument("--ignore-changed-inputs", action="store_true",
                    help="resume even though the input files changed since the run started")
    rb = _command(sub, "rollback", "put back the before-state of what a run changed",
                  "For every session the run changed, re-read it and, if it still holds what the run wrote, put back "
                  "the values it had before (only the fields the run changed). Sessions changed since are reported "
                  "as conflicts and left alone unless --force. The rollback is itself a journaled run.",
                  _add_running, _add_yes)
    rb.add_argument("--force", action="store_true", help="overwrite sessions changed since the run")


def _add_runs_and_report(sub: Any) -> None:
    ru = _command(sub, "runs", "list run journals with their totals",
                  "List the run journals under DIR (default runs) with their state and totals.")
    ru.add_argument("dir", nargs="?", default="runs", metavar="DIR")
    rp = _command(sub, "report", "write the exploratory HTML report",
                  "Write a self-contained HTML report of SOURCE: a folder of the four CSVs, a "
                  "folder written by gr4vy-nb flatten (Parquet: summarised out of core, any size), "
                  "a JSONL export, or a file of session ids to fetch.")
    rp.add_argument("source", metavar="SOURCE")
    rp.add_argument("--out", required=True, metavar="report.html")
    rp.add_argument("--run", metavar="JOURNAL", help="add the section of this run")
    rp.add_argument("--raw", action="store_true", help="show personal data unmasked")
    rp.add_argument("--encoding", metavar="NAME", type=_encoding,
                    help="the CSV files' encoding when not UTF-8 or UTF-16 with a BOM (e.g. cp1252)")


def _add_probe(sub: Any) -> None:
    pr = _command(sub, "probe", "check what the target's PUT really does (merge or replace, expiry, ...)",
                  "Create one throwaway checkout session on the target (marked as a probe in its "
                  "metadata), check the API behaviours the toolkit relies on (PUT merges or "
                  "replaces, null clears, lists replaced whole, expiry reset, documented fields, "
                  "400 and 404 answers, headers), delete it and print what was found. The result "
                  "is saved per target in the config folder (~/.gr4vy-nb, or GR4VY_NB_CONFIG_DIR): "
                  "only on a target found to merge do updates send just the changed fields. "
                  "Exit 0 when every assumption holds, 1 when one does not, 3 when the target "
                  "cannot be reached or refuses the key. Against PRODUCTION, --yes is required.")
    _add_yes(pr, "confirm probing a production target (one session is created and deleted)")


def parser() -> argparse.ArgumentParser:
    """The ``gr4vy-nb`` argument parser, every subcommand included."""
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
