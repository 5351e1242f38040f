"""The checkout-sessions client: one pooled HTTP session, least-scope tokens, retries, typed errors.

:class:`Gr4vyClient` is the one place where gr4vy-nb talks HTTP, and the one boundary where
foreign exceptions (``requests``, ``urllib3``, sockets) become :mod:`gr4vy_nb.errors`::

    with Gr4vyClient(Settings.from_env(required=True)) as client:
        session = client.get_checkout_session("8724fd24-5489-4a5d-90fd-0604df7d3b83")
        client.update_checkout_session(session["id"], {"metadata": {"tag": "q4"}})
        found = client.get_checkout_sessions(ids, workers=8)   # {id: dict | ApiError}

What a caller must know:

* **Transport**: one ``requests.Session`` per client, its ``HTTPAdapter`` pool sized to
  ``workers`` and ``trust_env`` off (no proxies or netrc from the environment).  Requests go
  straight to that adapter's urllib3 connection pool (with the session's TLS settings);
  requests' per-request layer (cookies, hooks, redirects) is skipped: the API uses none of it,
  and skipping it keeps the client's CPU near raw urllib3 (see ``bench/README.md``).
* **Bodies** may be dicts (sent as given, serialised once with orjson: validate before) or
  schema models (dumped with ``exclude_unset=True``).  **Responses** are plain dicts exactly as
  received (unknown fields kept); each is checked against :class:`~gr4vy_nb.schema.CheckoutSession`
  and a mismatch is logged at WARNING once per field path (never the value), not raised.
* **Tokens** carry the least scope: ``checkout-sessions.read`` for GET, ``.write`` otherwise;
  they are cached and renewed by the :class:`~gr4vy_nb.api.auth.TokenSigner`.
* **Retries** follow ``settings.retry`` (:class:`~gr4vy_nb.api.retry.RetryPolicy`).  A write whose
  answer never came (read timeout, dropped connection) is retried when idempotent (PUT, DELETE)
  and counted in :attr:`CallInfo.unknown_attempts`; if no later attempt settles it, the call
  raises :class:`~gr4vy_nb.errors.OutcomeUnknown`.  A POST is re-sent only when it provably never
  left (connection errors before sending) or was refused with 429.  A DELETE answered 404 after
  an attempt whose outcome was unknown counts as done (the earlier attempt deleted it).
* **Each call reports itself**: after any call, :attr:`Gr4vyClient.last_call` (per thread) is a
  :class:`CallInfo` (attempts, elapsed, final status, request id, outcome_unknown), and every
  raised :class:`~gr4vy_nb.errors.ApiError` carries ``attempts``, ``status``, ``request_id`` and
  ``session_id``.  ``on_attempt(method, session_id, attempt, status_or_error, delay)`` is called
  after every attempt (``delay`` is the wait before the next one, ``None`` after the last).
* **Pacing**: ``rate=`` (requests per second, shared by all threads, retries included) spaces
  attempts evenly, so a server limit of R/s is met without 429s; ``None`` (default) does not pace.
* **Logs**: one INFO line per HTTP request on ``gr4vy_nb.api.client`` (method, path, status, time,
  attempt); never headers, tokens or bodies.
"""

from __future__ import annotations

import logging
import platform
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import pydantic
import requests
import requests.adapters
import urllib3

from .._version import __version__
from ..config import Settings
from ..errors import ApiError, ConfigError, OutcomeUnknown, ValidationFailed
from ..ids import is_session_id
from ..schema import CheckoutSession
from .answers import error_from_response, request_id_from
from .auth import READ_SCOPE, WRITE_SCOPE, TokenSigner
from .pacing import Pacer
from .transport import WRITE_METHODS, classify_failure, is_foreign, transport_error

__all__ = ["USER_AGENT", "CallInfo", "Gr4vyClient"]

log = logging.getLogger("gr4vy_nb.api.client")

USER_AGENT = (
    f"gr4vy-nb/{__version__} python-requests/{requests.__version__} "
    f"Python/{platform.python_version()}"
)

_SESSIONS_PATH = "/checkout/sessions"
_SESSION_VALIDATOR = CheckoutSession.__pydantic_validator__

OnAttempt = Callable[[str, "str | None", int, "int | ApiError", "float | None"], None]
Progress = Callable[[int, int], None]


def _no_progress(done: int, total: int) -> None:
    """The default progress callback: does nothing."""


# --------------------------------------------------------------------------- call reports


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What one client call took: read it from :attr:`Gr4vyClient.last_call` after the call.

    Attributes:
        method: ``GET``, ``POST``, ``PUT`` or ``DELETE``.
        session_id: the session concerned (the new id after a create; ``None`` if unknown).
        attempts: HTTP attempts made, the first included (0 when the call was refused before sending).
        elapsed: seconds the call took, waits between attempts included.
        status: the last HTTP status received, ``None`` when no answer came.
        request_id: the server's request id of the last answer, if it sent one.
        unknown_attempts: attempts sent whose answer never came (for a PUT: possible extra writes).
        outcome_unknown: the call ended without knowing whether the write was applied
            (it raised :class:`~gr4vy_nb.errors.OutcomeUnknown`).
        ok: the call succeeded.
        headers: the response headers of the last answer of a call that succeeded (names in lower
            case; empty otherwise), e.g. to see which rate-limit or request-id headers a target sends.
    """

    method: str
    session_id: str | None
    attempts: int
    elapsed: float
    status: int | None
    request_id: str | None
    unknown_attempts: int
    outcome_unknown: bool
    ok: bool
    headers: Mapping[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- the client


class Gr4vyClient:
    """A client for Gr4vy's checkout-session endpoints (see the module docstring).

    Args:
        settings: where and as whom to call (:class:`~gr4vy_nb.config.Settings`).
        workers: the most threads expected to call at once; sizes the connection pool and
            is the default concurrency of :meth:`get_checkout_sessions`.
        session: a ``requests.Session`` whose connection pool and TLS settings (``verify``,
            ``cert``, mounted ``HTTPAdapter``) to use instead of a new one; it is not closed by
            :meth:`close`.  Its cookies, hooks, auth and environment proxies are not used.
        on_attempt: called after every attempt as ``(method, session_id, attempt, status_or_error,
            delay)``; ``delay`` is the wait before a retry, ``None`` when no retry follows.
        rate: the most requests per second to send, all threads together (``None``: no pacing),
            or a shared limiter object (see :meth:`set_rate`).
        sleep, clock, rng: injectable for tests (waits, a monotonic clock, the jitter source).

    Raises:
        ConfigError: the settings carry no target or no credentials, or ``session`` has no
            ``requests.adapters.HTTPAdapter`` for the base URL.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        workers: int = 8,
        session: requests.Session | None = None,
        on_attempt: OnAttempt | None = None,
        rate: float | Any | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(settings, Settings):
            raise ConfigError("Gr4vyClient needs a Settings value (see Settings.from_env)")
        settings.require()
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.settings = settings
        self.workers = workers
        self.on_attempt = on_attempt
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._signer: TokenSigner | None = None if settings.token else settings.signer()
        connect, read = settings.timeouts.as_tuple()
        self._timeout = urllib3.Timeout(connect=connect, read=read)
        self._read_timeout = read
        self._base_url = settings.base_url.rstrip("/")  # type: ignore[union-attr]
        self._path = urlsplit(self._base_url).path + _SESSIONS_PATH
        self._local = threading.local()
        self._warned_paths: set[str] = set()
        self._headers: dict[str, tuple[str, dict[str, str]]] = {}
        self._pacer: Any = None
        self._observers: list[OnAttempt] = []
        self.set_rate(rate)
        self._own_session = session is None
        if session is None:
            session = requests.Session()
            # No proxies, netrc or CA bundle from the environment: a token must not travel
            # through a proxy nobody configured here.
            session.trust_env = False
            adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=workers)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._session = session
        adapter = session.get_adapter(self._base_url)
        if not isinstance(adapter, requests.adapters.HTTPAdapter):
            raise ConfigError("the requests.Session given must use a requests.adapters.HTTPAdapter for the API URL")
        # The pool of the session's adapter, with its TLS settings (verify, cert), is used
        # directly: requests' per-request machinery (cookie jars, hooks, redirects, proxy
        # lookup, Response objects) serves nothing this API needs and would cost ~40% of the
        # client's CPU per request.
        probe = requests.Request("GET", self._base_url + _SESSIONS_PATH).prepare()
        proxies = {k: v for k, v in (session.proxies or {}).items() if k in ("https", "all")}
        self._pool = adapter.get_connection_with_tls_context(probe, session.verify, proxies, session.cert)
        self._base_headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "x-gr4vy-merchant-account-id": settings.merchant_account_id,
        }

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Gr4vyClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections (only if this client created the HTTP session)."""
        if self._own_session:
            self._session.close()

    def __repr__(self) -> str:
        return (
            f"Gr4vyClient(target={self.settings.target!r}, base_url={self.settings.base_url!r}, "
            f"workers={self.workers})"
        )

    def set_rate(self, rate: float | Any | None) -> None:
        """Pace all threads to at most ``rate`` requests per second (``None`` stops pacing).

        ``rate`` may also be a limiter shared with other code: any object whose ``acquire()``
        blocks until a request may go (e.g. a :class:`~gr4vy_nb.api.pacing.Pacer` shared by two
        clients); it is called before every attempt, retries included.
        """
        if rate is None or hasattr(rate, "acquire"):
            self._pacer = rate
        else:
            self._pacer = Pacer(float(rate), self._clock, self._sleep)

    @property
    def pacer(self) -> Any:
        """The limiter every attempt waits for (``None``: no pacing); see :meth:`set_rate`."""
        return self._pacer

    @contextmanager
    def paced(self, rate: float | Any | None) -> Iterator[None]:
        """Pace at ``rate`` inside the block (``None``: keep the current pacing), then restore the previous one."""
        if rate is None:
            yield
            return
        previous = self._pacer
        self.set_rate(rate)
        try:
            yield
        finally:
            self._pacer = previous

    @contextmanager
    def observed(self, hook: OnAttempt) -> Iterator[None]:
        """Call ``hook`` after every attempt inside the block, as :attr:`on_attempt` is (both are called)."""
        self._observers.append(hook)
        try:
            yield
        finally:
            self._observers.remove(hook)

    def _attempted(self, method: str, session_id: str | None, attempt: int, outcome: Any, delay: float | None) -> None:
        for hook in self._observers:
            hook(method, session_id, attempt, outcome, delay)
        if self.on_attempt is not None:
            self.on_attempt(method, session_id, attempt, outcome, delay)

    @property
    def last_call(self) -> CallInfo | None:
        """The :class:`CallInfo` of the last call made by the current thread (``None`` before any)."""
        return getattr(self._local, "info", None)

    # ------------------------------------------------------------------ endpoints

    def create_checkout_session(self, body: Any = None) -> dict[str, Any]:
        """Create a session (``POST /checkout/sessions``) and return it.

        A create is never re-sent once it may have reached the server: a timeout or dropped
        connection raises :class:`~gr4vy_nb.errors.OutcomeUnknown`.
        """
        return self._checked(self._call("POST", None, {} if body is None else body))

    def get_checkout_session(self, session_id: str) -> dict[str, Any]:
        """Fetch one session; raises :class:`~gr4vy_nb.errors.NotFound` if unknown or expired."""
        return self._checked(self._call("GET", session_id))

    def update_checkout_session(self, session_id: str, body: Any) -> dict[str, Any]:
        """Update a session (``PUT``, idempotent) and return it as the server now holds it.

        Top-level fields present in ``body`` replace the stored value, absent ones are kept;
        ``expires_in`` (default 3600 s on the server) resets the expiry.
        """
        return self._checked(self._call("PUT", session_id, body))

    def delete_checkout_session(self, session_id: str) -> None:
        """Delete a session (``DELETE``); :class:`~gr4vy_nb.errors.NotFound` if it does not exist."""
        self._call("DELETE", session_id)

    def get_checkout_sessions(
        self,
        ids: Iterable[str],
        workers: int | None = None,
        progress: Progress | None = None,
        *,
        infos: dict[str, CallInfo] | None = None,
    ) -> dict[str, dict[str, Any] | ApiError]:
        """Fetch many sessions concurrently: ``{id: session dict or the ApiError}``, in the order given.

        One failing id never stops the others.  Duplicate ids are fetched once.

        Args:
            ids: the session ids.
            workers: threads to use (default and maximum: the client's ``workers``, the pool size).
            progress: ``progress(done, total)``, called in the caller's thread as fetches finish.
            infos: if given, filled with ``{id: CallInfo}``.
        """
        order = list(dict.fromkeys(ids))
        total = len(order)
        report = progress or _no_progress
        results: dict[str, dict[str, Any] | ApiError] = {}
        report(0, total)

        def fetch(session_id: str) -> tuple[dict[str, Any] | ApiError, CallInfo | None]:
            try:
                return self.get_checkout_session(session_id), self.last_call
            except ApiError as exc:
                return exc, self.last_call

        def collect(session_id: str, outcome: tuple[dict[str, Any] | ApiError, CallInfo | None]) -> None:
            results[session_id] = outcome[0]
            if infos is not None and outcome[1] is not None:
                infos[session_id] = outcome[1]
            report(len(results), total)

        n = max(1, min(workers or self.workers, self.workers, total))
        if n == 1:
            for session_id in order:
                collect(session_id, fetch(session_id))
        elif order:
            with ThreadPoolExecutor(max_workers=n, thread_name_prefix="gr4vy-get") as pool:
                futures = {pool.submit(fetch, sid): sid for sid in order}
                for future in as_completed(futures):
                    collect(futures[future], future.result())
        return {sid: results[sid] for sid in order}

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _check_id(session_id: Any) -> str:
        # Ids go into the URL path: anything but a UUID could address another resource.
        if not is_session_id(session_id):
            shown = session_id if isinstance(session_id, str) and len(session_id) <= 80 else type(session_id).__name__
            raise ValidationFailed(
                f"{shown!r} is not a checkout session id (expected a UUID)",
                code="invalid_session_id",
                details=[{"location": "path", "pointer": "/session_id", "message": "expected a UUID", "type": "uuid"}],
                attempts=0,
                session_id=session_id if isinstance(session_id, str) else None,
            )
        return session_id

    @staticmethod
    def _serialise(body: Any) -> bytes:
        if isinstance(body, pydantic.BaseModel):
            return body.model_dump_json(exclude_unset=True).encode("utf-8")
        if isinstance(body, bytes | bytearray):
            return bytes(body)
        try:
            return orjson.dumps(body)
        except TypeError as exc:
            raise ValidationFailed(
                f"the body cannot be sent as JSON ({exc})", code="invalid_body", attempts=0
            ) from None

    def _headers_for(self, scope: str, with_body: bool) -> dict[str, str]:
        """The request headers for ``scope``, rebuilt only when the signer renews the token."""
        token = self.settings.token if self._signer is None else self._signer.token((scope,))
        key = scope + ("+body" if with_body else "")
        cached = self._headers.get(key)
        if cached is not None and cached[0] is token:
            return cached[1]
        headers = dict(self._base_headers)
        headers["Authorization"] = f"Bearer {token}"
        if with_body:
            headers["Content-Type"] = "application/json"
        self._headers[key] = (token, headers)  # two threads racing here build equal dicts
        return headers

    def _call(self, method: str, session_id: Any = None, body: Any = None) -> Any:
        """Check and serialise, then send with retries; return the parsed JSON body (``None`` when empty)."""
        try:
            if session_id is not None or method != "POST":
                session_id = self._check_id(session_id)
            payload = None if body is None else self._serialise(body)
        except ApiError as exc:
            sid = session_id if isinstance(session_id, str) else None
            self._local.info = CallInfo(method, sid, 0, 0.0, None, None, 0, False, False)
            exc.method = method
            raise
        return self._send(method, session_id, payload)

    def _send(self, method: str, session_id: str | None, body: bytes | None) -> Any:
        path = self._path if session_id is None else f"{self._path}/{session_id}"
        scope = READ_SCOPE if method == "GET" else WRITE_SCOPE
        policy = self.settings.retry
        start = self._clock()
        attempt = unknown = 0
        while True:
            attempt += 1
            if self._pacer is not None:
                self._pacer.acquire()
            sent_at = self._clock()
            status: int | None = None
            request_id: str | None = None
            error: ApiError | None = None
            try:
                response = self._pool.urlopen(
                    method, path, body=body, headers=self._headers_for(scope, body is not None),
                    retries=False, redirect=False, timeout=self._timeout, assert_same_host=False,
                    preload_content=True, decode_content=True,
                )
            except Exception as exc:
                if not is_foreign(exc):
                    raise
                failure = classify_failure(exc)
                unknown += failure.sent
                error = transport_error(exc, method=method, session_id=session_id, attempts=attempt,
                                        failure=failure, read_timeout=self._read_timeout)
                outcome: int | str = failure.value
                retry_after = None
            else:
                status = outcome = response.status
                headers = response.headers
                request_id = request_id_from(headers)
                if 200 <= status < 300 or (method == "DELETE" and status == 404 and unknown):
                    # (A DELETE answered 404 after a lost answer: the earlier attempt deleted it.)
                    self._log(method, path, status, self._clock() - sent_at, attempt, None)
                    data = self._parse_success(response.data, status, method, session_id, attempt, request_id)
                    sid = session_id
                    if sid is None and isinstance(data, dict) and isinstance(data.get("id"), str):
                        sid = data["id"]
                    self._local.info = CallInfo(method, sid, attempt, self._clock() - start, status, request_id,
                                                unknown, False, True, {k.lower(): v for k, v in headers.items()})
                    self._attempted(method, session_id, attempt, status, None)
                    return data
                failure = None
                retry_after = headers.get("retry-after")
            with self._rng_lock:
                delay = policy.delay(method=method, attempt=attempt, elapsed=self._clock() - start, status=status,
                                     failure=failure, retry_after=retry_after, rng=self._rng)
            self._log(method, path, outcome, self._clock() - sent_at, attempt, delay)
            if delay is not None:
                self._attempted(method, session_id, attempt, status if error is None else error, delay)
                self._sleep(delay)
                continue
            if error is None:
                error = error_from_response(status, response.data, headers, method=method,  # type: ignore[arg-type]
                                            session_id=session_id, attempts=attempt, needed_scope=scope)
            if unknown and method in WRITE_METHODS and not isinstance(error, OutcomeUnknown) and (
                status is None or status in policy.statuses
            ):
                # The budget ran out after an attempt whose answer was lost: it may have applied.
                error = self._unknown_error(error, method, session_id, attempt)
            self._local.info = CallInfo(method, session_id, attempt, self._clock() - start, status, request_id,
                                        unknown, isinstance(error, OutcomeUnknown), False)
            self._attempted(method, session_id, attempt, error, None)
            raise error

    @staticmethod
    def _unknown_error(last: ApiError, method: str, session_id: str | None, attempts: int) -> OutcomeUnknown:
        return OutcomeUnknown(
            f"an earlier attempt got no answer and the retries did not settle it (last: {last.message}); "
            "the write may or may not have been applied",
            status=last.status,
            code=last.code,
            details=last.details,
            request_id=last.request_id,
            attempts=attempts,
            session_id=session_id,
            method=method,
        )

    @staticmethod
    def _parse_success(
        content: bytes, status: int, method: str, session_id: str | None, attempt: int, request_id: str | None
    ) -> Any:
        if status in (204, 404) or not content:
            return None
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            raise ApiError(
                f"the API answered {status} with a body that is not JSON"
                + ("; the write was probably applied" if method in WRITE_METHODS else ""),
                status=status, code="invalid_response", attempts=attempt, session_id=session_id,
                method=method, request_id=request_id,
            ) from None

    def _checked(self, data: Any) -> dict[str, Any]:
        """Return the session dict as received, warning (once per field path) where it breaks the schema."""
        if not isinstance(data, dict):
            info = self.last_call
            raise ApiError(
                "the API answered without a checkout session in the body",
                status=info.status if info else None, code="invalid_response",
                attempts=info.attempts if info else 1, session_id=info.session_id if info else None,
            )
        try:
            # Validated as is (no lenient pass): unknown keys show up as "extra_forbidden" and are
            # simply skipped below, which costs a third less than dropping them first.
            _SESSION_VALIDATOR.validate_python(data)
        except pydantic.ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False, include_context=False):
                if err["type"] == "extra_forbidden":
                    continue  # a field this version does not know: kept, and fine
                field_path = ".".join("[]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[]", "[]")
                if field_path not in self._warned_paths:
                    self._warned_paths.add(field_path)
                    # The kind of problem only: the value may be personal data.
                    log.warning("response field %s does not match the schema (%s); kept as received",
                                field_path, err["type"])
        return data

    @staticmethod
    def _log(method: str, path: str, outcome: int | str, seconds: float, attempt: int, delay: float | None) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        retry = f", retry in {delay:.2f} s" if delay is not None else ""
        log.info("%s %s -> %s in %.0f ms (attempt %d%s)", method, path, outcome, seconds * 1000, attempt, retry)
