"""Error answers, without a server: every error body and status becomes the right ApiError.

The over-HTTP half (the same bodies served by the sandbox) is in ``test_client_faults.py`` and ``test_client.py``.
"""

from __future__ import annotations

import orjson
import pytest

from gr4vy_nb.api.answers import error_from_response, parse_error_body
from gr4vy_nb.errors import (
    ApiError,
    AuthError,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from gr4vy_nb.schema import error_body

# --------------------------------------------------------------------------- error bodies


def _json(obj) -> bytes:
    return orjson.dumps(obj)


GR4VY_400 = _json(
    error_body(
        400,
        "Request failed validation",
        details=[
            {"location": "body", "pointer": "/cart_items/0/quantity", "message": "must be > 0", "type": "greater_than"},
            {"location": "body", "pointer": "/currency", "message": "bad pattern", "type": "string_pattern_mismatch"},
        ],
    )
)


FASTAPI_422 = _json(
    {
        "detail": [
            {"loc": ["body", "cart_items", 0, "quantity"], "msg": "Input should be greater than 0",
             "type": "greater_than", "input": "SECRET-PASSPORT-123"},
            {"loc": ["path", "session_id"], "msg": "Input should be a valid UUID", "type": "uuid_parsing"},
            {"loc": ["weird"], "msg": "odd", "type": "x"},
        ]
    }
)


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, GR4VY_400, ValidationFailed),
        (401, _json(error_body(401)), AuthError),
        (403, _json(error_body(403, "Missing scope checkout-sessions.write")), PermissionDenied),
        (404, _json(error_body(404)), NotFound),
        (405, _json(error_body(405)), ApiError),
        (409, _json(error_body(409)), Conflict),
        (422, FASTAPI_422, ValidationFailed),
        (425, _json(error_body(425)), ApiError),
        (429, _json(error_body(429)), RateLimited),
        (500, _json(error_body(500)), ServerError),
        (502, _json(error_body(502)), ServerError),
        (503, b"", ServerError),
        (504, _json(error_body(504)), ServerError),
    ],
)
def test_status_maps_to_class(status, body, cls):
    error = error_from_response(status, body, {"Content-Type": "application/json", "X-Request-Id": "req-1"},
                                method="PUT", session_id="s-9", attempts=2)
    assert type(error) is cls
    assert error.status == status and error.attempts == 2 and error.session_id == "s-9"
    assert error.request_id == "req-1" and error.method == "PUT"
    assert error.message


def test_gr4vy_body_details():
    error = error_from_response(400, GR4VY_400, {"content-type": "application/json"})
    assert error.code == "bad_request"
    assert error.message == "Request failed validation"
    assert error.details == [
        {"location": "body", "pointer": "/cart_items/0/quantity", "message": "must be > 0", "type": "greater_than"},
        {"location": "body", "pointer": "/currency", "message": "bad pattern", "type": "string_pattern_mismatch"},
    ]
    assert "/cart_items/0/quantity: must be > 0" in str(error)


def test_fastapi_body_becomes_pointers_and_drops_inputs():
    error = error_from_response(422, FASTAPI_422, {"content-type": "application/json"})
    assert isinstance(error, ValidationFailed)
    assert [(d["location"], d["pointer"]) for d in error.details] == [
        ("body", "/cart_items/0/quantity"),
        ("path", "/session_id"),
        ("unknown", "/weird"),
    ]
    assert error.details[0]["message"] == "Input should be greater than 0"
    assert "/cart_items/0/quantity" in error.message
    assert "SECRET-PASSPORT-123" not in str(error) + repr(error) + repr(error.details)


def test_pointer_escapes_slashes_and_tildes():
    body = _json({"detail": [{"loc": ["body", "metadata", "a/b~c"], "msg": "m", "type": "t"}]})
    assert error_from_response(422, body).details[0]["pointer"] == "/metadata/a~1b~0c"


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "text/html",
         "HTML page instead of an API answer (502 Bad Gateway)"),
        (b"<html><body>no title</body></html>", "", "HTML page"),
        (b"", "application/json", None),
        (b"   \n", "", None),
        (b'{"type": "error", "code": "server_error", "mess', "application/json", "truncated"),
        (b"[1, 2", "", "truncated"),
        (b"Service Unavailable", "text/plain", "non-JSON error body (text/plain)"),
        (b"\xff\xfe\x00garbage", "application/octet-stream", "non-JSON"),
        (b"[1, 2, 3]", "application/json", "unexpected error body"),
        (b'"just a string"', "application/json", "unexpected error body"),
        (b'{"detail": "Not Found"}', "application/json", "Not Found"),
        (b'{"detail": [1, "x", {"loc": 5}]}', "application/json", "refused"),
        (b'{"message": 42, "details": "nope", "code": ["x"]}', "application/json", None),
        (b"{}", "application/json", None),
        (b"null", "application/json", "unexpected error body"),
    ],
)
def test_odd_bodies_never_crash(body, content_type, words):
    for status in (400, 403, 404, 422, 500, 502, 503):
        error = error_from_response(status, body, {"content-type": content_type}, method="GET")
        assert isinstance(error, ApiError) and error.status == status
        assert error.message
        str(error), repr(error)
        if words and status not in (404, 403):
            assert words in error.message
    _code, message, details = parse_error_body(body, content_type)
    assert isinstance(details, list)
    assert message is None or isinstance(message, str)


def test_empty_body_uses_the_class_message():
    assert error_from_response(404, b"").message == "session not found or expired"
    assert error_from_response(503, b"").message == ServerError.default_message
    assert error_from_response(405, b"").message == "HTTP 405 Method Not Allowed"
    assert error_from_response(404, _json(error_body(404))).message.startswith("session not found or expired")


@pytest.mark.parametrize(
    ("message", "needed", "missing"),
    [
        ("Missing scope checkout-sessions.write", "checkout-sessions.read", "checkout-sessions.write"),
        ("Token is missing the required scope: checkout-sessions.read.", None, "checkout-sessions.read"),
        ("requires one of checkout-sessions.write or *.write", None, "checkout-sessions.write"),
        ("requires *.write or checkout-sessions.write", None, "checkout-sessions.write"),
        ("requires *.read", "checkout-sessions.read", "*.read"),
        ("Generic error", "checkout-sessions.write", "checkout-sessions.write"),
        ("Generic error", None, None),
    ],
)
def test_permission_denied_names_the_missing_scope(message, needed, missing):
    error = error_from_response(403, _json(error_body(403, message)), needed_scope=needed)
    assert isinstance(error, PermissionDenied)
    assert error.missing_scope == missing
    if missing:
        assert missing in str(error)


def test_request_id_headers():
    for name in ("x-request-id", "X-Gr4vy-Request-Id", "request-id"):
        assert error_from_response(500, b"", {name: "abc"}).request_id == "abc"
    assert error_from_response(500, b"", {}).request_id is None


def test_huge_bodies_are_clipped():
    big = _json(error_body(400, "x" * 100_000, details=[{"location": "body", "pointer": "/a", "message": "m",
                                                          "type": "t"}] * 1000))
    error = error_from_response(400, big)
    assert len(error.message) <= 500 and len(error.details) == 200
