"""What the target's ``PUT /checkout/sessions/{id}`` really does, found out on the target itself, saved per target.

Gr4vy documents neither whether an update merges (fields absent from the body are kept) or
replaces (they are cleared), nor whether it resets the expiry. :func:`probe_target` creates
one throwaway checkout session (cart items, metadata marking it as a probe, an airline
addendum, a buyer), checks each assumption the toolkit makes with a request or two, deletes
the session (also when a check fails midway) and returns a :class:`ProbeResult`::

    result = probe_target(client)       # saved under the config folder unless save=False
    print(result.describe())            # assumption | observed | what the toolkit does about it
    result.ok, result.failures          # ["PUT replaces the session (...)"] when one does not hold
    saved_probe(client.settings)        # the last result for this target, or None

Results are saved, with their date, one JSON file per target (instance, environment,
merchant account, base URL) under ``<config folder>/probes/`` (:func:`gr4vy_nb.config.config_dir`:
``~/.gr4vy-nb`` unless ``GR4VY_NB_CONFIG_DIR`` says otherwise). The update engine reads them
(:mod:`gr4vy_nb.updates.bodies`): only on a target found to merge does it send just the changed
fields; anywhere else it sends each session's full writable state.

Credentials refused (401/403) and no answer at all are raised as they are
(:class:`~gr4vy_nb.errors.AuthError`, :class:`~gr4vy_nb.errors.PermissionDenied`,
:class:`~gr4vy_nb.errors.TransportError`): the CLI turns them into exit code 3.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .._version import __version__
from ..config import config_dir
from ..errors import ApiError, AuthError, NotFound, PermissionDenied, TransportError, ValidationFailed
from ..instants import parse_instant

__all__ = ["Check", "ProbeResult", "probe_path", "probe_target", "save_probe", "saved_probe", "target_key"]

_FORMAT = "gr4vy-nb-probe/1"
_LONG = 86400.0  # the probe session is created to live 24 h: an update that resets it to 1 h shows
_SET = 7200.0  # then expires_in 7200 must set it to 2 h
_TOLERANCE = 600.0  # seconds of clock difference and latency accepted around an expected expiry
_RATE_HEADERS = ("retry-after", "ratelimit", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
                 "ratelimit-policy", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
_ID_HEADERS = ("x-request-id", "x-gr4vy-request-id", "request-id", "x-correlation-id")


@dataclass(frozen=True)
class Check:
    """One assumption and what the probe saw.

    Attributes:
        key: a stable name (``put_merges``, ``null_clears``, ...).
        assumption: the assumption in words.
        holds: whether it held (``True`` for the informational ``headers`` check).
        observed: what the target did, in words.
        action: what the toolkit does about it (given the outcome).
        failure: how the outcome is named when it does not hold (e.g. "PUT replaces the session").
    """

    key: str
    assumption: str
    holds: bool
    observed: str
    action: str
    failure: str = ""


@dataclass
class ProbeResult:
    """The outcome of :func:`probe_target` (or a saved one: :func:`saved_probe`).

    Attributes:
        target: ``gr4vy_id``, ``environment``, ``merchant_account_id``, ``base_url`` and ``target`` (in words).
        probed_at: when (UTC, ISO 8601).
        checks: one :class:`Check` per assumption, in the order they were tried.
        put_semantics: ``"merge"``, ``"replace"`` or ``"unknown"`` (the check could not tell).
        expiry_reset: whether an update without ``expires_in`` reset ``expires_at`` (``None``: unknown).
        headers: the response headers of interest seen (rate limit, request id), name -> value.
        session_deleted: whether the probe session was deleted afterwards.
        path: where the result was saved (``None`` when not saved).
    """

    target: dict[str, Any]
    probed_at: str
    checks: list[Check] = field(default_factory=list)
    put_semantics: str = "unknown"
    expiry_reset: bool | None = None
    headers: dict[str, str] = field(default_factory=dict)
    session_id: str | None = None
    session_deleted: bool = False
    toolkit_version: str = __version__
    path: Path | None = None

    @property
    def ok(self) -> bool:
        """Whether every assumption held."""
        return bool(self.checks) and all(c.holds for c in self.checks)

    @property
    def failures(self) -> list[str]:
        """The assumptions that did not hold, each named as it failed (``"PUT replaces the session ..."``)."""
        return [c.failure or f"{c.assumption}: not so" for c in self.checks if not c.holds]

    @property
    def merges(self) -> bool:
        """Whether the target's PUT was found to keep the fields a body leaves out."""
        return self.put_semantics == "merge"

    @property
    def exit_code(self) -> int:
        """The CLI's: 0 every assumption holds, 1 one does not."""
        return 0 if self.ok else 1

    def rows(self) -> list[tuple[str, str, str, str]]:
        """``(assumption, holds, observed, what the toolkit does)`` per check."""
        return [(c.assumption, "yes" if c.holds else "NO", c.observed, c.action) for c in self.checks]

    def table(self) -> str:
        """The checks as an aligned text table: assumption | holds | observed | what the toolkit does about it.

        Long cells wrap inside their column (never cut), so every row stays aligned.
        """
        header = ("assumption", "holds", "observed", "what the toolkit does about it")
        cells = [header, *self.rows()]
        widths = [min(cap, max(len(r[i]) for r in cells)) for i, cap in enumerate((40, 5, 44, 44))]
        lines = []
        for n, r in enumerate(cells):
            wrapped = [textwrap.wrap(v, w, break_long_words=True) or [""] for v, w in zip(r, widths, strict=True)]
            for k in range(max(len(c) for c in wrapped)):
                lines.append("  ".join((c[k] if k < len(c) else "").ljust(w)
                                       for c, w in zip(wrapped, widths, strict=True)).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def describe(self) -> str:
        """The result in words: target, date, table, verdict."""
        lines = [f"API behaviour of {self.target.get('target', '?')} at {self.target.get('base_url')} (merchant "
                 f"account {self.target.get('merchant_account_id')!r}), probed {self.probed_at}", "", self.table(), ""]
        if self.ok:
            lines.append("every assumption holds: updates send only the changed fields")
        else:
            lines += [f"DOES NOT HOLD: {f}" for f in self.failures]
            if not self.merges:
                lines.append("updates to this target send the full writable state of each session, so nothing is "
                             "cleared")
        if self.session_id and not self.session_deleted:
            lines.append(f"warning: the probe session {self.session_id} could not be deleted (it expires by itself)")
        if self.path is not None:
            lines.append(f"saved to {self.path}")
        return "\n".join(lines)

    def to_html(self) -> str:
        """The table as HTML (for the notebooks' connection panel)."""
        import html

        def esc(text: Any) -> str:
            return html.escape(str(text))

        head = "".join(f"<th style='text-align:left;padding:2px 6px'>{esc(h)}</th>" for h in
                       ("assumption", "holds", "observed", "what the toolkit does about it"))
        body = "".join(
            "<tr>" + "".join(f"<td style='padding:2px 6px;vertical-align:top'>{esc(v) if i != 1 else v}</td>"
                             for i, v in enumerate((a, "<b>yes</b>" if h == "yes" else
                                                    "<b style='color:#b91c1c'>NO</b>", o, t))) + "</tr>"
            for a, h, o, t in self.rows())
        verdict = ("every assumption holds" if self.ok else
                   "does not hold: " + "; ".join(esc(f) for f in self.failures))
        return (f"<div class='gr4vy-probe'><div>Probed {esc(self.probed_at)}: {verdict}</div>"
                f"<table class='gr4vy-probe-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")

    def to_dict(self) -> dict[str, Any]:
        return {"format": _FORMAT, "toolkit_version": self.toolkit_version, "target": self.target,
                "probed_at": self.probed_at, "put_semantics": self.put_semantics, "expiry_reset": self.expiry_reset,
                "headers": self.headers, "session_id": self.session_id, "session_deleted": self.session_deleted,
                "checks": [asdict(c) for c in self.checks]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path | None = None) -> ProbeResult:
        if data.get("format") != _FORMAT:
            raise ValueError("not a gr4vy-nb probe result")
        return cls(target=dict(data.get("target") or {}), probed_at=str(data.get("probed_at") or ""),
                   checks=[Check(**c) for c in data.get("checks") or []],
                   put_semantics=str(data.get("put_semantics") or "unknown"), expiry_reset=data.get("expiry_reset"),
                   headers=dict(data.get("headers") or {}), session_id=data.get("session_id"),
                   session_deleted=bool(data.get("session_deleted")),
                   toolkit_version=str(data.get("toolkit_version") or ""), path=path)

    def __repr__(self) -> str:
        verdict = "all assumptions hold" if self.ok else "; ".join(self.failures)
        return f"<ProbeResult {self.target.get('target')} {self.probed_at}: {verdict}>"


# --------------------------------------------------------------------------- where results live


def _target_of(settings: Any) -> dict[str, Any]:
    return {"gr4vy_id": getattr(settings, "gr4vy_id", None), "environment": getattr(settings, "environment", None),
            "merchant_account_id": getattr(settings, "merchant_account_id", None),
            "base_url": (getattr(settings, "base_url", None) or "").rstrip("/") or None,
            "target": getattr(settings, "target", None)}


def target_key(settings: Any) -> str:
    """The identity of a target: instance, environment, merchant account, base URL."""
    return target_key_of(_target_of(settings))


def probe_path(settings: Any) -> Path:
    """The file the probe result of this target is saved in (``<config folder>/probes/<hash>.json``)."""
    digest = hashlib.sha256(target_key(settings).encode()).hexdigest()[:20]
    return config_dir() / "probes" / f"{digest}.json"


def saved_probe(settings: Any) -> ProbeResult | None:
    """The last probe result saved for this target, or ``None`` (never probed, or unreadable)."""
    path = probe_path(settings)
    try:
        data = orjson.loads(path.read_bytes())
        result = ProbeResult.from_dict(data, path)
    except (OSError, orjson.JSONDecodeError, ValueError, TypeError):
        return None
    return result if target_key_of(result.target) == target_key(settings) else None


def target_key_of(target: Mapping[str, Any]) -> str:
    """:func:`target_key` of a saved result's ``target``."""
    return "|".join(str(target.get(k) or "-") for k in ("gr4vy_id", "environment", "merchant_account_id", "base_url"))


def save_probe(result: ProbeResult, settings: Any) -> Path:
    """Write the result for its target (atomically); returns the path."""
    path = probe_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)
    result.path = path
    return path


# --------------------------------------------------------------------------- the probe session


def _items(tag: str) -> list[dict[str, Any]]:
    return [
        {"name": f"gr4vy-nb probe item A {tag}", "quantity": 1, "unit_amount": 1000, "sku": "PROBE-A",
         "description": "gr4vy-nb probe: a documented CartItem.description"},
        {"name": f"gr4vy-nb probe item B {tag}", "quantity": 2, "unit_amount": 500, "sku": "PROBE-B"},
    ]


def _airline() -> dict[str, Any]:
    return {
        "booking_code": "PROBE1",
        "passengers": [{"first_name": "Probe", "last_name": "Passenger", "title": "Dr"}],
        "legs": [{"departure_airport": "LHR", "arrival_airport": "JFK", "carrier_code": "BA", "flight_number": "117"}],
    }


def _buyer() -> dict[str, Any]:
    return {"display_name": "gr4vy-nb probe buyer", "external_identifier": "gr4vy-nb-probe"}


def _metadata(stamp: str, step: str) -> dict[str, str]:
    return {"gr4vy_nb_probe": "true", "gr4vy_nb_probe_started": stamp, "gr4vy_nb_probe_step": step}


def _full(stamp: str, step: str, **changes: Any) -> dict[str, Any]:
    """The probe session's whole writable state with ``changes``: safe to send to a merging or replacing PUT."""
    body: dict[str, Any] = {"cart_items": _items(stamp[-8:]), "metadata": _metadata(stamp, step),
                            "airline": _airline(), "buyer": _buyer(), "amount": 2000, "currency": "USD"}
    body.update(changes)
    return body


def _expires_in_from_now(session: Mapping[str, Any], now: float) -> float | None:
    due = parse_instant(session.get("expires_at"))
    return None if due is None else due - now


def _hours(seconds: float | None) -> str:
    return "unknown" if seconds is None else f"{seconds / 3600:+.2f} h from now"


def _present(value: Any) -> bool:
    return value not in (None, [], {}, "")


def _names(items: Any) -> list[Any]:
    return [i.get("name") for i in items] if isinstance(items, list) else []


_FATAL = (AuthError, PermissionDenied, TransportError)


class _Prober:
    def __init__(self, client: Any, clock: Callable[[], float]) -> None:
        self.client = client
        self.clock = clock
        self.stamp = datetime.fromtimestamp(clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.checks: list[Check] = []
        self.sid: str | None = None
        self.deleted = False
        self.put_semantics = "unknown"
        self.expiry_reset: bool | None = None
        self.headers: dict[str, str] = {}

    def add(self, key: str, assumption: str, holds: bool, observed: str, ok_action: str, bad_action: str,
            failure: str) -> None:
        self.checks.append(Check(key, assumption, holds, observed, ok_action if holds else bad_action, failure))

    def guarded(self, key: str, assumption: str, failure: str, step: Callable[[], None]) -> None:
        """Run one check; an API error other than credentials or no answer fails that check only."""
        try:
            step()
        except _FATAL:
            raise
        except ApiError as exc:
            self.add(key, assumption, False, f"the server answered an error: {exc}", "",
                     "treated as not holding", failure)

    def put(self, body: Mapping[str, Any]) -> dict[str, Any]:
        assert self.sid is not None
        return self.client.update_checkout_session(self.sid, dict(body))  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ the checks

    def create(self) -> dict[str, Any]:
        session = self.client.create_checkout_session(_full(self.stamp, "created", expires_in=_LONG))
        self.sid = session.get("id")
        if not isinstance(self.sid, str):
            raise ApiError("the target created a session but returned no id", status=None)
        return session  # type: ignore[no-any-return]

    def documented_fields(self, created: Mapping[str, Any]) -> None:
        got = self.client.get_checkout_session(self.sid)
        items = got.get("cart_items") or []
        passengers = (got.get("airline") or {}).get("passengers") or []
        description = items[0].get("description") if items and isinstance(items[0], dict) else None
        title = passengers[0].get("title") if passengers and isinstance(passengers[0], dict) else None
        missing = [n for n, v in (("CartItem.description", description), ("AirlinePassenger.title", title)) if not v]
        observed = ("accepted and returned: CartItem.description, AirlinePassenger.title" if not missing else
                    f"accepted but not returned: {', '.join(missing)}")
        self.add("documented_fields", "documented fields (CartItem.description, AirlinePassenger.title) are accepted "
                 "and returned", not missing, observed, "exports and uploads carry them like any other column",
                 "values of those columns will show as changes that did not stick ('applied with differences')",
                 f"documented fields are not returned ({', '.join(missing)})")

    def merge_or_replace(self) -> None:
        got = self.put({"metadata": _metadata(self.stamp, "metadata-only")})
        kept = [n for n in ("cart_items", "airline", "buyer", "amount") if _present(got.get(n))]
        lost = [n for n in ("cart_items", "airline", "buyer", "amount") if n not in kept]
        if not lost:
            self.put_semantics = "merge"
            observed = "an update carrying only metadata kept cart_items, airline, buyer and amount"
        else:
            self.put_semantics = "replace"
            observed = (f"an update carrying only metadata cleared {', '.join(lost)}" +
                        (f" (kept {', '.join(kept)})" if kept else ""))
        self.add("put_merges", "PUT merges: fields absent from the body are kept", not lost, observed,
                 "updates send only the top-level fields that change",
                 "updates send the full writable state of each session (current values where unchanged, fields "
                 "this version does not know too), so nothing is cleared",
                 "PUT replaces the session (fields absent from the body are cleared)")

    def null_clears(self) -> None:
        self.put(_full(self.stamp, "restore"))
        got = self.put(_full(self.stamp, "null", buyer=None))
        cleared = not _present(got.get("buyer"))
        self.add("null_clears", "null clears a field", cleared,
                 "buyer: null cleared the buyer" if cleared else "buyer: null left the buyer as it was",
                 "a #N/A cell sends null to clear its field",
                 "clearing a field (#N/A) will not take effect: the run reports it 'applied with differences'",
                 "null does not clear a field")

    def lists_replaced(self) -> None:
        one = [{"name": "gr4vy-nb probe item C", "quantity": 3, "unit_amount": 100}]
        airline = {"booking_code": "PROBE2", "passengers": [{"first_name": "Other", "last_name": "Passenger"}]}
        got = self.put(_full(self.stamp, "lists", cart_items=one, airline=airline))
        items_ok = _names(got.get("cart_items")) == ["gr4vy-nb probe item C"]
        air = got.get("airline") or {}
        air_ok = (air.get("booking_code") == "PROBE2" and not _present(air.get("legs"))
                  and [p.get("first_name") for p in air.get("passengers") or []] == ["Other"])
        observed = []
        observed.append("cart_items: the list sent replaced the list" if items_ok else
                        f"cart_items: sent 1 item, got {len(got.get('cart_items') or [])}")
        observed.append("airline: the object sent replaced the object (legs gone)" if air_ok else
                        "airline: parts not sent were kept")
        self.add("lists_replaced", "cart_items and airline are replaced whole", items_ok and air_ok,
                 "; ".join(observed), "child-table uploads send the complete list or object, current values carried",
                 "elements and parts a file removes may survive: the run reports them 'applied with differences'",
                 "cart_items or airline are merged, not replaced whole")

    def expiry(self) -> None:
        created = self.client.get_checkout_session(self.sid)
        left_created = _expires_in_from_now(created, self.clock())
        got = self.put(_full(self.stamp, "expires-in", expires_in=_SET))
        left_set = _expires_in_from_now(got, self.clock())
        sets = left_set is not None and abs(left_set - _SET) <= _TOLERANCE
        got = self.put(_full(self.stamp, "expiry"))  # no expires_in: the documented default is 3600
        left = _expires_in_from_now(got, self.clock())
        reset = left is not None and abs(left - 3600) <= _TOLERANCE and (
            left_set is None or abs(left_set - 3600) > _TOLERANCE)
        self.expiry_reset = reset if left is not None else None
        self.add("expiry_reset", "an update resets expires_at (to 1 h without expires_in)", reset,
                 f"expires_at {_hours(left_set)} before, {_hours(left)} after an update without expires_in",
                 "the plan warns that each updated session will expire expires_in after its update",
                 "the plan's expiry warning does not apply to this target: updates leave the expiry as it was",
                 "an update does not reset expires_at")
        self.add("expires_in_sets", "expires_in sets the expiry", sets,
                 f"expires_at {_hours(left_created)} before; expires_in {_SET:.0f} gave {_hours(left_set)}",
                 "--expires-in (3600-86400) chooses how long updated sessions live",
                 "--expires-in has no effect on this target", "expires_in does not set the expiry")

    def bad_body(self) -> None:
        try:
            self.put({"cart_items": [{"name": "gr4vy-nb probe", "quantity": "three", "unit_amount": 100}],
                      "amount": -1})
        except ValidationFailed as exc:
            pointers = [str(d.get("pointer")) for d in exc.details if isinstance(d, dict) and d.get("pointer")]
            ok = exc.status == 400 and bool(pointers) and all(p.startswith("/") for p in pointers)
            observed = f"{exc.status} with {len(exc.details)} detail(s)" + (
                f", pointers {', '.join(pointers[:3])}" if pointers else ", no pointers")
        else:
            ok, observed = False, "the bad body was accepted"
        self.add("bad_body_400", "a bad body answers 400 in the documented error shape, with JSON pointers", ok,
                 observed, "server errors are mapped from their pointers back to file, line and column",
                 "server refusals are reported with their message, not located in the files",
                 "a bad body is not answered 400 with pointers")

    def response_headers(self) -> None:
        headers = _headers_of(self.client, self.sid)
        info = getattr(self.client, "last_call", None)
        seen = {k: v for k, v in headers.items() if k in _RATE_HEADERS or k in _ID_HEADERS}
        if info is not None and getattr(info, "request_id", None) and not any(k in seen for k in _ID_HEADERS):
            seen["request-id"] = str(info.request_id)
        self.headers = {k: v[:200] for k, v in seen.items()}
        rate = sorted(k for k in seen if k in _RATE_HEADERS)
        ids = sorted(k for k in seen if k in _ID_HEADERS or k == "request-id")
        observed = (f"rate limit: {', '.join(rate) if rate else 'none'}; request id: "
                    f"{', '.join(ids) if ids else 'none'}")
        self.add("headers", "response headers: none documented (no rate limit, request id optional)", True, observed,
                 "pacing is the user's --rate; Retry-After is honoured when a 429 carries it; the request id, when "
                 "sent, is kept with each error", "", "")

    def deleted_404(self) -> None:
        self.client.delete_checkout_session(self.sid)
        self.deleted = True
        try:
            self.client.get_checkout_session(self.sid)
        except NotFound as exc:
            ok, observed = True, f"{exc.status} after DELETE"
        else:
            ok, observed = False, "the deleted session was still returned"
        self.add("deleted_404", "a deleted (or expired) session answers 404", ok, observed,
                 "a 404 fails that session as 'not found or expired' and the run goes on",
                 "sessions gone since planning may be reported wrongly", "a deleted session does not answer 404")

    def cleanup(self) -> None:
        if self.sid is None or self.deleted:
            return
        try:
            self.client.delete_checkout_session(self.sid)
            self.deleted = True
        except NotFound:
            self.deleted = True
        except ApiError:
            pass  # reported by describe(); the session expires by itself


def _headers_of(client: Any, session_id: str | None) -> dict[str, str]:
    """The headers of one ``GET`` of the session (lower-case names); ``{}`` when they cannot be read."""
    try:
        client.get_checkout_session(session_id)
        info = client.last_call
        return dict(info.headers) if info is not None else {}
    except Exception:  # informational only: a failure here must not fail the probe
        return {}


def probe_target(client: Any, *, save: bool = True, clock: Callable[[], float] = time.time) -> ProbeResult:
    """Check the API's undocumented behaviour on ``client``'s target, with one throwaway session.

    Creates one checkout session (cart items, metadata marking it as a probe, an airline
    addendum, a buyer), checks: PUT merges or replaces; ``null`` clears; ``cart_items`` and
    ``airline`` are replaced whole; an update resets ``expires_at`` and ``expires_in`` sets it;
    documented fields (``CartItem.description``, ``AirlinePassenger.title``) come back; a bad
    body answers 400 with pointers; which headers come back; a deleted session answers 404.
    The session is deleted at the end, also when a check fails midway. About 14 requests.

    Args:
        client: a :class:`~gr4vy_nb.api.client.Gr4vyClient` (it needs the write scope).
        save: save the result for the target (see :func:`saved_probe`), which the update engine reads.

    Returns:
        the :class:`ProbeResult` (its ``ok`` says whether every assumption held).

    Raises:
        AuthError, PermissionDenied: the key is refused, or lacks a scope. TransportError: no answer.
    """
    prober = _Prober(client, clock)
    try:
        created = prober.create()
        prober.guarded("documented_fields", "documented fields are accepted and returned",
                       "documented fields are not returned", lambda: prober.documented_fields(created))
        prober.guarded("put_merges", "PUT merges: fields absent from the body are kept",
                       "PUT merges or replaces: could not tell", prober.merge_or_replace)
        prober.guarded("null_clears", "null clears a field", "null does not clear a field", prober.null_clears)
        prober.guarded("lists_replaced", "cart_items and airline are replaced whole",
                       "cart_items or airline are merged, not replaced whole", prober.lists_replaced)
        prober.guarded("expiry_reset", "an update resets expires_at; expires_in sets it",
                       "the expiry could not be checked", prober.expiry)
        prober.guarded("bad_body_400", "a bad body answers 400 with pointers",
                       "a bad body is not answered 400 with pointers", prober.bad_body)
        prober.response_headers()
        prober.guarded("deleted_404", "a deleted session answers 404", "a deleted session does not answer 404",
                       prober.deleted_404)
    finally:
        prober.cleanup()
    result = ProbeResult(target=_target_of(client.settings),
                         probed_at=datetime.fromtimestamp(clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         checks=prober.checks, put_semantics=prober.put_semantics, expiry_reset=prober.expiry_reset,
                         headers=prober.headers, session_id=prober.sid, session_deleted=prober.deleted)
    if save:
        save_probe(result, client.settings)
    return result
