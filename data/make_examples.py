"""Generate the example edit folders for ``make demo``, the notebooks and the docs.

They are package data, ``gr4vy_nb/_data/examples/``, linked as ``data/examples/``.

Deterministic: built from ``gr4vy_nb/_data/sample_sessions.jsonl`` (the sandbox's default seed) with
fixed rules, so running it again rewrites the same files byte for byte.

* ``01_metadata_tag/sessions.csv``: tags every session that belongs to a campaign with
  ``metadata.review = q4-audit`` and clears ``metadata.note`` where it is set (``#N/A``); one
  id in the list no longer exists, to show ``errors.csv``.
* ``02_tax_fix/cart_items.csv``: UK physical items sold with no tax get 20% VAT. The rows
  of a session are its complete new list, so every item of those sessions is listed by
  ``item_index``; only the fixed items have a ``tax_amount`` (empty cells keep the value).
* ``03_passenger_name/passengers.csv``: corrects one passenger's first name; the other
  passengers of that booking are listed by index with empty cells (kept as they are).
* ``04_with_errors/``: a sessions file and a cart file with deliberate mistakes (a decimal
  amount, a lower-case currency, an unknown column, an id that is not a UUID, a changed
  read-only expiry, a zero quantity, a cleared required field, a number mangled into
  scientific notation). Planning it reports every problem with file, line and column; nothing
  can be sent.

Usage: ``python data/make_examples.py [--seed SESSIONS.jsonl] [--out DIR]`` (defaults: the package data)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PACKAGE_DATA = HERE.parent / "gr4vy_nb" / "_data"
EXPIRED_ID = "0f0e0d0c-0b0a-4909-8807-060504030201"  # not in the sample data: "expired" in the demo


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    path.write_text(buf.getvalue(), encoding="utf-8")


def metadata_tag(sessions: list[dict[str, Any]], out: Path) -> None:
    rows = []
    for s in sessions:
        meta = s.get("metadata") or {}
        if meta.get("campaign"):
            rows.append([s["id"], "q4-audit", "#N/A" if "note" in meta else ""])
    rows.insert(len(rows) // 2, [EXPIRED_ID, "q4-audit", ""])
    _write(out / "01_metadata_tag" / "sessions.csv", ["checkout_session_id", "metadata.review", "metadata.note"], rows)


def tax_fix(sessions: list[dict[str, Any]], out: Path) -> None:
    rows = []
    for s in sessions:
        items = s.get("cart_items") or []
        fixes = {i: round((it["quantity"] * it["unit_amount"] - (it.get("discount_amount") or 0)) * 0.2)
                 for i, it in enumerate(items)
                 if it.get("seller_country") == "GB" and it.get("product_type") == "physical"
                 and not it.get("tax_amount")}
        if fixes:
            rows += [[s["id"], i, fixes.get(i)] for i in range(len(items))]
    _write(out / "02_tax_fix" / "cart_items.csv", ["checkout_session_id", "item_index", "tax_amount"], rows)


def passenger_name(sessions: list[dict[str, Any]], out: Path) -> None:
    booking = next(s for s in sessions if len(((s.get("airline") or {}).get("passengers")) or []) >= 2)
    passengers = booking["airline"]["passengers"]
    first = passengers[1]["first_name"]
    corrected = {"Jo": "Joanna", "Hana": "Hanna"}.get(first, first + "a")
    rows = [[booking["id"], i, corrected if i == 1 else ""] for i in range(len(passengers))]
    _write(out / "03_passenger_name" / "passengers.csv", ["checkout_session_id", "passenger_index", "first_name"],
           rows)


def with_errors(sessions: list[dict[str, Any]], out: Path) -> None:
    a, b, c = sessions[3], sessions[4], sessions[5]
    _write(out / "04_with_errors" / "sessions.csv",
           ["checkout_session_id", "amount", "currency", "expires_at", "metadata.review", "colour"], [
               [a["id"], "129.99", "GBP", "", "q4-audit", ""],
               [b["id"], "", "gbp", "", "q4-audit", ""],
               ["ORD-000042", "", "", "", "q4-audit", ""],
               [c["id"], "", "", "2030-01-01T00:00:00Z", "q4-audit", "blue"],
           ])
    cart = next(s for s in sessions[6:] if len(s.get("cart_items") or []) >= 2)
    _write(out / "04_with_errors" / "cart_items.csv",
           ["checkout_session_id", "item_index", "quantity", "name", "sku"], [
               [cart["id"], 0, 0, "", ""],
               [cart["id"], 1, "", "#N/A", "4.00123E+11"],
           ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=Path, default=PACKAGE_DATA / "sample_sessions.jsonl")
    p.add_argument("--out", type=Path, default=PACKAGE_DATA / "examples")
    args = p.parse_args(argv)
    sessions = [json.loads(line) for line in args.seed.read_text(encoding="utf-8").splitlines() if line.strip()]
    metadata_tag(sessions, args.out)
    tax_fix(sessions, args.out)
    passenger_name(sessions, args.out)
    with_errors(sessions, args.out)
    print(f"wrote the examples to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
