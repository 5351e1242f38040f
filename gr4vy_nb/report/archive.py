"""Summaries of an archive folder (``gr4vy-nb flatten``'s Parquet datasets) computed out of core by DuckDB.

::

    >>> a = ArchiveSummaries("flat/")            # views over flat/sessions/*.parquet ... nothing is loaded
    >>> a.currencies()                           # the same DataFrame as report.currencies(frames)
    >>> build_report("flat/", path="report.html")

Each method has the name of the in-memory summary it reproduces (:mod:`.sessions`, :mod:`.carts`,
:mod:`.airline`, :mod:`.quality`) and returns the same DataFrame (columns, index, dtypes, order,
values) for the same sessions: a test compares every one. DuckDB runs each as SQL over the Parquet
files under a memory limit, spilling to disk when it must, so the size of the archive does not
matter; only the small answers come back to pandas. Empty means what
:func:`~gr4vy_nb.report.common.empty_mask` means: missing, blank text, an empty list.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..tables import spec as F
from .common import ID, MISSING
from .sessions import EXPIRY_WINDOWS, _now

__all__ = ["ArchiveSummaries", "is_archive"]

_SPACE = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*"


def is_archive(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder written by ``gr4vy-nb flatten`` or ``SessionFrames.to_parquet``."""
    root = Path(path)
    return root.is_dir() and all(any((root / t).glob("*.parquet")) for t in F.TABLES)


def _ints(values: pd.Series) -> Any:
    """Integers DuckDB handed over as floats with NaN for NULL (or as objects), as a nullable Int64 array."""
    return pd.array([None if pd.isna(v) else int(v) for v in values], dtype="Int64")


def _mean(total: Any, count: pd.Series) -> Any:
    """pandas' groupby mean (sum / count, NA for no values), rounded as the in-memory report rounds it."""
    n = pd.array([None if c == 0 else float(c) for c in count], dtype="Float64")
    return (pd.Series(total, dtype="Float64") / pd.Series(n)).round(1).array


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class ArchiveSummaries:
    """The report's summaries over an archive folder, as DuckDB SQL (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike[str], *, memory_limit: str = "1GB", threads: int | None = None,
                 con: Any = None) -> None:
        import duckdb

        self.root = Path(directory)
        if not is_archive(self.root):
            raise FileNotFoundError(f"{self.root}: not an archive folder (sessions/, cart_items/, legs/, "
                                    "passengers/ of Parquet files)")
        self.con = con or duckdb.connect()
        self._spill = tempfile.mkdtemp(prefix="gr4vy-nb-duckdb-")  # joins and aggregates spill here, not to CWD
        self.con.execute(f"SET temp_directory={_lit(self._spill)}")
        self.con.execute(f"SET memory_limit={_lit(memory_limit)}")
        self.con.execute("SET preserve_insertion_order=false")
        if threads:
            self.con.execute(f"SET threads={int(threads)}")
        self.columns: dict[str, list[str]] = {}
        for table in F.TABLES:
            files = _lit(str(self.root / table / "*.parquet"))
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM read_parquet({files})")
            self.columns[table] = [r[0] for r in self.con.execute(f"DESCRIBE {table}").fetchall()]

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self._spill, ignore_errors=True)

    def __enter__(self) -> ArchiveSummaries:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ----------------------------------------------------------------- helpers

    def _df(self, sql: str, params: Iterable[Any] = ()) -> pd.DataFrame:
        """The answer of ``sql`` as pandas, integers exact (sums come as 128-bit decimals; NULL stays None)."""
        arrow = self._arrow(sql, params)
        for i, fld in enumerate(arrow.schema):
            if pa.types.is_decimal(fld.type) and fld.type.scale == 0:
                arrow = arrow.set_column(i, fld.name, arrow.column(i).cast(pa.int64()))
        return arrow.to_pandas(integer_object_nulls=True)

    def _arrow(self, sql: str, params: Iterable[Any] = ()) -> pa.Table:
        relation = self.con.sql(sql, params=list(params) or None)
        fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # DuckDB 2 renamed it
        return fetch()

    def _one(self, sql: str) -> tuple[Any, ...]:
        rows = self.con.execute(sql).fetchall()  # fetched to the end: DuckDB 2 refuses work on an open result
        return tuple(rows[0])

    def count(self, table: str) -> int:
        return int(self._one(f"SELECT count(*) FROM {table}")[0])

    def _filled(self, table: str, column: str) -> str:
        """SQL: the cell holds a value (not missing, not blank text, not an empty list)."""
        if column not in self.columns[table]:
            return "FALSE"
        f = F.field_for(table, column)
        c = _q(column)
        if f is not None and f.kind == "list":
            return f"({c} IS NOT NULL AND len({c}) > 0)"
        if f is None or f.kind in ("str", "enum", "json"):
            # A visible ASCII first character settles it without the regular expression (nearly every cell).
            return (f"({c} IS NOT NULL AND (coalesce(ascii({c}) BETWEEN 33 AND 126, FALSE) OR "
                    f"NOT regexp_full_match({c}, {_lit(_SPACE)})))")
        return f"({c} IS NOT NULL)"

    def _label(self, table: str, column: str) -> str:
        if column not in self.columns[table]:
            return _lit(MISSING)
        return f"CASE WHEN {self._filled(table, column)} THEN CAST({_q(column)} AS VARCHAR) ELSE {_lit(MISSING)} END"

    def _any_filled(self, prefix: str) -> str:
        cols = [c for c in self.columns["sessions"] if c.startswith(prefix)]
        return "(" + " OR ".join(self._filled("sessions", c) for c in cols) + ")" if cols else "FALSE"

    def _present(self, container: str) -> str:
        """SQL over ``sessions``: :func:`~gr4vy_nb.tables.unflatten.presence` of one container."""
        prefix = container + "."
        parts = [f"{_q(c)} IS NOT NULL" for c in self.columns["sessions"] if c.startswith(prefix)]
        path = tuple(container.split("."))
        for table, child in F.CHILD_TABLES.items():
            if child.path[: len(path)] == path:
                parts.append(f"{ID} IN (SELECT {ID} FROM {table})")
        pointer = "$." + ".".join(f'"{p}"' for p in path)
        parts.append(f"(extra IS NOT NULL AND json_exists(extra, {_lit(pointer)}))")
        return "(" + " OR ".join(parts) + ")"

    def _count_table(self, table: str, value: str, *, label: str, count: str, where: str = "TRUE") -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.common.count_table` of the SQL label ``value`` over ``table`` rows ``where``."""
        df = self._df(f"SELECT {value} AS k, count(*) AS n FROM {table} WHERE {where} GROUP BY k")
        total = int(df["n"].sum())
        out = pd.DataFrame({label: df["k"].astype("str").to_numpy(), count: df["n"].to_numpy(dtype="int64")})
        out = out.sort_values([count, label], ascending=[False, True], kind="stable")
        out["share"] = out[count] / max(total, 1)
        out = out.set_index(label)
        out.index = out.index.astype("str")
        return out

    # ----------------------------------------------------------------- sessions

    def sessions_overview(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.sessions_overview`."""
        # One container a query: each holds one set of child-table ids at a time (4M ids fit in the limit;
        # five at once did not).
        has = {c: int(self._one(f"SELECT count(*) FROM sessions WHERE {self._present(c)}")[0])
               for c in ("cart_items", "airline", "buyer", "payment_method", "metadata")}
        n, amount = (int(v) for v in self._one(
            f"SELECT count(*), count(*) FILTER (WHERE {self._filled('sessions', 'amount')}) FROM sessions"))
        rows = {"sessions": n, "with cart items": has["cart_items"], "without cart items": n - has["cart_items"],
                "with airline addendum": has["airline"], "with buyer": has["buyer"],
                "with payment method": has["payment_method"], "with amount": amount,
                "with metadata": has["metadata"]}
        out = pd.DataFrame({"sessions": pd.Series(rows, dtype="int64")})
        out["share"] = out["sessions"] / max(n, 1)
        out.index.name = "metric"
        return out

    def expiry_timeline(self, now: datetime | pd.Timestamp | None = None) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.expiry_timeline`."""
        t = _now(now)
        at = f"TIMESTAMPTZ {_lit(t.isoformat())}"
        windows = ", ".join(f"count(*) FILTER (WHERE expires_at > {at} AND expires_at <= {at} + INTERVAL "
                            f"{int(w.total_seconds())} SECOND)" for _label, w in EXPIRY_WINDOWS)
        last = int(EXPIRY_WINDOWS[-1][1].total_seconds())
        row = self._one(f"SELECT count(*) FILTER (WHERE expires_at <= {at}), {windows}, "
                        f"count(*) FILTER (WHERE expires_at > {at} + INTERVAL {last} SECOND), "
                        f"count(*) FILTER (WHERE expires_at IS NULL), count(*) FROM sessions")
        labels = ["already expired", *(label for label, _w in EXPIRY_WINDOWS), "after 24 h", "unknown"]
        out = pd.DataFrame({"sessions": pd.Series(dict(zip(labels, (int(v) for v in row[:-1]), strict=True)),
                                                  dtype="int64")})
        out["share"] = out["sessions"] / max(int(row[-1]), 1)
        out.index.name = "expiry"
        return out

    def expires_at(self, limit: int | None = None) -> pd.Series:
        """The known ``expires_at`` values (what :func:`~gr4vy_nb.report.plot_expiry` draws), at most ``limit``
        of them: a uniform sample (reservoir, fixed seed) when there are more."""
        sample = f" USING SAMPLE reservoir({int(limit)} ROWS) REPEATABLE (1)" if limit else ""
        arrow = self._arrow(f"SELECT expires_at FROM sessions WHERE expires_at IS NOT NULL{sample}")
        return pd.Series(arrow.column(0).to_pandas(), name="expires_at")

    def sample(self, n: int) -> Any:
        """The first ``n`` sessions of the archive (in file order) as :class:`SessionFrames`."""
        import pyarrow.dataset as ds

        from ..tables.frames import SessionFrames

        ids = ds.dataset(self.root / "sessions", format="parquet").head(n, columns=[ID]).column(0).to_pylist()
        return SessionFrames.read_parquet(self.root, ids=ids)

    def currencies(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.currencies`."""
        df = self._df(f"SELECT {self._label('sessions', 'currency')} AS currency, count(*) AS sessions, "
                      "count(amount) AS with_amount, sum(amount) AS total, min(amount) AS lo, max(amount) AS hi "
                      "FROM sessions GROUP BY 1 ORDER BY 1")
        total = _ints(df["total"])
        out = pd.DataFrame({
            "sessions": df["sessions"].to_numpy(dtype="int64"),
            "with_amount": df["with_amount"].to_numpy(dtype="int64"),
            "total_amount": total,
            "mean_amount": _mean(total, df["with_amount"]),
            "min_amount": _ints(df["lo"]),
            "max_amount": _ints(df["hi"]),
        }, index=pd.Index(df["currency"].astype("str"), name="currency"))
        return out.sort_values(["sessions"], ascending=False, kind="stable")

    def metadata_keys(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.metadata_keys`."""
        cols = [c for c in self.columns["sessions"] if c.startswith(F.METADATA_PREFIX)]
        rows = []
        if cols:
            parts = []
            for c in cols:
                filled = self._filled("sessions", c)
                parts += [f"count(*) FILTER (WHERE {filled})", f"count(DISTINCT {_q(c)}) FILTER (WHERE {filled})"]
            row = self._one(f"SELECT {', '.join(parts)} FROM sessions")
            rows = [(c.removeprefix(F.METADATA_PREFIX), int(row[2 * i]), int(row[2 * i + 1]))
                    for i, c in enumerate(cols)]
        out = pd.DataFrame(rows, columns=["key", "sessions", "distinct_values"]).astype(
            {"key": "str", "sessions": "int64", "distinct_values": "int64"})
        out["share"] = out["sessions"] / max(self.count("sessions"), 1)
        out = out.sort_values(["sessions", "key"], ascending=[False, True], kind="stable")
        return out.set_index("key")

    def _payment(self, column: str, label: str) -> pd.DataFrame:
        return self._count_table("sessions", self._label("sessions", column), label=label, count="sessions",
                                 where=self._any_filled("payment_method."))

    def card_schemes(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.card_schemes`."""
        return self._payment("payment_method.scheme", "scheme")

    def card_types(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.card_types`."""
        return self._payment("payment_method.details.card_type", "card_type")

    def card_countries(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.card_countries`."""
        return self._payment("payment_method.details.card_country", "card_country")

    def card_issuers(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.card_issuers`."""
        return self._payment("payment_method.details.card_issuer_name", "card_issuer_name")

    # ----------------------------------------------------------------- carts

    def _lines(self) -> str:
        """SQL of :func:`~gr4vy_nb.report.cart_lines` (one row per cart item, its session's currency)."""
        currency = self._label("sessions", "currency")
        return (f"(SELECT i.{ID}, i.item_index, coalesce(c.currency, {_lit(MISSING)}) AS currency, i.quantity, "
                "i.quantity * i.unit_amount AS gross, coalesce(i.discount_amount, 0) AS discount, "
                "coalesce(i.tax_amount, 0) AS tax, "
                "i.quantity * i.unit_amount - coalesce(i.discount_amount, 0) + coalesce(i.tax_amount, 0) AS value, "
                "i.product_type, i.categories, i.brand, i.sku, i.name, i.seller_country "
                f"FROM cart_items i LEFT JOIN (SELECT {ID}, any_value({currency}) AS currency FROM sessions "
                f"GROUP BY {ID}) c USING ({ID}))")

    def items_per_session(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.items_per_session`."""
        df = self._df(f"SELECT coalesce(n, 0) AS items, count(*) AS sessions FROM (SELECT DISTINCT {ID} FROM "
                      f"sessions) s LEFT JOIN (SELECT {ID}, count(*) AS n FROM cart_items GROUP BY {ID}) c "
                      f"USING ({ID}) GROUP BY 1 ORDER BY 1")
        out = pd.DataFrame({"sessions": df["sessions"].to_numpy(dtype="int64")},
                           index=pd.Index(df["items"].to_numpy(dtype="int64"), name="items"))
        out["share"] = out["sessions"] / max(int(out["sessions"].sum()), 1)
        return out

    def discount_tax_totals(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.discount_tax_totals`."""
        df = self._df(f"SELECT currency, count(*) AS items, coalesce(sum(quantity), 0) AS units, "
                      "coalesce(sum(gross), 0) AS gross, sum(discount) AS discount, sum(tax) AS tax, "
                      f"coalesce(sum(value), 0) AS net FROM {self._lines()} GROUP BY 1 ORDER BY 1")
        out = pd.DataFrame({"items": df["items"].to_numpy(dtype="int64"),
                            **{c: pd.array(df[c], dtype="Int64") for c in ("units", "gross", "discount", "tax",
                                                                           "net")}},
                           index=pd.Index(df["currency"].astype("str"), name="currency"))
        return out

    def cart_value_by_currency(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.cart_value_by_currency`."""
        df = self._df(
            f"WITH v AS (SELECT l.{ID}, any_value(l.currency) AS currency, sum(l.value) AS cart_value, "
            f"any_value(s.amount) AS amount FROM {self._lines()} l LEFT JOIN (SELECT {ID}, any_value(amount) AS "
            f"amount FROM sessions GROUP BY {ID}) s USING ({ID}) GROUP BY l.{ID}) "
            "SELECT currency, count(*) AS sessions, sum(cart_value) AS total, count(cart_value) AS n, "
            "quantile_cont(cart_value, 0.5) AS median, min(cart_value) AS lo, max(cart_value) AS hi, "
            "count(*) FILTER (WHERE amount <> cart_value) AS bad FROM v GROUP BY 1 ORDER BY 1")
        total = _ints(df["total"])
        out = pd.DataFrame({
            "sessions": df["sessions"].to_numpy(dtype="int64"),
            "total": total,
            "mean": _mean(total, df["n"]),
            "median": pd.array(df["median"], dtype="Float64"),
            "min": _ints(df["lo"]),
            "max": _ints(df["hi"]),
            "not_matching_amount": df["bad"].to_numpy(dtype="int64"),
        }, index=pd.Index(df["currency"].astype("str"), name="currency"))
        return out.sort_values("sessions", ascending=False, kind="stable")

    def _by(self, key: str, label: str, lines: str | None = None) -> pd.DataFrame:
        lines = lines or self._lines()
        df = self._df(f"SELECT {key} AS k, currency, count(*) AS items, coalesce(sum(quantity), 0) AS units, "
                      f"coalesce(sum(value), 0) AS value FROM {lines} l GROUP BY ALL")
        sessions = self._df(f"SELECT {key} AS k, count(DISTINCT {ID}) AS sessions FROM {lines} l GROUP BY 1")
        g = df.groupby("k", sort=False)
        out = pd.DataFrame({"items": g["items"].sum().astype("int64"), "units": g["units"].sum().astype("Int64")})
        out["sessions"] = sessions.set_index("k")["sessions"].reindex(out.index).astype("int64")
        for cur in sorted(df["currency"].unique()):
            col = df[df["currency"] == cur].set_index("k")["value"].reindex(out.index)
            out[f"value_{cur}"] = _ints(col)
        out.index = out.index.astype("str")
        out.index.name = label
        return out.reset_index().sort_values(["items", label], ascending=[False, True], kind="stable").set_index(
            label)

    def by_product_type(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.by_product_type`."""
        return self._by(self._label("cart_items", "product_type"), "product_type")

    def by_brand(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.by_brand`."""
        return self._by(self._label("cart_items", "brand"), "brand")

    def by_category(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.by_category` (an item counts once in each of its categories)."""
        text = f"(c IS NOT NULL AND NOT regexp_full_match(c, {_lit(_SPACE)}))"
        kept = f"list_filter(categories, lambda c: {text})"
        lines = (f"(SELECT *, unnest(CASE WHEN len({kept}) > 0 THEN {kept} ELSE [{_lit(MISSING)}] END) AS category "
                 f"FROM {self._lines()})")
        return self._by("category", "category", lines)

    def top_skus(self, n: int = 20) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.top_skus`."""
        filled = self._filled("cart_items", "sku")
        df = self._df(f"SELECT sku, count(*) AS items, coalesce(sum(quantity), 0) AS units, count(DISTINCT {ID}) "
                      f"AS sessions FROM cart_items WHERE {filled} GROUP BY sku "
                      f"ORDER BY items DESC, units DESC, sku LIMIT {int(n)}")
        names = self._df(f"SELECT sku, name, count(*) AS c FROM cart_items WHERE {filled} AND name IS NOT NULL "
                         f"AND sku IN (SELECT unnest(?)) GROUP BY ALL ORDER BY sku, c DESC, name",
                         [df["sku"].tolist()]).drop_duplicates("sku").set_index("sku")["name"]
        out = pd.DataFrame({"name": names.reindex(df["sku"]).astype("str").to_numpy(),
                            "items": df["items"].to_numpy(dtype="int64"), "units": pd.array(df["units"], dtype="Int64"),
                            "sessions": df["sessions"].to_numpy(dtype="int64")},
                           index=pd.Index(df["sku"].astype("str"), name="sku"))
        return out

    def seller_countries(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.seller_countries`."""
        key = self._label("cart_items", "seller_country")
        table = self._count_table("cart_items", key, label="seller_country", count="items")
        sessions = self._df(f"SELECT {key} AS k, count(DISTINCT {ID}) AS n FROM cart_items GROUP BY 1")
        table.insert(1, "sessions", sessions.set_index("k")["n"].reindex(table.index).astype("int64").to_numpy())
        return table

    # ----------------------------------------------------------------- airline

    def _bookings(self) -> str:
        return f"(SELECT DISTINCT {ID} FROM sessions WHERE {self._present('airline')})"

    def _per_booking(self, table: str, label: str) -> pd.DataFrame:
        df = self._df(f"SELECT coalesce(n, 0) AS k, count(*) AS b FROM {self._bookings()} LEFT JOIN "
                      f"(SELECT {ID}, count(*) AS n FROM {table} GROUP BY {ID}) USING ({ID}) GROUP BY 1 ORDER BY 1")
        out = pd.DataFrame({"bookings": df["b"].to_numpy(dtype="int64")},
                           index=pd.Index(df["k"].to_numpy(dtype="int64"), name=label))
        out["share"] = out["bookings"] / max(int(out["bookings"].sum()), 1)
        return out

    def legs_per_booking(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.legs_per_booking`."""
        return self._per_booking("legs", "legs")

    def passengers_per_booking(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.passengers_per_booking`."""
        return self._per_booking("passengers", "passengers")

    def routes(self, top: int | None = None) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.routes`."""
        dep, arr = self._label("legs", "departure_airport"), self._label("legs", "arrival_airport")
        df = self._df(f"SELECT {dep} AS departure_airport, {arr} AS arrival_airport, count(*) AS legs, "
                      f"count(DISTINCT {ID}) AS sessions FROM legs GROUP BY 1, 2")
        out = pd.DataFrame({"route": (df["departure_airport"] + " → " + df["arrival_airport"]).astype("str"),
                            "departure_airport": df["departure_airport"].astype("str"),
                            "arrival_airport": df["arrival_airport"].astype("str"),
                            "legs": df["legs"].to_numpy(dtype="int64"),
                            "sessions": df["sessions"].to_numpy(dtype="int64")})
        out = out.sort_values(["legs", "route"], ascending=[False, True], kind="stable").set_index("route")
        return out.head(top) if top is not None else out

    def carriers(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.carriers`."""
        code, name = self._label("legs", "carrier_code"), self._label("legs", "carrier_name")
        df = self._df(f"SELECT {code} AS carrier_code, count(*) AS legs, count(DISTINCT {ID}) AS sessions "
                      "FROM legs GROUP BY 1")
        names = self._df(f"SELECT {code} AS carrier_code, {name} AS carrier_name, count(*) AS n FROM legs "
                         "GROUP BY 1, 2 ORDER BY n DESC, carrier_name").drop_duplicates("carrier_code")
        out = pd.DataFrame({"carrier_code": df["carrier_code"].astype("str"),
                            "carrier_name": names.set_index("carrier_code")["carrier_name"]
                            .reindex(df["carrier_code"]).astype("str").to_numpy(),
                            "legs": df["legs"].to_numpy(dtype="int64"),
                            "sessions": df["sessions"].to_numpy(dtype="int64")})
        return out.sort_values(["legs", "carrier_code"], ascending=[False, True], kind="stable").set_index(
            "carrier_code")

    def airline_totals(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.airline_totals`."""
        currency = self._label("sessions", "currency")
        amounts = ["fare_amount", "fee_amount", "tax_amount", "departure_tax_amount"]
        sums = ", ".join(f"coalesce(sum(l.{a}), 0) AS {a.removesuffix('_amount')}" for a in amounts)
        df = self._df(f"SELECT coalesce(c.currency, {_lit(MISSING)}) AS currency, count(DISTINCT l.{ID}) AS "
                      f"bookings, count(*) AS legs, {sums} FROM legs l LEFT JOIN (SELECT {ID}, any_value({currency}) "
                      f"AS currency FROM sessions GROUP BY {ID}) c USING ({ID}) GROUP BY 1 ORDER BY 1")
        out = pd.DataFrame({"bookings": df["bookings"].to_numpy(dtype="int64"),
                            "legs": df["legs"].to_numpy(dtype="int64"),
                            **{a.removesuffix("_amount"): pd.array(df[a.removesuffix("_amount")], dtype="Int64")
                               for a in amounts}},
                           index=pd.Index(df["currency"].astype("str"), name="currency"))
        return out

    def age_groups(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.age_groups`."""
        return self._count_table("passengers", self._label("passengers", "age_group"), label="age_group",
                                 count="passengers")

    def route_types(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.route_types`."""
        return self._count_table("legs", self._label("legs", "route_type"), label="route_type", count="legs")

    # ----------------------------------------------------------------- quality

    def _value_columns(self, table: str) -> list[str]:
        cols = [f.column for f in F.table_fields(table) if f.role == "value" and f.column in self.columns[table]]
        if table == "sessions":
            cols += [c for c in self.columns[table] if c.startswith(F.METADATA_PREFIX)]
        return cols

    def empty_fields(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.empty_fields`."""
        records = []
        for table in F.TABLES:
            cols = self._value_columns(table)
            row = self._one("SELECT count(*)" + "".join(f", count(*) FILTER (WHERE NOT {self._filled(table, c)})"
                                                        for c in cols) + f" FROM {table}")
            records += [(table, c, int(row[0]), int(e), int(row[0]) - int(e)) for c, e in zip(cols, row[1:],
                                                                                                strict=True)]
        out = pd.DataFrame(records, columns=["table", "column", "rows", "empty", "filled"])
        out["empty_share"] = np.where(out["rows"] > 0, out["empty"] / out["rows"].clip(lower=1), 0.0)
        out = out.sort_values(["empty_share", "table", "column"], ascending=[False, True, True], kind="stable")
        return out.reset_index(drop=True)

    def zero_amounts(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.zero_amounts`."""
        records = []
        for table in F.TABLES:
            cols = [c for c in self._value_columns(table) if (f := F.field_for(table, c)) is not None
                    and f.kind == "int" and (c.rsplit(".", 1)[-1] == "amount" or c.endswith("_amount"))]
            if not cols:
                continue
            row = self._one("SELECT " + ", ".join(
                f"count(*) FILTER (WHERE {_q(c)} = 0), count({_q(c)}), count(DISTINCT {ID}) FILTER (WHERE {_q(c)} = 0)"
                for c in cols) + f" FROM {table}")
            records += [(table, c, int(row[3 * i]), int(row[3 * i + 1]), int(row[3 * i + 2]))
                        for i, c in enumerate(cols)]
        return pd.DataFrame(records, columns=["table", "column", "zero", "filled", "sessions"])

    def personal_data(self) -> pd.DataFrame:
        """:func:`~gr4vy_nb.report.personal_data`."""
        records = []
        for table in F.TABLES:
            cols = [c for c in F.personal_columns(table) if c in self.columns[table]]
            if not cols:
                continue
            row = self._one("SELECT " + ", ".join(
                f"count(*) FILTER (WHERE {self._filled(table, c)}), count(DISTINCT {ID}) FILTER (WHERE "
                f"{self._filled(table, c)})" for c in cols) + f" FROM {table}")
            records += [(table, c, int(row[2 * i]), int(row[2 * i + 1])) for i, c in enumerate(cols)]
        out = pd.DataFrame(records, columns=["table", "column", "values", "sessions"])
        return out.sort_values(["values", "table", "column"], ascending=[False, True, True], kind="stable"
                               ).reset_index(drop=True)
