"""Walk Gr4vy's OpenAPI document (and its overlay) and check, field by field, that the models agree with it.

The document is the one vendored unmodified in ``gr4vy_nb/_data/openapi/`` (its digest is
checked here, and its bytes against ``../shared/reference/`` when that is present); the
overlay adds the properties the official SDK knows beyond it.  For every object schema the
matching model must have the same properties and required set, refuse unknown keys (request
models), and for every property accept and reject exactly what the document says: types,
null, string lengths, patterns, formats, numeric bounds, enums, consts, ``maxItems``, map
values and defaults.  A new field, a changed limit or a new enum member fails here, and a
self-test proves that a model missing one property is caught.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel, ValidationError

from gr4vy_nb import schema
from gr4vy_nb._data import api_document, openapi_path, overlay_entries
from tests.paths import REPO, SAMPLE

DOC = api_document()
SCHEMAS: dict[str, dict[str, Any]] = DOC["components"]["schemas"]
PUBLISHED_SHA256 = "6d6dc2653771a7c172eafa1e06c91fd151c6d3bfcb474dfe243ba6fca09eb2a5"
"""SHA-256 of the checkout-session document as Gr4vy published it (``../shared/reference/``)."""
REFERENCE = REPO.parent / "shared" / "reference" / "checkout-sessions.openapi.json"

MODELS: dict[str, type[BaseModel]] = {
    "Address": schema.Address,
    "Airline": schema.Airline,
    "AirlineLeg": schema.AirlineLeg,
    "AirlinePassenger": schema.AirlinePassenger,
    "BillingDetails": schema.BillingDetails,
    "CartItem": schema.CartItem,
    "CheckoutSession": schema.CheckoutSession,
    "CheckoutSessionPaymentMethod": schema.CheckoutSessionPaymentMethod,
    "CheckoutSessionPaymentMethodDetails": schema.CheckoutSessionPaymentMethodDetails,
    "CheckoutSessionUpdate": schema.CheckoutSessionUpdate,
    "GuestBuyer": schema.GuestBuyer,
    "ShippingDetailsCreate": schema.ShippingDetails,
    "TaxId": schema.TaxId,
    "ErrorDetail": schema.ErrorDetail,
    "HTTPValidationError": schema.HTTPValidationError,
    "ValidationError": schema.ValidationErrorItem,
}
ERROR_SCHEMAS = sorted(n for n in SCHEMAS if n.startswith("Error") and n[5:].isdigit())
ENUMS = {
    "CardScheme": schema.CardScheme,
    "CardType": schema.CardType,
    "ProductType": schema.ProductType,
    "TaxIdKind": schema.TaxIdKind,
    "TransactionIntent": schema.TransactionIntent,
    "TransactionPaymentSource": schema.TransactionPaymentSource,
    "ErrorLocation": schema.ErrorLocation,
}
# Samples for every pattern the document uses: (valid, [invalid...]).  A pattern missing
# here fails test_every_pattern_has_samples, so a new pattern in the API is noticed.
PATTERNS: dict[str, tuple[str, list[str]]] = {
    "^[A-Z]{2}$": ("GB", ["gb", "GBR", "G", "G1", ""]),
    "^[A-Z]{3}$": ("GBP", ["gbp", "GB", "GBPX", ""]),
    "^[A-Z]{2}-[A-Z0-9]{1,3}$": ("US-CA", ["USCA", "us-ca", "US-", "US-ABCD"]),
    "^\\+[1-9]\\d{1,14}$": ("+441234567890", ["441234567890", "+0123", "+1", "+1234567890123456", "+44 1234"]),
}
FORMATS: dict[str, tuple[list[str], list[Any]]] = {
    "date-time": (["2013-07-16T19:23:00.000+00:00", "2024-01-01T00:00:00Z"],
                  ["2013-07-16", "2013-07-16T19:23:00", "not a date", "16/07/2013 19:23"]),
    "date": (["2013-07-16"], ["16/07/2013", "2013-07-16T00:00:00Z", "2013-13-01", "20130716"]),
    "uuid": (["8d3fe99b-1422-42e6-bbb3-932d95ae5f79"], ["not-a-uuid", "8d3fe99b14224", "1234"]),
}
WRONG_TYPE: dict[str, list[Any]] = {
    "string": [123, 1.5, True, ["a"], {"a": "b"}],
    "integer": ["1", 1.5, True, [1], None],
    "number": ["3600", True, [1]],
    "boolean": ["true", 1, 0, "yes"],
    "array": ["a,b", {"a": 1}, 1],
    "object": ["x", 1, ["a"]],
}


ANNOTATIONS = {"title", "description", "examples", "deprecated", "readOnly", "writeOnly"}
"""Keys that describe a property without constraining it (``x-…`` vendor keys are ignored too)."""


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return SCHEMAS[node["$ref"].rsplit("/", 1)[1]]
    return node


def _branches(prop: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The non-null alternatives of a property and whether null is allowed."""
    options = prop.get("anyOf", [prop])
    nullable = any(o.get("type") == "null" for o in options)
    return [o for o in options if o.get("type") != "null"], nullable


def valid_value(node: dict[str, Any]) -> Any:
    """A value the document accepts for ``node`` (minimal objects: required fields only)."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        target = SCHEMAS[name]
        if "enum" in target:
            return target["enum"][0]
        return {k: valid_value(target["properties"][k]) for k in target.get("required", [])}
    if "anyOf" in node:
        return valid_value(_branches(node)[0][0])
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "string":
        if "pattern" in node:
            return PATTERNS[node["pattern"]][0]
        if node.get("format") in FORMATS:
            return FORMATS[node["format"]][0][0]
        return "a" * max(node.get("minLength", 1), 1)
    if kind == "integer":
        if "exclusiveMinimum" in node:
            return int(node["exclusiveMinimum"]) + 1
        return int(node.get("minimum", 0))
    if kind == "number":
        return float(node.get("minimum", 0))
    if kind == "boolean":
        return False
    if kind == "array":
        return [valid_value(node["items"])]
    if kind == "object":
        return {"k": valid_value(node["additionalProperties"])} if isinstance(
            node.get("additionalProperties"), dict) else {}
    return "anything"


def _base(model_name: str) -> dict[str, Any]:
    return valid_value({"$ref": f"#/components/schemas/{model_name}"})


def _accepts(model: type[BaseModel], data: dict[str, Any]) -> bool:
    try:
        model.model_validate(data, context={"lenient": False})
    except ValidationError:
        return False
    return True


def _cases(node: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(values the document accepts, values it rejects) for one property schema."""
    good: list[Any] = []
    bad: list[Any] = []
    if not {k for k in node if not k.startswith("x-")} - ANNOTATIONS:  # no constraint, annotations only: anything
        return [None, 1, "x", [1], {"a": 1}], []
    branches, nullable = _branches(node)
    (good if nullable else bad).append(None)
    for raw in branches:
        branch = _resolve(raw)
        good.append(valid_value(raw))
        kind = branch.get("type")
        if "enum" in branch:
            good.extend(branch["enum"])
            bad.extend(["not-a-member", branch["enum"][0].upper() + "X"])
            continue
        if "const" in branch:
            bad.append(branch["const"] + "-other")
            continue
        if kind in WRONG_TYPE:
            bad.extend(v for v in WRONG_TYPE[kind] if v is not None or not nullable)
        if kind == "string":
            low, high = branch.get("minLength"), branch.get("maxLength")
            if "pattern" in branch:
                sample, wrong = PATTERNS[branch["pattern"]]
                good.append(sample)
                bad.extend(wrong)
            elif branch.get("format") in FORMATS and len(branches) == 1:
                ok, wrong = FORMATS[branch["format"]]
                good.extend(ok)
                bad.extend(wrong)
            else:
                if low:
                    good.append("x" * low)
                    bad.append("x" * (low - 1))
                if high:
                    good.append("é" * high)  # lengths count characters, not bytes
                    bad.append("x" * (high + 1))
        elif kind in {"integer", "number"}:
            step = 1 if kind == "integer" else 0.5
            if "minimum" in branch:
                good.append(int(branch["minimum"]) if kind == "integer" else branch["minimum"])
                bad.append(branch["minimum"] - step if kind == "number" else int(branch["minimum"]) - 1)
            if "exclusiveMinimum" in branch:
                bad.append(int(branch["exclusiveMinimum"]))
                good.append(int(branch["exclusiveMinimum"]) + 1)
            if "maximum" in branch:
                good.append(int(branch["maximum"]) if kind == "integer" else branch["maximum"])
                bad.append(int(branch["maximum"]) + 1 if kind == "integer" else branch["maximum"] + step)
            if kind == "number" and "minimum" in branch:
                good.append(int(branch["minimum"]))  # an integer is a number (3600 as well as 3600.0)
        elif kind == "array":
            good.append([])
            item_bad = _cases(branch["items"])[1]
            if item_bad:
                bad.append([valid_value(branch["items"]), item_bad[0]])
            if "maxItems" in branch:
                good.append([valid_value(branch["items"])] * branch["maxItems"])
                bad.append([valid_value(branch["items"])] * (branch["maxItems"] + 1))
        elif kind == "object" and isinstance(branch.get("additionalProperties"), dict):
            good.append({"a": "1", "b": ""})
            bad.append({"a": 1})
        elif "properties" in branch:
            bad.append({"no_such_field": 1})
    return good, bad


PROPERTY_CASES = [
    (name, prop)
    for name in MODELS
    for prop in SCHEMAS[name].get("properties", {})
]


def shape_drift(name: str, model: type[BaseModel]) -> list[str]:
    """How ``model``'s properties and required set differ from schema ``name`` of the document."""
    doc = SCHEMAS[name]
    out = [f"{name}.{p} is in the document but not in the model" for p in doc["properties"]
           if p not in model.model_fields]
    out += [f"{name}.{p} is in the model but not in the document" for p in model.model_fields
            if p not in doc["properties"]]
    required = {f for f, info in model.model_fields.items() if info.is_required()}
    if required != set(doc.get("required", [])):
        out.append(f"{name}: required {sorted(required)} != documented {sorted(doc.get('required', []))}")
    return out


def value_drift(name: str, prop: str, model: type[BaseModel]) -> list[str]:
    """The values the document accepts for ``name.prop`` that ``model`` refuses, and the reverse."""
    node = SCHEMAS[name]["properties"][prop]
    good, bad = _cases(node)
    base = _base(name)
    out = [f"{name}.{prop} should accept {v!r}" for v in good if not _accepts(model, {**copy.deepcopy(base), prop: v})]
    out += [f"{name}.{prop} should reject {v!r}" for v in bad if _accepts(model, {**copy.deepcopy(base), prop: v})]
    return out


@pytest.mark.parametrize("name", sorted(MODELS))
def test_properties_and_required_match(name: str) -> None:
    assert shape_drift(name, MODELS[name]) == []


@pytest.mark.parametrize(("name", "prop"), PROPERTY_CASES, ids=[f"{n}.{p}" for n, p in PROPERTY_CASES])
def test_property_accepts_and_rejects_as_documented(name: str, prop: str) -> None:
    assert value_drift(name, prop, MODELS[name]) == []


@pytest.mark.parametrize(("name", "prop"), [("CartItem", "description"), ("AirlinePassenger", "title"),
                                            ("CartItem", "brand"), ("CartItem", "subcategories")])
def test_the_drift_check_fails_when_a_model_lacks_a_property(name: str, prop: str) -> None:
    """A model missing one documented (or overlay) property is caught, by both checks."""
    model = MODELS[name]
    fields: dict[str, Any] = {k: (v.annotation, v) for k, v in model.model_fields.items() if k != prop}
    broken = pydantic.create_model(f"Broken{name}", __base__=schema._Model, **fields)
    assert f"{name}.{prop} is in the document but not in the model" in shape_drift(name, broken)
    assert any(p.startswith(f"{name}.{prop} should accept") for p in value_drift(name, prop, broken))
    assert shape_drift(name, model) == []  # and the real model passes


def test_vendored_document_is_unmodified() -> None:
    data = openapi_path().read_bytes()
    assert hashlib.sha256(data).hexdigest() == PUBLISHED_SHA256, "the vendored OpenAPI document was edited"
    if REFERENCE.exists():
        assert data == REFERENCE.read_bytes()


def test_overlay_adds_only_new_properties_and_names_its_sources() -> None:
    raw = json.loads(openapi_path().read_text(encoding="utf-8"))["components"]["schemas"]
    entries = overlay_entries()
    assert entries
    for entry in entries:
        assert entry["property"] not in raw[entry["schema"]]["properties"], entry
        assert entry["source"].startswith("gr4vy 2.4.27 on PyPI"), entry
        assert SCHEMAS[entry["schema"]]["properties"][entry["property"]] == entry["definition"]


def test_overlay_properties_exist_in_the_official_sdk() -> None:
    """The overlay is not our invention: the official SDK's models have each property."""
    models = pytest.importorskip("gr4vy.models")
    for entry in overlay_entries():
        assert entry["property"] in getattr(models, entry["schema"]).model_fields, entry


def test_documented_fields_the_first_version_lost_are_modelled() -> None:
    assert "description" in schema.CartItem.model_fields
    assert "title" in schema.AirlinePassenger.model_fields


@pytest.mark.parametrize(("name", "prop"), PROPERTY_CASES, ids=[f"{n}.{p}" for n, p in PROPERTY_CASES])
def test_defaults_match(name: str, prop: str) -> None:
    node = SCHEMAS[name]["properties"][prop]
    field = MODELS[name].model_fields[prop]
    if "default" in node:
        assert field.get_default(call_default_factory=True) == node["default"], f"{name}.{prop}"
    elif not field.is_required():
        assert field.get_default(call_default_factory=True) in (None, [], {}), f"{name}.{prop}"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_required_fields_are_required(name: str) -> None:
    model, base = MODELS[name], _base(name)
    for prop in SCHEMAS[name].get("required", []):
        data = {k: v for k, v in base.items() if k != prop}
        assert not _accepts(model, data), f"{name} accepted a body without {prop}"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_unknown_keys_refused_when_document_says_so(name: str) -> None:
    model, base = MODELS[name], _base(name)
    refused = not _accepts(model, {**base, "no_such_field": "x"})
    assert refused == (SCHEMAS[name].get("additionalProperties") is False), name


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_enums_match(name: str) -> None:
    assert [m.value for m in ENUMS[name]] == SCHEMAS[name]["enum"]


@pytest.mark.parametrize("name", ERROR_SCHEMAS)
def test_error_bodies_match(name: str) -> None:
    doc = SCHEMAS[name]["properties"]
    status = int(name[5:])
    body = schema.error_body(status)
    for key in ("type", "code", "status", "message", "details"):
        assert body[key] == doc[key]["default"], f"{name}.{key}"
    assert set(doc) <= set(schema.ErrorBody.model_fields)
    schema.ErrorBody.model_validate(body)


def test_every_pattern_and_format_has_samples() -> None:
    seen_patterns, seen_formats = set(), set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "pattern" in node:
                seen_patterns.add(node["pattern"])
            if node.get("type") == "string" and "format" in node:
                seen_formats.add(node["format"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(SCHEMAS)
    assert seen_patterns <= set(PATTERNS), seen_patterns - set(PATTERNS)
    assert seen_formats - {"json-pointer"} <= set(FORMATS)


def test_every_object_schema_is_modelled() -> None:
    objects = {n for n, s in SCHEMAS.items() if s.get("type") == "object"}
    assert objects - set(MODELS) - set(ERROR_SCHEMAS) == {"BaseModel"}


def test_response_tolerates_unknown_fields_at_any_depth_request_does_not() -> None:
    session = {
        "id": "8d3fe99b-1422-42e6-bbb3-932d95ae5f79",
        "expires_at": "2030-01-01T00:00:00+00:00",
        "brand_new_field": {"x": 1},
        "cart_items": [{"name": "a", "quantity": 1, "unit_amount": 1, "new_item_field": True}],
        "airline": {"legs": [{"new_leg_field": 1}], "passengers": [{"title": "Mr.", "x_new": 1}]},
    }
    schema.CheckoutSession.model_validate(session)
    with pytest.raises(ValidationError):
        schema.CheckoutSessionUpdate.model_validate({"cart_items": session["cart_items"]})
    with pytest.raises(ValidationError):
        schema.CheckoutSessionUpdate.model_validate({"airline": {"passengers": [{"x_new": 1}]}})
    schema.CheckoutSessionUpdate.model_validate({"airline": {"passengers": [{"title": "Mr."}]}})


def test_sdk_style_update_body_is_accepted() -> None:
    body = schema.CheckoutSessionUpdate.model_validate({"metadata": {"k": "v"}, "expires_in": 3600.0})
    assert body.model_dump(mode="json", exclude_unset=True) == {"metadata": {"k": "v"}, "expires_in": 3600.0}


def test_sample_data_is_valid() -> None:
    path = SAMPLE
    lines = path.read_text(encoding="utf-8").splitlines()
    assert 150 <= len(lines) <= 300
    for line in lines:
        schema.CheckoutSession.model_validate(json.loads(line), context={"lenient": False})
