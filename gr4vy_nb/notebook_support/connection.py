"""Connecting a notebook: the target, a banner naming it, the embedded sandbox, a connection check, the write guard."""

from __future__ import annotations

import atexit
import email.utils
import html
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from ..api.client import Gr4vyClient
from ..config import Settings
from ..errors import ApiError, AuthError, ConfigError, NotFound, PermissionDenied, TransportError

__all__ = [
    "CLOCK_SKEW_WARN_SECONDS",
    "ApiBehaviourCheck",
    "Connection",
    "ConnectionCheck",
    "check_api_behaviour",
    "check_connection",
    "confirm_writes",
    "connect",
    "needs_confirmation",
    "target_style",
]

CLOCK_SKEW_WARN_SECONDS = 30
"""A clock this far from the server's makes tokens look expired or not yet valid."""

_EMBEDDED_LOCK = threading.Lock()
_EMBEDDED: Any = None  # the embedded sandbox of this process, started at most once


def needs_confirmation(settings: Settings) -> bool:
    """Whether writes with these settings need the user to confirm by typing the merchant id.

    True for every ``production`` environment, even one pointed at a local URL (a tunnel or proxy
    to production is production): the confirmation is cheap, and a production setting reached by
    mistake is not.
    """
    return settings.is_production


def target_style(settings: Settings) -> tuple[str, str, str]:
    """``(kind, label, colour)`` for a banner: kind is ``emulator``, ``sandbox`` or ``production``."""
    if not settings.configured:
        return "none", "no target configured", "#6b7280"
    if needs_confirmation(settings):
        return "production", settings.target.upper(), "#b91c1c"
    if settings.is_local:
        return "emulator", "local sandbox emulator", "#15803d"
    return "sandbox", settings.target, "#1d4ed8"


@dataclass(eq=False)
class Connection:
    """A target ready to use: the settings, a client, and the embedded sandbox if one was started.

    ``sandbox`` is the embedded emulator when :func:`connect` started (or reused) it, else
    ``None``.  The client belongs to the connection: :meth:`close` closes it (the embedded
    sandbox keeps running for the rest of the process, so re-running a cell is cheap).
    """

    settings: Settings
    client: Gr4vyClient
    sandbox: Any = None
    note: str = ""
    _closed: bool = field(default=False, repr=False)

    @property
    def probe(self) -> Any:
        """The target's saved probe result (:func:`gr4vy_nb.api.probe.saved_probe`) or ``None``: give it to planning."""
        from ..api.probe import saved_probe

        return saved_probe(self.settings)

    @property
    def embedded(self) -> bool:
        """Whether this connection uses the embedded sandbox emulator."""
        return self.sandbox is not None

    def banner_text(self) -> str:
        """One line naming the target, merchant account and key id (never the key)."""
        kind, label, _ = target_style(self.settings)
        s = self.settings
        text = f"Target: {label} at {s.base_url} | merchant account {s.merchant_account_id!r}"
        text += f" | key kid {s.kid}" if s.kid else " | ready token"
        if kind == "production":
            text = "!! " + text + " !! writes need your confirmation"
        if self.note:
            text += f"\n{self.note}"
        return text

    def banner_html(self) -> str:
        """The banner as HTML: a coloured badge with the target, then the details."""
        kind, label, colour = target_style(self.settings)
        s = self.settings
        kid = f"key kid <code>{html.escape(s.kid)}</code>" if s.kid else "a ready token"
        note = f"<div style='margin-top:4px'>{html.escape(self.note)}</div>" if self.note else ""
        warn = (
            "<b> Writes here change real checkout sessions and need your confirmation.</b>"
            if kind == "production" else ""
        )
        return (
            f"<div class='gr4vy-banner gr4vy-target-{kind}' style='border-left:6px solid {colour};"
            f"padding:6px 10px;margin:4px 0;background:#f9fafb;color:#111827'>"
            f"<span style='background:{colour};color:white;padding:2px 8px;border-radius:4px;"
            f"font-weight:bold'>{html.escape(label)}</span> "
            f"{html.escape(str(s.base_url))} &middot; merchant account "
            f"<code>{html.escape(s.merchant_account_id)}</code> &middot; {kid}{warn}{note}</div>"
        )

    def _repr_html_(self) -> str:
        return self.banner_html()

    def __repr__(self) -> str:
        return f"Connection({self.banner_text()!r})"

    def close(self) -> None:
        """Close the client's pooled connections."""
        if not self._closed:
            self.client.close()
            self._closed = True


def confirm_writes(conn: Connection, typed_merchant_id: str | None) -> None:
    """The code-cell counterpart of the apps' PRODUCTION checkbox: call it before any write.

    Does nothing unless the target needs confirmation (see :func:`needs_confirmation`); then
    ``typed_merchant_id`` must be the merchant account id, typed by the user in the notebook.

    Raises:
        ConfigError: a PRODUCTION target and no (or a wrong) confirmation; nothing was sent.
    """
    if not needs_confirmation(conn.settings):
        return
    if (typed_merchant_id or "").strip() != conn.settings.merchant_account_id:
        raise ConfigError(
            f"the next cells write to {conn.settings.target} (PRODUCTION, merchant account "
            f"{conn.settings.merchant_account_id!r}): set CONFIRM_PRODUCTION to that merchant account id to "
            "allow them; nothing was sent"
        )


def _embedded_sandbox() -> tuple[Any, bool]:
    """The embedded sandbox of this process, started on first use; ``(sandbox, started_now)``."""
    global _EMBEDDED
    with _EMBEDDED_LOCK:
        if _EMBEDDED is not None:
            return _EMBEDDED, False
        from ..sandbox import start_sandbox

        # Thread mode: it lives and dies with the kernel, and needs no free port chosen by hand.
        _EMBEDDED = start_sandbox(port=0, mode="thread")
        atexit.register(_EMBEDDED.stop)
        return _EMBEDDED, True


def connect(
    settings: Settings | None = None,
    *,
    workers: int = 8,
    announce: bool = True,
    env: dict[str, str] | None = None,
) -> Connection:
    """Connect to the configured target, or to the embedded sandbox when none is configured.

    Args:
        settings: use these settings as they are (nothing is read from the environment).
        workers: the most concurrent requests the client will make (sizes its pool).
        announce: display (in a notebook) or print the banner naming the target.
        env: the variables to read instead of ``os.environ`` (``GR4VY_*``; a ``.env`` file
            in the working directory is read too).

    Raises:
        ConfigError: the configuration is invalid (a bad key, a bad URL, ...); an invalid
            configuration never falls back to the sandbox, since the user meant a real target.
    """
    note = ""
    sandbox = None
    if settings is None:
        settings = Settings.from_env(env=env)
        if not settings.configured:
            sandbox, started = _embedded_sandbox()
            settings = Settings.for_sandbox(sandbox)
            count = _sandbox_session_count(settings)
            what = "started" if started else "is reusing"
            note = (
                f"Nothing is configured (GR4VY_* variables or a .env file), so this notebook {what} "
                f"the embedded sandbox emulator, seeded with {count} sample sessions. "
                "Nothing you do here reaches Gr4vy."
            )
    conn = Connection(settings=settings, client=Gr4vyClient(settings, workers=workers), sandbox=sandbox, note=note)
    if announce:
        _announce(conn)
    return conn


def _announce(conn: Connection) -> None:
    try:
        from IPython import get_ipython

        in_notebook = get_ipython() is not None
    except ImportError:
        in_notebook = False
    if in_notebook:
        from IPython.display import HTML, display

        display(HTML(conn.banner_html()))
    else:
        print(conn.banner_text())


def _sandbox_session_count(settings: Settings) -> int | str:
    health = _sandbox_health(settings)
    return health.get("sessions", "?") if health else "?"


def _sandbox_health(settings: Settings, timeout: float = 5.0) -> dict[str, Any] | None:
    """The local sandbox's health document (no credentials are sent), or ``None``."""
    if not settings.is_local:
        return None
    try:
        resp = requests.get(f"{settings.base_url}/_sandbox/health", timeout=timeout)
    except requests.RequestException:
        return None
    if resp.status_code != 200:
        return None
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class ConnectionCheck:
    """The outcome of :func:`check_connection`: ``ok``, a message in words, latency and clock skew."""

    ok: bool
    message: str
    latency_ms: float | None = None
    clock_skew_s: float | None = None
    status: int | None = None
    problem: str | None = None  # "credentials", "scope", "network", "clock", "server", "config"


def _clock_skew(base_url: str, timeout: float = 5.0) -> float | None:
    """Seconds the server's clock is ahead of ours (``Date`` header of an unauthenticated HEAD)."""
    try:
        with requests.Session() as s:
            s.trust_env = False
            resp = s.head(base_url, timeout=timeout, allow_redirects=False)
    except requests.RequestException:
        return None
    date = resp.headers.get("Date")
    if not date:
        return None
    try:
        server = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return None
    # The Date header has one-second resolution: round so that a healthy clock reads 0.
    return round(server - time.time())


def check_connection(conn: Connection) -> ConnectionCheck:
    """Prove the target answers and accepts the key: read one session and measure the latency.

    Reads a random session id that does not exist: a 404 proves the token was accepted (with
    the read scope), without needing to know any real session.  On a local sandbox the health
    endpoint is checked first (and its key compared with ours).  Each problem is named: a bad
    key (401), clock skew (compared with the server's ``Date`` header), a missing scope (403),
    no answer (network), or a server error.
    """
    s = conn.settings
    if not s.configured:
        return ConnectionCheck(False, "no target is configured", problem="config")
    if s.is_local:
        health = _sandbox_health(s)
        if health is None:
            return ConnectionCheck(False, f"the local sandbox at {s.base_url} does not answer", problem="network")
        server_kid = health.get("kid")
        if server_kid and s.kid and server_kid != s.kid:
            return ConnectionCheck(
                False,
                f"the key's kid {s.kid} is not the sandbox's key ({server_kid}): every request would be "
                "refused with 401; use the sandbox's key file",
                problem="credentials",
            )
    probe = str(uuid.uuid4())
    started = time.perf_counter()
    try:
        conn.client.get_checkout_session(probe)
    except NotFound:
        latency = (time.perf_counter() - started) * 1000
        # A local sandbox shares our clock; a remote server's Date header tells its time.
        skew = None if s.is_local else _clock_skew(s.base_url or "")
        msg = f"connected to {s.target}: the key is accepted (read scope); round trip {latency:.0f} ms"
        if skew is not None and abs(skew) >= CLOCK_SKEW_WARN_SECONDS:
            side = "behind" if skew > 0 else "ahead of"
            msg += f"; warning: this computer's clock is {abs(skew):.0f} s {side} the server"
        return ConnectionCheck(True, msg, latency_ms=latency, clock_skew_s=skew, status=404)
    except AuthError as exc:
        skew = _clock_skew(s.base_url or "")
        if skew is not None and abs(skew) >= CLOCK_SKEW_WARN_SECONDS:
            return ConnectionCheck(
                False,
                f"authentication refused ({exc.message}); this computer's clock is {abs(skew):.0f} s "
                f"{'behind' if skew > 0 else 'ahead of'} the server, so tokens look "
                f"{'expired' if skew > 0 else 'not yet valid'}: fix the clock",
                clock_skew_s=skew, status=401, problem="clock",
            )
        return ConnectionCheck(
            False,
            f"authentication refused: {exc.message} (check that the key file is the one registered for "
            f"this Gr4vy instance; its kid is {s.kid})",
            clock_skew_s=skew, status=401, problem="credentials",
        )
    except PermissionDenied as exc:
        scope = exc.missing_scope or "checkout-sessions.read"
        return ConnectionCheck(
            False, f"the key is valid but lacks the scope {scope}: {exc.message}", status=403, problem="scope"
        )
    except TransportError as exc:
        return ConnectionCheck(False, f"no answer from {s.base_url}: {exc.message}", problem="network")
    except ApiError as exc:
        return ConnectionCheck(False, f"the server answered with an error: {exc}", status=exc.status,
                               problem="server")
    except ConfigError as exc:
        return ConnectionCheck(False, str(exc), problem="config")
    # A session with a random id exists: astonishing, but the key was accepted.
    latency = (time.perf_counter() - started) * 1000
    return ConnectionCheck(True, f"connected to {s.target}; round trip {latency:.0f} ms", latency_ms=latency,
                           status=200)


@dataclass(frozen=True)
class ApiBehaviourCheck:
    """The outcome of :func:`check_api_behaviour`: ``ok``, a message, the probe's table (text and HTML)."""

    ok: bool
    message: str
    result: Any = None  # the ProbeResult, when the probe ran
    problem: str | None = None  # "assumption", "confirmation", "credentials", "scope", "network", "server", "config"

    @property
    def table(self) -> str:
        return self.result.table() if self.result is not None else ""

    def html(self) -> str:
        return self.result.to_html() if self.result is not None else ""


def check_api_behaviour(conn: Connection, *, confirm: bool = False) -> ApiBehaviourCheck:
    """Run ``gr4vy-nb probe`` on the target (:func:`~gr4vy_nb.api.probe.probe_target`) and say what it found.

    It creates one checkout session marked as a probe, updates it a few times and deletes it; the result is
    saved for the target, so the next plans send only the changed fields where PUT merges, and each session's
    full state elsewhere. On a PRODUCTION target it runs only with ``confirm=True``.
    """
    from ..api.probe import probe_target

    s = conn.settings
    if not s.configured:
        return ApiBehaviourCheck(False, "no target is configured", problem="config")
    if needs_confirmation(s) and not confirm:
        return ApiBehaviourCheck(False, f"{s.target} is PRODUCTION: the check creates and deletes one checkout "
                                 "session there; confirm to run it", problem="confirmation")
    try:
        result = probe_target(conn.client)
    except AuthError as exc:
        return ApiBehaviourCheck(False, f"authentication refused: {exc.message}", problem="credentials")
    except PermissionDenied as exc:
        return ApiBehaviourCheck(False, f"the key lacks the scope {exc.missing_scope or 'checkout-sessions.write'}: "
                                 f"{exc.message}", problem="scope")
    except TransportError as exc:
        return ApiBehaviourCheck(False, f"no answer from {s.base_url}: {exc.message}", problem="network")
    except ApiError as exc:
        return ApiBehaviourCheck(False, f"the server answered with an error: {exc}", problem="server")
    if result.ok:
        return ApiBehaviourCheck(True, f"{s.target}: every assumption holds; updates send only the changed fields",
                                 result)
    return ApiBehaviourCheck(False, f"{s.target}: does not hold: " + "; ".join(result.failures) + (
        "; updates send the full state of each session, so nothing is cleared" if not result.merges else ""),
        result, problem="assumption")
