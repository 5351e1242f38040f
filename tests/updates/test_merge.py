"""Update semantics (DESIGN.md "Update semantics"), rule by rule, against the sandbox over HTTP.

Each test writes a small upload (real CSV files), plans it against the seeded sandbox and
checks the bodies, the diff and the problems. The seed's first session (``S0``) has 3 cart
items (SKUs with leading zeros), metadata ``channel/order_ref/campaign``, an airline with 2
legs and 4 passengers, and a card payment method.
"""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.errors import InputError
from gr4vy_nb.sandbox.seeding import default_seed_path
from gr4vy_nb.tables.files import read_table, write_table
from gr4vy_nb.tables.frames import flatten_sessions
from gr4vy_nb.updates.compare import canonical, leaf_diff
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.upload import locate, read_upload

SEED = [json.loads(line) for line in Path(default_seed_path()).read_text().splitlines() if line.strip()]
S0 = SEED[0]["id"]
S1 = SEED[1]["id"]
NO_AIRLINE = next(s["id"] for s in SEED if not s.get("airline"))
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def client(sandbox):
    # The sandbox is shared by the whole session: start this module from the seed, whatever ran before.
    sandbox.clear_faults()
    sandbox.reset(reseed=True)
    with Gr4vyClient(Settings.for_sandbox(sandbox), workers=4) as c:
        yield c


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def plan_of(tmp_path, client, **files):
    for name, text in files.items():
        write(tmp_path, f"{name}.csv", text)
    return plan_updates(tmp_path, client=client)


def errors_of(plan):
    return plan.errors[["file", "line", "column", "rule"]].astype(object).values.tolist()


# ----------------------------------------------------------------------------- sessions.csv


def test_a_cell_sets_a_field_and_only_changed_top_level_fields_are_sent(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,metadata.tag\n{S0},q4-review\n")
    assert plan.ok and plan.summary["changed"] == 1
    item = plan.item(S0)
    assert set(item.body) == {"metadata", "expires_in"}
    assert item.body["metadata"] == {"channel": "ios", "order_ref": "ORD-000000", "campaign": "winter-sale",
                                     "tag": "q4-review"}
    assert item.body["expires_in"] == 3600
    assert plan.diff[["path", "before", "after"]].values.tolist() == [["metadata.tag", None, "q4-review"]]
    assert plan.diff.loc[0, ["file", "line", "column"]].tolist() == ["sessions.csv", 2, "metadata.tag"]


def test_empty_cell_is_unchanged_and_a_session_with_no_change_is_not_sent(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"""\
        checkout_session_id,metadata.channel,amount,currency
        {S0},,,
        {S1},{SEED[1]['metadata']['channel']},{SEED[1]['amount']},
    """)
    assert plan.ok
    assert [i.status for i in plan.items] == ["unchanged", "unchanged"]
    assert plan.changes == [] and plan.diff.empty


def test_na_marker_clears_a_metadata_key_and_a_scalar(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,metadata.campaign,amount\n{S0},#N/A,#N/A\n")
    body = plan.item(S0).body
    assert body["metadata"] == {"channel": "ios", "order_ref": "ORD-000000"}
    assert body["amount"] is None
    assert sorted(plan.diff.path) == ["amount", "metadata.campaign"]


def test_quoted_na_is_the_literal_text_not_a_clear(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,metadata.campaign,metadata.note\n{S0},'#N/A,NA\n")
    assert plan.item(S0).body["metadata"]["campaign"] == "#N/A"
    assert plan.item(S0).body["metadata"]["note"] == "NA"  # no NA detection: NA is data


@pytest.mark.parametrize("column", ["cart_items", "airline", "buyer", "metadata"])
def test_na_in_an_object_or_list_column_clears_it_whole(tmp_path, client, column):
    sid = S0 if column != "buyer" else S1
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,{column}\n{sid},#N/A\n")
    assert plan.ok, plan.problems
    item = plan.item(sid)
    assert item.body[column] is None and set(item.body) == {column, "expires_in"}
    assert f"clears {column.replace('_', ' ')}" in item.message


def test_clearing_legs_inside_airline_keeps_the_rest_of_airline(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,airline.legs\n{S0},#N/A\n")
    airline = plan.item(S0).body["airline"]
    assert "legs" not in airline and len(airline["passengers"]) == 4
    assert airline["booking_code"] == SEED[0]["airline"]["booking_code"]


def test_object_column_accepts_only_the_clear_marker(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,airline\n{S0},something\n")
    assert errors_of(plan) == [["sessions.csv", 2, "airline", "clear_only"]]


def test_read_only_columns_are_ignored_when_unchanged_and_rejected_when_changed(tmp_path, client):
    same = plan_of(tmp_path / "a", client, sessions=f"""\
        checkout_session_id,expires_at,payment_method.label,metadata.tag
        {S0},2099-10-05T05:01:00Z,4446,x
    """)
    assert same.ok and set(same.item(S0).body) == {"metadata", "expires_in"}
    changed = plan_of(tmp_path / "b", client, sessions=f"""\
        checkout_session_id,expires_at,payment_method.label,payment_method.scheme
        {S0},2099-10-06T05:01:00Z,9999,visa
    """)
    assert sorted(errors_of(changed)) == [["sessions.csv", 2, "expires_at", "read_only"],
                                          ["sessions.csv", 2, "payment_method.label", "read_only"],
                                          ["sessions.csv", 2, "payment_method.scheme", "read_only"]]
    label = changed.errors[changed.errors.column == "payment_method.label"].iloc[0]
    assert "9999" not in str(label["value"])  # card data masked in problems


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


def test_not_found_sessions_are_listed_not_sent(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,metadata.tag\n{MISSING},x\n{S0},x\n")
    assert [i.status for i in plan.items] == ["not_found", "change"]
    assert plan.summary["not_found"] == 1
    assert plan.item(MISSING).source["rows"] == [["sessions", 2]]


# ----------------------------------------------------------------------------- child tables


def test_child_rows_are_the_complete_new_list_and_keep_current_values(tmp_path, client):
    plan = plan_of(tmp_path, client, cart_items=f"""\
        checkout_session_id,item_index,tax_amount
        {S0},2,1900
        {S0},0,
    """)
    item = plan.item(S0)
    current = SEED[0]["cart_items"]
    assert [c["sku"] for c in item.body["cart_items"]] == ["021464", "022148"]  # index order, item 1 dropped
    assert item.body["cart_items"][0]["categories"] == current[0]["categories"]  # empty cell: current value
    assert item.body["cart_items"][1]["tax_amount"] == 1900
    assert item.message == "replaces 3 cart items with 2"
    assert set(item.body) == {"cart_items", "expires_in"}
    paths = dict(zip(plan.diff.path, zip(plan.diff.line, plan.diff.column, strict=True), strict=True))
    assert paths["cart_items[1].tax_amount"] == (2, "tax_amount")  # the row that set it


def test_rows_without_index_are_new_elements_after_the_indexed_ones(tmp_path, client):
    plan = plan_of(tmp_path, client, cart_items=f"""\
        checkout_session_id,item_index,name,quantity,unit_amount
        {S0},,Gift wrap,1,300
        {S0},0,,,
        {S0},1,,,
        {S0},2,,,
    """)
    items = plan.item(S0).body["cart_items"]
    assert [c["name"] for c in items] == ["Travel adapter", "Trail running shoes", "Trail running shoes", "Gift wrap"]
    assert items[3] == {"name": "Gift wrap", "quantity": 1, "unit_amount": 300}


def test_a_new_row_missing_a_required_field_is_located_by_file_line_column(tmp_path, client):
    plan = plan_of(tmp_path, client, cart_items=f"""\
        checkout_session_id,item_index,name,quantity,unit_amount
        {S0},0,,,
        {S0},,Gift wrap,1,
    """)
    assert errors_of(plan) == [["cart_items.csv", 3, "unit_amount", "api.missing"]]


def test_na_in_a_child_cell_clears_that_field_and_is_refused_for_required_ones(tmp_path, client):
    plan = plan_of(tmp_path / "a", client, cart_items=f"""\
        checkout_session_id,item_index,sku
        {S0},0,#N/A
        {S0},1,
        {S0},2,
    """)
    assert "sku" not in plan.item(S0).body["cart_items"][0]
    bad = plan_of(tmp_path / "b", client, cart_items=f"checkout_session_id,item_index,name\n{S0},0,#N/A\n")
    assert errors_of(bad) == [["cart_items.csv", 2, "name", "clear_not_allowed"]]


def test_passengers_are_merged_into_the_current_airline(tmp_path, client):
    passengers = SEED[0]["airline"]["passengers"]
    rows = "".join(f"{S0},{i},\n" for i in range(1, len(passengers)))
    plan = plan_of(tmp_path, client, passengers=f"checkout_session_id,passenger_index,last_name\n{S0},0,Nul\n{rows}")
    airline = plan.item(S0).body["airline"]
    assert airline["passengers"][0]["last_name"] == "Nul"
    assert airline["passengers"][0]["first_name"] == passengers[0]["first_name"]
    assert len(airline["legs"]) == 2 and airline["booking_code"] == SEED[0]["airline"]["booking_code"]
    diff = plan.diff
    assert diff.path.tolist() == ["airline.passengers[0].last_name"]
    assert bool(diff.personal.iloc[0])
    masked = plan.masked_diff()
    assert "Nul" not in str(masked.after.iloc[0]) and "Null" not in str(masked.before.iloc[0])


def test_legs_for_a_session_without_airline_create_one(tmp_path, client):
    plan = plan_of(tmp_path, client, legs=f"""\
        checkout_session_id,leg_index,carrier_code,flight_number,departure_at
        {NO_AIRLINE},0,BA,BA123,2099-01-01T10:00:00+01:00
    """)
    airline = plan.item(NO_AIRLINE).body["airline"]
    assert airline == {"legs": [{"carrier_code": "BA", "flight_number": "BA123",
                                 "departure_at": "2099-01-01T09:00:00Z"}]}


def test_clearing_airline_while_giving_legs_is_a_contradiction(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,airline\n{S0},#N/A\n",
                   legs=f"checkout_session_id,leg_index,flight_number\n{S0},0,IB1234\n{S0},1,\n")
    assert [r[3] for r in errors_of(plan)] == ["contradiction"]


def test_too_many_legs_and_duplicate_indexes(tmp_path, client):
    rows = "\n".join(f"{S0},{i},IB{1000 + i}" for i in range(21))
    plan = plan_of(tmp_path, client, legs=f"checkout_session_id,leg_index,flight_number\n{rows}\n{S0},3,XX999\n")
    rules = {r[3] for r in errors_of(plan)}
    assert rules == {"max_items", "duplicate_key"}


# ----------------------------------------------------------------------------- spreadsheet damage


def test_spreadsheet_damage_gives_warnings_with_coordinates(tmp_path, client):
    plan = plan_of(tmp_path, client, cart_items=f"""\
        checkout_session_id,item_index,sku,upc
        {S0},0,21464,8.16018E+11
        {S0},1,,1234567890123450000
        {S0},2,,
    """)
    assert plan.ok  # warnings do not block
    found = {(r.file, r.line, r.column, r.rule, r.severity) for r in plan.problems.itertuples()}
    assert found == {("cart_items.csv", 2, "sku", "leading_zeros", "warning"),
                     ("cart_items.csv", 2, "upc", "scientific_notation", "warning"),
                     ("cart_items.csv", 3, "upc", "precision_loss", "warning")}
    assert "021464" in plan.problems.set_index("rule").loc["leading_zeros", "message"]


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


# ----------------------------------------------------------------------------- plan-level


def test_expiry_reset_is_shown_and_expires_in_is_checked(tmp_path, client):
    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.tag\n{S0},x\n")
    plan = plan_updates(tmp_path, client=client, expires_in=7200)
    assert plan.item(S0).body["expires_in"] == 7200
    assert any("expire 2 h after its update" in n for n in plan.notes)
    with pytest.raises(InputError, match="expires_in"):
        plan_updates(tmp_path, client=client, expires_in=60)


def test_uploads_as_bytes_dataframes_and_paths(tmp_path, client):
    text = f"checkout_session_id,metadata.tag\n{S0},x\n"
    as_bytes = plan_updates({"sessions.csv": text.encode()}, client=client)
    as_frame = plan_updates({"sessions": pd.DataFrame({"checkout_session_id": [S0], "metadata.tag": ["x"]})},
                            client=client)
    as_path = plan_updates([write(tmp_path, "my edits.csv", text)], client=client)
    assert as_bytes.item(S0).body == as_frame.item(S0).body == as_path.item(S0).body
    assert as_path.inputs[0]["sha256"] and as_bytes.inputs == []


def test_table_is_told_by_name_then_index_column_then_columns(tmp_path):
    write(tmp_path, "x_cart_items.csv", f"checkout_session_id,name\n{S0},a\n")
    write(tmp_path, "legs_fix.csv", f"checkout_session_id,leg_index\n{S0},0\n")
    write(tmp_path, "people.csv", f"checkout_session_id,first_name,age_group\n{S0},a,adult\n")
    upload = read_upload([tmp_path / "x_cart_items.csv", tmp_path / "legs_fix.csv", tmp_path / "people.csv"])
    assert sorted(upload.tables) == ["cart_items", "legs", "passengers"]


# ----------------------------------------------------------------------------- the no-op property


@pytest.fixture(scope="module")
def exported(sandbox, client, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    got = client.get_checkout_sessions([s["id"] for s in SEED])
    flatten_sessions(list(got.values())).to_csv(out)
    return out


def test_unedited_export_of_every_sample_session_is_a_plan_with_zero_changes(exported, client):
    plan = plan_updates(exported, client=client)
    assert plan.ok, plan.problems
    assert plan.summary["changed"] == 0 and plan.summary["unchanged"] == len(SEED)
    assert plan.diff.empty and plan.problems.empty


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_unedited_export_of_any_subset_and_columns_is_a_no_op(exported, client, data):
    """Any subset of the files, rows and columns of an unedited export plans to zero changes."""
    files = {}
    for name in ("sessions", "cart_items", "legs", "passengers"):
        if not data.draw(st.booleans(), label=f"include {name}"):
            continue
        df = read_table(exported / f"{name}.csv").frame.reset_index(drop=True)
        ids = df["checkout_session_id"].unique().tolist()
        keep = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=8, unique=True), label="ids")
        df = df[df.checkout_session_id.isin(keep)]
        others = [c for c in df.columns if c != "checkout_session_id"]
        cols = data.draw(st.lists(st.sampled_from(others), max_size=len(others), unique=True), label="columns")
        if name != "sessions" and df.columns[1] not in cols:
            cols.insert(0, df.columns[1])  # keep the index column: without it the rows are new elements
        files[name] = df[["checkout_session_id", *cols]]
    if not files:
        return
    # Through real CSV bytes, as an upload would arrive (write_table neutralises formulas).
    uploads = {}
    for name, df in files.items():
        buf = io.BytesIO()
        write_table(df, buf)
        uploads[f"{name}.csv"] = buf.getvalue()
    plan = plan_updates(uploads, client=client)
    assert plan.ok, plan.errors
    assert plan.summary["changed"] == 0, plan.diff


# ----------------------------------------------------------------------------- helpers


def test_canonical_treats_null_missing_empty_and_defaults_alike():
    assert canonical("metadata", {}) is None and canonical("cart_items", []) is None
    a = canonical("cart_items", [{"name": "a", "quantity": 1, "unit_amount": 5}])
    b = canonical("cart_items", [{"name": "a", "quantity": 1, "unit_amount": 5, "discount_amount": 0, "sku": None}])
    assert a == b
    legs1 = canonical("airline", {"legs": [{"departure_at": "2013-07-16T19:23:00.000+00:00"}]})
    legs2 = canonical("airline", {"legs": [{"departure_at": "2013-07-16T21:23:00+02:00"}], "unknown": 1})
    assert legs1 == legs2


def test_leaf_diff_paths():
    before = {"a": 1, "items": [{"x": 1}, {"x": 2}], "cats": ["p", "q"]}
    after = {"a": 1, "items": [{"x": 1}], "cats": ["p"]}
    assert leaf_diff(before, after, "f") == [("f.items[1].x", 2, None), ("f.cats", ["p", "q"], ["p"])]


@pytest.mark.parametrize("pointer,expected", [
    ("/cart_items/1/quantity", ("cart_items.csv", 7, "quantity")),
    ("/cart_items/1/categories/0", ("cart_items.csv", 7, "categories")),
    ("/cart_items", ("cart_items.csv", 5, "item_index")),
    ("/airline/legs/0/flight_number", ("sessions.csv", 2, "airline.legs.flight_number")),
    ("/metadata/tag", ("sessions.csv", 2, "metadata.tag")),
    ("/buyer/billing_details/address/city", ("sessions.csv", 2, "buyer.billing_details.address.city")),
    ("/body/amount", ("sessions.csv", 2, "amount")),
])
def test_locate_maps_pointers_to_rows(pointer, expected):
    where = {"sessions": ["sessions.csv", 2], "cart_items": [["cart_items.csv", 5], ["cart_items.csv", 7]]}
    assert locate(pointer, where) == expected
    assert locate("/amount", {}) == (None, None, "amount")


# ----------------------------------------------------------------------------- a newer API


def test_fields_unknown_to_this_version_are_kept_out_of_bodies_and_reported(tmp_path, client, sandbox_clean):
    sandbox_clean.configure(unknown_fields=True)  # every response carries fields this version does not know
    got = client.get_checkout_sessions([S0, S1])
    flatten_sessions(list(got.values())).to_csv(tmp_path / "export")
    assert plan_updates(tmp_path / "export", client=client).summary["changed"] == 0  # still a no-op
    plan = plan_of(tmp_path / "edit", client, sessions=f"checkout_session_id,airline.booking_code\n{S0},NEW123\n")
    assert plan.ok
    airline = plan.item(S0).body["airline"]
    assert airline["booking_code"] == "NEW123" and "sandbox_future_field" not in airline
    assert all("sandbox_future_field" not in leg for leg in airline["legs"])
    warning = plan.warnings.set_index("rule").loc["unknown_fields_dropped"]
    assert "sandbox_future_field" in warning["message"] and warning["file"] == "sessions.csv"


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


def test_a_child_table_without_its_session_column_is_reported_not_a_crash(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"""\
        checkout_session_id,metadata.tag
        {S0},x
    """, legs="""\
        leg_index,flight_number
        0,BA1
    """)
    assert ["legs.csv", 1, "checkout_session_id", "required"] in errors_of(plan)
