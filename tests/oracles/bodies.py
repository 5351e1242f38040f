"""Request bodies the oracles send, built from outside material rather than written by hand.

* :func:`page_example_body`: the JSON example of Gr4vy's "Update checkout session" page
  (``/work/shared/reference/update-checkout-session.txt``), parsed out of the page text and
  cut down to the properties of ``CheckoutSessionUpdate`` (the page shows a whole
  ``CheckoutSession``: ``type``, ``id``, ``expires_at`` and ``payment_method`` are read-only).
* :func:`full_body`: every property of ``components.schemas.CheckoutSessionUpdate`` of
  :func:`gr4vy_nb._data.api_document` (the document plus overlay), recursively through
  ``$ref``s, each valued with its own ``examples[0]`` where the document gives one.  The
  few properties without examples get a value derived from the schema (default, enum, a
  type-shaped value within the bounds); :data:`DERIVED` lists them by JSON pointer.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from gr4vy_nb._data import api_document

REFERENCE_DIR = Path(os.environ.get("GR4VY_NB_REFERENCE_DIR", "/work/shared/reference"))
REFERENCE_PAGE = REFERENCE_DIR / "update-checkout-session.txt"
"""The saved text of Gr4vy's API reference page for ``PUT /checkout/sessions/{id}``."""

FIXED_UUID = "9f1e5c4a-2b7d-4e8f-a1c3-5d6e7f809a1b"
"""The value given to ``format: uuid`` strings the document has no example for."""

DERIVED: dict[str, Any] = {}
"""JSON pointers (in :func:`full_body`) whose value came from the schema, not from an ``examples`` entry."""


@cache
def document() -> dict[str, Any]:
    return api_document()


def schemas() -> dict[str, Any]:
    return document()["components"]["schemas"]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas()[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def non_null_branch(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema itself, or the first non-``null`` branch of its ``anyOf``."""
    if "anyOf" in schema:
        return next(b for b in schema["anyOf"] if b.get("type") != "null")
    return schema


def nullable(schema: dict[str, Any]) -> bool:
    return any(b.get("type") == "null" for b in schema.get("anyOf", []))


def example_of(schema: dict[str, Any], pointer: str = "") -> Any:
    """A value for ``schema``: its ``examples[0]``, or else one built from its shape."""
    if schema.get("examples"):
        return schema["examples"][0]
    inner = resolve(non_null_branch(schema))
    if inner.get("type") == "object" and "properties" in inner:
        return {name: example_of(prop, f"{pointer}/{name}") for name, prop in inner["properties"].items()}
    if inner.get("type") == "array":
        return [example_of(inner["items"], f"{pointer}/0")]
    if inner.get("examples"):
        value = inner["examples"][0]
    elif "default" in schema or "default" in inner:
        value = schema.get("default", inner.get("default"))
    elif "enum" in inner:
        value = inner["enum"][0]
    elif "const" in inner:
        value = inner["const"]
    else:
        value = _shaped(inner, pointer)
    DERIVED[pointer] = value
    return value


def _shaped(schema: dict[str, Any], pointer: str) -> Any:
    kind = schema.get("type")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", low + 1000)
        return int(min(max(low + 1, 1000), high))
    if kind == "string":
        if schema.get("format") == "uuid":
            return FIXED_UUID
        text = "example-" + pointer.rsplit("/", 1)[-1]
        return text[: schema.get("maxLength", len(text))]
    if kind == "object":
        return {"key": "value"}
    raise ValueError(f"no example and no way to shape one for {pointer}: {schema}")


def full_body() -> dict[str, Any]:
    """Every documented ``CheckoutSessionUpdate`` property, valued from the document's examples."""
    update = schemas()["CheckoutSessionUpdate"]
    return {name: example_of(prop, f"/{name}") for name, prop in update["properties"].items()}


def page_example_body() -> dict[str, Any]:
    """The page's JSON example, parsed from its text, limited to the request body's properties."""
    text = REFERENCE_PAGE.read_text(encoding="utf-8")
    start = next(i for i, line in enumerate(text.splitlines(keepends=True)) if line.rstrip() == "{")
    offset = sum(len(line) for line in text.splitlines(keepends=True)[:start])
    example, _ = json.JSONDecoder().raw_decode(text[offset:])
    allowed = schemas()["CheckoutSessionUpdate"]["properties"]
    return {key: value for key, value in example.items() if key in allowed}


def validate_against(schema_name: str, instance: Any) -> list[str]:
    """The document's complaints about ``instance`` as a ``schema_name`` (empty when valid)."""
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": document()["components"]}
    validator = jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())
    return [f"{'/' + '/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]
