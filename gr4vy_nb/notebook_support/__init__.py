"""What the notebooks need besides the engine: a target, a banner naming it, a connection check.

The notebooks hold no logic; they call this module and the widgets::

    from gr4vy_nb.notebook_support import connect
    conn = connect()          # from GR4VY_* / .env if configured, else the embedded sandbox
    conn.client.get_checkout_session(...)

:func:`connect` never guesses silently: it prints (or, in a notebook, displays) a banner that
names the target in words and in colour — the local sandbox emulator, a Gr4vy sandbox, or
Gr4vy PRODUCTION — with the merchant account and the key's ``kid`` (never the key).  With
nothing configured it starts the embedded sandbox emulator, seeded with the repository's
sample sessions, once per Python process, and says so.

Also here, so that notebook cells stay one call each:

* ids and exports: :func:`parse_session_ids`, :func:`read_id_list`, :func:`read_sessions_jsonl`,
  :func:`sample_session_ids`, :func:`fetch_frames` (ids -> ``SessionFrames`` + not found);
* runs: :func:`open_run` (a journal as a ``Run``, read-only), :func:`run_frames` (the sessions a run
  touched, as it left them, from its journal), :func:`runs_for_target`,
  :func:`latest_run`, :func:`example_run` (local sandbox only);
* safety: :func:`needs_confirmation`, :func:`confirm_writes` (the code-cell PRODUCTION guard),
  :func:`allow_writes` (the ``APPLY`` flag of a notebook's writing cells: a :class:`WriteGate`);
* display: :class:`InlineHTML` (a standalone report inside a sandboxed iframe), :func:`show_problems`
  (a problems table severity first, sorted by file/line/column, messages whole);
* ``make lab`` / ``make demo``: :func:`run_lab`, :func:`render_notebooks`
  (``python -m gr4vy_nb.notebook_support lab|render``).

One module a noun: ``connection`` (the target, its banner, the embedded sandbox, the connection
check, the write guard), ``sessions`` (ids, exports, fetching), ``runs`` (past runs, the example
run), ``display`` (:class:`InlineHTML`), ``lab`` (JupyterLab and the headless renderings).

Nothing here imports ipywidgets: the widgets in :mod:`gr4vy_nb.widgets` are a shell over it.
"""

from .._data import examples_dir
from .connection import (
    CLOCK_SKEW_WARN_SECONDS,
    Connection,
    ConnectionCheck,
    check_connection,
    confirm_writes,
    connect,
    needs_confirmation,
    target_style,
)
from .display import InlineHTML, show_problems
from .lab import NOTEBOOKS, main, render_notebooks, run_lab
from .runs import (
    NoRun,
    NotRun,
    WriteGate,
    allow_writes,
    example_run,
    latest_run,
    open_run,
    run_frames,
    runs_for_target,
)
from .sessions import fetch_frames, parse_session_ids, read_id_list, read_sessions_jsonl, sample_session_ids

__all__ = [
    "CLOCK_SKEW_WARN_SECONDS",
    "NOTEBOOKS",
    "Connection",
    "ConnectionCheck",
    "InlineHTML",
    "NoRun",
    "NotRun",
    "WriteGate",
    "allow_writes",
    "check_connection",
    "confirm_writes",
    "connect",
    "example_run",
    "examples_dir",
    "fetch_frames",
    "latest_run",
    "main",
    "needs_confirmation",
    "open_run",
    "parse_session_ids",
    "read_id_list",
    "read_sessions_jsonl",
    "render_notebooks",
    "run_frames",
    "run_lab",
    "runs_for_target",
    "sample_session_ids",
    "show_problems",
    "target_style",
]
