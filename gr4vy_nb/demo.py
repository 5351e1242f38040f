"""``make demo``: the main job end to end on the embedded sandbox, narrated for an analyst.

1. start the local sandbox emulator, seeded with the sample sessions;
2. export every session to the four CSV files;
3. plan and apply the example edits (``data/examples/``, shipped in the package) (a metadata tag on many sessions,
   a tax fix in cart items, a passenger name correction), showing the diff, the results and
   the error file; then plan the folder with deliberate mistakes and show that every problem
   is reported with file, line and column, and that nothing was sent;
4. roll one run back, and list the runs.

Run with ``python -m gr4vy_nb.demo [--out build/demo]``; it takes a few seconds. Personal
data is masked in everything printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ._data import examples_dir, sample_session_ids
from .api.client import Gr4vyClient
from .api.probe import probe_target
from .config import CONFIG_DIR_ENV, Settings
from .errors import InputError
from .export import export_sessions
from .sandbox import start_sandbox
from .tables.files import read_table
from .updates.plan import plan_updates
from .updates.results import list_runs, shown_state
from .updates.runs import apply_plan, rollback_run
from .updates.states import RESULT_STATUSES, SessionStatus

_WIDTH = 100


def _heading(text: str) -> None:
    print(f"\n{text}\n{'-' * min(len(text), _WIDTH)}", flush=True)


def _frame(df: pd.DataFrame, limit: int = 12) -> str:
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 70):
        text = df.head(limit).to_string(index=False)
    more = f"\n… and {len(df) - limit} more row(s)" if len(df) > limit else ""
    return "\n".join("    " + line for line in text.splitlines()) + more


def _show_problems(problems: pd.DataFrame) -> None:
    shown = problems[["severity", "file", "line", "column", "value", "rule", "message"]].astype(object)
    shown = shown.where(shown.notna(), "")
    shown["message"] = shown["message"].map(lambda m: m if len(m) <= 70 else m[:69] + "…")
    print(_frame(shown, 20))


def _writes(sandbox: Any) -> int:
    return sum(sandbox.stats()["writes"].values())


def _apply_example(name: str, client: Any, sandbox: Any, runs: Path, probe: Any = None) -> Any:
    folder = examples_dir() / name
    files = ", ".join(p.name for p in sorted(folder.glob("*.csv")))
    _heading(f"Example {name}  ({files})")
    plan = plan_updates(folder, client=client, probe=probe)
    if len(plan.problems):
        print("  Problems found while checking:")
        _show_problems(plan.problems)
    print("\n".join("  " + line for line in plan.describe(max_rows=6).splitlines()))
    before = _writes(sandbox)
    consent = False
    if len(plan.destructive):
        # Removing list elements or clearing fields needs consent: show the refusal, then consent as a user would.
        try:
            apply_plan(plan, client=client, runs_dir=runs, workers=8)
        except InputError as exc:
            print(f"\n  Without consent, applying is refused: {exc} ({_writes(sandbox) - before} writes)")
        print(f"  The demo consents (--allow-destructive, allow_destructive=True): it means to {plan.consent}.")
        consent = True
    run = apply_plan(plan, client=client, runs_dir=runs, workers=8, allow_destructive=consent)
    counts = run.counts
    print(f"\n  Applied: {counts['succeeded']} succeeded, {counts['failed']} failed, {counts['conflict']} conflict, "
          f"{counts['skipped']} skipped, {counts['unprocessed']} unprocessed "
          f"({_writes(sandbox) - before} write(s) seen by the sandbox, {run.elapsed:.1f} s)")
    print(f"  Journal: {run.journal}")
    print(f"  Results: {run.files['results']}")
    errors = read_table(run.files["errors"]).frame
    if len(errors):
        print(f"  Error file {run.files['errors']} — fix these rows and upload the file again:")
        print(_frame(errors.reset_index(drop=True).astype(object).where(errors.notna().to_numpy(), "")))
    return run


def run_demo(out: Path) -> int:
    """Run the demo, writing its files under ``out``; returns 0 when everything went as expected.

    The probe's result is saved under ``out/config`` (not the user's config folder): the demo's
    sandbox lives only as long as the demo.
    """
    previous = os.environ.get(CONFIG_DIR_ENV)
    os.environ[CONFIG_DIR_ENV] = str(out.resolve() / "config")
    try:
        return _run_demo(out)
    finally:
        if previous is None:
            os.environ.pop(CONFIG_DIR_ENV, None)
        else:
            os.environ[CONFIG_DIR_ENV] = previous


def _run_demo(out: Path) -> int:
    started = time.monotonic()
    if not examples_dir().is_dir():
        print(f"the example edits are missing ({examples_dir()}); run python data/make_examples.py", file=sys.stderr)
        return 2
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    runs = out / "runs"
    print("gr4vy-nb demo: bulk-updating checkout sessions from CSV files, safely")
    print(f"(everything runs on the local sandbox emulator; files go to {out})")

    _heading("1. Start the local sandbox emulator")
    with start_sandbox(mode="thread") as sandbox:
        settings = Settings.for_sandbox(sandbox)
        print(f"  {settings}")
        with Gr4vyClient(settings, workers=8) as client:
            _heading("2. Check what the API's PUT really does (gr4vy-nb probe)")
            probed = probe_target(client)  # saved under the demo's own config folder (see run_demo's caller)
            print("\n".join("  " + line for line in probed.table().splitlines()))
            print("  Every assumption holds: updates will send only the changed fields." if probed.ok else
                  f"  {len(probed.failures)} assumption(s) do not hold: updates will send each session's full state.")

            _heading("3. Export the sessions to CSV")
            ids = sample_session_ids()
            export = export_sessions(ids, client, out / "export")
            for table, df in export.frames.tables().items():
                print(f"  {table + '.csv':<16} {len(df):>4} rows, {df.shape[1]} columns")
            again = plan_updates(out / "export", client=client, probe=probed)
            print(f"  Uploading the unedited export again plans {again.summary['changed']} change(s): "
                  "an export is a safe starting point for edits.")

            _heading("4. Apply the example edits")
            tag_run = _apply_example("01_metadata_tag", client, sandbox, runs, probed)
            tax_run = _apply_example("02_tax_fix", client, sandbox, runs, probed)
            _apply_example("03_passenger_name", client, sandbox, runs, probed)

            _heading("Example 04_with_errors: a file with mistakes")
            before = _writes(sandbox)
            bad = plan_updates(examples_dir() / "04_with_errors", client=client, probe=probed)
            _show_problems(bad.problems)
            try:
                apply_plan(bad, client=client, runs_dir=runs)
                print("  unexpected: the plan with errors was applied", file=sys.stderr)
                return 1
            except Exception as exc:  # InputError: the point of this step
                print(f"\n  Applying it is refused: {exc}.")
            print(f"  Writes seen by the sandbox during this step: {_writes(sandbox) - before}.")

            _heading("5. Roll back the tax fix")
            sample = tax_run.results[tax_run.results.status == SessionStatus.SUCCEEDED].checkout_session_id.iloc[0]
            fixed = client.get_checkout_session(sample)["cart_items"][0].get("tax_amount")
            back = rollback_run(tax_run.journal, client=client)
            restored = client.get_checkout_session(sample)["cart_items"][0].get("tax_amount")
            print(f"  {back.counts['succeeded']} session(s) put back, {back.counts['conflict']} conflict(s); "
                  f"e.g. {sample}: tax_amount {fixed} -> {restored}")
            print(f"  The rollback is a run of its own: {back.journal}")

            _heading("6. The runs")
            listing = list_runs(runs)
            listing["state"] = [shown_state(s, by) for s, by in zip(listing["state"], listing["rolled_back_by"],
                                                                    strict=True)]
            listing = listing[["run_id", "kind", "state", *RESULT_STATUSES, "total"]]
            print(_frame(listing))
    ok = tag_run.counts["failed"] == 1 and back.ok and tax_run.ok
    print(f"\nDone in {time.monotonic() - started:.1f} s. Resume a run with `gr4vy-nb resume JOURNAL`, roll one "
          "back with `gr4vy-nb rollback JOURNAL`.")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gr4vy_nb.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build") / "demo", help="where to write (default build/demo)")
    args = parser.parse_args(argv)
    return run_demo(args.out)


if __name__ == "__main__":
    sys.exit(main())
