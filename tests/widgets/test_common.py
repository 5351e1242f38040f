"""gr4vy_nb.widgets._common: the busy guard (errors shown, bugs re-raised, buttons re-enabled) and tables as text."""

from __future__ import annotations

import pandas as pd
import pytest

from gr4vy_nb.widgets._common import Messages, busy, display_frame


def test_busy_shows_toolkit_errors_and_reenables_buttons() -> None:
    import ipywidgets as w

    from gr4vy_nb.errors import InputError

    button, messages = w.Button(), Messages()
    with busy([button], messages):
        assert button.disabled
        raise InputError("bad file")
    assert not button.disabled
    assert messages.errors == ["bad file"]


def test_busy_shows_and_reraises_bugs() -> None:
    import ipywidgets as w

    button, messages = w.Button(), Messages()
    with pytest.raises(ZeroDivisionError), busy([button], messages):
        _ = 1 / 0
    assert not button.disabled
    assert "ZeroDivisionError" in messages.text
    assert "traceback" in messages.widget.value


def test_display_frame_renders_every_dtype_as_text() -> None:
    df = pd.DataFrame({
        "n": pd.array([1, None], dtype="Int64"),
        "s": pd.array(["x", None], dtype="string"),
        "t": pd.to_datetime(["2024-01-02T03:04:05Z", None], utc=True),
        "b": pd.array([True, None], dtype="boolean"),
        "l": [["a", "b"], None],
    })
    out = display_frame(df)
    assert out.to_dict("list") == {"n": ["1", ""], "s": ["x", ""], "t": ["2024-01-02T03:04:05Z", ""],
                                   "b": ["True", ""], "l": ["['a', 'b']", ""]}


def test_tables_keep_the_rows_of_a_filtered_frame_and_show_empty_ones_as_a_sentence() -> None:
    import pandas as pd

    from gr4vy_nb.widgets._common import Table, display_frame, plain

    df = pd.DataFrame({"id": ["a", "b", "c"], "n": [1, None, 3]}, index=[10, 20, 30])
    picked = df[df["id"] != "a"]
    shown = display_frame(picked)
    assert shown["id"].tolist() == ["b", "c"] and shown["n"].tolist() == ["", "3"]
    table = Table(empty="No rows here.")
    table.show(picked.iloc[0:0], note="0 row(s)")
    assert plain(table.note.value) == "0 row(s) · No rows here." and table.itable.layout.display == "none"
    table.show(picked)
    assert table.itable.layout.display is None
