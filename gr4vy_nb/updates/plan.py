"""The plan of a bulk update: what will be sent, to which sessions, and what it changes.

:func:`plan_updates` reads an upload (any subset of ``sessions.csv``, ``cart_items.csv``,
``legs.csv``, ``passengers.csv``), checks every cell offline, fetches the current state of
every session named, merges the upload onto it (:mod:`gr4vy_nb.updates.merge`) and returns a
:class:`Plan`::

    plan = plan_updates("edits/", client=client, expires_in=3600)
    plan.problems          # every problem found, in the user's coordinates (file, line, column)
    plan.diff              # one row per changed field: checkout_session_id, path, before, after
    print(plan.describe()) # the summary an analyst reads before applying
    plan.save("plan.json"); Plan.load("plan.json")

Nothing is written by planning: it sends GET requests only.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from .._version import __version__
from ..errors import ApiError, AuthError, InputError, NotFound, PermissionDenied, RunError, TransportError
from ..pointers import field_of_path
from ..problems import Problems, Rule, Severity, concat, describe_problems, errors, has_errors, ordered
from ..problems import frame as problems_frame
from ..schema import EXPIRES_IN_DEFAULT
from ..tables.frames import flatten_sessions
from ..tables.masking import mask_value
from .bodies import apply_body_mode
from .checks import check_against_current, check_upload
from .destructive import consent_text, destructive_counts, destructive_frame
from .merge import DIFF_COLUMNS, PlanItem, build_changes
from .notes import NoteCode, PlanNote, expire_sooner
from .options import PlanOptions, with_keywords
from .stale import check_stale, with_stale_items, without_sessions
from .states import BodyMode, ItemStatus, parse_instant
from .threeway import judge
from .upload import Upload, UploadTable, changed_inputs, read_upload, table_records, upload_from_records

__all__ = ["Plan", "PlanCancelled", "PlanItem", "expiry_forecast", "plan_updates", "target_of"]

_PLAN_FORMAT = "gr4vy-nb-plan/1"


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


def target_of(settings: Any) -> dict[str, Any]:
    """What a plan or a run is made against (compared before anything is sent)."""
    return {"target": settings.target, "base_url": settings.base_url,
            "merchant_account_id": settings.merchant_account_id, "is_production": settings.is_production}


@dataclass
class Plan:
    """A checked, diffed, not yet applied bulk update (see the module docstring).

    Attributes:
        items: one :class:`PlanItem` per session named in the upload, in upload order.
        problems: every problem (errors and warnings): a table of :mod:`gr4vy_nb.problems`.
        diff: every changed field, columns :data:`~gr4vy_nb.updates.merge.DIFF_COLUMNS` (raw values; see
            :meth:`masked_diff`).
        expires_in: the ``expires_in`` sent with every update (3600..86400 s): the API resets
            each updated session's expiry to that long after the update.
        target: what the plan was made against: ``target`` (in words), ``base_url``,
            ``merchant_account_id``, ``is_production``. A plan is applied to the same target only.
        inputs: path, size and SHA-256 of each input file (files changed afterwards are refused).
        tables: for each uploaded table, its ``file`` name and original ``columns``.
        uploads: the uploaded tables themselves (:class:`~gr4vy_nb.tables.reader.UploadTable`: the
            cells as the user wrote them, by line), from which ``errors.csv`` is cut.
        notes: plan-wide notes as records (:class:`~gr4vy_nb.updates.notes.PlanNote`: expiry resets, what
            the changes do by kind, sessions likely to expire before the run reaches them, how bodies are
            built), each with its code and audience; shells render them.
        created_at: when the plan was made (Unix time).
        likely_to_expire: the sessions to update whose ``expires_at`` comes before the run is likely to
            reach them (see :func:`expiry_forecast`); they will end ``failed`` "expired".
        seconds_per_request: the mean time one read took while planning (the forecast's latency).
        body_mode: ``"changed"`` (bodies carry the changed top-level fields: the target's probe found
            that PUT merges) or ``"full"`` (each session's full writable state: not probed, or PUT
            replaces); see :mod:`gr4vy_nb.updates.bodies`.
    """

    items: list[PlanItem]
    problems: pd.DataFrame = field(default_factory=problems_frame)
    diff: pd.DataFrame = field(default_factory=lambda: _empty(DIFF_COLUMNS))
    expires_in: int = EXPIRES_IN_DEFAULT
    target: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[PlanNote] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    uploads: dict[str, UploadTable] = field(default_factory=dict, repr=False)
    likely_to_expire: list[str] = field(default_factory=list)
    seconds_per_request: float | None = None
    body_mode: BodyMode = BodyMode.CHANGED

    # ------------------------------------------------------------------ views

    @property
    def errors(self) -> pd.DataFrame:
        """The problems that block applying (severity ``error``)."""
        return errors(self.problems)

    @property
    def warnings(self) -> pd.DataFrame:
        """The problems that do not block applying (likely spreadsheet damage and the like)."""
        return self.problems[self.problems["severity"] == Severity.WARNING].reset_index(drop=True)

    @property
    def ok(self) -> bool:
        """Whether the plan can be applied (no errors)."""
        return not has_errors(self.problems)

    @property
    def changes(self) -> list[PlanItem]:
        """The items that will be sent."""
        return [i for i in self.items if i.status == ItemStatus.CHANGE]

    def item(self, session_id: str) -> PlanItem:
        for it in self.items:
            if it.session_id == session_id:
                return it
        raise KeyError(session_id)

    def raise_for_problems(self) -> None:
        """Raise :class:`InputError` (carrying :attr:`problems`) when the plan has errors."""
        if not self.ok:
            n = len(self.errors)
            raise InputError(f"the upload has {n} error{'s' if n != 1 else ''}; nothing was sent", self.problems)

    @property
    def destructive(self) -> pd.DataFrame:
        """The destructive changes the plan would send (list elements removed, fields cleared): one row each
        (:data:`~gr4vy_nb.updates.destructive.DESTRUCTIVE_COLUMNS`). Applying them needs consent."""
        return destructive_frame(self.items)

    @property
    def consent(self) -> str:
        """What applying destroys, in words: ``remove 3 passengers and clear 1 field in 2 sessions`` (or ``""``)."""
        return consent_text(destructive_counts(self.items))

    @property
    def expire_sooner(self) -> int:
        """How many sessions to update now expire later than the update will make them (counted now)."""
        return expire_sooner(self.items, self.expires_in)

    @property
    def summary(self) -> dict[str, Any]:
        """Counts: sessions named/changed/unchanged/not found, changes per field, warnings."""
        status = Counter(i.status for i in self.items)
        per_field: Counter[str] = Counter()
        for it in self.changes:
            per_field.update(it.fields)
        return {
            "sessions_named": len(self.items),
            "changed": status.get(ItemStatus.CHANGE, 0),
            "unchanged": status.get(ItemStatus.UNCHANGED, 0),
            "not_found": status.get(ItemStatus.NOT_FOUND, 0),
            "invalid": status.get(ItemStatus.INVALID, 0),
            "errors": int((self.problems["severity"] == Severity.ERROR).sum()),
            "warnings": int((self.problems["severity"] == Severity.WARNING).sum()),
            "fields_changed": dict(per_field.most_common()),
            "values_changed": len(self.diff),
            "expires_in": self.expires_in,
            "likely_to_expire": len(self.likely_to_expire),
            "destructive": destructive_counts(self.items),
            "notes": [str(n) for n in self.notes],
        }

    @property
    def sessions(self) -> pd.DataFrame:
        """One row per session: status, fields changed, current expiry, message."""
        return pd.DataFrame({
            "checkout_session_id": [i.session_id for i in self.items],
            "status": [str(i.status) for i in self.items],
            "fields": [", ".join(i.fields) for i in self.items],
            "expires_at": [(i.before or {}).get("expires_at") for i in self.items],
            "message": [i.message for i in self.items],
        })

    def masked_diff(self) -> pd.DataFrame:
        """:attr:`diff` with personal values masked (the default for anything displayed)."""
        df = self.diff.copy()
        if len(df):
            personal = df["personal"].astype(bool).to_numpy()
            paths = df["path"].tolist()
            for col in ("before", "after"):
                values = df[col].astype(object).tolist()
                df[col] = pd.Series([mask_value(field_of_path(p), v) if m else v
                                     for p, v, m in zip(paths, values, personal, strict=True)], dtype=object,
                                    index=df.index)
        return df

    def describe(self, *, raw: bool = False, max_rows: int = 20, problems: bool = True) -> str:
        """The plan in words, for a terminal or a notebook (personal data masked unless ``raw``).

        With ``problems``, the problems grouped by file, column and rule (:func:`~gr4vy_nb.problems.summarise`:
        a count, the lines, an example and one message a group; :attr:`problems` lists every cell).
        """
        s = self.summary
        lines = [
            f"Plan against {self.target.get('target', '?')} (merchant account "
            f"{self.target.get('merchant_account_id', '?')})",
            f"  sessions named:    {s['sessions_named']}",
            f"  to update:         {s['changed']}",
            f"  unchanged:         {s['unchanged']}",
            f"  not found/expired: {s['not_found']}",
            *([f"  with errors:       {s['invalid']}"] if s["invalid"] else []),
            f"  problems:          {s['errors']} error(s), {s['warnings']} warning(s)",
        ]
        if s["fields_changed"]:
            lines.append("  fields changed:    " + ", ".join(f"{k} ({v})" for k, v in s["fields_changed"].items()))
        if problems and len(self.problems):
            lines.extend(describe_problems(self.problems, max_rows=max_rows))
        for note in self.notes:
            lines.append(f"  note: {note}")
        if consent := self.consent:
            lines.append(f"  DESTRUCTIVE: would {consent} (needs consent):")
            harm = [i for i in self.changes if i.destructive]
            for it in harm[:max_rows]:
                texts = list(dict.fromkeys(d["message"] for d in it.destructive))
                lines.append(f"    {it.session_id}  " + "; ".join(texts))
            if len(harm) > max_rows:
                lines.append(f"    ... and {len(harm) - max_rows} more session(s)")
        if len(self.diff):
            diff = self.diff if raw else self.masked_diff()
            shown = diff.head(max_rows)
            lines.append(f"  first {len(shown)} of {len(diff)} changed value(s):")
            for row in shown.itertuples(index=False):
                lines.append(f"    {row.checkout_session_id}  {row.path}: {_show(row.before)} -> {_show(row.after)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        s = self.summary
        return (f"<Plan {s['sessions_named']} session(s): {s['changed']} to update, {s['unchanged']} unchanged, "
                f"{s['not_found']} not found; {s['errors']} error(s), {s['warnings']} warning(s)>")

    # ------------------------------------------------------------------ inputs

    def changed_inputs(self) -> list[str]:
        """Input files that changed (or vanished) since the plan was made."""
        return changed_inputs(self.inputs)

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _PLAN_FORMAT,
            "toolkit_version": __version__,
            "created_at": self.created_at,
            "expires_in": self.expires_in,
            "target": self.target,
            "inputs": self.inputs,
            "tables": self.tables,
            "notes": [n.to_dict() for n in self.notes],
            "items": [i.to_dict() for i in self.items],
            "problems": _records(self.problems, list(self.problems.columns)),
            "diff": _records(self.diff, DIFF_COLUMNS),
            "uploads": [table_records(t) for t in self.uploads.values()],
            "likely_to_expire": list(self.likely_to_expire),
            "seconds_per_request": self.seconds_per_request,
            "body_mode": str(self.body_mode),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the plan as JSON (it holds session data: keep it as private as the CSVs)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_bytes(orjson.dumps(self.to_dict(), option=orjson.OPT_NON_STR_KEYS))
        os.replace(tmp, p)
        return p

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        if data.get("format") != _PLAN_FORMAT:
            raise RunError("not a gr4vy-nb plan file (or one written by an incompatible version)")
        return cls(
            items=[PlanItem(**i) for i in data["items"]],
            problems=problems_frame(data.get("problems", [])),
            diff=_frame(data.get("diff", []), DIFF_COLUMNS),
            expires_in=int(data["expires_in"]),
            target=dict(data.get("target") or {}),
            inputs=list(data.get("inputs") or []),
            tables=dict(data.get("tables") or {}),
            notes=[PlanNote.from_dict(n) for n in data.get("notes") or []],
            created_at=float(data.get("created_at") or time.time()),
            uploads=upload_from_records(data.get("uploads") or []),
            likely_to_expire=list(data.get("likely_to_expire") or []),
            seconds_per_request=data.get("seconds_per_request"),
            body_mode=BodyMode(data.get("body_mode") or BodyMode.CHANGED),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Plan:
        """Read a plan written by :meth:`save`."""
        try:
            data = orjson.loads(Path(path).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise RunError(f"cannot read the plan {path}: {exc}") from None
        return cls.from_dict(data)


def _show(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "(none)"
    text = orjson.dumps(value).decode() if isinstance(value, dict | list) else str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _jsonable(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        return value.item()
    return value


def _records(df: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    cols = {c: df[c].tolist() if c in df else [None] * len(df) for c in columns}
    return [{c: _jsonable(cols[c][i]) for c in columns} for i in range(len(df))]


def _frame(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    if not records:
        return _empty(columns)
    return pd.DataFrame({c: pd.Series([r.get(c) for r in records], dtype=object) for c in columns})


def plan_updates(
    source: Any,
    *,
    client: Any = None,
    options: PlanOptions | None = None,
    probe: Any = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Any = None,
    **keywords: Any,
) -> Plan:
    """Check an upload, fetch the sessions it names, merge, diff and validate: a :class:`Plan`.

    Args:
        source: a folder, a CSV path or a list of them, ``{name: path | bytes | DataFrame}``, a
            :class:`~gr4vy_nb.tables.frames.SessionFrames`, or an :class:`~gr4vy_nb.updates.upload.Upload`.
        client: the :class:`~gr4vy_nb.api.client.Gr4vyClient` to read with (default: one from
            :meth:`Settings.from_env`, closed afterwards).
        options: :class:`~gr4vy_nb.updates.options.PlanOptions`: ``lists`` (``replace``: the rows of a
            child table are each session's complete list, elements not listed are removed, which needs
            consent; ``patch``: rows patch the elements they index), ``expires_in`` (3600..86400 s:
            the API resets each updated session's expiry to that long after the update), ``rewrites``
            (a cell that is what an editor made of the current value: ``keep``, the default, keeps
            the current value and sends nothing for it; ``error`` refuses it; ``send`` sends it as written),
            ``workers`` (concurrent reads), ``encoding``, ``errors`` (``collect`` or ``raise``),
            ``run_workers``/``run_rate`` (for the forecast of sessions that expire before the run
            reaches them), ``ignore_stale`` (merge rows whose element changed since they were exported,
            with a warning each, instead of refusing them: rule ``stale``, :mod:`gr4vy_nb.updates.stale`).
            Its fields may also be given as keywords (``expires_in=7200``), as may
            the old names ``allow_spreadsheet_rewrites=True`` (``rewrites="send"``) and ``rate=``.
        probe: the target's probe result (:func:`gr4vy_nb.api.probe.saved_probe`; ``None``: not
            probed): with merge semantics found, bodies carry only the changed fields, else each
            session's full writable state (:mod:`gr4vy_nb.updates.bodies`). Shown in the plan's notes.
        progress: ``progress(done, total)`` while fetching (called in the calling thread).
        cancel: a :class:`threading.Event` or a callable; once set/true, the reads stop within a
            batch and :class:`PlanCancelled` is raised (no plan is made).

    Reads only (GET); nothing is written. Sessions are read and merged even when some cells
    are wrong, so that every problem is reported at once; a plan with errors cannot be applied.

    Raises:
        InputError: the source holds no table at all, or ``errors="raise"`` and there are errors.
        PlanCancelled: ``cancel`` was set while reading.
        AuthError, PermissionDenied: the key cannot read sessions (nothing else is tried).
        ConfigError: no client given and nothing configured.
    """
    opts = with_keywords(options, PlanOptions, keywords, caller="plan_updates")
    upload = _checked_upload(source, opts.encoding)
    own = client is None
    if own:
        from ..api.client import Gr4vyClient
        from ..config import Settings

        client = Gr4vyClient(Settings.from_env(required=True), workers=opts.workers or 8)
    try:
        plan = _plan(upload, client, opts, probe, progress, cancel)
        _forecast_expiry(plan, workers=opts.run_workers or opts.workers or 4, rate=opts.run_rate)
    finally:
        if own:
            client.close()
    if opts.errors == "raise":
        plan.raise_for_problems()
    return plan


def _checked_upload(source: Any, encoding: str | None) -> Upload:
    """The upload read and checked offline; header-only is "nothing to do" (a warning), no table is refused."""
    upload = check_upload(read_upload(source, encoding=encoding))
    if upload.tables and upload.ok and not upload.session_ids():
        found = Problems()
        for t in upload.tables.values():
            found.warn(Rule.NO_ROWS, f"{t.file} has a header but no rows: nothing to do", file=t.file, line=1)
        upload.problems = concat([upload.problems, found.frame()])
    if not upload.tables and upload.ok:
        raise InputError("nothing to plan: the upload holds no table")
    return upload


def _plan(upload: Upload, client: Any, opts: PlanOptions, probe: Any,
          progress: Callable[[int, int], None] | None, cancel: Any) -> Plan:
    tables = {name: {"file": t.file, "columns": t.columns} for name, t in upload.tables.items()}
    plan = Plan(items=[], problems=upload.problems, expires_in=opts.expires_in, target=target_of(client.settings),
                inputs=upload.inputs, tables=tables, uploads=dict(upload.tables))
    # Even when some cells are wrong, the sessions are read and merged, so that every problem
    # (read-only cells changed, bodies the models refuse, ...) is reported at once.
    ids = upload.session_ids()
    if ids:
        found = Problems()
        started = time.monotonic()
        current = _fetch_current(client, ids, opts.workers, progress, found, cancel)
        readers = max(1, min(len(ids), int(opts.workers or getattr(client, "workers", None) or 1)))
        plan.seconds_per_request = (time.monotonic() - started) * readers / len(ids)
        # Flattened once: the cells are compared with the current values (spreadsheet rewrites), then merged.
        frames = flatten_sessions([v for v in current.values() if isinstance(v, Mapping)])
        check_against_current(upload, frames, rewrites=opts.rewrites)
        # Rows changed since their export are stale: their sessions are not merged (stale.py). Edits made in the
        # notebook carry their base instead: judged three ways, conflicts are not merged (threeway.py).
        if upload.base is not None:
            upload, stale = judge(upload, frames, ignore=opts.ignore_stale)
        else:
            stale = check_stale(upload, frames, ignore=opts.ignore_stale)
        changes = build_changes(without_sessions(upload, stale.sessions), current, expires_in=opts.expires_in,
                                frames=frames, lists=opts.lists)
        plan.items = with_stale_items(upload, changes.items, stale.sessions, current)
        plan.diff, plan.notes = changes.diff, [*stale.notes, *changes.notes]
        apply_body_mode(plan, probe)  # "changed" fields only, or each session's full state (bodies.py)
        _not_found_problems(plan.items, upload, found)
        plan.problems = concat([upload.problems, stale.problems, changes.problems, found.frame()])
    plan.problems = ordered(plan.problems)
    return plan


class PlanCancelled(Exception):
    """Raised by :func:`plan_updates` when its ``cancel`` was set while reading: no plan is made."""


def _cancelled(cancel: Any) -> bool:
    if cancel is None:
        return False
    return bool(cancel.is_set() if hasattr(cancel, "is_set") else cancel())


def _fetch_current(client: Any, ids: list[str], workers: int | None, progress: Callable[[int, int], None] | None,
                   found: Problems, cancel: Any = None) -> dict[str, Any]:
    """The current state of each session (``None``: not found); a credentials or transport failure is raised.

    With ``cancel``, reads go in batches of a few per worker, so that a cancel also stops the
    reads not yet started (one call for every id would queue them all in the client's pool).
    """
    if cancel is None:
        fetched = client.get_checkout_sessions(ids, workers=workers, progress=progress)
    else:
        batch = 3 * max(1, int(workers or getattr(client, "workers", 8) or 8))
        report = progress or (lambda _done, _total: None)
        fetched, total = {}, len(ids)
        report(0, total)
        for start in range(0, total, batch):
            if _cancelled(cancel):
                raise PlanCancelled("the plan was cancelled while reading the sessions; nothing was planned")
            fetched.update(client.get_checkout_sessions(
                ids[start:start + batch], workers=workers,
                progress=lambda done, _t, base=start: report(base + done, total)))
    current: dict[str, Any] = {}
    for sid, value in fetched.items():
        if isinstance(value, AuthError | PermissionDenied | TransportError):
            raise value
        if isinstance(value, NotFound):
            current[sid] = None
        elif isinstance(value, ApiError):
            found.add(Rule.FETCH_FAILED, f"could not read session {sid}: {value}; plan again later",
                      column="checkout_session_id", value=sid, session_id=sid)
        else:
            current[sid] = value
    return current


def _not_found_problems(items: list[PlanItem], upload: Upload, found: Problems) -> None:
    for item in items:
        if item.status == ItemStatus.NOT_FOUND:
            table, line = ((item.source or {}).get("rows") or [[None, None]])[0]
            t = upload.tables.get(table)
            found.warn(Rule.NOT_FOUND, f"session {item.session_id} was not found or has expired: it cannot be "
                       "updated (it will be reported as failed)", file=t.file if t else None, line=line,
                       column="checkout_session_id", value=item.session_id, session_id=item.session_id)


# --------------------------------------------------------------------------- expiry before the run reaches a session


def expiry_forecast(plan: Plan, *, workers: int = 4, rate: float | None = None, conflict_check: bool = True,
                    seconds_per_request: float | None = None, now: float | None = None) -> list[str]:
    """The sessions to update that will likely expire before a run reaches them.

    A run sends the plan's changes in order, ``workers`` at a time, each with a re-read and a write
    (one request less without ``conflict_check``), at most ``rate`` requests per second. A request
    is taken to last what a read lasted while planning (``seconds_per_request``, default the
    plan's measure, at least 5 ms). Session *k* is reached after ``(k + 1) / throughput`` seconds;
    it is counted when its ``expires_at`` comes before that.
    """
    per_session = 2 if conflict_check else 1
    latency = max(0.005, seconds_per_request or plan.seconds_per_request or 0.0)
    throughput = max(1, int(workers)) / (per_session * latency)  # sessions a second
    if rate:
        throughput = min(throughput, float(rate) / per_session)
    start = time.time() if now is None else now
    out = []
    for k, item in enumerate(plan.changes):
        due = parse_instant((item.before or {}).get("expires_at"))
        if due is not None and due <= start + (k + 1) / throughput:
            out.append(item.session_id)
    return out


def _forecast_expiry(plan: Plan, *, workers: int, rate: float | None) -> None:
    """Fill :attr:`Plan.likely_to_expire` and say so in the notes."""
    plan.likely_to_expire = expiry_forecast(plan, workers=workers, rate=rate)
    n = len(plan.likely_to_expire)
    if n:
        pace = f"at {rate:g} req/s" if rate else f"with {workers} worker(s) and no rate limit"
        plan.notes = [*plan.notes, PlanNote(
            NoteCode.LIKELY_TO_EXPIRE,
            f"{n} of {len(plan.changes)} sessions expire before the run is likely to reach them ({pace}); they will "
            "end failed \"expired\" (first: " + ", ".join(plan.likely_to_expire[:5]) + ")",
            count=n, sessions=tuple(plan.likely_to_expire[:5]))]
