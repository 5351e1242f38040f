"""A masked value is never data: masked frames are refused whole, a mask token in any cell is an error.

The scenario of the lost-update issue: the masked sessions table of 30 fetched sessions (buyer
names and emails masked), plus one real edit (a metadata tag), handed back as frames or as a
CSV. Before the fix the plan had no problem and the run wrote the mask tokens into 30 live
sessions; now nothing is sent.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.errors import InputError
from gr4vy_nb.export import fetch_sessions
from gr4vy_nb.problems import Rule
from gr4vy_nb.tables.masking import mask_value, masked_columns
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.runs import apply_plan
from tests.updates.helpers import FAST, IDS, S0, write


@pytest.fixture
def writer(sandbox_clean):
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean, retry=FAST), workers=4) as c:
        yield c


@pytest.fixture
def masked30(writer):
    frames = fetch_sessions(writer, IDS[:30]).frames
    masked = frames.masked()
    masked.sessions["metadata.review"] = pd.array(["q4"] * len(masked.sessions), dtype="string[pyarrow]")
    return frames, masked


def _writes(sandbox) -> int:
    return sum(sandbox.stats()["writes"].values())


def test_masked_frames_know_it_and_are_refused_whole(masked30, writer, sandbox_clean):
    frames, masked = masked30
    assert frames.masked_columns == {} and "buyer.billing_details.first_name" in masked.masked_columns["sessions"]
    for source in (masked, {"sessions": masked.sessions.copy()}, masked.sessions):
        with pytest.raises(InputError) as caught:
            plan_updates(source, client=writer)
        problems = caught.value.problems
        assert set(problems["rule"]) == {Rule.MASKED_VALUE}
        assert "buyer.billing_details.email_address" in problems["message"].iloc[0]
    assert _writes(sandbox_clean) == 0


def test_the_masked_table_saved_as_csv_gets_an_error_per_masked_cell_and_writes_nothing(masked30, writer,
                                                                                       sandbox_clean, tmp_path):
    _, masked = masked30
    masked.sessions.to_csv(tmp_path / "sessions.csv", index=False)  # what a user does with a shown table
    plan = plan_updates(tmp_path, client=writer)
    masked_errors = plan.errors[plan.errors["rule"] == Rule.MASKED_VALUE]
    cells = masked.sessions[masked_columns(masked.sessions)]
    assert len(masked_errors) == int(cells.notna().to_numpy().sum()) > 30
    assert "masked display" in masked_errors["message"].iloc[0]
    assert not plan.ok
    with pytest.raises(InputError):
        apply_plan(plan, client=writer, runs_dir=tmp_path / "runs")
    assert _writes(sandbox_clean) == 0


def test_one_mask_token_typed_into_any_column_is_refused_but_text_like_it_is_data(writer, tmp_path):
    token = mask_value("buyer.billing_details.first_name", "Hannah")
    write(tmp_path, "sessions.csv", f"""\
        checkout_session_id,metadata.note,buyer.billing_details.last_name
        {S0},{token},
        {IDS[1]},J*** #abcdef,
        {IDS[2]},#abcdef,Stars** and #colour
        """)
    plan = plan_updates(tmp_path, client=writer)
    errors = plan.errors[["line", "column", "rule"]].values.tolist()
    assert errors == [[2, "metadata.note", Rule.MASKED_VALUE], [3, "metadata.note", Rule.MASKED_VALUE]]
    # '#abcdef' (a colour) is data outside the fingerprint columns, and so is text with stars.
    assert plan.item(IDS[2]).desired["metadata"]["note"] == "#abcdef"
    assert plan.item(IDS[2]).desired["buyer"]["billing_details"]["last_name"] == "Stars** and #colour"


def test_mask_tags_are_the_same_in_another_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GR4VY_NB_MASK_KEY"}
    env["GR4VY_NB_CONFIG_DIR"] = str(tmp_path)
    code = ("from gr4vy_nb.tables.masking import mask_value; "
            "print(mask_value('buyer.billing_details.first_name', 'Ann'))")
    first, second = (subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    check=True).stdout for _ in range(2))
    assert first == second and first.startswith("A*** #")
    assert oct((tmp_path / "mask-key").stat().st_mode & 0o777) == "0o600"
    env["GR4VY_NB_CONFIG_DIR"] = str(tmp_path / "other")
    third = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert third != first  # another user's folder: other tags
