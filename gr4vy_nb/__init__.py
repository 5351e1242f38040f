"""gr4vy-nb: read, report on and safely bulk-update Gr4vy checkout sessions from CSV files.

The public surface, by task:

* connect: :class:`Settings` (``Settings.from_env()``), :class:`Gr4vyClient`,
  :func:`start_sandbox` (the local emulator, the default target), :func:`probe_target` (what the
  target's PUT really does: ``gr4vy-nb probe``);
* tables: :class:`SessionFrames`, :func:`flatten_sessions`, :func:`unflatten_sessions`;
* archives larger than memory: :func:`flatten_to_parquet` (JSON Lines -> Parquet, on this machine
  or a Dask cluster), read back with ``SessionFrames.read_parquet``;
* bulk updates: :class:`BulkUpdate` (the workflow every shell drives: load, plan, consent,
  confirm, apply, resume, rollback, and ``why_not``), with :class:`PlanOptions` and
  :class:`RunOptions`; or the thin functions :func:`plan_updates` -> :class:`Plan`,
  :func:`apply_plan` -> :class:`Run`, :func:`resume_run`, :func:`rollback_run`;
* reports: :func:`build_report`;
* errors: :class:`Gr4vyError` and its tree in :mod:`gr4vy_nb.errors`.

Names are imported on first use, so ``import gr4vy_nb`` stays cheap (the sandbox's web
framework and the plotting library load only when asked for).  Widgets live in
:mod:`gr4vy_nb.widgets`.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_LAZY: dict[str, str] = {
    "Settings": "config",
    "Timeouts": "config",
    "RetryPolicy": "api.retry",
    "Gr4vyClient": "api.client",
    "CallInfo": "api.client",
    "probe_target": "api.probe",
    "SessionFrames": "tables.frames",
    "flatten_sessions": "tables.frames",
    "unflatten_sessions": "tables.frames",
    "BulkUpdate": "updates.workflow",
    "PlanOptions": "updates.options",
    "RunOptions": "updates.options",
    "flatten_to_parquet": "cluster",
    "Plan": "updates.plan",
    "plan_updates": "updates.plan",
    "Run": "updates.runs",
    "apply_plan": "updates.runs",
    "resume_run": "updates.runs",
    "rollback_run": "updates.runs",
    "build_report": "report",
    "start_sandbox": "sandbox",
    "Gr4vyError": "errors",
    "connect": "notebook_support",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gr4vy_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
