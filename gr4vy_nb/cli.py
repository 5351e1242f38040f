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

from .cli_args import parser as _parser
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
from .updates.states import NOT_THROUGH, RESULT_STATUSES, RunState, SessionStatus

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
    """One line per file, column and rule: the count, the first lines and their range, an example, one message."""
    from .problems import summarise

    if problems is None or not len(problems):
        return
    groups = summarise(problems)
    rows = []
    for g in groups.head(limit).itertuples(index=False):
        rows.append([g.severity, _clip(g.file, 40), _clip(g.column, 40), g.rule, f"{int(g.count):,}", g.lines,
                     _clip(g.value, 24), _clip(g.message, 240)])
    _out(_table(rows, ["severity", "file", "column", "rule", "count", "lines", "example", "message"]))
    if len(groups) > limit:
        _out(f"... and {len(groups) - limit} more group(s)")
    if len(problems) > len(groups):
        _out(f"{len(problems):,} problem(s) in {len(groups):,} group(s); --problems FILE lists every one")


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
        _err(f"TARGET: {s.target.upper()} AT {s.base_url} — MERCHANT ACCOUNT {s.merchant_account_id.upper()}")
    else:
        _err(f"target: {s.target} at {s.base_url}, merchant account {s.merchant_account_id!r}")


# --------------------------------------------------------------------------- commands


def _cmd_sandbox(args: argparse.Namespace, rest: list[str]) -> int:
    from .sandbox.server import main as sandbox_main

    return int(sandbox_main(rest))


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_sessions
    from .tables.idlists import read_id_list

    listed = read_id_list(args.ids)  # the one id-list reader: what it forgave is said, with its lines
    for note in listed.describe():
        _out(f"note: {note}")
    ids = listed.ids
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


def _bulk(client: Any, args: argparse.Namespace) -> Any:
    """The bulk update this command drives, with the target's saved probe result (looked up once, here)."""
    from .api.probe import saved_probe
    from .updates.workflow import BulkUpdate

    return BulkUpdate(client, probe=saved_probe(client.settings), runs_dir=getattr(args, "runs_dir", None) or "runs")


def _make_plan(args: argparse.Namespace, bulk: Any) -> Any:
    from .updates.options import PlanOptions
    from .updates.plan import Plan

    source = Path(args.source)
    if source.is_file() and source.suffix.lower() == ".json":
        plan = Plan.load(source)
        _out(f"loaded the plan {source} (made {_when(plan.created_at)})")
        return bulk.take_plan(plan)
    options = PlanOptions(expires_in=args.expires_in, workers=args.workers, run_workers=args.workers,
                          run_rate=args.rate, lists=getattr(args, "lists", "replace"), encoding=args.encoding,
                          rewrites="send" if args.allow_spreadsheet_rewrites else args.rewrites,
                          ignore_stale=getattr(args, "ignore_stale", False))
    bar = _Bar("reading current state")
    try:
        from .tables.masking import unmasked

        with unmasked(args.raw):  # --raw: problems and notes quote personal values too
            bulk.load(source, encoding=args.encoding)
            return bulk.plan(options, progress=bar.fetch)
    finally:
        bar.close()


def _refusal(why: Any, settings: Any, *, verb: str = "WRITE TO") -> str:
    """A step's typed refusal in this command's words (flags, next command)."""
    from .updates.reasons import ReasonCode

    code = why.code
    tag = f" [{code}]"  # the workflow's reason code, the same every shell reports
    if code == ReasonCode.PRODUCTION_NOT_CONFIRMED:
        return f"REFUSING TO {verb} {settings.target.upper()} without --yes.{tag}"
    if code == ReasonCode.ERRORS_REMAIN:
        return f"\nNothing was sent: fix the errors and try again.{tag}"
    return f"\nNothing was sent: {why.text}.{tag}"


def _when(stamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_RULE_HINTS = {  # (rule, severity) -> the way out, in this command's flags
    ("spreadsheet_rewrite", "error"): "spreadsheet rewrites: the XLSX export (export --format xlsx) keeps every value "
                                      "as text; --rewrites keep keeps the current values, --rewrites send sends them "
                                      "as written",
    ("rewrite_kept", "warning"): "kept rewrites: --rewrites error refuses them instead, --rewrites send sends them "
                                 "as written",
    ("destructive", "warning"): "destructive changes: --allow-destructive applies them; --lists patch keeps the list "
                                "elements your files do not list",
    ("stale", "error"): "stale rows changed since their export: export those sessions again and redo the edits "
                        "there, or add --ignore-stale to overwrite the changes",
}


def _show_plan(plan: Any, args: argparse.Namespace) -> None:
    if len(plan.problems):
        _out("Problems:")
        _print_problems(plan.problems)
        refused = (getattr(args, "rewrites", "keep") == "error"
                   and not getattr(args, "allow_spreadsheet_rewrites", False))
        for kind in dict.fromkeys(zip(plan.problems["rule"].astype(str), plan.problems["severity"].astype(str),
                                      strict=True)):
            if kind == ("spreadsheet_rewrite", "error") and not refused:
                continue  # kept or sent: what is refused is a spreadsheet error value (#REF!), no rewrite
            if kind in _RULE_HINTS:
                _out(f"hint: {_RULE_HINTS[kind]}")
        _out()
    _out(plan.describe(raw=args.raw, max_rows=args.limit, problems=False))  # printed above, with hints


def _cmd_plan(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _say_target(client)
        plan = _make_plan(args, _bulk(client, args))
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
    clean = not any(counts[s] for s in NOT_THROUGH)  # then errors.csv is a bare header: not offered
    for name, path in run.files.items():
        if not (clean and name.startswith("errors")):
            _out(f"  {name + ':':<10} {path}")
    if run.state in (RunState.CANCELLED, RunState.STOPPED, RunState.PAUSED) or counts[SessionStatus.UNPROCESSED]:
        _out(f"Resume with: gr4vy-nb resume {run.journal}")


def _run_with_bar(desc: str, call: Callable[..., Any], **kw: Any) -> Any:
    bar = _Bar(desc)
    try:
        return call(progress=bar.run, **kw)
    finally:
        bar.close()


def _production_refused(client: Any, args: argparse.Namespace, verb: str, more: str = "") -> bool:
    """The PRODUCTION guard of every writing command, before anything is read: refused without --yes."""
    from .updates.reasons import production_reason

    why = production_reason(client.settings, client.settings.merchant_account_id if args.yes else None)
    if why is not None:
        _err(_refusal(why, client.settings, verb=verb) + more)
    return why is not None


def _run_options(args: argparse.Namespace, **more: Any) -> Any:
    from .updates.options import RunOptions

    return RunOptions(workers=args.workers, rate=args.rate, **more)


def _apply_refusal(why: Any, plan: Any, args: argparse.Namespace) -> str:
    """The destructive-consent refusal in this command's words: the exact command that applies, or patches."""
    command = f"gr4vy-nb {args.command} {args.source}"
    patch = (f"make the plan again from your files with `gr4vy-nb plan DIR --lists patch --save {args.source}`"
             if Path(args.source).suffix.lower() == ".json" else f"run `{command} --lists patch`")
    return (f"\nNothing was sent: the plan would {plan.consent} (listed above as DESTRUCTIVE). Check them, then run "
            f"`{command} --allow-destructive` to apply them, or {patch} to keep the list elements your files do not "
            f"list. [{why.code}]")


def _cmd_apply(args: argparse.Namespace) -> int:
    from .updates.reasons import Action, ReasonCode

    with _client(args) as client:
        _say_target(client)
        if _production_refused(client, args, "WRITE TO", " Run `gr4vy-nb plan` first, check the diff, then add --yes."):
            return EXIT_INPUT
        bulk = _bulk(client, args)
        plan = _make_plan(args, bulk)
        _show_plan(plan, args)
        if args.yes:
            bulk.confirm(client.settings.merchant_account_id)
        if args.allow_destructive and plan.consent:
            bulk.consent()
        why = bulk.why_not(Action.APPLY)
        if why is not None:
            _out(_apply_refusal(why, plan, args) if why.code == ReasonCode.DESTRUCTIVE_NEEDS_CONSENT
                 else _refusal(why, client.settings))
            return EXIT_INPUT
        if not plan.changes:
            _out("\nNothing to send: no session changes.")
        _say_interrupted(plan, args.runs_dir)
        options = _run_options(args, first=args.first, conflict_check=not args.no_conflict_check,
                               journal=args.journal, runs_dir=args.runs_dir)
        run = _run_with_bar("applying", bulk.apply, options=options)
    _run_summary(run)
    return int(run.exit_code)


def _say_interrupted(plan: Any, runs_dir: str) -> None:
    """Say so when the last run of these very input files was interrupted: that run is to be resumed."""
    from .updates.results import last_run_of

    last = last_run_of(plan.inputs, runs_dir, target=plan.target)
    if last is None or last["state"] != RunState.INTERRUPTED:
        return
    left = int(last.get(SessionStatus.PLANNED) or 0) + int(last.get(SessionStatus.UNPROCESSED) or 0)
    _out(f"\nnote: the last run of these files, {last['run_id']}, was interrupted ({left} session(s) not sent, "
         f"{int(last.get(SessionStatus.SENDING) or 0)} in flight): to finish it, resume it with `gr4vy-nb resume "
         f"{last['journal']}` (or roll it back with `gr4vy-nb rollback {last['journal']}`). This apply is a new run; "
         "the interrupted one stays as it is.")


def _cmd_resume(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _say_target(client)
        bulk = _bulk(client, args)
        bulk.attach(args.journal)
        # Resuming continues a run that was confirmed when it started: it asks for no new confirmation.
        bulk.confirm(client.settings.merchant_account_id)
        run = _run_with_bar("resuming", bulk.resume,
                            options=_run_options(args, check_inputs=not args.ignore_changed_inputs))
    _run_summary(run)
    return int(run.exit_code)


def _cmd_rollback(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _say_target(client)
        if _production_refused(client, args, "WRITE TO"):
            return EXIT_INPUT
        bulk = _bulk(client, args)
        bulk.attach(args.journal)
        bulk.confirm(client.settings.merchant_account_id if args.yes else None)
        run = _run_with_bar("rolling back", bulk.rollback, options=_run_options(args), force=args.force)
    _run_summary(run)
    return int(run.exit_code)


def _cmd_probe(args: argparse.Namespace) -> int:
    from .api.probe import probe_target

    with _client(args, workers=1) as client:
        _say_target(client)
        if _production_refused(client, args, "PROBE", " The probe creates one checkout session (marked as a probe "
                               "in its metadata), updates it a few times and deletes it."):
            return EXIT_INPUT
        result = probe_target(client)
    _out(result.describe())
    return int(result.exit_code)


def _cmd_runs(args: argparse.Namespace) -> int:
    from .updates.results import RUN_COLUMNS, list_runs, run_columns, shown_state

    runs = list_runs(args.dir)
    if runs.empty:
        _out(f"no run journals under {args.dir}")
        return EXIT_OK
    rows, hints = [], []
    for r in runs.to_dict("records"):
        created = "" if str(r["created_at"]) in ("NaT", "nan") else str(r["created_at"])[:19]
        state = shown_state(r["state"], r.get("rolled_back_by"))
        counts = run_columns(r)
        kind = r["kind"] if isinstance(r["kind"], str) else ""
        rows.append([r["run_id"], kind, created, state, *counts.values(), r["journal"]])
        if r["state"] == RunState.INTERRUPTED:
            in_flight = f" with {counts['in flight']} session(s) in flight" if counts["in flight"] else ""
            hints.append(f"{r['run_id']} interrupted{in_flight}: resume it (gr4vy-nb resume {r['journal']}) or "
                         f"roll it back (gr4vy-nb rollback {r['journal']})")
    _out(_table(rows, ["run", "kind", "created (UTC)", "state", *RUN_COLUMNS, "journal"]))
    if hints:
        _out("(unprocessed: not sent yet; in flight: being sent when the run stopped, written or not: a resume "
             "or a rollback re-reads them first)")
    for hint in hints:
        _out(hint)
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
