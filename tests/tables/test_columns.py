"""Columns: every table has the spec's columns and dtypes, when empty and when conformed from hand-built frames."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from gr4vy_nb.tables import spec as F
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from gr4vy_nb.tables.unflatten import unflatten_sessions
from tests.tables.helpers import SID, make_session


def test_columns_and_dtypes_are_fixed_even_when_empty():
    for frames in (flatten_sessions([]), SessionFrames(), flatten_sessions([make_session()])):
        for table, df in frames.tables().items():
            assert list(df.columns) == F.columns(table)
            assert [str(d) for d in df.dtypes] == [str(f.dtype) for f in F.table_fields(table)]


def test_hand_built_frames_are_conformed():
    sessions_df = pd.DataFrame({"checkout_session_id": [SID], "expires_at": ["2030-01-01T00:00:00Z"],
                                "amount": [1299], "metadata.tag": ["q4"]})
    passengers = pd.DataFrame({"checkout_session_id": [SID], "passenger_index": [0],
                               "date_of_birth": ["1985-03-04"], "first_name": ["Ana"]})
    frames = SessionFrames(sessions_df, passengers=passengers)
    assert frames.sessions["expires_at"].dtype == F.field_for("sessions", "expires_at").dtype
    assert frames.passengers["date_of_birth"].tolist() == [dt.date(1985, 3, 4)]
    assert list(frames.sessions.columns) == F.columns("sessions", ["tag"])
    assert unflatten_sessions(frames) == [{
        "id": SID, "expires_at": "2030-01-01T00:00:00Z", "amount": 1299, "metadata": {"tag": "q4"},
        "type": "checkout-session", "airline": {"passengers": [{"date_of_birth": "1985-03-04", "first_name": "Ana"}]}}]
    with pytest.raises(ValueError, match="unknown columns"):
        SessionFrames(pd.DataFrame({"checkout_session_id": [SID], "colour": ["red"]}))
