"""The report's integer-code summaries against plain pandas (groupby, nunique) on awkward data."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from gr4vy_nb.report import carts
from gr4vy_nb.report.common import ID, MISSING, empty_mask, session_codes, shared_masks


def _lines(rng: np.random.Generator, n: int) -> pd.DataFrame:
    ids = pd.Series([f"s{i}" for i in rng.integers(0, n // 3 + 1, n)], dtype="str")
    quantity = pd.array(rng.integers(1, 5, n), dtype="Int64")
    quantity[rng.random(n) < 0.1] = pd.NA
    value = pd.array(rng.integers(-100, 10**15, n), dtype="Int64")  # large: float64 sums would round
    value[rng.random(n) < 0.1] = pd.NA
    currency = pd.Series(rng.choice(["GBP", "EUR", "usd", MISSING], n), dtype="str")
    return pd.DataFrame({ID: ids, "currency": currency, "quantity": quantity, "value": value},
                        index=pd.RangeIndex(10, 10 + n))  # an index that is not positions


def _reference(lines: pd.DataFrame, key: pd.Series, label: str) -> pd.DataFrame:
    """The summary as plain pandas computes it (what ``_by`` did before it ran on integer codes)."""
    df = lines.loc[key.index].assign(**{label: key.array})
    g = df.groupby(label, sort=False)
    out = pd.DataFrame({"items": g.size().astype("int64"), "units": g["quantity"].sum().astype("Int64")})
    out["sessions"] = g[ID].nunique().astype("int64")
    value = df.groupby([label, "currency"], sort=False)["value"].sum().unstack("currency")
    for cur in sorted(value.columns):
        out[f"value_{cur}"] = value[cur].reindex(out.index).astype("Int64")
    out.index = out.index.astype("str")
    out.index.name = label
    return out.reset_index().sort_values(["items", label], ascending=[False, True], kind="stable").set_index(label)


@pytest.mark.parametrize("seed", range(5))
def test_by_equals_pandas_groupby(seed):
    rng = np.random.default_rng(seed)
    lines = _lines(rng, 3000)
    # A key per line, some lines twice (categories explode), some labels missing (left out).
    picked = np.sort(rng.choice(lines.index.to_numpy(), 4000))
    labels = pd.Series(rng.choice(["a", "b", "c", "rare"], len(picked), p=[0.4, 0.3, 0.29, 0.01]),
                       index=picked, dtype="str")
    labels[rng.random(len(picked)) < 0.05] = pd.NA
    got = carts._by(lines, labels, "label")
    pd.testing.assert_frame_equal(got, _reference(lines, labels.dropna(), "label"))


def test_a_label_seen_with_one_currency_has_na_in_the_others():
    lines = pd.DataFrame({ID: ["s1", "s2", "s2"], "currency": ["GBP", "EUR", "EUR"],
                          "quantity": pd.array([1, None, 2], dtype="Int64"),
                          "value": pd.array([None, 5, 7], dtype="Int64")})
    key = pd.Series(["x", "y", "y"], dtype="str")
    got = carts._by(lines, key, "k")
    assert got.loc["x", "value_GBP"] == 0  # seen, every value missing: 0, as groupby sums
    assert got.loc["x", "value_EUR"] is pd.NA  # never seen with EUR
    assert got.loc["y", "value_EUR"] == 12
    assert got.loc["y", "units"] == 2
    assert got["sessions"].tolist() == [1, 1]
    pd.testing.assert_frame_equal(got, _reference(lines, key, "k"))


@pytest.mark.parametrize("labels_n,sessions_n", [(3, 50), (5000, 5000)])  # the scatter, then the sort
def test_distinct_sessions_both_ways(labels_n, sessions_n):
    rng = np.random.default_rng(7)
    labels = rng.integers(0, labels_n, 20_000)
    ids = rng.integers(-1, sessions_n, 20_000)  # -1: a row with no session
    got = carts._distinct_sessions(labels, labels_n, ids)
    frame = pd.DataFrame({"l": labels, "s": ids})
    want = frame[frame["s"] >= 0].groupby("l")["s"].nunique().reindex(range(labels_n), fill_value=0)
    assert got.tolist() == want.tolist()


def test_shared_masks_answers_as_without_and_never_mixes_up_columns():
    a = pd.Series(["x", " ", None, ""], dtype="str")
    b = pd.Series([[], ["p"], None, ["q"]], dtype=pd.ArrowDtype(pa.list_(pa.string())))
    plain = [empty_mask(a).tolist(), empty_mask(b).tolist()]
    with shared_masks():
        assert [empty_mask(a).tolist(), empty_mask(b).tolist()] == plain
        assert empty_mask(a).tolist() == plain[0]  # the remembered answer
        # Columns made and dropped inside the block: a new one may get a freed one's id; the memo holds
        # what it answered for, so an id is never reused while remembered.
        for i in range(50):
            tmp = pd.Series(["z"] * (i % 3) + [" "], dtype="str")
            assert empty_mask(tmp).tolist() == [False] * (i % 3) + [True]
            del tmp
            gc.collect()
        codes = session_codes(pd.Series(["s2", "s1", "s2"], dtype="str"))
        assert codes.tolist() == [0, 1, 0]
    assert empty_mask(a).tolist() == plain[0]
