"""The sandbox's outermost ASGI layer: the loopback guard of the admin endpoints, request
counting, and fault injection (latency, scripted rules, rate limit, random failures).

It must wrap the FastAPI app directly under uvicorn: a scripted ``reset`` reaches the
connection's transport through uvicorn's own ``send`` to abort it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import re
import socket
import struct
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .faults import FaultRule, render_body

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .state import SandboxState

__all__ = ["SandboxASGI", "is_loopback_address"]

_SESSION_PATH = re.compile(r"^/checkout/sessions/([^/]+)$")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def is_loopback_address(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1, ::ffff:127.x)."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


class SandboxASGI:
    """The ASGI entry point: admin guard, request counting and fault injection around the API.

    It must be the outermost app (uvicorn's own ``send``) so that a scripted ``reset``
    can reach the connection's transport and abort it.
    """

    def __init__(self, app: FastAPI, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/_sandbox"):
            client = scope.get("client")
            if not client or not is_loopback_address(client[0]):
                await _send_raw(send, 403, *render_body("gr4vy", 403, "The sandbox admin endpoints answer "
                                                        "loopback clients only"))
                return
            await self.app(scope, receive, send)
            return
        await self._api(scope, receive, send)

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        method: str = scope["method"]
        stats = state.stats
        request_id = uuid.uuid4().hex.encode()

        async def counted(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                stats.record(method, message["status"])
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id)]
            await send(message)

        faults = state.random
        config = faults.config
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        match = _SESSION_PATH.match(scope["path"])
        rule = state.queue.take(method, match.group(1).lower() if match else None)
        if rule is not None:
            stats.fault("scripted")
            await self._scripted(rule, scope, receive, send, counted)
            return
        if faults.bucket is not None:
            wait = faults.bucket.take()
            if wait:
                stats.fault("rate_limited")
                body, ctype = render_body("gr4vy", 429, f"Too many requests: the sandbox allows {config.rate_limit:g} "
                                          "requests per second", config.unknown_fields)
                await _send_raw(counted, 429, body, ctype, {"retry-after": str(max(1, math.ceil(wait)))})
                return
        status = faults.failure_status()
        if status is not None:
            stats.fault("failed")
            await _send_raw(counted, status, *render_body("gr4vy", status, None, config.unknown_fields))
            return
        await self.app(scope, receive, counted)

    async def _scripted(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send, counted: Send) -> None:
        unknown = self.state.config.unknown_fields
        if rule.action == "status":
            assert rule.status is not None
            headers = {"retry-after": rule.retry_after} if rule.retry_after is not None else {}
            details = [d.model_dump(mode="json") for d in rule.details] if rule.details else None
            body, ctype = render_body(rule.body, rule.status, rule.message, unknown, details)
            await _send_raw(counted, rule.status, body, ctype, headers)
        elif rule.action == "reset":
            self.state.stats.record(scope["method"], "reset")
            await _abort_connection(send, receive)
        elif rule.action == "stall":
            await asyncio.sleep(rule.seconds)
            body, ctype = render_body("gr4vy", 504, "The sandbox stalled this request (scripted fault); nothing "
                                      "was applied", unknown)
            await _send_raw(counted, 504, body, ctype)
        else:  # apply_then_stall: handle now, answer later
            held: list[MutableMapping[str, Any]] = []

            async def hold(message: MutableMapping[str, Any]) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            await asyncio.sleep(rule.seconds)
            for message in held:
                await counted(message)


async def _send_raw(send: Send, status: int, body: bytes, content_type: str | None,
                    headers: dict[str, str] | None = None) -> None:
    raw_headers = [(b"content-length", str(len(body)).encode())]
    if content_type:
        raw_headers.append((b"content-type", content_type.encode()))
    raw_headers.extend((k.encode(), v.encode("latin-1")) for k, v in (headers or {}).items())
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def _abort_connection(send: Send, receive: Receive) -> None:
    """Drop the client's TCP connection with a reset, sending no response at all."""
    # uvicorn's send is a bound method of the request cycle, which holds the transport.
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("the scripted 'reset' fault needs uvicorn (no transport to abort)")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            # Linger 0: close() sends RST instead of FIN, as a crashed peer or middlebox does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Wait for uvicorn to register the loss, or it would try to answer 500 on a dead socket.
    with contextlib.suppress(asyncio.TimeoutError):
        async with asyncio.timeout(2.0):
            while (await receive())["type"] != "http.disconnect":
                pass
