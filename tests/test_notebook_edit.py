"""Notebook 04's pandas rules (issue 23): run as the notebook runs them, they plan exactly the rules' cells."""

from __future__ import annotations

from pathlib import Path

import nbformat

from gr4vy_nb import plan_updates
from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.notebook_support import fetch_frames, sample_session_ids

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_edit_in_the_notebook.ipynb"


def _cell(marker: str) -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and marker in c.source)


def test_the_notebook_pandas_rules_plan_exactly_their_rows(sandbox_clean) -> None:
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean)) as client:
        frames, _ = fetch_frames(client, sample_session_ids(30))
        scope = {"frames": frames}
        exec(_cell("vat = "), scope)  # the notebook's own cell, as it runs there
        exec(_cell("holders = "), scope)
        items, vat, holders = scope["items"], scope["vat"], scope["holders"]
        expected = {(str(sid).lower(), f"cart_items[{int(i)}].tax_amount")
                    for sid, i in zip(items.loc[vat, "checkout_session_id"], items.loc[vat, "item_index"],
                                      strict=True)}
        expected |= {(str(sid).lower(), "metadata.promo") for sid in set(holders)}
        assert vat.sum() >= 1 and len(holders) >= 1
        plan = plan_updates(frames, client=client)
    assert plan.ok, plan.problems
    got = {(str(s).lower(), p) for s, p in zip(plan.diff.checkout_session_id, plan.diff.path, strict=True)}
    assert got == expected
    assert plan.destructive.empty
