"""What the EditGrid puts into ipydatagrid and into files: the rows shown, their serializer, the saved edits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ipydatagrid import DataGrid
from ipydatagrid.datagrid import _data_deserialization_impl
from traitlets import Dict

from ..tables import spec as F
from ..tables.cells import format_column

__all__ = ["CHANGED", "Grid", "column_types", "grid_frame", "save_edits"]

CHANGED = "changed"
"""The grid's first column: the columns changed in each row (``,quantity,name,``), which the highlight reads."""


def _data_json(data: dict[str, Any], _widget: Any) -> dict[str, Any]:
    """The grid's data as plain JSON lists (``None`` for empty cells): every cell here is already text, an integer,
    a boolean or ``None``. ipydatagrid's own serializer tests each cell's type in Python three times."""
    if not data:
        return {}
    columns = {str(c): v.to_numpy(dtype=object).tolist() for c, v in data["data"].items()}
    return {"data": columns, "schema": data["schema"], "fields": data["fields"]}


class Grid(DataGrid):
    """ipydatagrid's DataGrid with a serializer for cells that are plain values already (much faster), and the
    column types of its schema given (:attr:`types`: ``integer``, ``boolean``, ``datetime``), not guessed from the
    cells (integers with empty cells are Python objects here); date-times are held as RFC 3339 text."""

    _data = Dict().tag(sync=True, to_json=_data_json, from_json=_data_deserialization_impl)

    def __init__(self, dataframe: pd.DataFrame, **kwargs: Any) -> None:
        self.types: dict[str, str] = {}
        super().__init__(dataframe, **kwargs)

    def generate_data_object(self, dataframe: pd.DataFrame, guid_key: str = "ipydguuid",  # type: ignore[override]
                             index_name: str = "key") -> dict[str, Any]:
        data = DataGrid.generate_data_object(dataframe, guid_key, index_name)
        types = getattr(self, "types", {})
        for f in data["schema"]["fields"]:
            if f["name"] in types:
                f["type"] = types[f["name"]]
        return data


def column_types(df: pd.DataFrame) -> dict[str, str]:
    """The grid's schema type of each typed column: ``integer``, ``boolean``, ``datetime`` (the rest: text)."""
    out = {}
    for column in df.columns:
        dtype = df[column].dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[str(column)] = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            out[str(column)] = "integer"
        elif isinstance(dtype, pd.DatetimeTZDtype):
            out[str(column)] = "datetime"
    return out


def grid_frame(df: pd.DataFrame, changed: dict[str, np.ndarray], rows: np.ndarray) -> pd.DataFrame:
    """The rows shown, as the grid shows them: text as text (never a number), integers and booleans typed."""
    out: dict[str, Any] = {}
    marks = [","] * len(rows)
    for column, mask in changed.items():
        for i in np.flatnonzero(mask[rows]).tolist():
            marks[i] += column + ","
    out[CHANGED] = pd.Series([m if m != "," else "" for m in marks], dtype=object)
    part = df.iloc[rows].reset_index(drop=True)
    for column in part.columns:
        s = part[column]
        if pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            out[column] = s.astype(object).where(s.notna(), None)
        else:  # text, date-times, lists: their cell text (empty: "")
            text = format_column(s)[0].to_pylist()
            out[column] = pd.Series(["" if t is None else t for t in text], dtype=object)
    return pd.DataFrame(out)


def save_edits(upload: Any, path: Path) -> list[Path]:
    """The upload's tables as CSV files in a folder, or as the sheets of an ``.xlsx`` workbook."""
    from ..tables.files import write_table
    from ..tables.workbooks import write_workbook

    tables = {name: _with_versions(name, t.text.reset_index(drop=True), upload.base)
              for name, t in upload.tables.items()}
    if path.suffix.lower() == ".xlsx":
        path.parent.mkdir(parents=True, exist_ok=True)
        write_workbook(tables, path)
        return [path]
    path.mkdir(parents=True, exist_ok=True)
    out = []
    for name, df in tables.items():
        write_table(df, path / f"{name}.csv")
        out.append(path / f"{name}.csv")
    return out


def _with_versions(table: str, text: pd.DataFrame, base: Any) -> pd.DataFrame:
    """``text`` with the ``row_version`` of each row's element as fetched, so a later plan of the files checks it."""
    from ..tables.versions import VERSION_COLUMN, row_versions

    if base is None or not len(text):
        return text
    frame = base[table]
    index = None if table == "sessions" else F.CHILD_TABLES[table].index
    keys = frame[F.KEY].astype(str).str.lower().tolist()
    indexes = [None] * len(frame) if index is None else frame[index].astype(object).tolist()
    version = dict(zip(zip(keys, [None if i is None or i is pd.NA else str(i) for i in indexes], strict=True),
                       row_versions(table, frame), strict=True))
    ids = text[F.KEY].astype(str).str.lower().tolist()
    at = [None] * len(text) if index is None else [None if i is None or i is pd.NA else str(i)
                                                   for i in text[index].astype(object).tolist()]
    return text.assign(**{VERSION_COLUMN: [version.get((k, i)) if index is None or i is not None else None
                                            for k, i in zip(ids, at, strict=True)]})
