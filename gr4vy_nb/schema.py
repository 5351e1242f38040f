"""Pydantic v2 models of Gr4vy's checkout-session API.

The models follow the checkout-session part of Gr4vy's OpenAPI document, vendored unmodified
as package data, plus its overlay (the properties the official SDK knows beyond it, such as
``CartItem.brand``; see :func:`gr4vy_nb._data.api_document`), field by field: required
fields, lengths, patterns, numeric bounds, enums, ``maxItems``, defaults, and
``additionalProperties: false``.  ``tests/test_schema.py`` walks document and overlay and
checks every constraint against these models, so a drift is caught.

Two behaviours matter to callers:

* **Request models forbid unknown keys** (``CheckoutSessionUpdate`` and everything nested
  in it), exactly as the API does; a misspelt column can never be silently sent.
* **Response models tolerate unknown keys**: the API grows.  Validate a response with
  ``CheckoutSession.model_validate(data)``; unknown keys, at any depth, are ignored by the
  validation (the caller keeps the original dict, so nothing is dropped).  Any model can be
  validated leniently by passing ``context={"lenient": True}``.

Types are strict where JSON is strict: ``"5"`` is not an integer, ``1`` is not a boolean,
a naive ``2024-01-01T00:00:00`` is not an RFC 3339 date-time.

Example::

    >>> body = CheckoutSessionUpdate.model_validate({"metadata": {"tag": "q4"}})
    >>> body.model_dump(mode="json", exclude_unset=True)
    {'metadata': {'tag': 'q4'}}
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    model_validator,
)

from .ids import UUID_PATTERN

__all__ = [
    "AMOUNT_MAX",
    "EXPIRES_IN_DEFAULT",
    "EXPIRES_IN_MAX",
    "EXPIRES_IN_MIN",
    "MAX_AIRLINE_ITEMS",
    "Address",
    "AgeGroup",
    "Airline",
    "AirlineLeg",
    "AirlinePassenger",
    "BillingDetails",
    "CardScheme",
    "CardType",
    "CartItem",
    "CheckoutSession",
    "CheckoutSessionPaymentMethod",
    "CheckoutSessionPaymentMethodDetails",
    "CheckoutSessionUpdate",
    "ErrorBody",
    "ErrorDetail",
    "ErrorLocation",
    "GuestBuyer",
    "HTTPValidationError",
    "ProductType",
    "RouteType",
    "ShippingDetails",
    "TaxId",
    "TaxIdKind",
    "TicketDeliveryMethod",
    "TransactionIntent",
    "TransactionPaymentSource",
    "ValidationErrorItem",
    "error_body",
]

AMOUNT_MAX = 99_999_999
"""Largest amount, in minor units, the API accepts anywhere."""
MAX_AIRLINE_ITEMS = 20
"""``maxItems`` of ``airline.legs`` and ``airline.passengers``."""
EXPIRES_IN_MIN = 3600
EXPIRES_IN_MAX = 86400
EXPIRES_IN_DEFAULT = 3600

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --------------------------------------------------------------------------- enums


def _value_enum(name: str, values: str, doc: str) -> Any:
    """A StrEnum of the space-separated ``values``; member names are the values in capitals, ``-``/``.`` as ``_``."""
    members = {v.upper().replace("-", "_").replace(".", "_"): v for v in values.split()}
    enum = StrEnum(name, members)  # type: ignore[misc]
    enum.__doc__ = doc
    return enum


ProductType = _value_enum(
    "ProductType",
    "physical discount shipping_fee sales_tax digital gift_card store_credit surcharge",
    "Kinds of cart item, as in the OpenAPI document.",
)

CardScheme = _value_enum(
    "CardScheme",
    "accel amex bancontact carte-bancaire cirrus culiance dankort diners-club discover "
    "eftpos-australia elo hipercard jcb maestro mastercard mir nyce other pulse qcard "
    "rupay star uatp unionpay visa",
    "Card schemes, as in the OpenAPI document.",
)

CardType = _value_enum("CardType", "credit debit prepaid", "Kinds of card, as in the OpenAPI document.")

TaxIdKind = _value_enum(
    "TaxIdKind",
    "ae.trn au.abn ar.dni ar.cuil ar.cuit br.cnpj br.cpf ca.bn ca.gst_hst ca.pst_bc "
    "ca.pst_mb ca.pst_sk ca.qst ch.vat cl.tin co.itin co.nit co.cc co.ce co.de co.rc "
    "co.ti co.passport es.cif eu.vat gb.vat hk.br id.nik id.npwp in.gst in.pan jp.cn "
    "jp.rn kr.brn li.uid mx.curp mx.rfc my.frp my.itn my.nric my.sst no.vat nz.gst "
    "pe.ruc ph.tin ru.inn ru.kpp sa.vat sg.gst sg.uen th.id th.vat tw.vat us.ein "
    "za.vat bo.ci uy.rut uy.ci",
    "Kinds of tax identifier, as in the OpenAPI document.",
)

TransactionIntent = _value_enum(
    "TransactionIntent",
    "authorize capture",
    "Whether a transaction is only authorized or also captured.",
)

TransactionPaymentSource = _value_enum(
    "TransactionPaymentSource",
    "ecommerce moto recurring installment card_on_file",
    "Where a payment comes from, as in the OpenAPI document.",
)

ErrorLocation = _value_enum(
    "ErrorLocation",
    "query body path header unknown",
    "Where in a request an error detail points.",
)

TicketDeliveryMethod = _value_enum("TicketDeliveryMethod", "electronic other", "How an airline ticket is delivered.")

RouteType = _value_enum("RouteType", "round_trip one_way", "Whether a flight is one way or a round trip.")

AgeGroup = _value_enum("AgeGroup", "adult infant", "A passenger's age group.")


# --------------------------------------------------------------------------- field types


def _text(min_length: int | None = None, max_length: int | None = None, pattern: str | None = None) -> Any:
    """A strict string with the document's constraints (no coercion from numbers)."""
    return Annotated[str, Strict(), Field(min_length=min_length, max_length=max_length, pattern=pattern)]


def _reject_non_text_datetime(value: Any) -> Any:
    # JSON has no datetime type: accept RFC 3339 text (or a datetime from Python code),
    # never a number, which pydantic would otherwise read as a Unix timestamp.
    if isinstance(value, bool | int | float):
        raise ValueError("a date-time must be RFC 3339 text, e.g. 2024-07-16T19:23:00+00:00")
    return value


def _reject_non_iso_date(value: Any) -> Any:
    if isinstance(value, datetime):
        raise ValueError("a date must be a calendar date (YYYY-MM-DD), not a date-time")
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise ValueError("a date must be text in the form YYYY-MM-DD")
    return value


Amount = Annotated[int, Strict(), Field(ge=0, le=AMOUNT_MAX)]
Quantity = Annotated[int, Strict(), Field(gt=0, le=AMOUNT_MAX)]
StrictBool = Annotated[bool, Strict()]
DateTime = Annotated[AwareDatetime, BeforeValidator(_reject_non_text_datetime)]
Date = Annotated[date, BeforeValidator(_reject_non_iso_date)]
Uuid = _text(pattern=UUID_PATTERN)
Country = _text(pattern=r"^[A-Z]{2}$")
Currency = _text(pattern=r"^[A-Z]{3}$")
Phone = _text(pattern=r"^\+[1-9]\d{1,14}$")
StateCode = _text(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
Category = _text(1, 50)


# --------------------------------------------------------------------------- base


class _Model(BaseModel):
    """Base of every model: unknown keys are refused unless validated leniently."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True, validate_default=False)

    #: Fields of this model that the API treats as read-only (never sent in an update).
    read_only: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_unknown_when_lenient(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and info.context and info.context.get("lenient"):
            known = cls.model_fields.keys()
            if any(k not in known for k in data):
                return {k: v for k, v in data.items() if k in known}
        return data


class _ResponseModel(_Model):
    """A response model: validated leniently by default (unknown keys tolerated at any depth)."""

    @classmethod
    def model_validate(cls, obj: Any, *, context: dict[str, Any] | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().model_validate(obj, context={"lenient": True, **(context or {})}, **kwargs)

    @classmethod
    def model_validate_json(cls, json_data: Any, *, context: dict[str, Any] | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().model_validate_json(json_data, context={"lenient": True, **(context or {})}, **kwargs)


# --------------------------------------------------------------------------- cart


class CartItem(_Model):
    """One line of a cart.  Amounts are integers in the currency's minor unit."""

    name: _text(1, 255)  # type: ignore[valid-type]
    quantity: Quantity
    unit_amount: Amount
    discount_amount: Amount | None = 0
    tax_amount: Amount | None = 0
    external_identifier: _text(1, 200) | None = None  # type: ignore[valid-type]
    sku: _text(1, 200) | None = None  # type: ignore[valid-type]
    upc: _text(1, 50) | None = None  # type: ignore[valid-type]
    product_url: _text() | None = None  # type: ignore[valid-type]
    image_url: _text() | None = None  # type: ignore[valid-type]
    categories: list[Category] | None = None  # type: ignore[valid-type]
    product_type: ProductType | None = None
    seller_country: Country | None = None  # type: ignore[valid-type]
    tax_exempt: StrictBool | None = None
    unit_of_measure: _text(1, 50) | None = None  # type: ignore[valid-type]
    commodity_code: _text(1, 50) | None = None  # type: ignore[valid-type]
    description: _text(1, 255) | None = None  # type: ignore[valid-type]
    duty_amount: Amount | None = None
    shipping_amount: Amount | None = None
    # From the overlay (the official SDK 2.4.27 knows them; the document does not yet):
    brand: _text() | None = None  # type: ignore[valid-type]
    subcategories: list[_text()] | None = None  # type: ignore[valid-type]


# --------------------------------------------------------------------------- buyer


class TaxId(_Model):
    value: _text(1, 50)  # type: ignore[valid-type]
    kind: TaxIdKind  # type: ignore[valid-type]


class Address(_Model):
    city: _text(1, 100) | None = None  # type: ignore[valid-type]
    country: Country | None = None  # type: ignore[valid-type]
    postal_code: _text(1, 50) | None = None  # type: ignore[valid-type]
    state: _text(1, 255) | None = None  # type: ignore[valid-type]
    state_code: StateCode | None = None  # type: ignore[valid-type]
    house_number_or_name: _text(1, 255) | None = None  # type: ignore[valid-type]
    line1: _text(1, 255) | None = None  # type: ignore[valid-type]
    line2: _text(1, 255) | None = None  # type: ignore[valid-type]
    organization: _text(1, 255) | None = None  # type: ignore[valid-type]


class _ContactDetails(_Model):
    """The fields billing and shipping details share (``ShippingDetailsCreate`` has exactly these)."""

    first_name: _text(1, 255) | None = None  # type: ignore[valid-type]
    last_name: _text(1, 255) | None = None  # type: ignore[valid-type]
    email_address: _text(1, 320) | None = None  # type: ignore[valid-type]
    phone_number: Phone | None = None  # type: ignore[valid-type]
    address: Address | None = None


class BillingDetails(_ContactDetails):
    """A buyer's billing details: the contact fields and a tax id."""

    tax_id: TaxId | None = None


class ShippingDetails(_ContactDetails):
    """``ShippingDetailsCreate`` in the OpenAPI document."""


class GuestBuyer(_Model):
    display_name: _text(1, 200) | None = None  # type: ignore[valid-type]
    external_identifier: _text(1, 200) | None = None  # type: ignore[valid-type]
    billing_details: BillingDetails | None = None
    account_number: _text(1, 200) | None = None  # type: ignore[valid-type]
    shipping_details: ShippingDetails | None = None


# --------------------------------------------------------------------------- airline


class AirlineLeg(_Model):
    arrival_airport: _text(3, 3) | None = None  # type: ignore[valid-type]
    arrival_at: DateTime | None = None
    arrival_city: _text(1, 100) | None = None  # type: ignore[valid-type]
    arrival_country: Country | None = None  # type: ignore[valid-type]
    carrier_code: _text(2, 3) | None = None  # type: ignore[valid-type]
    carrier_name: _text(1) | None = None  # type: ignore[valid-type]
    iata_designator: _text(2, 2) | None = None  # type: ignore[valid-type]
    icao_code: _text(3, 3) | None = None  # type: ignore[valid-type]
    coupon_number: _text(1, 50) | None = None  # type: ignore[valid-type]
    departure_airport: _text(3, 3) | None = None  # type: ignore[valid-type]
    departure_at: DateTime | None = None
    departure_city: _text(1, 100) | None = None  # type: ignore[valid-type]
    departure_country: Country | None = None  # type: ignore[valid-type]
    departure_tax_amount: Amount | None = None
    fare_amount: Amount | None = None
    fare_basis_code: _text(1, 8) | None = None  # type: ignore[valid-type]
    fee_amount: Amount | None = None
    flight_class: _text(1, 5) | None = None  # type: ignore[valid-type]
    flight_number: _text(3, 6) | None = None  # type: ignore[valid-type]
    route_type: RouteType | None = None
    seat_class: _text(1, 5) | None = None  # type: ignore[valid-type]
    stop_over: StrictBool | None = None
    tax_amount: Amount | None = None


class AirlinePassenger(_Model):
    age_group: AgeGroup | None = None
    date_of_birth: Date | None = None
    email_address: _text(1, 320) | None = None  # type: ignore[valid-type]
    first_name: _text(1, 255) | None = None  # type: ignore[valid-type]
    frequent_flyer_number: _text(5, 50) | None = None  # type: ignore[valid-type]
    last_name: _text(1, 255) | None = None  # type: ignore[valid-type]
    passport_number: _text(1, 50) | None = None  # type: ignore[valid-type]
    phone_number: Phone | None = None  # type: ignore[valid-type]
    ticket_number: _text(1, 50) | None = None  # type: ignore[valid-type]
    title: _text(1, 50) | None = None  # type: ignore[valid-type]
    country_code: Country | None = None  # type: ignore[valid-type]


class Airline(_Model):
    """The airline addendum.  The API replaces it as a whole on update."""

    booking_code: _text(1, 50) | None = None  # type: ignore[valid-type]
    is_cardholder_traveling: StrictBool | None = None
    issued_address: _text(1, 255) | None = None  # type: ignore[valid-type]
    issued_at: DateTime | None = None
    issuing_carrier_code: _text(2, 3) | None = None  # type: ignore[valid-type]
    issuing_carrier_name: _text(1) | None = None  # type: ignore[valid-type]
    issuing_iata_designator: _text(2, 2) | None = None  # type: ignore[valid-type]
    issuing_icao_code: _text(3, 3) | None = None  # type: ignore[valid-type]
    legs: Annotated[list[AirlineLeg], Field(max_length=MAX_AIRLINE_ITEMS)] | None = None
    passenger_name_record: _text(1, 50) | None = None  # type: ignore[valid-type]
    passengers: Annotated[list[AirlinePassenger], Field(max_length=MAX_AIRLINE_ITEMS)] | None = None
    reservation_system: _text(1, 200) | None = None  # type: ignore[valid-type]
    restricted_ticket: StrictBool | None = None
    ticket_delivery_method: TicketDeliveryMethod | None = TicketDeliveryMethod.ELECTRONIC
    ticket_number: _text(1, 50) | None = None  # type: ignore[valid-type]
    travel_agency_code: _text(1, 50) | None = None  # type: ignore[valid-type]
    travel_agency_invoice_number: _text(1, 50) | None = None  # type: ignore[valid-type]
    travel_agency_name: _text(1, 200) | None = None  # type: ignore[valid-type]
    travel_agency_plan_name: _text(1, 200) | None = None  # type: ignore[valid-type]


# --------------------------------------------------------------------------- payment method


class CheckoutSessionPaymentMethodDetails(_Model):
    bin: _text() | None = None  # type: ignore[valid-type]
    card_country: Country | None = None  # type: ignore[valid-type]
    card_type: CardType | None = None
    card_issuer_name: _text() | None = None  # type: ignore[valid-type]


class CheckoutSessionPaymentMethod(_Model):
    """The card stored on a session.  Read-only: set by the checkout, never by an update."""

    type: Literal["payment-method"] = "payment-method"
    id: Uuid | None = None  # type: ignore[valid-type]
    details: CheckoutSessionPaymentMethodDetails | None = None
    label: _text() | None = None  # type: ignore[valid-type]
    method: Literal["card"] = "card"
    scheme: CardScheme | None = None  # type: ignore[valid-type]
    fingerprint: _text() | None = None  # type: ignore[valid-type]


# --------------------------------------------------------------------------- sessions

Metadata = dict[str, Annotated[str, Strict()]]


class _SessionFields(_Model):
    """The fields a session stores and an update may set (both models start with them, in this order)."""

    cart_items: list[CartItem] | None = None
    metadata: Metadata | None = None
    buyer: GuestBuyer | None = None
    airline: Airline | None = None
    amount: Amount | None = None
    currency: Currency | None = None  # type: ignore[valid-type]
    payment_service_id: Uuid | None = None  # type: ignore[valid-type]


class CheckoutSessionUpdate(_SessionFields):
    """The body of ``POST /checkout/sessions`` and ``PUT /checkout/sessions/{id}``.

    Top-level fields present replace the stored value (``None`` clears it); absent fields
    are kept.  ``expires_in`` (seconds, 3600..86400, default 3600) resets the expiry.
    Dump with ``model_dump(mode="json", exclude_unset=True)`` to send only what was set.
    """

    expires_in: Annotated[float, Strict(), Field(ge=EXPIRES_IN_MIN, le=EXPIRES_IN_MAX)] = EXPIRES_IN_DEFAULT
    country: Country | None = None  # type: ignore[valid-type]
    is_subsequent_payment: StrictBool | None = None
    merchant_initiated: StrictBool | None = None
    payment_source: TransactionPaymentSource | None = None
    intent: TransactionIntent | None = None


class CheckoutSession(_ResponseModel, _SessionFields):
    """A checkout session as the API returns it (unknown keys tolerated)."""

    read_only: ClassVar[frozenset[str]] = frozenset({"type", "id", "expires_at", "payment_method"})

    type: Literal["checkout-session"] = "checkout-session"
    id: Uuid  # type: ignore[valid-type]
    expires_at: DateTime
    payment_method: CheckoutSessionPaymentMethod | None = None


#: Top-level fields of a session that an update may change.
WRITABLE_SESSION_FIELDS: tuple[str, ...] = tuple(
    f for f in CheckoutSession.model_fields if f not in CheckoutSession.read_only
)


# --------------------------------------------------------------------------- error bodies


class ErrorDetail(_ResponseModel):
    location: ErrorLocation
    pointer: str
    message: str
    type: str


_ERROR_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Generic error"),
    401: ("unauthorized", "No valid API authentication found"),
    403: ("forbidden", "Generic error"),
    404: ("not_found", "The resource could not be found"),
    405: ("method_not_allowed", "Method Not Allowed"),
    409: ("duplicate_record", "Generic error"),
    413: ("payload_too_large", "The request body is too large"),
    425: ("too_early", "Generic error"),
    429: ("too_many_requests", "Generic error"),
    500: ("server_error", "Request could not be processed"),
    502: ("bad_gateway", "Request could not be processed"),
    503: ("service_unavailable", "Request could not be processed"),
    504: ("gateway_timeout", "Request could not be processed"),
}


class ErrorBody(_ResponseModel):
    """Gr4vy's error body: ``{type, code, status, message, details[]}``.

    The document has one schema per status (``Error400`` ... ``Error504``) that differ only
    in the defaults of ``code``, ``status`` and ``message`` (and ``resource_id`` on 409);
    one model serves them all, and :func:`error_body` fills the defaults for a status.
    """

    type: Literal["error"] = "error"
    code: str = "bad_request"
    status: int = 400
    message: str = "Generic error"
    details: list[ErrorDetail] = Field(default_factory=list)
    resource_id: str | None = None


def error_body(status: int, message: str | None = None, *, code: str | None = None,
               details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return a Gr4vy-shaped error body (a JSON-ready dict) with the defaults for ``status``."""
    default_code, default_message = _ERROR_DEFAULTS.get(status, ("server_error", "Request could not be processed"))
    return {
        "type": "error",
        "code": code or default_code,
        "status": status,
        "message": message or default_message,
        "details": list(details or []),
    }


class ValidationErrorItem(_ResponseModel):
    """One entry of FastAPI's 422 body (``ValidationError`` in the document)."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str
    input: Any = None
    ctx: dict[str, Any] = Field(default_factory=dict)


class HTTPValidationError(_ResponseModel):
    """FastAPI's 422 body: ``{"detail": [{loc, msg, type}, ...]}``."""

    model_config = ConfigDict(extra="allow")

    detail: list[ValidationErrorItem] = Field(default_factory=list)
