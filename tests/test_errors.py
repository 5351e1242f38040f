"""The exception tree: one base class, every class drawn in the module's docstring, no secret in a message."""

from __future__ import annotations

import inspect

from gr4vy_nb import errors
from gr4vy_nb.errors import ApiError, NotFound, PermissionDenied


def test_every_error_class_is_under_the_base_and_in_the_tree_drawing() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        value = getattr(errors, name)
        if inspect.isclass(value):
            assert issubclass(value, errors.Gr4vyError)
            assert name in doc, f"{name} missing from the tree in errors.py's docstring"



def test_an_api_error_says_status_code_message_details_and_session():
    error = ApiError("refused", status=400, code="bad_request", session_id="s-1",
                     details=[{"pointer": "/cart_items/0/name", "message": "too long"}] * 7)
    text = str(error)
    assert text.startswith("400 bad_request: refused (/cart_items/0/name: too long;")
    assert "+2 more" in text and text.endswith("[session s-1]")
    assert repr(error) == "ApiError(status=400, code='bad_request', message='refused')"
    assert str(NotFound()) == "session not found or expired"


def test_permission_denied_names_the_missing_scope():
    error = PermissionDenied(status=403, missing_scope="checkout-sessions.write")
    assert error.missing_scope == "checkout-sessions.write" and error.message == PermissionDenied.default_message
