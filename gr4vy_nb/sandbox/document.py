"""The sandbox's yardstick: Gr4vy's OpenAPI document, read with a JSON-schema validator.

Everything the sandbox knows about request and response shapes comes from
:func:`gr4vy_nb._data.api_document` (the vendored document, unmodified, plus the overlay of
the fields the official SDK knows), never from the toolkit's own models, so that a modelling
mistake of the toolkit shows up as a failing test instead of being shared by both sides:

* request bodies are validated with :mod:`jsonschema` (Draft 2020-12, the document's
  ``$ref`` resolved through a :mod:`referencing` registry) against the request body schema
  of each operation: ``POST /checkout/sessions`` (``CheckoutSessionUpdate``, a list of empty
  objects, or ``null``) and ``PUT /checkout/sessions/{id}`` (``CheckoutSessionUpdate``);
* seeds are validated against the response schema ``CheckoutSession``;
* responses are shaped from ``CheckoutSession``: every documented top-level field present
  (``null`` when unset), nested objects pruned to their documented properties, the
  documented constants (``type: "checkout-session"``, a card's ``type: "payment-method"``
  and ``method: "card"``) filled in when missing, integral numbers of integer fields as
  integers.  Other documented defaults (``discount_amount: 0`` ...) are *not* filled in:
  stored values come back as they were sent;
* error bodies take ``code`` and ``message`` defaults from the document's ``Error4xx``/``5xx``
  schemas.

The formats the document uses are checked by small checkers of this module (``uuid``,
``date-time`` with a mandatory offset as RFC 3339 says, ``date``, ``email``,
``json-pointer``), so nothing depends on which optional format packages are installed.

A validation failure becomes one Gr4vy error detail per bad field, ``{location: "body",
pointer, message, type}``, with an RFC 6901 pointer into the body (``/cart_items/0/tax_amount``,
``/a~1b``), a message that never echoes the value sent (it may be personal data) and a type
in pydantic's vocabulary (``missing``, ``extra_forbidden``, ``int_type`` ...), as the real
API (a FastAPI service) answers; details come in the body's own order.  For an ``anyOf``
(``X`` or ``null``) the detail is the one of the alternative whose type fits the value.

:class:`Contract` ``(relaxed=True)`` is the document with every ``additionalProperties:
false`` removed: the ``--newer-api`` mode, where fields the document does not know are
accepted at any depth, stored and returned, while the known ones are validated as usual.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .._data import api_document

__all__ = [
    "FORMAT_CHECKER",
    "UUID_RE",
    "Contract",
    "contract",
    "encode_pointer",
    "error_body",
    "format_instant",
    "is_date",
    "is_date_time",
    "is_uuid",
    "parse_instant",
]

_URI = "urn:gr4vy-nb:sandbox:openapi"

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""A UUID in its hyphenated form, any case (use with ``fullmatch``)."""

_DATE_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_POINTER = re.compile(r"(/([^~/]|~[01])*)*")


def encode_pointer(parts: Iterable[Any]) -> str:
    """The RFC 6901 JSON pointer of ``parts`` (``~`` as ``~0``, ``/`` as ``~1``); ``""`` is the whole document."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and UUID_RE.fullmatch(value) is not None


def is_date(value: Any) -> bool:
    """An RFC 3339 ``full-date`` (``YYYY-MM-DD``, a real calendar day)."""
    match = _DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return False
    try:
        date(*(int(g) for g in match.groups()))
    except ValueError:
        return False
    return True


def is_date_time(value: Any) -> bool:
    """An RFC 3339 ``date-time``: a real day and time *with* an offset (``Z`` or ``±HH:MM``); a naive time is not."""
    match = _DATE_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        date(year, month, day)
    except ValueError:
        return False
    if hour > 23 or minute > 59 or second > 60:  # 60: a leap second
        return False
    return match.group(9) is None or (int(match.group(9)) <= 23 and int(match.group(10)) <= 59)


def parse_instant(text: str) -> float:
    """The Unix time of an RFC 3339 date-time (checked with :func:`is_date_time` first)."""
    text = text.upper()
    if text[17:19] == "60":  # a leap second: the instant just before
        text = text[:17] + "59" + text[19:]
    return datetime.fromisoformat(text).timestamp()


def format_instant(ts: float) -> str:
    """RFC 3339 text, UTC, millisecond precision, for a Unix time (always with its ``+00:00`` offset)."""
    ms = round(ts * 1000)
    moment = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=(ms % 1000) * 1000)
    return moment.isoformat(timespec="milliseconds")


FORMAT_CHECKER = FormatChecker(formats=())
"""The format checks of the sandbox (only these formats are checked; the document uses no other)."""
FORMAT_CHECKER.checks("uuid")(is_uuid)
FORMAT_CHECKER.checks("date-time")(is_date_time)
FORMAT_CHECKER.checks("date")(is_date)
FORMAT_CHECKER.checks("email")(lambda v: isinstance(v, str) and _EMAIL.fullmatch(v) is not None)
FORMAT_CHECKER.checks("json-pointer")(lambda v: isinstance(v, str) and _POINTER.fullmatch(v) is not None)


# ---------------------------------------------------------------------- messages

_TYPE_WORDS = {
    "integer": ("Input should be a valid integer", "int_type"),
    "number": ("Input should be a valid number", "float_type"),
    "string": ("Input should be a valid string", "string_type"),
    "boolean": ("Input should be a valid boolean", "bool_type"),
    "array": ("Input should be a valid list", "list_type"),
    "object": ("Input should be a valid dictionary or object", "dict_type"),
    "null": ("Input should be null", "none_required"),
}
_FORMAT_WORDS = {
    "uuid": ("Input should be a valid UUID", "uuid_parsing"),
    "date-time": ("Input should be a valid RFC 3339 date-time with a time zone offset, e.g. "
                  "2024-07-16T19:23:00+00:00", "datetime_parsing"),
    "date": ("Input should be a valid date in the format YYYY-MM-DD", "date_parsing"),
    "email": ("Input should be a valid email address", "value_error"),
    "json-pointer": ("Input should be a valid JSON pointer", "value_error"),
}
_BODY_NOT_OBJECT = ("the body must be a JSON object", "model_type")


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _choices(values: list[Any]) -> str:
    shown = [repr(v) for v in values]
    if len(shown) > 12:
        return f"one of the {len(shown)} documented values"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _type_words(expected: Any, schema: Mapping[str, Any], at_root: bool) -> tuple[str, str]:
    names = expected if isinstance(expected, list) else [expected]
    names = [n for n in names if n != "null"] or names
    if names[0] == "object" and at_root:
        return _BODY_NOT_OBJECT
    message, kind = _TYPE_WORDS.get(names[0], (f"Input should be of type {names[0]}", "type_error"))
    if names[0] == "object" and "properties" in schema:
        kind = "model_type"
    return message, kind


def _describe(error: ValidationError, at_root: bool) -> tuple[str, str]:
    """A message (never echoing the value) and a pydantic-style type for one failed keyword."""
    keyword, limit = error.validator, error.validator_value
    if keyword == "type":
        return _type_words(limit, error.schema if isinstance(error.schema, Mapping) else {}, at_root)
    if keyword == "minLength":
        return f"String should have at least {limit} character{'s' if limit != 1 else ''}", "string_too_short"
    if keyword == "maxLength":
        return f"String should have at most {limit} character{'s' if limit != 1 else ''}", "string_too_long"
    if keyword == "pattern":
        return f"String should match pattern '{limit}'", "string_pattern_mismatch"
    if keyword == "minimum":
        return f"Input should be greater than or equal to {_number(limit)}", "greater_than_equal"
    if keyword == "maximum":
        return f"Input should be less than or equal to {_number(limit)}", "less_than_equal"
    if keyword == "exclusiveMinimum":
        return f"Input should be greater than {_number(limit)}", "greater_than"
    if keyword == "exclusiveMaximum":
        return f"Input should be less than {_number(limit)}", "less_than"
    if keyword == "maxItems":
        return f"List should have at most {limit} item{'s' if limit != 1 else ''}", "too_long"
    if keyword == "minItems":
        return f"List should have at least {limit} item{'s' if limit != 1 else ''}", "too_short"
    if keyword == "enum":
        return f"Input should be {_choices(list(limit))}", "enum"
    if keyword == "const":
        return f"Input should be {limit!r}", "literal_error"
    if keyword == "format":
        return _FORMAT_WORDS.get(limit, (f"Input should be a valid {limit}", "value_error"))
    return f"Input is not valid ({keyword})", str(keyword)


# ---------------------------------------------------------------------- error bodies

_ERROR_FALLBACK = {
    413: ("payload_too_large", "The request body is too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("unprocessable_entity", "Request failed validation"),
    503: ("service_unavailable", "Request could not be processed"),
}


@cache
def _error_defaults() -> dict[int, tuple[str, str]]:
    """``{status: (code, message)}`` from the document's ``Error<status>`` schemas."""
    found = dict(_ERROR_FALLBACK)
    for name, schema in api_document()["components"]["schemas"].items():
        if name.startswith("Error") and name[5:].isdigit():
            props = schema.get("properties", {})
            found[int(name[5:])] = (props["code"]["default"], props["message"]["default"])
    return found


def error_body(status: int, message: str | None = None, details: list[dict[str, Any]] | None = None,
               code: str | None = None) -> dict[str, Any]:
    """Gr4vy's error body ``{type, code, status, message, details}``, defaults from the document."""
    default_code, default_message = _error_defaults().get(status, ("server_error", "Request could not be processed"))
    return {"type": "error", "code": code or default_code, "status": status, "message": message or default_message,
            "details": list(details or [])}


# ---------------------------------------------------------------------- the contract


def _relax(node: Any) -> None:
    """Remove every ``additionalProperties: false`` (in place): unknown fields become allowed at any depth."""
    if isinstance(node, dict):
        if node.get("additionalProperties") is False:
            del node["additionalProperties"]
        for value in node.values():
            _relax(value)
    elif isinstance(node, list):
        for value in node:
            _relax(value)


def _pointer_to(*parts: str) -> str:
    return _URI + "#" + encode_pointer(parts)


class Contract:
    """The document's rules for one API version: strict (the document as is) or ``relaxed`` (a newer API)."""

    def __init__(self, relaxed: bool = False) -> None:
        document = api_document()
        if relaxed:
            _relax(document["components"])
        self.relaxed = relaxed
        self.document = document
        self.schemas: dict[str, Any] = document["components"]["schemas"]
        registry: Registry[Any] = Registry().with_resource(
            _URI, Resource.from_contents(document, default_specification=DRAFT202012))

        def validator(ref: str) -> Draft202012Validator:
            return Draft202012Validator({"$ref": ref}, registry=registry, format_checker=FORMAT_CHECKER)

        body = ("requestBody", "content", "application/json", "schema")
        self.create_validator = validator(_pointer_to("paths", "/checkout/sessions", "post", *body))
        self.update_validator = validator(_pointer_to("paths", "/checkout/sessions/{session_id}", "put", *body))
        self.session_validator = validator(_pointer_to("components", "schemas", "CheckoutSession"))
        self._type_checker = self.session_validator.TYPE_CHECKER

        session_props = self.schemas["CheckoutSession"]["properties"]
        update_props = self.schemas["CheckoutSessionUpdate"]["properties"]
        self.identity_fields: tuple[str, ...] = ("type", "id", "expires_at")
        #: Top-level fields of a session response: the identity first, then the document's order.
        self.response_fields: tuple[str, ...] = (
            *self.identity_fields, *(n for n in session_props if n not in self.identity_fields))
        #: Fields a session stores: its documented fields but the identity (kept in their own columns).
        self.stored_fields: tuple[str, ...] = self.response_fields[3:]
        #: Fields an update may send that are not session fields: validated, never stored.
        self.update_only_fields: frozenset[str] = frozenset(n for n in update_props if n not in session_props)
        #: Session fields an update may not send.
        self.read_only_fields: frozenset[str] = frozenset(n for n in session_props if n not in update_props)

    # ------------------------------------------------------------------ validation

    def update_problems(self, body: Any, *, create: bool = False) -> list[dict[str, Any]]:
        """Error details for a request body (``create``: the POST's schema, else the PUT's); ``[]`` when valid."""
        validator = self.create_validator if create else self.update_validator
        details = self._details(validator.iter_errors(body), body)
        if isinstance(body, dict):
            read_only = [k for k in body if k in self.read_only_fields]
            if read_only:
                pointers = {encode_pointer([k]) for k in read_only}
                details = [d for d in details if d["pointer"] not in pointers]
                details += [{"location": "body", "pointer": encode_pointer([k]),
                             "message": "Extra inputs are not permitted: a read-only field of the session",
                             "type": "extra_forbidden"} for k in read_only]
                details = _in_body_order(details, body)
        return details

    def session_problems(self, session: Any) -> list[dict[str, Any]]:
        """Error details for a session (a seed, or a response) against ``CheckoutSession``; ``[]`` when valid."""
        return self._details(self.session_validator.iter_errors(session), session)

    def _details(self, errors: Iterable[ValidationError], body: Any) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}  # one detail per bad field: the first keyword it fails
        for path, message, kind in self._leaves(errors):
            pointer = encode_pointer(path)
            found.setdefault(pointer, {"location": "body", "pointer": pointer, "message": message, "type": kind})
        return _in_body_order(list(found.values()), body)

    def _leaves(self, errors: Iterable[ValidationError]) -> Iterator[tuple[tuple[Any, ...], str, str]]:
        for error in errors:
            path = tuple(error.absolute_path)
            if error.validator in ("anyOf", "oneOf") and error.context:
                yield from self._alternatives(error, path)
            elif error.validator == "additionalProperties" and error.validator_value is False:
                known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
                patterns = error.schema.get("patternProperties", {}) if isinstance(error.schema, Mapping) else {}
                for key in error.instance:
                    if key not in known and not any(re.search(p, key) for p in patterns):
                        yield (*path, key), "Extra inputs are not permitted", "extra_forbidden"
            elif error.validator == "required":
                for name in error.validator_value:
                    if isinstance(error.instance, dict) and name not in error.instance:
                        yield (*path, name), "Field required", "missing"
            else:
                yield (path, *_describe(error, at_root=not path))

    def _alternatives(self, error: ValidationError,
                      path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str, str]]:
        """The details of the alternative of an ``anyOf`` whose type fits the value (or a type error)."""
        branches = list(error.validator_value)
        fitting = [i for i, branch in enumerate(branches) if self._fits(branch, error.instance)]
        for index in fitting:
            inner = [e for e in error.context or () if e.relative_schema_path and e.relative_schema_path[0] == index]
            if inner:
                yield from self._leaves(inner)
                return
        for branch in branches:
            schema = self._resolve(branch)
            if schema.get("type") not in (None, "null"):
                yield (path, *_type_words(schema["type"], schema, at_root=not path))
                return
        yield (path, *_type_words("object", {}, at_root=not path))

    def _resolve(self, schema: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 20:
            ref = schema["$ref"]
            if not ref.startswith("#/components/schemas/"):
                break
            schema = self.schemas[ref.rsplit("/", 1)[1]]
            seen += 1
        return schema if isinstance(schema, dict) else {}

    def _fits(self, branch: Any, instance: Any) -> bool:
        schema = self._resolve(branch)
        kind = schema.get("type")
        if kind is None:
            return True
        kinds = kind if isinstance(kind, list) else [kind]
        return any(self._type_checker.is_type(instance, k) for k in kinds)

    # ------------------------------------------------------------------ responses

    def session_body(self, session_id: str, expires_at: str, stored: Mapping[str, Any]) -> dict[str, Any]:
        """The response body of a stored session, shaped by ``CheckoutSession`` (see the module docstring)."""
        props = self.schemas["CheckoutSession"]["properties"]
        body: dict[str, Any] = {"type": "checkout-session", "id": session_id, "expires_at": expires_at}
        for name in self.stored_fields:
            value = stored.get(name)
            body[name] = None if value is None else self.shaped(value, props[name])
        if self.relaxed:
            for name, value in stored.items():
                if name not in body and name not in self.update_only_fields:
                    body[name] = value
        return body

    def shaped(self, value: Any, schema: Any) -> Any:
        """``value`` pruned to what ``schema`` documents, constants filled, integral integers as ``int``."""
        schema = self._resolve(schema)
        if "anyOf" in schema:
            for branch in schema["anyOf"]:
                if self._fits(branch, value):
                    return self.shaped(value, branch)
            return value
        kind = schema.get("type")
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, list) and "items" in schema:
            return [self.shaped(v, schema["items"]) for v in value]
        if isinstance(value, dict):
            props = schema.get("properties", {})
            extra = schema.get("additionalProperties", True)
            out: dict[str, Any] = {}
            for key, item in value.items():
                if key in props:
                    out[key] = self.shaped(item, props[key]) if item is not None else None
                elif isinstance(extra, dict):
                    out[key] = self.shaped(item, extra)
                elif extra is not False:
                    out[key] = item
            for key, prop in props.items():
                if key not in out and "const" in prop:
                    out[key] = prop["const"]
            return out
        return value


@cache
def contract(relaxed: bool = False) -> Contract:
    """The (shared, read-only) :class:`Contract` of the document, strict or relaxed."""
    return Contract(relaxed)


# ---------------------------------------------------------------------- ordering


def _order_key(body: Any, pointer: str) -> tuple[Any, ...]:
    """Where a pointer's field is in the body: key positions as they were sent (missing ones last)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]] if pointer else []
    key: list[Any] = []
    node = body
    for part in parts:
        if isinstance(node, dict):
            names = list(node)
            key.append((names.index(part), "") if part in node else (len(names), part))
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit():
            key.append((int(part), ""))
            node = node[int(part)] if int(part) < len(node) else None
        else:
            key.append((0, part))
            node = None
    return tuple(key)


def _in_body_order(details: list[dict[str, Any]], body: Any) -> list[dict[str, Any]]:
    return sorted(details, key=lambda d: (_order_key(body, d["pointer"]), d["type"], d["message"]))


def stable_fraction(text: str) -> float:
    """A number in [0, 1) fixed by ``text`` (its SHA-256): the same on every run and machine."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2**64
