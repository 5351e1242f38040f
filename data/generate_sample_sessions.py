"""Generate the sample sessions: ~200 realistic, obviously fictitious checkout sessions.

The file is package data, ``gr4vy_nb/_data/sample_sessions.jsonl``, linked as ``data/sample_sessions.jsonl``.

Deterministic (a fixed seed): running it again rewrites the same file byte for byte.

* retail carts of 1-6 items across every product type, with categories, SKUs, taxes
  and discounts;
* about 40% with an airline addendum of 1-4 legs and 1-4 passengers;
* guest buyers with billing (and some shipping) addresses and tax ids;
* a payment method on about half (read-only card details);
* metadata with a handful of keys, some present only on a few sessions;
* a few cells that spreadsheets and naive CSV readers like to damage: surnames ``Null``
  and ``NA``, ``+44`` phone numbers, SKUs with leading zeros, names starting with ``=``.

Every session validates against :class:`gr4vy_nb.schema.CheckoutSession`.  Expiry dates are
set far in the future (2099) so the sandbox keeps serving them whatever today's date is.

Usage: ``python data/generate_sample_sessions.py [--n 200] [--out FILE]`` (default: the package data)
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20261127

FIRST = ["Ada", "Bram", "Chiara", "Dmitri", "Eun-ji", "Farah", "Gustav", "Hana", "Ivo", "Jo", "Kofi",
         "Lena", "Mateo", "Nia", "Otto", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera",
         "Wim", "Xiu", "Yara", "Zoltan", "José", "Zoë", "NA"]
LAST = ["Testperson", "Example", "Sample", "Placeholder", "Fictional", "Demo", "Mockingbird",
        "Notreal", "Dummy", "Lorem", "Ipsum", "Null", "O'Example", "Müller-Sample", "van Demo"]
CITIES = [("London", "GB", "EC1A 1BB", None), ("Amsterdam", "NL", "1012 AB", None),
          ("New York", "US", "10001", "US-NY"), ("San Francisco", "US", "94105", "US-CA"),
          ("Berlin", "DE", "10115", None), ("Paris", "FR", "75001", None), ("Madrid", "ES", "28001", None),
          ("Toronto", "CA", "M5H 2N2", "CA-ON"), ("Sydney", "AU", "2000", "AU-NSW"),
          ("São Paulo", "BR", "01000-000", "BR-SP"), ("Tokyo", "JP", "100-0001", "JP-13")]
PRODUCTS = [
    ("Trail running shoes", "physical", ["apparel", "shoes"], 8999),
    ("Merino wool socks", "physical", ["apparel"], 1499),
    ("Action camera", "physical", ["electronics", "cameras"], 37999),
    ("Noise-cancelling headphones", "physical", ["electronics", "audio"], 24900),
    ("E-book: Payments 101", "digital", ["books", "digital"], 1299),
    ("Music streaming, 1 month", "digital", ["subscriptions"], 999),
    ("Gift card", "gift_card", ["gifts"], 5000),
    ("Store credit top-up", "store_credit", [], 2500),
    ("Express shipping", "shipping_fee", ["shipping"], 795),
    ("Sales tax", "sales_tax", [], 412),
    ("Loyalty discount", "discount", ["promotions"], 500),
    ("Card surcharge", "surcharge", [], 150),
    ("Ceramic mug", "physical", ["home", "kitchen"], 1800),
    ("Desk lamp", "physical", ["home"], 4599),
    ("Travel adapter", "physical", ["electronics", "travel"], 2299),
]
AIRPORTS = [("LHR", "London", "GB"), ("AMS", "Amsterdam", "NL"), ("JFK", "New York", "US"),
            ("SFO", "San Francisco", "US"), ("CDG", "Paris", "FR"), ("FRA", "Frankfurt", "DE"),
            ("MAD", "Madrid", "ES"), ("NRT", "Tokyo", "JP"), ("SYD", "Sydney", "AU"), ("GRU", "São Paulo", "BR")]
CARRIERS = [("BA", "BAW", "British Airways"), ("KL", "KLM", "KLM Royal Dutch Airlines"),
            ("LH", "DLH", "Lufthansa"), ("AF", "AFR", "Air France"), ("IB", "IBE", "Iberia"),
            ("A3", "AEE", "Aegean Airlines")]
SCHEMES = [("visa", "credit"), ("mastercard", "debit"), ("amex", "credit"), ("visa", "debit"),
           ("mastercard", "prepaid"), ("jcb", "credit")]
TAX_KINDS = ["gb.vat", "eu.vat", "us.ein", "au.abn", "br.cpf", "ca.gst_hst"]
CHANNELS = ["web", "ios", "android", "call-centre"]
CAMPAIGNS = ["black-friday", "winter-sale", "newsletter", "none"]
BASE = datetime(2099, 1, 1, tzinfo=UTC)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _phone(rng: random.Random) -> str:
    return rng.choice(["+44", "+31", "+1", "+49", "+33"]) + "".join(rng.choice("0123456789") for _ in range(9)).lstrip(
        "0"
    ).rjust(9, "5")


def _email(first: str, last: str, n: int) -> str:
    clean = "".join(c for c in f"{first}.{last}".lower() if c.isascii() and (c.isalnum() or c == "."))
    return f"{clean}{n}@example.com"


def _address(rng: random.Random) -> dict[str, Any]:
    city, country, postal, state_code = rng.choice(CITIES)
    addr: dict[str, Any] = {
        "city": city,
        "country": country,
        "postal_code": postal,
        "line1": f"{rng.randint(1, 250)} Example Street",
        "house_number_or_name": str(rng.randint(1, 250)),
    }
    if state_code:
        addr["state_code"] = state_code
    if rng.random() < 0.3:
        addr["line2"] = f"Flat {rng.randint(1, 40)}"
    if rng.random() < 0.15:
        addr["organization"] = "Example Corp (fictitious)"
    return addr


def _buyer(rng: random.Random, n: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    billing: dict[str, Any] = {
        "first_name": first,
        "last_name": last,
        "email_address": _email(first, last, n),
        "phone_number": _phone(rng),
        "address": _address(rng),
    }
    if rng.random() < 0.25:
        billing["tax_id"] = {"value": f"TAX{rng.randint(10**7, 10**8 - 1)}", "kind": rng.choice(TAX_KINDS)}
    buyer: dict[str, Any] = {
        "display_name": f"{first} {last}",
        "external_identifier": f"cust-{n:05d}",
        "billing_details": billing,
    }
    if rng.random() < 0.4:
        buyer["shipping_details"] = {"first_name": first, "last_name": last, "address": _address(rng)}
    if rng.random() < 0.2:
        buyer["account_number"] = f"ACC{rng.randint(10**5, 10**6 - 1)}"
    return buyer


def _cart(rng: random.Random, country: str) -> list[dict[str, Any]]:
    items = []
    for _ in range(rng.randint(1, 6)):
        name, ptype, cats, price = rng.choice(PRODUCTS)
        qty = 1 if ptype in {"shipping_fee", "sales_tax", "discount", "surcharge", "gift_card"} else rng.randint(1, 4)
        item: dict[str, Any] = {
            "name": name if rng.random() > 0.02 else "=Not a formula, a product name",
            "quantity": qty,
            "unit_amount": price,
            "discount_amount": rng.choice([0, 0, 0, 100, 250]) if ptype == "physical" else 0,
            "tax_amount": round(price * qty * rng.choice([0, 0.05, 0.2])),
            "sku": f"{rng.randint(0, 99999):06d}",  # leading zeros on purpose
            "product_type": ptype,
            "seller_country": country,
        }
        if cats:
            item["categories"] = list(cats)
        if rng.random() < 0.6:
            item["external_identifier"] = f"item-{rng.randint(100000, 999999)}"
            item["product_url"] = f"https://shop.example.com/p/{item['sku']}"
            item["image_url"] = f"https://shop.example.com/img/{item['sku']}.png"
        if rng.random() < 0.2:
            item["upc"] = f"{rng.randint(0, 10**12 - 1):012d}"
        if rng.random() < 0.1:
            item["tax_exempt"] = True
            item["unit_of_measure"] = "each"
            item["commodity_code"] = f"{rng.randint(1000, 9999)}"
        if ptype == "physical" and rng.random() < 0.2:
            item["shipping_amount"] = rng.choice([0, 495, 795])
            item["duty_amount"] = rng.choice([0, 120])
        items.append(item)
    return items


def _airline(rng: random.Random, n: int) -> dict[str, Any]:
    carrier, icao, carrier_name = rng.choice(CARRIERS)
    legs = []
    when = BASE - timedelta(days=rng.randint(30, 300), hours=rng.randint(0, 23))
    origin = rng.choice(AIRPORTS)
    route_type = rng.choice(["one_way", "round_trip"])
    for _ in range(rng.randint(1, 4)):
        dest = rng.choice([a for a in AIRPORTS if a != origin])
        duration = timedelta(hours=rng.randint(1, 13), minutes=rng.choice([0, 15, 30, 45]))
        legs.append({
            "carrier_code": carrier,
            "carrier_name": carrier_name,
            "iata_designator": carrier,
            "icao_code": icao,
            "flight_number": f"{carrier}{rng.randint(10, 9999)}",
            "departure_at": _iso(when),
            "departure_airport": origin[0],
            "departure_city": origin[1],
            "departure_country": origin[2],
            "arrival_at": _iso(when + duration),
            "arrival_airport": dest[0],
            "arrival_city": dest[1],
            "arrival_country": dest[2],
            "fare_basis_code": rng.choice(["WH7LNR", "Y26", "QLOWEU", "MFLEX"]),
            "flight_class": rng.choice(["E", "B", "F", "PE"]),
            "seat_class": rng.choice(["Y", "J", "F"]),
            "stop_over": rng.random() < 0.2,
            "route_type": route_type,
            "coupon_number": str(len(legs) + 1),
            "fare_amount": rng.randint(40, 900) * 100,
            "fee_amount": rng.choice([0, 1500, 2500]),
            "tax_amount": rng.randint(5, 120) * 100,
            "departure_tax_amount": rng.choice([0, 1300, 2600]),
        })
        when = when + duration + timedelta(hours=rng.randint(2, 72))
        origin = dest
    passengers = []
    for p in range(rng.randint(1, 4)):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        infant = p > 0 and rng.random() < 0.15
        dob = datetime(2098 - (1 if infant else rng.randint(18, 80)), rng.randint(1, 12), rng.randint(1, 28))
        pax: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "age_group": "infant" if infant else "adult",
            "date_of_birth": dob.strftime("%Y-%m-%d"),
            "passport_number": f"X{rng.randint(10**6, 10**7 - 1)}",
            "ticket_number": f"{rng.randint(100, 999)}-{rng.randint(10**9, 10**10 - 1)}",
            "country_code": rng.choice(CITIES)[1],
        }
        if p == 0:
            pax["email_address"] = _email(first, last, n)
            pax["phone_number"] = _phone(rng)
        if rng.random() < 0.4:
            pax["frequent_flyer_number"] = f"{carrier}{rng.randint(10**6, 10**8)}"
        passengers.append(pax)
    pnr = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
    airline: dict[str, Any] = {
        "passenger_name_record": pnr,
        "booking_code": pnr,
        "ticket_number": f"{rng.randint(100, 999)}-{rng.randint(10**9, 10**10 - 1)}",
        "ticket_delivery_method": rng.choice(["electronic", "electronic", "other"]),
        "issued_at": _iso(BASE - timedelta(days=rng.randint(301, 400))),
        "issued_address": "1 Example Plaza, Fictional City",
        "issuing_carrier_code": carrier,
        "issuing_carrier_name": carrier_name,
        "issuing_iata_designator": carrier,
        "issuing_icao_code": icao,
        "reservation_system": rng.choice(["Amadeus", "Sabre", "Travelport"]),
        "restricted_ticket": rng.random() < 0.3,
        "is_cardholder_traveling": rng.random() < 0.8,
        "legs": legs,
        "passengers": passengers,
    }
    if rng.random() < 0.3:
        airline.update({
            "travel_agency_code": f"{rng.randint(10000, 99999)}",
            "travel_agency_name": "Example Travel Agency (fictitious)",
            "travel_agency_invoice_number": f"INV{rng.randint(10**6, 10**7 - 1)}",
            "travel_agency_plan_name": "Standard",
        })
    return airline


def make_session(rng: random.Random, n: int) -> dict[str, Any]:
    """One realistic session (its id and every value drawn from ``rng``)."""
    country = rng.choice(CITIES)[1]
    session: dict[str, Any] = {
        "type": "checkout-session",
        "id": _uuid(rng),
        "expires_at": _iso(BASE + timedelta(days=rng.randint(0, 300), minutes=rng.randint(0, 1439))),
    }
    is_airline = rng.random() < 0.4
    if not is_airline or rng.random() < 0.5:
        session["cart_items"] = _cart(rng, country)
    metadata = {"channel": rng.choice(CHANNELS), "order_ref": f"ORD-{n:06d}"}
    if rng.random() < 0.5:
        metadata["campaign"] = rng.choice(CAMPAIGNS)
    if rng.random() < 0.05:
        metadata["note"] = rng.choice(["None", "n/a", "call back, re: invoice; \"urgent\""])
    session["metadata"] = metadata
    if rng.random() < 0.85:
        session["buyer"] = _buyer(rng, n)
    if is_airline:
        session["airline"] = _airline(rng, n)
    if session.get("cart_items"):
        total = sum(i["quantity"] * i["unit_amount"] - i["discount_amount"] + i["tax_amount"]
                    for i in session["cart_items"])
        session["amount"] = max(0, min(total, 99_999_999))
    elif is_airline:
        legs = session["airline"]["legs"]
        session["amount"] = sum(leg["fare_amount"] + leg["fee_amount"] + leg["tax_amount"] for leg in legs)
    session["currency"] = {"GB": "GBP", "US": "USD", "JP": "JPY", "AU": "AUD", "BR": "BRL", "CA": "CAD"}.get(
        country, "EUR"
    )
    if rng.random() < 0.5:
        scheme, card_type = rng.choice(SCHEMES)
        session["payment_method"] = {
            "type": "payment-method",
            "id": _uuid(rng),
            "method": "card",
            "scheme": scheme,
            "label": f"{rng.randint(0, 9999):04d}",
            "fingerprint": f"fp_{rng.getrandbits(64):016x}",
            "details": {
                "bin": f"{rng.choice([4, 5, 3])}{rng.randint(0, 99999):05d}",
                "card_type": card_type,
                "card_country": rng.choice(CITIES)[1],
                "card_issuer_name": rng.choice(["Example Bank", "Fictional Credit Union", "Demo Card Co"]),
            },
        }
    return session


PACKAGE_DATA = Path(__file__).resolve().parent.parent / "gr4vy_nb" / "_data"


BRANDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark"]
TITLES = ["Mr.", "Ms.", "Mrs.", "Dr.", "Mx."]


def _later_fields(sessions: list[dict[str, Any]], seed: int) -> None:
    """The fields the first version of the samples lacked (``CartItem.description``, ``brand``,
    ``subcategories``; ``AirlinePassenger.title``), drawn from their own random stream so that
    every value drawn before stays as it was."""
    rng = random.Random(seed + 1)
    for session in sessions:
        for item in session.get("cart_items") or []:
            if rng.random() < 0.4:
                item["description"] = f"{item['name'][:200]}, as ordered"
            if rng.random() < 0.3:
                item["brand"] = rng.choice(BRANDS)
            if item.get("categories") and rng.random() < 0.3:
                item["subcategories"] = [f"{c}-{rng.choice(['basic', 'premium'])}" for c in item["categories"]][:2]
        for pax in (session.get("airline") or {}).get("passengers") or []:
            if rng.random() < 0.6:
                pax["title"] = rng.choice(TITLES)


def generate(n: int = 200, seed: int = SEED) -> list[dict[str, Any]]:
    """``n`` sessions, the same for the same ``seed``."""
    rng = random.Random(seed)
    sessions = [make_session(rng, i) for i in range(n)]
    _later_fields(sessions, seed)
    return sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=PACKAGE_DATA / "sample_sessions.jsonl")
    args = parser.parse_args()
    sessions = generate(args.n, args.seed)
    with args.out.open("w", encoding="utf-8", newline="\n") as fh:
        for s in sessions:
            fh.write(json.dumps(s, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {len(sessions)} sessions to {args.out}")


if __name__ == "__main__":
    main()
