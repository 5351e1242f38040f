"""How the bulk app shows a plan: the summary line, its notes, the per-session diff, the expiry and the consent.

Each function renders what the plan (or the workflow) says now, as HTML; nothing here decides anything.
The summary line carries the destructive counts in red; the notes are sorted by who they are for:
warnings an analyst must read (amber, sessions likely to expire), plain notes (grey), and the technical
record (how the bodies are built, the expiry reset: folded away under *technical notes*), each by its
note's :class:`~gr4vy_nb.updates.notes.Audience`.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from ..updates.notes import Audience, PlanNote
from ._common import amount_text, is_amount_path, is_missing

__all__ = ["DESTRUCTIVE", "EXPIRY", "destructive_html", "diff_html", "diff_text", "expiry_html", "summary_html",
           "value_text"]

DESTRUCTIVE = "#b91c1c"
"""The colour of what a plan destroys (red)."""
EXPIRY = "#b45309"
"""The colour of the expiry warning (amber): never the destructive red."""
_NOTE = "#374151"
_GREY = "#6b7280"


def _split_notes(notes: list[PlanNote]) -> tuple[list[str], list[str], list[str]]:
    """``(warnings, notes, technical)`` by each note's audience: what an analyst must read, what informs, the record.

    The expiry reset is a record here: the app tells it next to Run, with its count.
    """
    out: dict[Audience, list[str]] = {a: [] for a in Audience}
    for note in notes:
        out[note.audience].append(note.text)
    return out[Audience.WARNING], out[Audience.INFO], out[Audience.RECORD]


def summary_html(plan: Any) -> str:
    """The plan's summary: counts, the destructive counts in red on the same line, then its notes."""
    s = plan.summary
    consent = plan.consent
    # data-plan: which plan this is (its creation time), so that a reader can tell a new plan from the last one.
    line = (f"<span data-plan='{plan.created_at:.6f}'></span><b data-count='changed'>{s['changed']}</b> "
            "session(s) to update, "
            f"<b data-count='unchanged'>{s['unchanged']}</b> unchanged, "
            f"<b data-count='not_found'>{s['not_found']}</b> not found or expired "
            f"(of {s['sessions_named']} named); {s['values_changed']} value(s) change")
    if consent:
        line += (f"; <b class='gr4vy-plan-destructive' style='color:{DESTRUCTIVE}'>destructive: would "
                 f"{html.escape(consent)}</b>")
    lines = [line]
    if s["fields_changed"]:
        lines.append("fields: " + ", ".join(f"{html.escape(k)} ({v})" for k, v in s["fields_changed"].items()))
    warnings, notes, technical = _split_notes(list(plan.notes))
    lines += [f"<span class='gr4vy-plan-warning' style='color:{EXPIRY}'>{html.escape(n)}</span>" for n in warnings]
    lines += [f"<span class='gr4vy-plan-note' style='color:{_NOTE}'>{html.escape(n)}</span>" for n in notes]
    if technical:
        lines.append(f"<details class='gr4vy-plan-technical' style='color:{_GREY}'><summary>technical notes "
                     f"({len(technical)})</summary>" + "".join(f"<div>{html.escape(n)}</div>" for n in technical)
                     + "</details>")
    return "<br>".join(lines)


def value_text(value: Any, path: str = "", currency: Any = None) -> str:
    """A value of the diff as shown: ``(empty)`` for missing, an amount in its currency's units, long text cut."""
    if is_missing(value):
        return "(empty)"
    if is_amount_path(path) and currency:
        return amount_text(value, currency)
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _currency(item: Any) -> Any:
    return (item.before or {}).get("currency") or (item.body or {}).get("currency")


def diff_text(plan: Any, diff: pd.DataFrame) -> pd.DataFrame:
    """``diff`` (rows of ``plan.diff``) for the diff table: amounts in their session's currency, the rest as is."""
    if not len(diff) or "path" not in diff.columns:
        return diff
    amounts = diff["path"].astype(str).map(is_amount_path).to_numpy(dtype=bool)
    if not amounts.any():
        return diff
    out = diff.copy()
    wanted = set(diff.loc[amounts, "checkout_session_id"])
    currency = {i.session_id: _currency(i) for i in plan.items if i.session_id in wanted}
    for column in ("before", "after"):
        values = out[column].astype(object).tolist()
        for i in amounts.nonzero()[0].tolist():
            cur = currency.get(diff["checkout_session_id"].iloc[i])
            if cur and not is_missing(values[i]):
                values[i] = amount_text(values[i], cur)
        out[column] = pd.Series(values, index=out.index, dtype=object)
    return out


def diff_html(item: Any, rows: Any) -> str:
    """One session's changes (``rows``: its diff rows, masked or not) as a before/after table."""
    # A field of a list element the plan removes reads "(removed)", not "(empty)".
    removed = tuple(str(d["path"]) for d in item.destructive if d.get("kind") == "remove")
    currency = _currency(item)
    cell = "padding:3px 10px;border-bottom:1px solid #e5e7eb;vertical-align:top;text-align:left"

    def after(r: Any) -> str:
        gone = r.after is None and any(str(r.path) == p or str(r.path).startswith((p + ".", p + "["))
                                       for p in removed)
        return (f"<b style='color:{DESTRUCTIVE}'>(removed)</b>" if gone
                else html.escape(value_text(r.after, str(r.path), currency)))

    body = "".join(
        f"<tr><td style='{cell}'><code>{html.escape(str(r.path))}</code></td>"
        f"<td class='gr4vy-diff-before' style='{cell};color:#b91c1c;background:#fef2f2'>"
        f"<del>{html.escape(value_text(r.before, str(r.path), currency))}</del></td>"
        f"<td class='gr4vy-diff-after' style='{cell};color:#15803d;background:#f0fdf4'>"
        f"{after(r)}</td></tr>" for r in rows.itertuples(index=False))
    head = "padding:3px 10px;border-bottom:2px solid #9ca3af;text-align:left"
    return (f"<div style='margin:4px 0'>{html.escape(item.message or '')}</div>"
            "<table class='gr4vy-diff' style='border-collapse:collapse;margin:4px 0'><thead><tr>"
            f"<th style='{head}'>field</th><th style='{head};color:#b91c1c'>before</th>"
            f"<th style='{head};color:#15803d'>after</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def expiry_html(plan: Any) -> str:
    """Next to Run, in words: what an update does to each session's expiry (amber when some expire sooner)."""
    changes = plan.changes
    if not changes:
        return ""
    sooner = plan.expire_sooner
    text = (f"Each updated session will expire {plan.expires_in / 3600:g} h after its update; "
            f"{sooner:,} of {len(changes):,} expire sooner than they do now.")
    if sooner:
        text += " A rollback puts the fields back, not the expiry."
    colour = EXPIRY if sooner else _NOTE
    return f"<b style='color:{colour}' data-count='expire_sooner'>{html.escape(text)}</b>"


def destructive_html(plan: Any) -> str:
    """The plan's destructive changes, in red, per session (the first 10)."""
    consent = plan.consent
    if not consent:
        return ""
    sessions = [i for i in plan.changes if i.destructive]
    shown = "".join(
        f"<li><code>{html.escape(i.session_id)}</code>: "
        + html.escape("; ".join(dict.fromkeys(d["message"] for d in i.destructive))) + "</li>"
        for i in sessions[:10])
    more = f"<li>... and {len(sessions) - 10} more session(s)</li>" if len(sessions) > 10 else ""
    return (f"<div style='color:{DESTRUCTIVE}'><b>destructive: this plan would {html.escape(consent)}</b>"
            f"<ul style='margin:2px 0'>{shown}{more}</ul></div>")
