"""Offline checks of an upload: clear-only columns, bad cells and keys all at once, spreadsheet damage."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gr4vy_nb.errors import InputError
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.upload import read_upload
from tests.updates.helpers import S0, errors_of, plan_of

# ----------------------------------------------------------------------------- cells, columns and keys


def test_object_column_accepts_only_the_clear_marker(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,airline\n{S0},something\n")
    assert errors_of(plan) == [["sessions.csv", 2, "airline", "clear_only"]]


def test_unknown_column_duplicate_session_and_bad_cells_all_reported_at_once(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"""\
        checkout_session_id,amount,currency,metadata.x,colour
        {S0},12.99,gbp,a,red
        {S0},5,GBP,b,blue
        not-a-uuid,1,GBP,c,green
    """)
    assert sorted(errors_of(plan)) == sorted([
        ["sessions.csv", 1, "colour", "unknown_column"],
        ["sessions.csv", 2, "amount", "type.integer"],
        ["sessions.csv", 2, "currency", "pattern"],
        ["sessions.csv", 3, "checkout_session_id", "duplicate_key"],
        ["sessions.csv", 4, "checkout_session_id", "uuid"],
    ])
    assert not plan.ok and plan.summary["changed"] == 0
    with pytest.raises(InputError) as exc:
        plan.raise_for_problems()
    assert len(exc.value.problems) == 5


def test_too_many_legs_and_duplicate_indexes(tmp_path, client):
    rows = "\n".join(f"{S0},{i},IB{1000 + i}" for i in range(21))
    plan = plan_of(tmp_path, client, legs=f"checkout_session_id,leg_index,flight_number\n{rows}\n{S0},3,XX999\n")
    rules = {r[3] for r in errors_of(plan)}
    assert rules == {"max_items", "duplicate_key"}


def test_a_child_table_without_its_session_column_is_reported_not_a_crash(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"""\
        checkout_session_id,metadata.tag
        {S0},x
    """, legs="""\
        leg_index,flight_number
        0,BA1
    """)
    assert ["legs.csv", 1, "checkout_session_id", "required"] in errors_of(plan)


# ----------------------------------------------------------------------------- spreadsheet damage


def test_spreadsheet_damage_gives_warnings_with_coordinates(tmp_path, client):
    # Item 1's upc is empty now: a long number there can only be judged by itself (warnings). Item 0's
    # sku and upc have current values: what a spreadsheet made of them keeps them (rewrite_kept), or with
    # rewrites="error" is an error (spreadsheet_rewrite).
    plan = plan_of(tmp_path, client, cart_items=f"""\
        checkout_session_id,item_index,sku,upc
        {S0},0,21464,8.16018E+11
        {S0},1,,1234567890123450000
        {S0},2,,
    """)
    found = {(r.file, r.line, r.column, r.rule, r.severity) for r in plan.problems.itertuples()}
    assert found == {("cart_items.csv", 3, "upc", "precision_loss", "warning"),
                     ("cart_items.csv", 2, "sku", "rewrite_kept", "warning"),
                     ("cart_items.csv", 2, "upc", "rewrite_kept", "warning")}  # item 0's damage warning: kept
    assert plan.ok and [(r.path, r.after) for r in plan.diff.itertuples()] == [
        ("cart_items[1].upc", "1234567890123450000")]
    plan = plan_updates(tmp_path, client=client, rewrites="error")
    found = {(r.file, r.line, r.column, r.rule, r.severity) for r in plan.problems.itertuples()}
    assert ("cart_items.csv", 3, "upc", "precision_loss", "warning") in found
    assert {("cart_items.csv", 2, "sku", "spreadsheet_rewrite", "error"),
            ("cart_items.csv", 2, "upc", "spreadsheet_rewrite", "error")} <= found
    rewrite = plan.problems[(plan.problems.rule == "spreadsheet_rewrite") & (plan.problems.column == "sku")]
    assert "'021464'" in rewrite.message.iloc[0] and "Text" in rewrite.message.iloc[0]
    allowed = plan_updates(tmp_path, client=client, allow_spreadsheet_rewrites=True)
    assert allowed.ok and set(allowed.warnings.rule) >= {"spreadsheet_rewrite", "precision_loss"}


def test_excel_date_serial_is_an_error_with_a_hint(tmp_path, client):
    plan = plan_of(tmp_path, client, passengers=f"checkout_session_id,passenger_index,date_of_birth\n{S0},0,23450\n",
                   legs=f"checkout_session_id,leg_index,departure_at\n{S0},0,41471.8\n")
    assert sorted(errors_of(plan)) == [["legs.csv", 2, "departure_at", "datetime_format"],
                                       ["passengers.csv", 2, "date_of_birth", "date_format"]]
    serials = plan.problems[plan.problems.rule == "excel_date_serial"].set_index("file")
    assert "2013-07-16T19:12:00Z" in serials.loc["legs.csv", "message"]
    # A date of birth is personal: neither its value nor the date it stands for is shown.
    assert "1964" not in serials.loc["passengers.csv", "message"]
    assert "23450" not in str(serials.loc["passengers.csv", "value"])


# ----------------------------------------------------------------------------- fast paths = reference


_DAMAGE_CELL = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(["", " ", "\t", "\u3000", "\x85", "\u00a0", "\x1c"]),
              st.sampled_from(["1.23E+12", "8.16018E+11", "1234567890123450000", "123456789012345", "45123",
                               "45123.5", "2024-01-02", "abc", "1e5", "-2,5e-3", "0000000000000000"]),
              st.sampled_from(["", " ", "\u2003", "\x0b", "\u00a0"])).map("".join),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_DAMAGE_CELL, _DAMAGE_CELL), min_size=1, max_size=8))
def test_spreadsheet_damage_found_column_wise_exactly_as_trimming_every_cell(rows):
    """The loose one-pass pre-filter finds every cell the exact (trim, then match) rules find."""
    import re

    import pyarrow as pa
    import pyarrow.compute as pc

    from gr4vy_nb.updates.checks import LONG_ZEROS as _LONG_ZEROS
    from gr4vy_nb.updates.checks import SCIENTIFIC as _SCIENTIFIC
    from gr4vy_nb.updates.checks import SERIAL as _SERIAL
    from gr4vy_nb.updates.checks import check_upload

    sid = "4d645fa6-d13c-413a-82f8-eda197b1165f"
    cart = pd.DataFrame({"checkout_session_id": [sid] * len(rows), "item_index": [str(i) for i in range(len(rows))],
                         "sku": pd.array([r[0] for r in rows], dtype="string")})
    people = pd.DataFrame({"checkout_session_id": [sid] * len(rows),
                           "passenger_index": [str(i) for i in range(len(rows))],
                           "date_of_birth": pd.array([r[1] for r in rows], dtype="string")})
    upload = check_upload(read_upload({"cart_items": cart, "passengers": people}))
    rules = {"scientific_notation", "precision_loss", "excel_date_serial"}
    found = {(p.file, p.line, p.column, p.rule) for p in upload.problems.itertuples() if p.rule in rules}
    expected = set()
    for table, column, patterns in (("cart_items", "sku", [("scientific_notation", _SCIENTIFIC),
                                                             ("precision_loss", _LONG_ZEROS)]),
                                    ("passengers", "date_of_birth", [("excel_date_serial", _SERIAL)])):
        t = upload.tables[table]
        trimmed = pc.utf8_trim_whitespace(pa.array(t.text[column].array).cast(pa.string())).to_pylist()
        for line, value, cleared in zip(t.text.index, trimmed, t.cleared[column], strict=True):
            for rule, pattern in patterns:
                # RE2's \d is ASCII only; re.ASCII makes Python's the same.
                if value is not None and not cleared and re.match(pattern.pattern, value, re.ASCII):
                    expected.add((t.file, int(line), column, rule))
    assert found == expected


def test_a_problem_quotes_the_id_as_the_user_wrote_it(tmp_path):
    # Ids compare in lower case, but a problem names the user's cell: `ORD-000042`, not `ord-000042`.
    from gr4vy_nb.updates.checks import check_upload

    (tmp_path / "sessions.csv").write_text(f"checkout_session_id,metadata.x\nORD-000042,a\n{S0.upper()},b\n")
    upload = check_upload(read_upload(tmp_path / "sessions.csv"))
    problems = upload.problems
    assert problems["checkout_session_id"].tolist() == ["ORD-000042"] and problems["value"].tolist() == ["ORD-000042"]
    assert upload.session_ids() == [S0.lower()]  # the comparison itself stays in lower case
