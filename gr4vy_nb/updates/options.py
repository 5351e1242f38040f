"""How a bulk update plans and runs: :class:`PlanOptions` and :class:`RunOptions`, frozen values.

Both are immutable, keyword-only, validated when made (a bad value is a :class:`ValueError` or an
:class:`~gr4vy_nb.errors.InputError` naming it) and printable. :func:`with_keywords` is the one
place where the keywords the functions used to take one by one (``plan_updates(src, expires_in=7200,
lists="patch")``) are mapped onto an options value, so existing scripts keep working; an unknown
keyword is refused by name.

::

    plan_options = PlanOptions(expires_in=7200, lists="patch")
    run_options = RunOptions(workers=8, rate=20, first=10)
    run_options.replace(first=None)     # a changed copy
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import InputError
from ..schema import EXPIRES_IN_DEFAULT, EXPIRES_IN_MAX, EXPIRES_IN_MIN
from .states import ListMode, Rewrites

__all__ = ["PlanOptions", "RunOptions", "with_keywords"]

T = TypeVar("T", "PlanOptions", "RunOptions")


def _positive(name: str, value: Any, *, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


def _expires_in(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not EXPIRES_IN_MIN <= value <= EXPIRES_IN_MAX:
        raise InputError(f"expires_in must be between {EXPIRES_IN_MIN} and {EXPIRES_IN_MAX} seconds, not {value!r}")
    return int(value)


class _Options:
    def replace(self: T, **changes: Any) -> T:  # type: ignore[misc]
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        default = type(self)()
        changed = [f"{f.name}={getattr(self, f.name)!s}" for f in fields if getattr(self, f.name) != getattr(default,
                                                                                                          f.name)]
        return f"{type(self).__name__}({', '.join(changed) or 'defaults'})"


@dataclass(frozen=True, kw_only=True)
class PlanOptions(_Options):
    """How a plan is made.

    Attributes:
        lists: :class:`~gr4vy_nb.updates.states.ListMode`: ``replace`` (the rows of a child table are
            each session's complete new list; elements not listed are removed, which needs consent)
            or ``patch`` (each row patches the element it indexes, the others are kept).
        expires_in: seconds (3600..86400) sent with each update: the API resets each updated
            session's expiry to that long after its update.
        rewrites: :class:`~gr4vy_nb.updates.states.Rewrites`: a cell that is what an editor made of the
            current value keeps the current value (``keep``, the default: nothing is sent for it), is
            refused (``error``) or is sent as written (``send``).
        workers: concurrent reads (``None``: the client's).
        encoding: the files' encoding when not UTF-8 (``None``: detected).
        errors: ``collect`` (the plan carries its problems) or ``raise`` (an error raises ``InputError``).
        run_workers, run_rate: the workers and requests per second the run will use, for the plan's
            forecast of sessions that expire before the run reaches them (``None``: ``workers`` or 4,
            no limit).
        ignore_stale: merge rows whose element changed since they were exported (their ``row_version``
            differs from the element's now), with a warning each, instead of refusing them (``stale``).
    """

    lists: ListMode = ListMode.REPLACE
    expires_in: int = EXPIRES_IN_DEFAULT
    rewrites: Rewrites = Rewrites.KEEP
    workers: int | None = None
    encoding: str | None = None
    errors: str = "collect"
    run_workers: int | None = None
    run_rate: float | None = None
    ignore_stale: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "lists", ListMode(self.lists))
        except ValueError:
            raise ValueError(f"lists must be one of {', '.join(ListMode)}, not {self.lists!r}") from None
        try:
            object.__setattr__(self, "rewrites", Rewrites(self.rewrites))
        except ValueError:
            raise ValueError(f"rewrites must be one of {', '.join(Rewrites)}, not {self.rewrites!r}") from None
        object.__setattr__(self, "expires_in", _expires_in(self.expires_in))
        object.__setattr__(self, "workers", _positive("workers", self.workers))
        object.__setattr__(self, "run_workers", _positive("run_workers", self.run_workers))
        if self.errors not in ("collect", "raise"):
            raise ValueError("errors must be 'collect' or 'raise'")
        if self.run_rate is not None and not self.run_rate > 0:
            raise ValueError(f"run_rate must be above 0, not {self.run_rate!r}")


@dataclass(frozen=True, kw_only=True)
class RunOptions(_Options):
    """How a run (apply, resume, rollback) sends its sessions.

    Attributes:
        workers: sessions written at once (with conflict checks, as many more are re-read ahead);
            ``None``: 4 for a new run, the run's own for a resume or a rollback.
        rate: most requests per second, re-reads and retries included (``None``: no limit for a new
            run, the run's own for a resume or a rollback).
        first: send only the first N sessions (a canary; resume for the rest); ``None``: all.
        conflict_check: re-read each session before writing it and refuse to overwrite one that
            changed since planning. Off halves the requests; only when nothing else writes.
        journal: the journal file to create (default ``<runs_dir>/<run_id>.sqlite``; ``":memory:"``
            for measurements only).
        runs_dir: the folder of journals and results (default ``runs``).
        check_inputs: a resume refuses a run whose input files changed since it started.
        expires_in: a rollback's ``expires_in`` (default: the run's).
    """

    workers: int | None = None
    rate: float | None = None
    first: int | None = None
    conflict_check: bool = True
    journal: str | os.PathLike[str] | None = None
    runs_dir: str | os.PathLike[str] | None = None
    check_inputs: bool = True
    expires_in: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "workers", _positive("workers", self.workers))
        if self.rate is not None and not self.rate > 0:
            raise ValueError(f"rate must be above 0 requests per second, not {self.rate!r}")
        if self.first is not None and (isinstance(self.first, bool) or not isinstance(self.first, int)
                                       or self.first < 0):
            raise ValueError(f"first must be a whole number of at least 0, not {self.first!r}")
        if self.expires_in is not None:
            object.__setattr__(self, "expires_in", _expires_in(self.expires_in))
        for name in ("journal", "runs_dir"):
            value = getattr(self, name)
            if value is not None and str(value) != ":memory:":
                object.__setattr__(self, name, Path(value))


_PLAN_KEYWORDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "allow_spreadsheet_rewrites": ("rewrites", lambda v: Rewrites.SEND if v else Rewrites.KEEP),
    "rate": ("run_rate", lambda v: v),
}
_RUN_KEYWORDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "rollback_journal": ("journal", lambda v: v),
}


def with_keywords(options: T | None, cls: type[T], keywords: Mapping[str, Any], *, caller: str) -> T:
    """``options`` (or the defaults of ``cls``) with the loose ``keywords`` a function was given, mapped onto it.

    A keyword may be a field of ``cls`` or an old name of one (``allow_spreadsheet_rewrites=True`` is
    ``rewrites="send"``; ``rate=`` of a plan is ``run_rate``; ``rollback_journal=`` is ``journal``).
    ``None`` values are ignored (the old functions' "not given").

    Raises:
        TypeError: an unknown keyword, named as Python names it.
    """
    base = options if options is not None else cls()
    if not keywords:
        return base
    names = {f.name for f in dataclasses.fields(cls)}
    aliases = _PLAN_KEYWORDS if cls is PlanOptions else _RUN_KEYWORDS
    changes: dict[str, Any] = {}
    for key, value in keywords.items():
        if key in names:
            target, convert = key, (lambda v: v)
        elif key in aliases:
            target, convert = aliases[key]
        else:
            raise TypeError(f"{caller}() got an unexpected keyword argument {key!r}")
        if value is None:
            continue
        changes[target] = convert(value)
    return dataclasses.replace(base, **changes) if changes else base
