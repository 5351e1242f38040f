"""Notebook 04 in a real browser (issue 23): JupyterLab + headless Chromium drive the EditGrid.

Run All writes nothing; then, in the grid (drawn on a canvas: cells are found by the grid's geometry), a cell
is typed into (double-click, type, Enter), highlighted and counted; a locked and a masked cell are refused;
find & replace runs on a filtered view; a passenger is added and another removed; the plan shows the diff and
asks consent for the removal; Apply writes; the sandbox then holds exactly those edits. Screenshots of each
step go to ``build/screenshots/``. Each step waits for the state it asserts (a count, a message), never for
text an earlier step showed.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.notebook_support import fetch_frames, sample_session_ids
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.widgets.grid import COLUMN_WIDTH, ROW_HEADER_WIDTH, ROW_HEIGHT
from tests.test_browser import Lab, _page, _run_all, _sent, _shot, _wait_text, _wait_until, browser_path, lab  # noqa: F401

pytestmark = pytest.mark.browser

NOTEBOOK = "04_edit_in_the_notebook.ipynb"


def _cell_xy(page: Any, row: int, column: int) -> tuple[float, float]:
    """The centre of a body cell of the grid (``column`` counts the grid's columns, ``changed`` first)."""
    box = page.locator(".gr4vy-grid").first.bounding_box()
    assert box is not None
    return (box["x"] + ROW_HEADER_WIDTH + COLUMN_WIDTH * column + COLUMN_WIDTH / 2,
            box["y"] + ROW_HEIGHT * (row + 1) + ROW_HEIGHT / 2)


def _type_into(page: Any, row: int, column: int, text: str) -> None:
    """Double-click a cell, type, Enter: what an analyst does."""
    x, y = _cell_xy(page, row, column)
    page.mouse.dblclick(x, y)
    page.wait_for_timeout(200)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def _pixel(page: Any, row: int, column: int) -> tuple[int, int, int]:
    from PIL import Image

    x, y = _cell_xy(page, row, column)
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    return image.getpixel((int(x - COLUMN_WIDTH / 2 + 4), int(y - ROW_HEIGHT / 2 + 4)))  # type: ignore[return-value]


def _table(page: Any, name: str, first_column: str) -> None:
    page.locator(".gr4vy-grid-tables button", has_text=name).first.click()
    _wait_until(page, lambda: page.locator(f".gr4vy-grid-filter-column select option[value='{first_column}']")
                .count() > 0, f"the {name} table shown")


def _fill(page: Any, selector: str, text: str) -> None:
    field = page.locator(f"{selector} input").first
    field.fill(text)
    field.press("Tab")


def test_edit_notebook_in_a_real_browser(lab: Lab, sandbox_clean: Sandbox, browser_path: str) -> None:  # noqa: F811
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean)) as client:
        frames, _ = fetch_frames(client, sample_session_ids(30))
    items = frames.cart_items.reset_index(drop=True)
    columns = ["changed", *items.columns]
    first = str(items.checkout_session_id[0])
    quantity = int(items.quantity[0]) + 1
    names = items.name[items.checkout_session_id == first].tolist()
    replaced = sum("a" in n for n in names[1:]) + ("a" in names[0])
    passengers = frames.passengers.reset_index(drop=True)
    owner = str(passengers.checkout_session_id[0])
    kept = len(passengers[passengers.checkout_session_id == owner])
    pcolumns = ["changed", *passengers.columns]
    with _page(browser_path, "browser-04-failure.png") as page:
        # Run All: nothing written
        _run_all(page, lab, NOTEBOOK, "apply_plan not run: APPLY is False")
        assert _sent(sandbox_clean) == {} and dict(sandbox_clean.stats()["writes"]) == {}, "Run All wrote"
        page.wait_for_selector(".gr4vy-grid", timeout=30_000)
        _shot(page, "browser-04-run-all.png", ".gr4vy-grid-tables")

        # 1 · type into a cell: highlighted and counted
        _table(page, "cart_items", "item_index")
        _type_into(page, 0, columns.index("quantity"), str(quantity))
        _wait_text(page, ".gr4vy-grid-count", "1 cell changed in 1 session")
        _wait_until(page, lambda: _pixel(page, 0, columns.index("quantity"))[2] < 190, "the changed cell highlighted")
        _shot(page, "browser-04-typed-and-highlighted.png", ".gr4vy-grid-count")

        # 2 · a locked cell, then a masked one: refused, the reason beside the grid
        _type_into(page, 1, columns.index("item_index"), "7")
        _wait_text(page, ".gr4vy-grid-refused", "item_index identifies the row")
        _shot(page, "browser-04-locked-refused.png", ".gr4vy-grid-count")
        _table(page, "passengers", "passenger_index")
        _type_into(page, 0, pcolumns.index("first_name"), "Someone")
        _wait_text(page, ".gr4vy-grid-refused", "first_name is personal data, masked")
        _shot(page, "browser-04-masked-refused.png", ".gr4vy-grid-count")
        _wait_text(page, ".gr4vy-grid-count", "1 cell changed in 1 session")

        # 3 · find & replace on a filtered view
        _table(page, "cart_items", "item_index")
        page.locator(".gr4vy-grid-filter-column select").first.select_option("checkout_session_id")
        _fill(page, ".gr4vy-grid-filter-text", first)
        page.locator(".gr4vy-grid-filter:not([disabled])").click()
        _wait_text(page, ".gr4vy-grid-shown", f"showing {len(names)} of {len(items)} rows")
        page.locator(".gr4vy-grid-column select").first.select_option("name")
        _fill(page, ".gr4vy-grid-find", "a")
        _fill(page, ".gr4vy-grid-replace-text", "A")
        page.locator(".gr4vy-grid-replace:not([disabled])").click()
        total = 1 + replaced
        _wait_text(page, ".gr4vy-grid-count", f"{total} cell{'s' if total != 1 else ''} changed in 1 session")
        _shot(page, "browser-04-find-replace-filtered.png", ".gr4vy-grid-count")

        # 4 · add a passenger, fill it in, remove another (personal data shown to type a name)
        page.locator(".gr4vy-grid-show-raw input[type=checkbox]").first.check()
        _table(page, "passengers", "passenger_index")
        page.locator(".gr4vy-grid-session select").first.select_option(owner)
        page.locator(".gr4vy-grid-add:not([disabled])").click()
        _wait_text(page, ".gr4vy-grid-count", "1 passenger added")
        _type_into(page, kept, pcolumns.index("first_name"), "Ada")
        _wait_text(page, ".gr4vy-grid-last", "first_name")
        _type_into(page, kept, pcolumns.index("last_name"), "Lovelace")
        _wait_text(page, ".gr4vy-grid-last", "last_name")
        page.mouse.click(*_cell_xy(page, 0, pcolumns.index("age_group")))  # select passenger #0
        page.wait_for_timeout(300)
        page.locator(".gr4vy-grid-remove:not([disabled])").click()
        _wait_text(page, ".gr4vy-grid-count", "1 passenger removed")
        _shot(page, "browser-04-passenger-added-removed.png", ".gr4vy-grid-count")

        # 5 · plan: the diff and the consent for the removal; Apply waits for it
        assert dict(sandbox_clean.stats()["writes"]) == {}
        page.locator(".gr4vy-grid-plan:not([disabled])").click()
        summary = _wait_text(page, ".gr4vy-grid-plan-summary", "session(s) to update")
        assert "destructive" in summary and "remove" in summary, summary
        _wait_until(page, lambda: page.locator(".gr4vy-grid-consent:visible").count() > 0, "the consent box shown")
        assert page.locator(".gr4vy-grid-apply[disabled]").count() == 1
        _shot(page, "browser-04-plan-consent.png", ".gr4vy-grid-plan-summary")
        page.locator(".gr4vy-grid-consent input[type=checkbox]").first.check()
        page.locator(".gr4vy-grid-apply:not([disabled])").click()
        _wait_text(page, ".gr4vy-grid-result", "finished", timeout=60)
        _shot(page, "browser-04-applied.png", ".gr4vy-grid-result")

    # 6 · the sandbox holds exactly those edits
    writes = dict(sandbox_clean.stats()["writes"])
    assert writes == dict.fromkeys({first.lower(), owner.lower()} & {k.lower() for k in writes}, 1) \
        and {k.lower() for k in writes} == {first.lower(), owner.lower()}, writes
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean)) as client:
        cart = client.get_checkout_session(first)["cart_items"]
        now = client.get_checkout_session(owner)["airline"]["passengers"]
    assert cart[0]["quantity"] == quantity
    assert [c["name"] for c in cart] == [n.replace("a", "A") for n in names]
    before = passengers[passengers.checkout_session_id == owner]
    assert [p.get("first_name") for p in now] == [*before.first_name.tolist()[1:], "Ada"]
    assert now[-1].get("last_name") == "Lovelace"
