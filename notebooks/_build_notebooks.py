"""Write the four notebooks from the cell texts below (committed without outputs or widget state).

    .venv/bin/python notebooks/_build_notebooks.py          # rewrite the .ipynb files
    .venv/bin/python notebooks/_build_notebooks.py --check  # exit 1 if a notebook differs

The notebooks hold no logic: every code cell calls the package, and imports only its public surface
(``gr4vy_nb``, ``gr4vy_nb.report``, ``gr4vy_nb.widgets``, ``gr4vy_nb.notebook_support``). Edit the cells
here, not in JupyterLab, so that the committed files stay clean and reviewable (tests check all three).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

# The example folder notebook 02 applies in code (the app's example is chosen by the user).
CODE_EXAMPLE = "02_tax_fix"
ERRORS_EXAMPLE = "04_with_errors"

_TARGET = (
    "**Target:** with nothing configured (no `GR4VY_*` variables, no `.env` file) it uses the local "
    "sandbox emulator seeded with the sample sessions: nothing reaches Gr4vy. To use a real instance, set "
    "`GR4VY_ID`, `GR4VY_ENVIRONMENT`, `GR4VY_PRIVATE_KEY_FILE` and `GR4VY_MERCHANT_ACCOUNT_ID` (see the "
    "README). The banner under the first code cell always names the target: *local sandbox emulator*, "
    "*Gr4vy sandbox* or, in red, *PRODUCTION*."
)

EXPLORE = [
    ("md", f"""# 01 · Explore checkout sessions

**What it does:** connects to a Gr4vy target, fetches checkout sessions by id (or loads a JSONL export),
flattens them into four related tables — `sessions`, `cart_items`, `legs`, `passengers` — and explores them
with interactive tables, summaries and plots.

**What it changes:** nothing. It only reads sessions (`GET`). Personal data (names, emails, phones, passports,
dates of birth, ...) is masked in every table unless you tick *show personal data*.

{_TARGET}"""),
    ("code", """%matplotlib inline
from gr4vy_nb import report
from gr4vy_nb.notebook_support import connect, fetch_frames, sample_session_ids
from gr4vy_nb.widgets import ConnectionPanel, SessionExplorer

conn = connect()"""),
    ("md", """## Check the connection

*Test connection* reads one session and reports the round trip, or exactly what is wrong: a key the
server refuses, a clock too far off, a missing scope, no answer."""),
    ("code", "ConnectionPanel(conn)"),
    ("md", """## Browse interactively

Paste session ids (or upload a `.txt`/`.csv`/`.xlsx` list of ids, or a `.jsonl` export) and press *Fetch sessions*.
The tables are paged, sortable and searchable."""),
    ("code", """explorer = SessionExplorer(conn)
explorer"""),
    ("md", """## The same in code

The ids below are the sample sessions the sandbox is seeded with. On a real instance use your own list, e.g.
`read_id_list("ids.txt").ids` (a `.txt`, `.csv` or `.xlsx` list, read as `gr4vy-nb export` reads it; from
`gr4vy_nb.notebook_support`)."""),
    ("code", """ids = sample_session_ids(150)
frames, not_found = fetch_frames(conn.client, ids)
frames"""),
    ("code", "not_found"),
    ("code", """masked = frames.masked()  # personal data masked: the default for anything shown or shared
masked.sessions.head(10)"""),
    ("code", "masked.cart_items.head(10)"),
    ("code", "masked.passengers.head(10)"),
    ("md", "## Summaries"),
    ("code", "report.sessions_overview(frames)"),
    ("code", "report.expiry_timeline(frames)"),
    ("code", "report.by_product_type(frames)"),
    ("code", "report.routes(frames, top=10)"),
    ("md", "## Plots"),
    ("code", "report.plot_expiry(frames)"),
    ("code", "report.plot_product_types(frames)"),
    ("code", "report.plot_cart_values(frames)"),
    ("code", "report.plot_routes(frames)"),
    ("md", """## Edit them

This notebook changes nothing. To change sessions, edit `frames` in **notebook 04** (`04_edit_in_the_notebook`):
in an editable grid, or with pandas (`frames.cart_items.loc[...] = ...`) followed by
`plan_updates(frames, client=conn.client)`: the frames remember the state they were fetched in, so only your
edits are planned, and a cell someone else changed since is never overwritten unawares. Notebook 02 does the
same from CSV files."""),
]

BULK = [
    ("md", f"""# 02 · Bulk-update checkout sessions from CSV files

**What it does:** takes edited CSV files — any of `sessions.csv`, `cart_items.csv`, `legs.csv`,
`passengers.csv`, with any subset of columns — checks every cell, reads the current state of each session
named, shows exactly what would change, then applies the updates with retries, a journal and live progress.
Afterwards it shows the results, hands back `errors.csv`/`succeeded.csv`, and can roll a run back.

**What it changes:** the checkout sessions named in the files — only when you press *Run* in the app
(step 4), or set `APPLY = True` under *The same steps in code* (those cells then apply an example update
and roll it back). Running all cells as committed writes nothing. Each update also resets the session's
expiry (`expires_in`, one hour unless you choose longer).
Every run keeps a journal under `runs/`, so it can be resumed or rolled back; uploads are kept there too.

{_TARGET} Writes to PRODUCTION need an explicit confirmation: typing the merchant account id."""),
    ("code", """from gr4vy_nb import apply_plan, plan_updates, resume_run, rollback_run
from gr4vy_nb.notebook_support import allow_writes, connect, examples_dir, show_problems
from gr4vy_nb.widgets import BulkUpdateApp

conn = connect()"""),
    ("md", """## The app

1. **Files:** upload 1 to 4 CSVs (or type a folder or file path — needed for files over 8 MB) and press
   *Validate*.
2. **Validation:** every problem with its file, line and column; download them as `problems.csv`.
3. **Plan:** choose the expiry, press *Plan*: the current state is read (nothing is written) and each
   change is listed; pick a session to see its fields before and after.
4. **Apply:** workers, a rate limit and a canary (only the first N sessions); *Run* starts it, *Cancel*
   stops it cleanly.
5. **Results:** filter by status, download `errors.csv` and `succeeded.csv`, *Retry failed*, *Roll back
   this run*.

Example files to try are in `data/examples/` of the repository:"""),
    ("code", """app = BulkUpdateApp(conn)
app"""),
    ("code", "sorted(examples_dir().iterdir())"),
    ("md", """## The same steps in code

For those who prefer code: the same engine, one call per step. Reading and planning always run; the
cells that write go through `writes`, which sends nothing unless `APPLY = True` (and, on PRODUCTION,
`CONFIRM_PRODUCTION` holds the merchant account id)."""),
    ("code", """APPLY = False  # True: the cells below apply the tax example (5 sessions, then the rest), then roll it back
CONFIRM_PRODUCTION = ""  # PRODUCTION only: type the merchant account id here to allow those writes
writes = allow_writes(conn, APPLY, CONFIRM_PRODUCTION)
writes"""),
    ("md", "A file with deliberate mistakes: every problem is reported at once, in file/line/column terms, and "
           "nothing is sent."),
    ("code", f"""bad = plan_updates(examples_dir() / "{ERRORS_EXAMPLE}", client=conn.client, probe=conn.probe)
show_problems(bad.errors)"""),
    ("md", "A good file: the plan (reads only), its summary and the changes, personal data masked."),
    ("code", f"""plan = plan_updates(examples_dir() / "{CODE_EXAMPLE}", client=conn.client, probe=conn.probe, expires_in=3600)
print(plan.describe())"""),
    ("code", "plan.masked_diff().head(20)"),
    ("md", "Apply a canary of 5 sessions first, look at it, then resume the run for the rest."),
    ("code", """canary = writes.run(apply_plan, plan, client=conn.client, first=5)
print(canary.describe())"""),
    ("code", """run = writes.run(resume_run, canary.journal, client=conn.client)
print(run.describe())"""),
    ("code", "run.results.head(10)"),
    ("md", "## Undo\n\nRoll the run back: each session it changed gets its earlier values again, unless someone "
           "changed it since (a conflict, left alone). The expiry cannot be restored: the rollback is an update "
           "too, and resets it again."),
    ("code", """undo = writes.run(rollback_run, run.journal, client=conn.client)
print(undo.describe())"""),
]

REVIEW = [
    ("md", f"""# 03 · Review runs and report

**What it does:** lists the runs (the journals under `runs/`), shows a run's results and result files,
resumes or rolls back a run, and builds the exploratory report of the sessions a run touched — shown inline
and written as a standalone HTML file.

**What it changes:** nothing, unless you press a button in the runs browser (*Resume run*, *Roll back this
run* then *Confirm rollback*, or, on the local sandbox with no run yet, *Make an example run*: a
`metadata.review` tag on 20 sample sessions), or set `APPLY = True` in the last cell (*Roll back in code*).
Running all cells as committed writes nothing.

{_TARGET}"""),
    ("code", """%matplotlib inline
from gr4vy_nb import report, rollback_run
from gr4vy_nb.notebook_support import InlineHTML, allow_writes, connect, latest_run, run_frames
from gr4vy_nb.widgets import RunsBrowser

conn = connect()"""),
    ("md", """## Runs browser

Pick a run and press *Open*: its counts, its results (filter by status), its files. *Resume run* sends
what it has not sent yet; *Roll back this run* shows what would be put back, and *Confirm rollback* does it.
A run that was rolled back is marked "rolled back by" the rollback's run."""),
    ("code", """browser = RunsBrowser(conn)
browser"""),
    ("md", "## The latest run, in code"),
    ("code", """run = latest_run(conn, placeholder=True)  # with no run yet: an empty run saying how to make one
print(run.describe())"""),
    ("code", "run.results.head(10)"),
    ("code", "report.run_summary(run)"),
    ("code", "report.run_errors_by_code(run)"),
    ("code", "report.plot_run_status(run)"),
    ("md", """## The report

The sessions the run touched, as the run left them (read from its journal: no request, however many), with
the run's figures: written as one self-contained HTML file (no network needed to open it; personal data
masked) and shown below. For their state now, fetch them instead:
`frames, not_found = fetch_frames(conn.client, run.results["checkout_session_id"])`."""),
    ("code", """frames = run_frames(run)
path = report.build_report(frames, run=run, path="runs/reports/latest-run.html")
path"""),
    ("code", "InlineHTML.from_file(path)"),
    ("md", """## Roll back in code

Puts back the values each session had before the run. A session changed since the run is reported as a
conflict and left alone; the expiry cannot be restored. Off unless `APPLY = True`; on PRODUCTION, set
`CONFIRM_PRODUCTION` to the merchant account id too."""),
    ("code", """APPLY = False  # True: this cell rolls the latest run back (writes to every session it changed)
CONFIRM_PRODUCTION = ""  # PRODUCTION only: type the merchant account id here to allow the rollback
writes = allow_writes(conn, APPLY, CONFIRM_PRODUCTION)
undo = writes.run(rollback_run, run.journal, client=conn.client)
print(undo.describe())"""),
]

EDIT = [
    ("md", f"""# 04 · Edit checkout sessions in the notebook

**What it does:** fetches checkout sessions and lets you edit their four tables right here — in an editable
grid, or with pandas in code — then plans the edits (the diff, and consent for anything removed), applies
them and shows the results. No export, no spreadsheet, no upload: the edits go through exactly the same
plan, consent, journal, `errors.csv`, resume and rollback as CSV files do (notebook 02).

**What it changes:** the sessions you edit — only when you press *Apply* in the grid, or set `APPLY = True`
under *The same in code*. Running all cells as committed writes nothing. Each update also resets the
session's expiry (one hour).

**How edits are judged:** the sessions remember the state they were fetched in. Only the cells you changed
are sent; a cell someone else changed since (and you did not) keeps its new value; a cell changed on both
sides is a *conflict*, named in the plan, and nothing is sent for that session until you fetch it again.

{_TARGET}"""),
    ("code", """from gr4vy_nb import apply_plan, plan_updates
from gr4vy_nb.notebook_support import allow_writes, connect, fetch_frames, sample_session_ids
from gr4vy_nb.widgets import EditGrid

conn = connect()"""),
    ("md", """## Fetch the sessions

On a real instance use your own ids, e.g. `read_id_list("ids.txt").ids` (from `gr4vy_nb.notebook_support`),
or the frames fetched in notebook 01 (`SessionExplorer(...).frames`)."""),
    ("code", """frames, not_found = fetch_frames(conn.client, sample_session_ids(30))
frames"""),
    ("md", """## The grid

* Pick a table (`sessions`, `cart_items`, `legs`, `passengers`); **double-click a cell, type, Enter**. The value
  is checked by the same rules as an uploaded file: a refused value is put back, with the reason above the grid.
  Changed cells turn yellow and are counted (*14 cells changed in 9 sessions*); *Undo*, *Redo*, *Reset*.
* Grey columns are locked: ids, `*_index`, `expires_at`, `payment_method.…`, `extra`. Personal data is masked
  and locked until you tick *show personal data*: a masked value can never become an edit.
* *Filter* (a column contains a text), *sort by*; *Replace in shown rows* (find & replace within a column, in
  the filtered rows); *Set on selected rows* / *Set on shown rows*; *Fill down selection*.
* `cart_items`, `legs`, `passengers`: *Add a row* to the chosen session, *Remove selected rows*
  (a destructive change: the plan asks for your consent).
* *Plan* reads the sessions again (nothing is written) and shows the diff; *Apply* writes, with a journal under
  `runs/` (resume and roll back in notebook 03). *Save edits* writes them as the four CSVs (a folder) or an
  `.xlsx`, to review or apply later in notebook 02."""),
    ("code", """grid = EditGrid(frames, conn)
grid"""),
    ("md", """## The same in code: a pandas rule

`frames` are plain pandas DataFrames: edit them with any pandas expression, then plan them as they are.
Only what the rule changed is planned, judged three ways like the grid's edits. The cells that write go
through `writes`, which sends nothing unless `APPLY = True` (and, on PRODUCTION, `CONFIRM_PRODUCTION` holds
the merchant account id)."""),
    ("code", """APPLY = False  # True: the cells below apply the two rules to the sessions fetched above
CONFIRM_PRODUCTION = ""  # PRODUCTION only: type the merchant account id here to allow those writes
writes = allow_writes(conn, APPLY, CONFIRM_PRODUCTION)
writes"""),
    ("md", "Rule 1 — 20% VAT on cart items sold from GB without tax (amounts are in minor units):"),
    ("code", """items = frames.cart_items
vat = items["seller_country"].eq("GB") & items["tax_amount"].eq(0)
items.loc[vat, "tax_amount"] = (items.loc[vat, "unit_amount"] * items.loc[vat, "quantity"] * 0.2).round().astype("Int64")
items.loc[vat, ["checkout_session_id", "item_index", "unit_amount", "quantity", "tax_amount"]]"""),
    ("md", "Rule 2 — tag every session whose cart holds SKU `021464`:"),
    ("code", """holders = items.loc[items["sku"].eq("021464"), "checkout_session_id"]
frames.sessions.loc[frames.sessions["checkout_session_id"].isin(holders), "metadata.promo"] = "sku-021464"
frames.sessions.loc[frames.sessions["checkout_session_id"].isin(holders), ["checkout_session_id", "metadata.promo"]]"""),
    ("md", "The plan (reads only): exactly the rules' cells, personal data masked."),
    ("code", """plan = plan_updates(frames, client=conn.client, probe=conn.probe)
print(plan.describe())"""),
    ("code", "plan.masked_diff()"),
    ("code", """run = writes.run(apply_plan, plan, client=conn.client)
print(run.describe())"""),
    ("md", "The results (`errors.csv` and `succeeded.csv` are in `run.files`); resume or roll the run back in "
           "notebook 03."),
    ("code", "run.results.head(10)"),
]

NOTEBOOKS = {
    "01_explore_sessions.ipynb": EXPLORE,
    "02_bulk_update_from_csv.ipynb": BULK,
    "03_review_and_report.ipynb": REVIEW,
    "04_edit_in_the_notebook.ipynb": EDIT,
}


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook of ``cells`` with no outputs, no execution counts and no widget state."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, (kind, text) in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
        cell.id = f"cell-{i:02d}"  # stable ids: rebuilding gives the same file
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(cells: list[tuple[str, str]]) -> str:
    return nbformat.writes(build(cells)) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, cells in NOTEBOOKS.items():
        path = HERE / name
        text = render(cells)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run notebooks/_build_notebooks.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
