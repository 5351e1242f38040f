"""The model of the run-workflow state machine: what every session should hold, and what each run did.

A session is modelled by the two fields the machine's uploads change, normalised
(:func:`norm`): ``metadata`` (a dict) and ``cart_items`` (a list of items restricted to
:data:`ITEM_KEYS`), plus whether it has expired. A run is modelled by the sessions it plans
to write (the fields it changes, their values before and after) and the status each
session is expected to end in.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIELDS = ("metadata", "cart_items")
ITEM_KEYS = ("name", "quantity", "unit_amount", "tax_amount", "sku")
MISSING = "00000000-0000-4000-8000-00000000dead"
TAGS = ("a", "b", "c")
TAXES = (0, 100, 250)


def norm(doc: dict[str, Any] | None) -> dict[str, Any]:
    """The modelled part of a session (or of a partial state such as a journal's ``desired``)."""
    doc = doc or {}
    items = [{k: it[k] for k in ITEM_KEYS if it.get(k) is not None} for it in doc.get("cart_items") or []]
    return {"metadata": dict(doc.get("metadata") or {}), "cart_items": items}


def new_sessions(n: int, hours: float = 20.0) -> list[dict[str, Any]]:
    """``n`` fresh sessions (new ids) with two cart items each, expiring in ``hours`` (explicitly)."""
    expires = (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="milliseconds")
    out = []
    for i in range(n):
        items = [{"name": f"Item {i}-{j}", "quantity": 1 + j, "unit_amount": 500 + 100 * j, "tax_amount": 0,
                  "sku": f"SKU-{i}-{j}"} for j in range(2)]
        out.append({"id": str(uuid.uuid4()), "expires_at": expires, "currency": "GBP",
                    "amount": sum(it["quantity"] * it["unit_amount"] for it in items),
                    "metadata": {"ref": f"R-{i}"}, "cart_items": items})
    return out


@dataclass
class Spec:
    """A generated upload: tags, tax fixes, appended items, an unknown id, a bad cell."""

    tags: dict[str, str] = field(default_factory=dict)
    taxes: dict[str, tuple[int, int]] = field(default_factory=dict)  # sid -> (item index, tax)
    appends: list[str] = field(default_factory=list)
    unknown: bool = False
    bad: bool = False
    counts: dict[str, int] = field(default_factory=dict)  # sid -> items the cart rows list, set by write()

    def session_ids(self) -> list[str]:
        return list(dict.fromkeys([*self.tags, *self.taxes, *self.appends]))

    def only(self, ids: set[str]) -> Spec:
        """The part of the upload about ``ids`` (what errors.csv holds), unknown id included when named."""
        return Spec(tags={k: v for k, v in self.tags.items() if k in ids},
                    taxes={k: v for k, v in self.taxes.items() if k in ids},
                    appends=[s for s in self.appends if s in ids], unknown=self.unknown and MISSING in ids,
                    counts={k: v for k, v in self.counts.items() if k in ids})

    def fits(self, state: dict[str, dict[str, Any]], expired: set[str]) -> bool:
        """Whether the files, written earlier, still describe the same lists: every cart of the upload has the
        items its rows list (or those plus the one the upload appends). Otherwise uploading them again would
        remove items or name items that are gone, which the machine does not model."""
        for sid, n in self.counts.items():
            if sid in expired:
                continue
            have = len(state[sid]["cart_items"])
            if not (have == n or (sid in self.appends and have == n + 1)):
                return False
        return True

    def write(self, folder: Path, state: dict[str, dict[str, Any]]) -> Path:
        """The upload as CSV files in ``folder`` (cart rows cover every current item of the session)."""
        folder.mkdir(parents=True, exist_ok=True)
        rows = [f"{sid},{tag}" for sid, tag in self.tags.items()]
        if self.unknown:
            rows.append(f"{MISSING},a")
        if self.bad:
            rows.append("not-a-session-id,a")
        if rows:
            (folder / "sessions.csv").write_text("checkout_session_id,metadata.tag\n" + "\n".join(rows) + "\n",
                                                 encoding="utf-8")
        cart = []
        for sid in dict.fromkeys([*self.taxes, *self.appends]):
            n = self.counts.setdefault(sid, len(state[sid]["cart_items"]))
            index, tax = self.taxes.get(sid, (-1, None))
            for i in range(n):
                cart.append(f"{sid},{i},{tax if i == index else ''},,,")
            if sid in self.appends:
                cart.append(f"{sid},{n},,Extra,1,100")
        if cart:
            (folder / "cart_items.csv").write_text(
                "checkout_session_id,item_index,tax_amount,name,quantity,unit_amount\n" + "\n".join(cart) + "\n",
                encoding="utf-8")
        return folder

    def applied_to(self, sid: str, current: dict[str, Any]) -> dict[str, Any]:
        """The state the upload asks for ``sid``, from its ``current`` state."""
        new = copy.deepcopy(current)
        if sid in self.counts:  # the cart rows are the complete new list: the first n items (+ the appended one)
            new["cart_items"] = new["cart_items"][: self.counts[sid]]
        if sid in self.tags:
            new["metadata"]["tag"] = self.tags[sid]
        if sid in self.taxes:
            index, tax = self.taxes[sid]
            if index < len(new["cart_items"]):
                new["cart_items"][index]["tax_amount"] = tax
        if sid in self.appends:
            new["cart_items"].append({"name": "Extra", "quantity": 1, "unit_amount": 100})
        return new


@dataclass
class Change:
    """One session a run plans to write: the fields it changes, their values before and after."""

    fields: list[str]
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass
class RunRec:
    """What the model knows of one run journal."""

    journal: Path
    kind: str
    folder: Path | None = None
    spec: Spec | None = None
    changes: dict[str, Change] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    parent: RunRec | None = None

    @property
    def results_dir(self) -> Path:
        return self.journal.with_suffix("")

    def resumable(self) -> bool:
        return any(s in ("planned", "sending", "unprocessed") for s in self.status.values())


def fields_of(state: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {f: state[f] for f in fields}
