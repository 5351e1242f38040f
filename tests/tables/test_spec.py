"""The field spec: derived from the models, complete, in DESIGN.md's order, with the right kinds and flags."""

from __future__ import annotations

import types
import typing
from typing import Any

import pandas as pd
import pyarrow as pa
import pydantic
import pytest

from gr4vy_nb import schema
from gr4vy_nb.tables import spec as F


def _model_leaves(model: type[pydantic.BaseModel], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Independently of the spec: every leaf path of a model, walking Python annotations (not JSON schema)."""
    out: dict[tuple[str, ...], Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        while typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        if typing.get_origin(annotation) is typing.Literal:
            continue  # consts are not columns
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            out.update(_model_leaves(annotation, (*prefix, name)))
        else:
            out[(*prefix, name)] = annotation
    return out


def _spec_paths(table: str) -> set[tuple[str, ...]]:
    return {f.path for f in F.table_fields(table) if f.path}


def test_every_model_leaf_is_a_column_of_its_table():
    leaves = _model_leaves(schema.CheckoutSession)
    expected_sessions = {p for p in leaves if p[0] not in ("cart_items", "metadata") and p[:2] not in (
        ("airline", "legs"), ("airline", "passengers"))}
    assert _spec_paths("sessions") == expected_sessions
    assert _spec_paths("cart_items") == {(n,) for n in schema.CartItem.model_fields}
    assert _spec_paths("legs") == {(n,) for n in schema.AirlineLeg.model_fields}
    assert _spec_paths("passengers") == {(n,) for n in schema.AirlinePassenger.model_fields}


def test_sessions_column_order_follows_design():
    names = [f.column for f in F.table_fields("sessions")]
    assert names[:5] == ["checkout_session_id", "expires_at", "amount", "currency", "payment_service_id"]
    assert names[-1] == "extra"
    groups = [n.split(".")[0] for n in names[5:-1]]
    # buyer, then airline scalars, then payment_method, each contiguous and in schema order.
    assert list(dict.fromkeys(groups)) == ["buyer", "airline", "payment_method"]
    assert names.index("buyer.billing_details.address.city") < names.index("buyer.billing_details.tax_id.value")
    assert "airline.legs" not in names and not any(n.startswith("airline.passengers") for n in names)
    assert F.columns("sessions", ["zeta", "alpha"])[5:7] == ["metadata.alpha", "metadata.zeta"]


@pytest.mark.parametrize("table,index", [("cart_items", "item_index"), ("legs", "leg_index"),
                                         ("passengers", "passenger_index")])
def test_child_tables_start_with_key_and_index(table, index):
    names = F.columns(table)
    assert names[:2] == ["checkout_session_id", index]
    assert names[-1] == "extra"
    model = {"cart_items": schema.CartItem, "legs": schema.AirlineLeg, "passengers": schema.AirlinePassenger}[table]
    assert names[2:-1] == list(model.model_fields)


@pytest.mark.parametrize("table,column,kind,dtype", [
    ("sessions", "checkout_session_id", "str", pd.StringDtype("pyarrow")),
    ("sessions", "expires_at", "datetime", pd.DatetimeTZDtype("us", "UTC")),
    ("sessions", "amount", "int", pd.Int64Dtype()),
    ("sessions", "airline.is_cardholder_traveling", "bool", pd.BooleanDtype()),
    ("sessions", "payment_method.scheme", "enum", pd.StringDtype("pyarrow")),
    ("sessions", "buyer.billing_details.tax_id.kind", "enum", pd.StringDtype("pyarrow")),
    ("cart_items", "categories", "list", pd.ArrowDtype(pa.list_(pa.string()))),
    ("cart_items", "item_index", "int", pd.Int64Dtype()),
    ("legs", "departure_at", "datetime", pd.DatetimeTZDtype("us", "UTC")),
    ("passengers", "date_of_birth", "date", pd.ArrowDtype(pa.date32())),
    ("passengers", "extra", "json", pd.StringDtype("pyarrow")),
])
def test_kinds_and_dtypes(table, column, kind, dtype):
    f = F.field_for(table, column)
    assert f is not None and f.kind == kind and f.dtype == dtype


def test_constraints_come_from_the_models():
    assert F.field_for("cart_items", "name").max_length == 255
    assert F.field_for("cart_items", "name").required
    assert F.field_for("cart_items", "quantity").exclusive_minimum == 0
    assert F.field_for("cart_items", "discount_amount").default == 0
    assert not F.field_for("cart_items", "sku").has_default
    assert F.field_for("sessions", "amount").maximum == schema.AMOUNT_MAX
    assert F.field_for("sessions", "currency").pattern == "^[A-Z]{3}$"
    assert F.field_for("sessions", "payment_service_id").is_uuid
    assert F.field_for("legs", "leg_index").maximum == schema.MAX_AIRLINE_ITEMS - 1
    assert F.field_for("cart_items", "item_index").maximum is None
    assert set(F.field_for("cart_items", "product_type").choices) == {e.value for e in schema.ProductType}
    assert F.field_for("sessions", "airline.ticket_delivery_method").default == "electronic"
    item = F.field_for("cart_items", "categories").item
    assert item is not None and (item.min_length, item.max_length) == (1, 50)
    f = F.field_for("passengers", "phone_number")
    assert (f.model, f.name, f.model_class) == ("AirlinePassenger", "phone_number", schema.AirlinePassenger)


def test_read_only_and_personal_flags():
    ro = {f.column for f in F.table_fields("sessions") if f.read_only}
    assert {"checkout_session_id", "expires_at", "payment_method.id", "payment_method.details.bin"} <= ro
    assert "amount" not in ro and "buyer.display_name" not in ro
    assert set(F.personal_columns("passengers")) == {
        "date_of_birth", "email_address", "first_name", "frequent_flyer_number", "last_name", "passport_number",
        "phone_number", "ticket_number", "title"}
    personal = set(F.personal_columns("sessions"))
    assert {"buyer.display_name", "buyer.account_number", "buyer.billing_details.tax_id.value",
            "buyer.shipping_details.address.line1", "payment_method.fingerprint", "payment_method.label",
            "payment_method.details.bin", "airline.ticket_number"} <= personal
    assert not personal & {"currency", "buyer.billing_details.address.country", "payment_method.scheme"}
    assert F.personal_columns("cart_items") == [] and F.personal_columns("legs") == []


def test_consts_and_containers():
    assert F.CONSTS == {("sessions", ()): {"type": "checkout-session"},
                        ("sessions", ("payment_method",)): {"type": "payment-method", "method": "card"}}
    kinds = {c.column: c.kind for c in F.containers()}
    assert kinds["metadata"] == "map" and kinds["cart_items"] == "list" and kinds["airline.legs"] == "list"
    assert kinds["buyer.billing_details.address"] == "object"
    paths = [c.path for c in F.containers()]
    assert all(paths.index(p[:-1]) < paths.index(p) for p in paths if len(p) > 1)  # parents first


def test_field_for_metadata_and_unknowns():
    f = F.field_for("sessions", "metadata.any key.with dots")
    assert f is not None and f.path == ("metadata", "any key.with dots") and f.role == "metadata"
    assert F.field_for("sessions", "nope") is None
    assert F.field_for("legs", "metadata.x") is None
    with pytest.raises(KeyError, match="unknown table"):
        F.table_fields("orders")


def test_adding_a_model_field_adds_its_column():
    class Item(schema.CartItem):
        gift_wrap: bool | None = None

    class Leg(schema.AirlineLeg):
        gate: str | None = None

    legs = typing.Annotated[list[Leg], pydantic.Field(max_length=schema.MAX_AIRLINE_ITEMS)]
    airline = pydantic.create_model("Airline", __base__=schema.Airline, legs=(legs | None, None))
    model = pydantic.create_model("CheckoutSession", __base__=schema.CheckoutSession,
                                  cart_items=(list[Item] | None, None), airline=(airline | None, None))
    spec = F.derive_spec(model)
    items = {f.column: f for f in spec.fields["cart_items"]}
    assert items["gift_wrap"].kind == "bool" and list(items)[-2:] == ["gift_wrap", "extra"]
    assert "gate" in {f.column for f in spec.fields["legs"]}


def test_a_list_of_objects_without_a_table_is_refused():
    class Stop(pydantic.BaseModel):
        city: str | None = None

    model = pydantic.create_model("CheckoutSession", __base__=schema.CheckoutSession,
                                  stops=(list[Stop] | None, None))
    with pytest.raises(TypeError, match="stops is a list of objects with no table"):
        F.derive_spec(model)


def test_to_pandas_array_gives_the_column_dtype():
    for kind, values in [("str", pa.array(["a", None])), ("int", pa.array([1, None])),
                         ("bool", pa.array([True, None])), ("date", pa.array([None, None], pa.date32())),
                         ("list", pa.array([["x"], None], pa.list_(pa.string())))]:
        arr = F.to_pandas_array(values, kind)
        assert arr.dtype == F._DTYPES[kind] and len(arr) == 2 and pd.isna(arr[-1])
