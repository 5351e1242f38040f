"""The field spec: every column of every flattened table, derived from the schema models.

One table of fields drives flattening, unflattening, CSV dtypes, cell parsing, masking and
validation.  It is built once, at import, by walking the JSON schema of
:class:`~gr4vy_nb.schema.CheckoutSession` (so a field added to the models gets its column
everywhere); only three things are written by hand here:

* which list-of-objects fields become their own table (``cart_items``, ``legs``,
  ``passengers``) and the name of their index column;
* which fields are personal, and how each kind is masked (:data:`PERSONAL`): marking a new
  personal field is one edit;
* the order of the sessions table (key, ``expires_at``, top-level scalars, ``metadata.<key>``,
  then the nested objects), the order the README's table format gives.

The tables::

    sessions     checkout_session_id, expires_at, amount, currency, payment_service_id,
                 metadata.<key>..., buyer.<...dotted to the leaf>, airline.<scalar>,
                 payment_method.<...>, extra
    cart_items   checkout_session_id, item_index, <every CartItem field>, extra
    legs         checkout_session_id, leg_index, <every AirlineLeg field>, extra
    passengers   checkout_session_id, passenger_index, <every AirlinePassenger field>, extra

Index columns are 0-based, like the JSON pointers of API errors (``/cart_items/2/name`` is
``item_index`` 2).  ``extra`` holds, as a JSON object, whatever part of the record the
columns cannot represent (fields unknown to this version, values of the wrong type), so
nothing is ever dropped.  The ``const`` fields (``type: "checkout-session"``,
``payment_method.type``/``method``) are not columns: they are implied (see :data:`CONSTS`).

Kinds and dtypes (:attr:`Field.dtype`):

=========  ================================  =============================================
kind       pandas dtype                      notes
=========  ================================  =============================================
str        ``string[pyarrow]``               text, IDs (``format == "uuid"``), codes
enum       ``string[pyarrow]``               ``choices`` holds the allowed values
int        ``Int64``                         amounts in minor units, quantities, indexes
float      ``Float64``                       (no such field today; supported for growth)
bool       ``boolean``
datetime   ``datetime64[us, UTC]``           microseconds, like Python and the API
date       ``date32[day][pyarrow]``          ``date_of_birth``: a real date type (see below)
list       ``list<string>[pyarrow]``         ``categories``
json       ``string[pyarrow]``               the ``extra`` column (JSON object text)
=========  ================================  =============================================

Dates use Arrow's ``date32`` rather than ``object`` columns of ``datetime.date`` (slow,
untyped, anything can be put in them) or text (an impossible date such as ``2013-02-30``
would survive); it is vectorised, nullable, compares and subtracts like a date, and
``.tolist()`` gives ``datetime.date`` objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd
import pyarrow as pa

from .. import schema
from ..ids import UUID_PATTERN

__all__ = [
    "CHILD_TABLES",
    "CONSTS",
    "EXTRA",
    "INDEX_COLUMNS",
    "KEY",
    "METADATA_PREFIX",
    "PERSONAL",
    "TABLES",
    "ChildTable",
    "Container",
    "Field",
    "Spec",
    "columns",
    "containers",
    "derive_spec",
    "field_for",
    "personal_columns",
    "table_fields",
    "to_pandas_array",
]

TABLES: tuple[str, ...] = ("sessions", "cart_items", "legs", "passengers")
KEY = "checkout_session_id"
EXTRA = "extra"
METADATA_PREFIX = "metadata."


@dataclass(frozen=True, slots=True)
class ChildTable:
    """A list-of-objects field of the session that is flattened into its own table."""

    table: str
    path: tuple[str, ...]  # where the list sits in the session
    index: str  # the index column (0-based position in the list)
    max_items: int | None  # the list's maxItems, if any


#: The hand-written part: which lists become tables, and their index columns.
CHILD_TABLES: dict[str, ChildTable] = {
    "cart_items": ChildTable("cart_items", ("cart_items",), "item_index", None),
    "legs": ChildTable("legs", ("airline", "legs"), "leg_index", schema.MAX_AIRLINE_ITEMS),
    "passengers": ChildTable("passengers", ("airline", "passengers"), "passenger_index", schema.MAX_AIRLINE_ITEMS),
}
INDEX_COLUMNS: dict[str, str] = {name: child.index for name, child in CHILD_TABLES.items()}

#: Personal fields, by (model, field), with the masking style used for each (see masking.py).
#: Card data is listed here too: it is masked like personal data.
PERSONAL: dict[tuple[str, str], str] = {
    ("GuestBuyer", "display_name"): "name",
    ("GuestBuyer", "account_number"): "id",
    ("BillingDetails", "first_name"): "name",
    ("BillingDetails", "last_name"): "name",
    ("BillingDetails", "email_address"): "email",
    ("BillingDetails", "phone_number"): "phone",
    ("ShippingDetails", "first_name"): "name",
    ("ShippingDetails", "last_name"): "name",
    ("ShippingDetails", "email_address"): "email",
    ("ShippingDetails", "phone_number"): "phone",
    ("Address", "city"): "text",
    ("Address", "postal_code"): "postcode",
    ("Address", "house_number_or_name"): "text",
    ("Address", "line1"): "text",
    ("Address", "line2"): "text",
    ("Address", "organization"): "text",
    ("TaxId", "value"): "id",
    ("AirlinePassenger", "first_name"): "name",
    ("AirlinePassenger", "last_name"): "name",
    ("AirlinePassenger", "email_address"): "email",
    ("AirlinePassenger", "phone_number"): "phone",
    ("AirlinePassenger", "passport_number"): "id",
    ("AirlinePassenger", "date_of_birth"): "date",
    ("AirlinePassenger", "frequent_flyer_number"): "id",
    ("AirlinePassenger", "ticket_number"): "id",
    ("AirlinePassenger", "title"): "name",
    ("Airline", "ticket_number"): "id",
    ("CheckoutSessionPaymentMethod", "fingerprint"): "hash",
    ("CheckoutSessionPaymentMethod", "label"): "id",
    ("CheckoutSessionPaymentMethodDetails", "bin"): "bin",
}

_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "MISSING"})()


@dataclass(frozen=True, slots=True)
class Field:
    """One column of one table, with the constraints of the model field behind it.

    ``path`` is where the value sits in the table's record (the session for ``sessions``,
    the cart item, leg or passenger for the others); key, index and ``extra`` columns have
    an empty path.  ``model``/``name`` point at the schema model field (``None`` for the
    synthetic columns); the constraint attributes mirror the JSON schema of that field.
    """

    table: str
    column: str
    path: tuple[str, ...]
    kind: str
    model: str | None = None
    name: str | None = None
    required: bool = False
    read_only: bool = False
    personal: bool = False
    mask: str | None = None
    default: Any = _MISSING
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    format: str | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    exclusive_minimum: int | float | None = None
    choices: tuple[str, ...] | None = None
    max_items: int | None = None
    item: Field | None = None
    role: str = "value"  # "key", "index", "extra", "metadata" or "value"

    @property
    def dtype(self) -> Any:
        """The pandas dtype of the column."""
        return _DTYPES[self.kind]

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type of the typed column (what the pandas dtype stores)."""
        if self.kind == "list":
            assert self.item is not None
            return pa.list_(self.item.arrow_type)
        return _ARROW_TYPES[self.kind]

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING

    @property
    def model_class(self) -> type | None:
        """The schema model class declaring this field, if any."""
        return getattr(schema, self.model) if self.model else None

    @property
    def is_uuid(self) -> bool:
        return self.format == "uuid"


@dataclass(frozen=True, slots=True)
class Container:
    """An object or list in a table's record (``buyer``, ``buyer.billing_details``, ``airline.legs``, ...).

    Containers are not columns.  An object is present in an unflattened record exactly when
    one of its leaves (or, for ``airline``, one of its child-table rows) is present; the
    bulk engine may accept a column named after a container holding ``#N/A`` to clear it.
    """

    table: str
    path: tuple[str, ...]
    kind: str  # "object", "list" (a child table) or "map" (metadata)
    model: str | None
    read_only: bool

    @property
    def column(self) -> str:
        return ".".join(self.path)



_STRING = pd.StringDtype("pyarrow")
_DTYPES: dict[str, Any] = {
    "str": _STRING,
    "enum": _STRING,
    "json": _STRING,
    "int": pd.Int64Dtype(),
    "float": pd.Float64Dtype(),
    "bool": pd.BooleanDtype(),
    "datetime": pd.DatetimeTZDtype(unit="us", tz="UTC"),
    "date": pd.ArrowDtype(pa.date32()),
    "list": pd.ArrowDtype(pa.list_(pa.string())),
}
_ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.large_string(),  # what pandas' string dtype stores: no conversion on the way in
    "enum": pa.large_string(),
    "json": pa.large_string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


_ARROW_TO_PANDAS = {
    pa.string(): _STRING,
    pa.large_string(): _STRING,
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.date32(): _DTYPES["date"],
    pa.list_(pa.string()): _DTYPES["list"],
}


def to_pandas_array(values: pa.Array | pa.ChunkedArray, kind: str) -> Any:
    """A typed Arrow column (as the spec types it for ``kind``) as the pandas array of the column's dtype."""
    target = _ARROW_TYPES.get(kind) or pa.list_(pa.string())
    if values.type != target:
        values = values.cast(target)
    if kind in ("str", "enum", "json"):
        return pd.arrays.ArrowStringArray(values)
    if kind in ("date", "list"):
        return pd.arrays.ArrowExtensionArray(values if isinstance(values, pa.ChunkedArray)
                                             else pa.chunked_array([values]))
    return pa.table({"v": values}).to_pandas(types_mapper=_ARROW_TO_PANDAS.get)["v"].array


# --------------------------------------------------------------------------- derivation


@dataclass
class Spec:
    """The columns of every table (:attr:`fields`), the containers and the constants, for one model."""

    fields: dict[str, list[Field]] = field(default_factory=lambda: {t: [] for t in TABLES})
    containers: list[Container] = field(default_factory=list)
    consts: dict[tuple[str, tuple[str, ...]], dict[str, str]] = field(default_factory=dict)
    metadata: Field | None = None


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], str | None, bool]:
    """Strip ``anyOf[..., null]`` and follow ``$ref``: (node, referenced model name, nullable)."""
    nullable = False
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(node["anyOf"])
        if len(options) != 1:
            raise TypeError(f"unsupported union in the schema: {node}")
        merged = {k: v for k, v in node.items() if k != "anyOf"}
        node = {**options[0], **merged}
    ref_name = None
    if "$ref" in node:
        ref_name = node["$ref"].rsplit("/", 1)[-1]
        node = {**defs[ref_name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node, ref_name, nullable


def _scalar_field(table: str, path: tuple[str, ...], column: str, node: dict[str, Any], model: str | None,
                  name: str | None, *, required: bool, read_only: bool, defs: dict[str, Any]) -> Field:
    node, _ref, _nullable = _resolve(node, defs)
    kind: str
    item = None
    json_type = node.get("type")
    if "enum" in node:
        kind = "enum"
    elif json_type == "string":
        kind = {"date-time": "datetime", "date": "date"}.get(node.get("format", ""), "str")
    elif json_type == "integer":
        kind = "int"
    elif json_type == "number":
        kind = "float"
    elif json_type == "boolean":
        kind = "bool"
    elif json_type == "array":
        item = _scalar_field(table, (), "item", node["items"], None, None, required=True, read_only=read_only,
                             defs=defs)
        if item.kind not in ("str", "enum"):
            raise TypeError(f"only lists of strings are supported as cells, not {node['items']} at {column}")
        kind = "list"
    else:
        raise TypeError(f"unsupported schema type at {column}: {node}")
    pattern = node.get("pattern")
    fmt = node.get("format")
    if pattern == UUID_PATTERN:
        fmt = "uuid"
    mask = PERSONAL.get((model, name)) if model and name else None
    return Field(
        table=table, column=column, path=path, kind=kind, model=model, name=name, required=required,
        read_only=read_only, personal=mask is not None, mask=mask,
        default=_MISSING if node.get("default") is None else node["default"],
        min_length=node.get("minLength"), max_length=node.get("maxLength"), pattern=pattern, format=fmt,
        minimum=node.get("minimum"), maximum=node.get("maximum"), exclusive_minimum=node.get("exclusiveMinimum"),
        choices=tuple(node["enum"]) if "enum" in node else None, max_items=node.get("maxItems"), item=item,
    )


def _is_object(node: dict[str, Any], defs: dict[str, Any]) -> bool:
    resolved, _ref, _ = _resolve(node, defs)
    return resolved.get("type") == "object" and "properties" in resolved


def _is_object_list(node: dict[str, Any], defs: dict[str, Any]) -> bool:
    resolved, _ref, _ = _resolve(node, defs)
    return resolved.get("type") == "array" and _is_object(resolved["items"], defs)


def _walk_object(spec: Spec, table: str, model: str, node: dict[str, Any], path: tuple[str, ...],
                 defs: dict[str, Any], *, read_only: bool, skip: tuple[str, ...] = ()) -> None:
    """Add the leaves of an object (depth first, in schema order) to ``table``."""
    required = set(node.get("required", ()))
    model_ro = getattr(getattr(schema, model, None), "read_only", frozenset())
    for name, prop in node["properties"].items():
        if name in skip:
            continue
        sub_path = (*path, name)
        ro = read_only or name in model_ro
        if "const" in prop:
            spec.consts.setdefault((table, path), {})[name] = prop["const"]
            continue
        if _is_object_list(prop, defs):
            child = next((c for c in CHILD_TABLES.values() if c.path == sub_path), None)
            if child is None:
                raise TypeError(f"{'.'.join(sub_path)} is a list of objects with no table in fields.CHILD_TABLES")
            resolved, _, _ = _resolve(prop, defs)
            item_node, item_model, _ = _resolve(resolved["items"], defs)
            if child.max_items != resolved.get("maxItems"):
                raise TypeError(f"maxItems of {child.table} changed in the schema")
            spec.containers.append(Container(table, sub_path, "list", item_model, ro))
            _start_table(spec, child, item_model or "", item_node, defs, read_only=ro)
            continue
        if _is_object(prop, defs):
            resolved, sub_model, _ = _resolve(prop, defs)
            spec.containers.append(Container(table, sub_path, "object", sub_model, ro))
            _walk_object(spec, table, sub_model or "", resolved, sub_path, defs, read_only=ro)
            continue
        column = ".".join(sub_path)
        spec.fields[table].append(_scalar_field(table, sub_path, column, prop, model, name,
                                                required=name in required, read_only=ro, defs=defs))


def _key_field(table: str, *, path: tuple[str, ...]) -> Field:
    return Field(table=table, column=KEY, path=path, kind="str", model="CheckoutSession" if path else None,
                 name="id" if path else None, required=True, read_only=True, pattern=UUID_PATTERN,
                 format="uuid", role="key")


def _extra_field(table: str) -> Field:
    return Field(table=table, column=EXTRA, path=(), kind="json", role="extra")


def _start_table(spec: Spec, child: ChildTable, model: str, node: dict[str, Any], defs: dict[str, Any], *,
                 read_only: bool) -> None:
    spec.fields[child.table].append(_key_field(child.table, path=()))
    spec.fields[child.table].append(Field(
        table=child.table, column=child.index, path=(), kind="int", required=False, minimum=0,
        maximum=None if child.max_items is None else child.max_items - 1, role="index"))
    _walk_object(spec, child.table, model, node, (), defs, read_only=read_only)
    spec.fields[child.table].append(_extra_field(child.table))


def derive_spec(model: Any = schema.CheckoutSession) -> Spec:
    """Derive the spec from a session model's JSON schema (the package uses ``CheckoutSession``).

    Raises :class:`TypeError` for a shape the tables cannot represent (a list of objects with
    no table in :data:`CHILD_TABLES`, a union, a free-form object other than ``metadata``) or
    a :data:`PERSONAL` entry naming a field that does not exist.
    """
    top = model.model_json_schema()
    defs = top.get("$defs", {})
    spec = Spec()
    props: dict[str, Any] = top["properties"]
    session_ro = getattr(model, "read_only", frozenset())
    out = spec.fields["sessions"]
    out.append(_key_field("sessions", path=("id",)))
    required = set(top.get("required", ()))
    out.append(_scalar_field("sessions", ("expires_at",), "expires_at", props["expires_at"], "CheckoutSession",
                             "expires_at", required=True, read_only=True, defs=defs))
    nested: list[str] = []
    for name, prop in props.items():
        if name in ("id", "expires_at"):
            continue
        if "const" in prop:
            spec.consts.setdefault(("sessions", ()), {})[name] = prop["const"]
            continue
        resolved, _, _ = _resolve(prop, defs)
        if resolved.get("type") == "object" and "additionalProperties" in resolved and "properties" not in resolved:
            if name != "metadata":
                raise TypeError(f"free-form object {name} is not supported")
            spec.metadata = Field(table="sessions", column=METADATA_PREFIX + "*", path=("metadata",), kind="str",
                                  model="CheckoutSession", name="metadata", read_only=name in session_ro,
                                  role="metadata")
            spec.containers.append(Container("sessions", ("metadata",), "map", None, name in session_ro))
            continue
        if _is_object(prop, defs) or _is_object_list(prop, defs):
            nested.append(name)
            continue
        out.append(_scalar_field("sessions", (name,), name, prop, "CheckoutSession", name,
                                 required=name in required, read_only=name in session_ro, defs=defs))
    # Objects and lists come after the scalars and the metadata columns, in schema order.
    _walk_object(spec, "sessions", "CheckoutSession", {"properties": {n: props[n] for n in nested}}, (), defs,
                 read_only=False)
    out.append(_extra_field("sessions"))
    used = {(f.model, f.name) for t in TABLES for f in spec.fields[t] if f.personal}
    if unknown := set(PERSONAL) - used:
        raise TypeError(f"fields.PERSONAL names fields the schema does not have: {sorted(unknown)}")
    return spec


# --------------------------------------------------------------------------- lookups


def table_fields(table: str) -> tuple[Field, ...]:
    """The fixed columns of ``table``, in order (``metadata.<key>`` columns are dynamic: see :func:`columns`)."""
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    return tuple(_spec().fields[table])


def columns(table: str, metadata_keys: Any = ()) -> list[str]:
    """Column names of ``table`` in order; for ``sessions``, ``metadata.<key>`` for each key given, sorted."""
    names = [f.column for f in table_fields(table)]
    if table == "sessions" and metadata_keys:
        at = _metadata_position()
        names[at:at] = [METADATA_PREFIX + k for k in sorted(set(metadata_keys))]
    return names


@cache
def _metadata_position() -> int:
    """Where the ``metadata.<key>`` columns go: after the top-level scalars."""
    fields = _spec().fields["sessions"]
    return next(i for i, f in enumerate(fields) if len(f.path) > 1 or f.role == "extra")


def field_for(table: str, column: str) -> Field | None:
    """The field of ``column`` in ``table`` (``metadata.<any key>`` included), or ``None`` if unknown."""
    if table == "sessions" and column.startswith(METADATA_PREFIX):
        template = _spec().metadata
        assert template is not None
        return Field(table="sessions", column=column, path=("metadata", column[len(METADATA_PREFIX):]), kind="str",
                     model=template.model, name=template.name, read_only=template.read_only, role="metadata")
    return _by_column().get((table, column))


@cache
def _by_column() -> dict[tuple[str, str], Field]:
    return {(f.table, f.column): f for t in TABLES for f in _spec().fields[t]}


def containers(table: str | None = None) -> tuple[Container, ...]:
    """Objects and lists of the session, parents before children (optionally only those of ``table``)."""
    return tuple(c for c in _spec().containers if table is None or c.table == table)


def personal_columns(table: str) -> list[str]:
    """Columns of ``table`` holding personal or card data."""
    return [f.column for f in table_fields(table) if f.personal]


@cache
def _spec() -> Spec:
    return derive_spec(schema.CheckoutSession)


#: Constant fields implied by their object: (table, object path) -> {key: value}.  Built at
#: import, so a schema the spec cannot represent fails loudly and early.
CONSTS: dict[tuple[str, tuple[str, ...]], dict[str, str]] = _spec().consts
