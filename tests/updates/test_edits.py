"""The edits an upload makes: read-only cells ignored or refused, and an unedited export is no edit at all."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gr4vy_nb.tables.files import read_table, write_table
from gr4vy_nb.tables.frames import flatten_sessions
from gr4vy_nb.updates.plan import plan_updates
from tests.updates.helpers import S0, SEED, errors_of, plan_of


def test_read_only_columns_are_ignored_when_unchanged_and_rejected_when_changed(tmp_path, client):
    expires = client.get_checkout_session(S0)["expires_at"]  # the sandbox gives sample sessions real lifetimes
    same = plan_of(tmp_path / "a", client, sessions=f"""\
        checkout_session_id,expires_at,payment_method.label,metadata.tag
        {S0},{expires},4446,x
    """)
    assert same.ok and set(same.item(S0).body) == {"metadata", "expires_in"}
    changed = plan_of(tmp_path / "b", client, sessions=f"""\
        checkout_session_id,expires_at,payment_method.label,payment_method.scheme
        {S0},2099-10-06T05:01:00Z,9999,visa
    """)
    assert sorted(errors_of(changed)) == [["sessions.csv", 2, "payment_method.label", "read_only"],
                                          ["sessions.csv", 2, "payment_method.scheme", "read_only"]]
    assert not changed.errors.message.str.contains("delete the column").any()
    # expires_at is no guard (every update resets it; row versions are): a different one is ignored, said once.
    expiry = changed.warnings[changed.warnings.column == "expires_at"]
    assert expiry.rule.tolist() == ["read_only"] and "1 cell(s) differ from the current expiry and are ignored" in \
        expiry.message.iloc[0]
    label = changed.errors[changed.errors.column == "payment_method.label"].iloc[0]
    assert "9999" not in str(label["value"])  # card data masked in problems


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


# ----------------------------------------------------------------------------- list modes


def _edits(tmp_path, client, lists, text):
    from gr4vy_nb.problems import Problems
    from gr4vy_nb.updates.checks import check_upload
    from gr4vy_nb.updates.edits import Current, find_edits
    from gr4vy_nb.updates.upload import read_upload
    from tests.updates.helpers import write

    write(tmp_path, "passengers.csv", text)
    upload = check_upload(read_upload(tmp_path))
    edits, _rows = find_edits(upload, Current({S0: client.get_checkout_session(S0)}), Problems(), lists)
    return edits


def test_patch_mode_applies_indexed_rows_as_cells_and_rebuilds_only_to_append(tmp_path, client):
    one = f"checkout_session_id,passenger_index,first_name\n{S0},1,Hanna\n"
    assert _edits(tmp_path / "r", client, "replace", one)[S0].lists == {"passengers"}  # the complete list: rebuilt
    patched = _edits(tmp_path / "p", client, "patch", one)[S0]
    assert patched.lists == set() and [c[2:] for c in patched.cells] == [("first_name", False, "Hana", "Hanna")]
    unchanged = f"checkout_session_id,passenger_index,first_name\n{S0},1,\n"
    assert S0 not in _edits(tmp_path / "u", client, "patch", unchanged)  # nothing to do
    appended = f"checkout_session_id,passenger_index,first_name\n{S0},1,\n{S0},,Nova\n"
    assert _edits(tmp_path / "a", client, "patch", appended)[S0].lists == {"passengers"}
