"""The transport boundary, without a server: every foreign exception becomes a gr4vy-nb error.

The over-HTTP half (real connection failures against the sandbox) is in ``test_client.py`` and
``test_client_faults.py``.
"""

from __future__ import annotations

import http.client
import inspect
import socket
import ssl

import pytest
import requests.exceptions as rexc
import urllib3.exceptions as uexc

from gr4vy_nb.api.retry import Failure
from gr4vy_nb.api.transport import classify_failure, transport_error
from gr4vy_nb.api.transport import is_foreign as _is_foreign
from gr4vy_nb.errors import Gr4vyError, NotFound, OutcomeUnknown, TransportError

# --------------------------------------------------------------------------- foreign exceptions


class _FakeResponse:
    length_remaining = 10

    def tell(self) -> int:
        return 0


def _instance(cls: type[BaseException]) -> BaseException:
    """Build an instance of any exception class, whatever its constructor wants."""
    signatures = [
        (),
        ("boom",),
        (None, "http://127.0.0.1/x", "boom"),  # RequestError, ReadTimeoutError, MaxRetryError
        (None, "boom"),  # PoolError, NewConnectionError
        ("127.0.0.1", None, socket.gaierror(-2, "Name or service not known")),  # NameResolutionError
        ("boom", OSError("x")),  # urllib3 ProxyError
        ([], b""),  # HeaderParsingError
        (0, 10),  # IncompleteRead
        (_FakeResponse(), b"zz"),  # InvalidChunkLength
        ("boom", "{", 1),  # requests' JSONDecodeError
    ]
    for args in signatures:
        try:
            return cls(*args)
        except Exception:
            continue
    raise AssertionError(f"cannot build {cls.__name__}")


def _exception_classes(module) -> list[type[BaseException]]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and not issubclass(cls, Warning) and cls.__module__ == module.__name__
    ]


FOREIGN = _exception_classes(rexc) + _exception_classes(uexc) + [
    http.client.RemoteDisconnected,
    http.client.IncompleteRead,
    ConnectionResetError,
    ConnectionRefusedError,
    BrokenPipeError,
    socket.timeout,
    socket.gaierror,
    ssl.SSLError,
]


def test_the_enumeration_is_complete():
    # If requests or urllib3 add exception classes, they show up here and are mapped below.
    names = {c.__name__ for c in FOREIGN}
    assert len(_exception_classes(rexc)) >= 20 and len(_exception_classes(uexc)) >= 30
    assert {"ConnectTimeout", "ReadTimeout", "ChunkedEncodingError", "MaxRetryError", "ProtocolError"} <= names


@pytest.mark.parametrize("cls", FOREIGN, ids=lambda c: f"{c.__module__}.{c.__name__}")
@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE"])
def test_every_foreign_exception_maps_to_a_transport_error(cls, method):
    exc = _instance(cls)
    assert _is_foreign(exc)
    failure = classify_failure(exc)
    error = transport_error(exc, method=method, session_id="s-1", attempts=3)
    assert isinstance(error, TransportError) and isinstance(error, Gr4vyError)
    assert error.attempts == 3 and error.session_id == "s-1" and error.status is None
    assert error.code == failure.value
    # A write that may have been sent is "outcome unknown"; anything else is a plain transport error.
    assert isinstance(error, OutcomeUnknown) is (failure.sent and method != "GET")
    # The message never carries the foreign text (which may hold URLs or proxy credentials).
    assert "http://127.0.0.1/x" not in str(error)


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (rexc.ConnectTimeout(), Failure.CONNECT),
        (rexc.ConnectionError(uexc.MaxRetryError(None, "/x", uexc.NewConnectionError(None, "refused"))),
         Failure.CONNECT),
        (rexc.ConnectionError(uexc.MaxRetryError(None, "/x", uexc.NameResolutionError("h", None, socket.gaierror()))),
         Failure.CONNECT),
        (rexc.SSLError(uexc.MaxRetryError(None, "/x", uexc.SSLError("bad cert"))), Failure.CONNECT),
        (rexc.ProxyError("no proxy"), Failure.CONNECT),
        (uexc.EmptyPoolError(None, "empty"), Failure.CONNECT),
        (rexc.ReadTimeout(uexc.ReadTimeoutError(None, "/x", "read timed out")), Failure.READ_TIMEOUT),
        (rexc.ConnectionError(uexc.ReadTimeoutError(None, "/x", "read timed out")), Failure.READ_TIMEOUT),
        (rexc.ConnectionError(uexc.ProtocolError("Connection aborted.", http.client.RemoteDisconnected("closed"))),
         Failure.DROPPED),
        (rexc.ConnectionError(uexc.ProtocolError("aborted", ConnectionResetError(104, "reset"))), Failure.DROPPED),
        (rexc.ChunkedEncodingError("cut"), Failure.DROPPED),
        (rexc.ContentDecodingError("bad gzip"), Failure.DROPPED),
        (rexc.InvalidURL("bad"), Failure.INVALID),
        (rexc.MissingSchema("bad"), Failure.INVALID),
        (rexc.InvalidHeader("bad"), Failure.INVALID),
        (uexc.ClosedPoolError(None, "closed"), Failure.INVALID),
        (uexc.LocationParseError("::"), Failure.INVALID),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_failures_are_told_apart(exc, failure):
    assert classify_failure(exc) is failure


def test_connect_failure_before_sending_is_not_outcome_unknown_even_for_post():
    exc = rexc.ConnectionError(uexc.MaxRetryError(None, "/x", uexc.NewConnectionError(None, "refused")))
    error = transport_error(exc, method="POST")
    assert type(error) is TransportError
    assert "not sent" in error.message


def test_read_timeout_on_a_write_is_outcome_unknown():
    error = transport_error(rexc.ReadTimeout("timed out"), method="PUT", read_timeout=2.5)
    assert isinstance(error, OutcomeUnknown)
    assert "within 2.5 s" in error.message and "may or may not" in error.message
    assert type(transport_error(rexc.ReadTimeout("timed out"), method="GET")) is TransportError


def test_our_own_errors_are_not_foreign():
    assert not _is_foreign(NotFound())
    assert not _is_foreign(ValueError("ours"))
    assert not _is_foreign(KeyError("ours"))
