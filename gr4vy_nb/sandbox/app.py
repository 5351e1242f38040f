"""The sandbox's FastAPI application: the checkout-session endpoints and the admin endpoints.
:func:`build_app` returns it wrapped in :class:`~gr4vy_nb.sandbox.asgi.SandboxASGI`, which
guards the admin endpoints, counts requests and injects faults.

API (bearer ES512 token required; sessions scoped by ``x-gr4vy-merchant-account-id``,
absent = ``default``):

====================================  ======  =========================================
``POST   /checkout/sessions``         201     body: CheckoutSessionUpdate, empty or ``null``
``GET    /checkout/sessions/{id}``    200
``PUT    /checkout/sessions/{id}``    200     fields present replace, ``null`` clears (absent: see below)
``DELETE /checkout/sessions/{id}``    204
====================================  ======  =========================================

Bodies are validated against the OpenAPI document's request body schemas and responses are
shaped by its ``CheckoutSession`` (see :mod:`~gr4vy_nb.sandbox.document`; nothing of the
toolkit's own models is used).  ``expires_in`` (3600..86400, default 3600) resets
``expires_at`` on create and update; the read-only fields (``id``, ``type``,
``expires_at``, ``payment_method``) are refused in a body.  With ``newer_api`` (the
``--newer-api`` flag, or ``PUT /_sandbox/config {"newer_api": true}``) the sandbox behaves
as a newer API version: fields the document does not know are accepted at any depth,
stored and returned; the known ones are validated as usual.  ``put_semantics`` (``--put-semantics``)
``merge`` (the default) keeps the fields a PUT leaves out, ``replace`` clears them (the body is the
whole writable state; the card is kept); ``expiry_reset`` off (``--expiry-reset off``) makes an
update leave ``expires_at`` alone, whatever its ``expires_in``.  Both can be changed with
``PUT /_sandbox/config``.

Errors always have Gr4vy's body ``{type, code, status, message, details[]}``: 400 for a bad
body (malformed JSON, or one ``details`` entry per bad field with its JSON pointer,
``location: body``) or a non-UUID id (``location: path``), 401/403 for tokens, 404 for an
unknown, expired or other merchant's session and for unknown paths, 405 for a wrong
method, 413 for a body over :data:`MAX_BODY_BYTES`, 429/5xx from fault injection.
FastAPI's own 422 never appears unless a scripted fault asks for it.

Admin (no auth; loopback clients only, even when the server listens on all interfaces):
``GET /_sandbox/health``, ``GET /_sandbox/stats``, ``POST /_sandbox/reset[?reseed=true]``,
``POST /_sandbox/seed[?merchant_account_id=M][&real_lifetimes=true]``, ``GET|POST|DELETE /_sandbox/faults``
(``POST ...?append=true`` to append), ``POST /_sandbox/expire``, ``GET|PUT /_sandbox/config``,
``GET /_sandbox/public-key``.  Admin requests are neither counted nor faulted.

Request order for the API: latency, scripted fault, rate limit, random failure, then the
handler (token, session id, body size, JSON, validation, store).  Everything runs on the
server's event loop, so the store's writes and the per-session write counters are exact
under any number of concurrent clients.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from .._version import __version__
from .asgi import SandboxASGI
from .document import UUID_RE, contract, encode_pointer
from .faults import FaultConfig, FaultRule, pydantic_details
from .keys import load_or_create_key
from .seeding import SeedError, parse_seed, with_real_lifetimes
from .state import Problem, SandboxState
from .store import SessionStore, expires_ts_after
from .tokens import AuthProblem, required_scope

__all__ = ["MAX_BODY_BYTES", "build_app"]

MAX_BODY_BYTES = 1024 * 1024
"""Largest request body accepted (1 MiB); a larger one is answered 413 and nothing is applied."""
_DRAIN_CAP = 64 * 1024 * 1024  # past this an oversized body is not read to the end; the connection closes

_MERCHANT_HEADER = "x-gr4vy-merchant-account-id"
EXPIRES_IN_DEFAULT = float(contract().schemas["CheckoutSessionUpdate"]["properties"]["expires_in"]["default"])
"""The document's default ``expires_in`` (3600 seconds)."""


# ---------------------------------------------------------------------- request helpers


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Call:
    """An API request whose token was accepted: the sandbox's state, when it came, and for which merchant account."""

    state: SandboxState
    now: float
    merchant: str


def _authorized(request: Request) -> _Call:
    """Check the token for this request's method (before anything else is looked at); raise :class:`AuthProblem`."""
    state = _state(request)
    now = time.time()
    state.verifier.authorize(request.headers.get("authorization"), required_scope(request.method), now)
    return _Call(state, now, request.headers.get(_MERCHANT_HEADER, "").strip() or "default")


def _session_id(raw: str) -> str:
    """The path's session id in lower case (as stored), or a 400 naming the path."""
    # The document's path parameter is a string of format uuid: the hyphenated form, any case, nothing around it.
    if not UUID_RE.fullmatch(raw):
        raise Problem(400, "The checkout session id in the path is not a valid UUID",
                       [{"location": "path", "pointer": "/session_id", "message": "Input should be a valid UUID",
                         "type": "uuid_parsing"}])
    return raw.lower()


async def _read_body(request: Request) -> bytes:
    """The request body, refusing (413) one over :data:`MAX_BODY_BYTES` after draining it."""
    declared = request.headers.get("content-length", "")
    chunks: list[bytes] = []
    size = 0
    too_large = declared.isdigit() and int(declared) > MAX_BODY_BYTES
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                too_large = True
            if too_large:
                chunks = []
                if size > _DRAIN_CAP:
                    break
            else:
                chunks.append(chunk)
    except ClientDisconnect:
        raise Problem(400, "The client disconnected before sending the whole body") from None
    if too_large:
        raise Problem(413, f"The request body is too large: the limit is {MAX_BODY_BYTES} bytes (1 MiB)",
                       headers={"connection": "close"} if size > _DRAIN_CAP else None)
    return b"".join(chunks)


_NO_BODY = object()


async def _read_json(request: Request) -> Any:
    raw = await _read_body(request)
    if not raw.strip():
        return _NO_BODY
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "The request body is not valid JSON",
                       [{"location": "body", "pointer": "", "message": str(exc), "type": "json_invalid"}]) from None


def _validated(state: SandboxState, data: Any, *, create: bool = False) -> tuple[dict[str, Any], float]:
    """Validate a body against the document's request body schema; return it (verbatim) and its ``expires_in``.

    A create's body may also be ``null`` or a list of empty objects (the document allows
    both): that is the same as ``{}``.
    """
    details = contract(state.config.newer_api).update_problems(data, create=create)
    if details:
        raise Problem(400, f"Request failed validation ({len(details)} error(s))", details)
    if not isinstance(data, dict):
        data = {}
    return data, float(data.get("expires_in", EXPIRES_IN_DEFAULT))


# ---------------------------------------------------------------------- API endpoints


async def create_session(request: Request) -> Response:
    call = _authorized(request)
    data = await _read_json(request)
    fields, expires_in = _validated(call.state, None if data is _NO_BODY else data, create=True)
    record = call.state.store.create(call.merchant, fields, expires_ts_after(call.now, expires_in))
    call.state.stats.wrote(record["id"])
    return call.state.session(record, 201)


async def _get_session(request: Request, call: _Call, sid: str) -> Response:
    record = call.state.store.get(call.merchant, sid, call.now)
    if record is None:
        raise Problem(404)
    return call.state.session(record)


async def _update_session(request: Request, call: _Call, sid: str) -> Response:
    data = await _read_json(request)
    if data is _NO_BODY:
        raise Problem(400, "Request failed validation",
                       [{"location": "body", "pointer": "", "message": "Field required", "type": "missing"}])
    fields, expires_in = _validated(call.state, data)
    config = call.state.config
    expires_ts = expires_ts_after(call.now, expires_in) if config.expiry_reset else None
    record = call.state.store.update(call.merchant, sid, fields, expires_ts, call.now,
                                     replace=config.put_semantics == "replace")
    if record is None:
        raise Problem(404)
    call.state.stats.wrote(sid)
    return call.state.session(record)


async def _delete_session(request: Request, call: _Call, sid: str) -> Response:
    if not call.state.store.delete(call.merchant, sid, call.now):
        raise Problem(404)
    call.state.stats.wrote(sid)
    return Response(status_code=204)


_BY_METHOD = {"GET": _get_session, "PUT": _update_session, "DELETE": _delete_session}


async def _one_session(request: Request, session_id: str) -> Response:
    """``GET``, ``PUT`` or ``DELETE /checkout/sessions/{id}``: the token first, then the id, then the method's work."""
    handler = _BY_METHOD[request.method]
    call = _authorized(request)
    return await handler(request, call, _session_id(session_id))


# ---------------------------------------------------------------------- admin endpoints


async def _admin_json(request: Request, default: Any = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        return default
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, f"The request body is not valid JSON ({exc})") from None


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("1", "true", "yes")


async def admin_health(request: Request) -> Response:
    st = _state(request)
    return st.json({
        "status": "ok",
        "sessions": st.store.count(time.time()),
        "seed": st.seed_info,
        "config": st.config.as_dict(),
        "faults_pending": len(st.queue.pending()),
        "kid": st.verifier.kid,
        "key_file": str(st.key_file),
        "db": str(st.store.path),
        "max_body_bytes": MAX_BODY_BYTES,
        "version": __version__,
        "pid": os.getpid(),
    })


async def admin_stats(request: Request) -> Response:
    st = _state(request)
    return st.json({**st.stats.snapshot(), "faults_pending": len(st.queue.pending())})


async def admin_reset(request: Request) -> Response:
    st = _state(request)
    st.reset(reseed=_flag(request, "reseed"))
    return st.json({"status": "ok", "sessions": st.store.count(time.time())})


async def admin_seed(request: Request) -> Response:
    st = _state(request)
    raw = await request.body()
    try:
        records = parse_seed(raw, newer_api=st.config.newer_api)
    except SeedError as exc:
        raise Problem(400, exc.message, exc.details) from None
    if _flag(request, "real_lifetimes"):
        records = with_real_lifetimes(records, time.time())
    merchant = request.query_params.get("merchant_account_id", "").strip() or "default"
    count = st.store.seed(merchant, records)
    return st.json({"seeded": count, "merchant_account_id": merchant, "ids": [r["id"] for r in records],
                    "expires_at": [r["expires_at"] for r in records]})


_RULES = TypeAdapter(list[FaultRule])


async def admin_faults(request: Request) -> Response:
    st = _state(request)
    if request.method == "POST":
        data = await _admin_json(request, [])
        if isinstance(data, dict):
            data = [data]
        try:
            rules = _RULES.validate_python(data)
        except ValidationError as exc:
            details = pydantic_details(exc)
            raise Problem(400, f"Invalid fault rules ({len(details)} error(s))", details) from None
        st.queue.set(rules, append=_flag(request, "append"))
    elif request.method == "DELETE":
        st.queue.clear()
    return st.json({"rules": st.queue.pending()})


async def admin_expire(request: Request) -> Response:
    st = _state(request)
    data = await _admin_json(request, {})
    sid = data.get("session_id") if isinstance(data, dict) else None
    if not isinstance(sid, str):
        raise Problem(400, "Send {\"session_id\": \"...\"} (and optionally \"merchant_account_id\")")
    merchant = data.get("merchant_account_id")
    changed = st.store.expire(_session_id(sid), merchant if isinstance(merchant, str) else None, time.time())
    if not changed:
        raise Problem(404, f"No session {sid} to expire")
    return st.json({"expired": changed})


async def admin_config(request: Request) -> Response:
    st = _state(request)
    if request.method == "PUT":
        data = await _admin_json(request, {})
        if not isinstance(data, dict):
            raise Problem(400, "Send a JSON object of settings")
        try:
            st.configure(st.config.updated(data))
        except (TypeError, ValueError) as exc:
            raise Problem(400, f"Invalid settings: {exc}") from None
    return st.json(st.config.as_dict())


async def admin_public_key(request: Request) -> Response:
    st = _state(request)
    return st.json({"kid": st.verifier.kid, "jwk": st.public_jwk})


# ---------------------------------------------------------------------- the app


def build_app(*, db: str | os.PathLike[str], private_key_file: str | os.PathLike[str],
              config: FaultConfig, seed_records: list[dict[str, Any]],
              seed_info: dict[str, Any], real_lifetimes: bool = False) -> tuple[SandboxASGI, SandboxState]:
    """Open the store, load (or create) the key, seed, and return the ASGI app and its state.

    ``real_lifetimes``: re-base the seed's expiry on the start (and on each reseed), see
    :func:`~gr4vy_nb.sandbox.seeding.with_real_lifetimes`.
    """
    key_file = Path(private_key_file)
    key = load_or_create_key(key_file)
    store = SessionStore(db)
    try:
        state = SandboxState(store=store, key=key, key_file=key_file, config=config,
                             seed_records=seed_records, seed_info=seed_info, real_lifetimes=real_lifetimes)
    except BaseException:
        store.close()
        raise
    api = FastAPI(title="gr4vy-nb sandbox", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None, redirect_slashes=False)
    api.state.sandbox = state
    api.add_api_route("/checkout/sessions", create_session, methods=["POST"])
    # One route for the three methods, so that a 405 lists all of them in Allow.
    api.add_api_route("/checkout/sessions/{session_id}", _one_session, methods=["GET", "PUT", "DELETE"])
    api.add_api_route("/_sandbox/health", admin_health, methods=["GET"])
    api.add_api_route("/_sandbox/stats", admin_stats, methods=["GET"])
    api.add_api_route("/_sandbox/reset", admin_reset, methods=["POST"])
    api.add_api_route("/_sandbox/seed", admin_seed, methods=["POST"])
    api.add_api_route("/_sandbox/faults", admin_faults, methods=["GET", "POST", "DELETE"])
    api.add_api_route("/_sandbox/expire", admin_expire, methods=["POST"])
    api.add_api_route("/_sandbox/config", admin_config, methods=["GET", "PUT"])
    api.add_api_route("/_sandbox/public-key", admin_public_key, methods=["GET"])

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return state.error(exc.status, exc.message, exc.details, exc.headers)

    async def on_auth(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthProblem)
        headers = {"www-authenticate": "Bearer"} if exc.status == 401 else None
        return state.error(exc.status, exc.message, exc.details, headers)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return state.error(exc.status_code, None, None, dict(exc.headers or {}))

    async def on_validation(request: Request, exc: Exception) -> Response:
        # Never reached with the endpoints above (they take no FastAPI-validated
        # parameters); kept so that a future one cannot leak FastAPI's 422.
        assert isinstance(exc, RequestValidationError)
        details = [{"location": str(e["loc"][0]) if e.get("loc") else "body",
                    "pointer": encode_pointer(e.get("loc", ())[1:]),
                    "message": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
        return state.error(400, "Request failed validation", details)

    async def on_crash(request: Request, exc: Exception) -> Response:
        return state.error(500, f"The sandbox failed ({type(exc).__name__})")

    api.add_exception_handler(Problem, on_problem)
    api.add_exception_handler(AuthProblem, on_auth)
    api.add_exception_handler(StarletteHTTPException, on_http)
    api.add_exception_handler(RequestValidationError, on_validation)
    api.add_exception_handler(Exception, on_crash)
    return SandboxASGI(api, state), state
