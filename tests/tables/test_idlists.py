"""gr4vy_nb.tables.idlists: the one reader of id lists (text, CSV, XLSX), what it forgives and what it refuses."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from openpyxl import Workbook

from gr4vy_nb.errors import InputError
from gr4vy_nb.tables.idlists import read_id_list

A, B, C = ("4d645fa6-d13c-413a-82f8-eda197b1165f", "8eef1a45-8a85-4b07-bd61-c8fe736d73ab",
           "b862d8b1-b135-4324-a652-d9e77861942c")


def _xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _file(tmp_path, kind: str, header: str | None, cells: list[str]):
    """The same list as a text file, a two-column CSV and a workbook: header, then the cells, one a row."""
    if kind == "txt":
        path = tmp_path / "ids.txt"
        path.write_text("".join(f"{line}\n" for line in ([header] if header else []) + cells))
    elif kind == "csv":
        path = tmp_path / "ids.csv"
        rows = ([f"{header},note"] if header else []) + [f"{c},n{i}" for i, c in enumerate(cells)]
        path.write_text("\n".join(rows) + "\n")
    else:
        path = tmp_path / "ids.xlsx"
        path.write_bytes(_xlsx(([[header.strip('"')]] if header else []) + [[c] for c in cells]))
    return path


HEADERS = ["checkout_session_id", '"checkout_session_id"', "Checkout Session ID", " checkout-session-id ", None]


@pytest.mark.parametrize(("kind", "header"), [(k, h) for k in ("txt", "csv", "xlsx") for h in HEADERS
                                              if h is not None or k != "csv"])  # a CSV of columns has a header
def test_every_format_and_header_reads_the_same_ids_and_reports_what_it_forgave(tmp_path, kind, header):
    path = _file(tmp_path, kind, header, [A, f"  {B} ", A.upper(), C, f"{B}"])
    listed = read_id_list(path)
    assert listed.ids == [A, B, C]
    first = 2 if header else 1  # the file line (or sheet row) of the first id
    assert listed.trimmed == [first + 1]
    assert listed.duplicates == [first + 2, first + 4]
    rules = listed.notes["rule"].tolist()
    assert rules.count("duplicate_id") == 2 and (listed.notes["severity"] == "warning").all()
    assert listed.file == (f"{path.name}:Sheet" if kind == "xlsx" else path.name)
    assert listed.describe() == [f"{listed.file}: 1 id(s) had spaces around them, trimmed (line {first + 1})",
                                 f"{listed.file}: 2 id(s) listed again, dropped (lines {first + 2}, {first + 4})"]


def test_a_padded_id_is_trimmed_and_said_once_with_its_line(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text(f"# from the ticket\n{A}\n\t{B}  \n")
    listed = read_id_list(path)
    assert listed.ids == [A, B] and listed.trimmed == [3]
    assert listed.describe() == ["ids.txt: 1 id(s) had spaces around them, trimmed (line 3)"]
    path.write_text(f"\t{A}\n{B}\n")  # a tab before the first id is not a tab-separated table
    assert read_id_list(path).ids == [A, B]


@pytest.mark.parametrize(("name", "content", "rule", "lines"), [
    ("ids.txt", f"{A}\nnot-an-id\n{B}\n12345\n", "uuid", [2, 4]),
    ("ids.txt", f"Session\n{A}\n", "uuid", [1]),  # a header that does not name the id column is a bad id
    ("ids.csv", f"checkout_session_id,x\n{A},1\nabc,2\n", "uuid", [3]),
    ("ids.csv", f"id,amount\n{A},1\n", "required", [1]),
    ("ids.txt", "# nothing here\n\n", "empty", [None]),
])
def test_bad_lists_are_refused_naming_file_and_line(tmp_path, name, content, rule, lines):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_id_list(path)
    problems = info.value.problems
    assert set(problems["rule"]) == {rule} and (problems["file"] == name).all()
    assert [None if pd.isna(v) else int(v) for v in problems["line"].astype(object)] == lines


def test_a_workbook_bad_id_names_its_sheet_and_row(tmp_path):
    with pytest.raises(InputError) as info:
        read_id_list(_xlsx([["Checkout Session ID"], [A], ["nope"]]), name="ids.xlsx")
    row = info.value.problems.iloc[0]
    assert (row["file"], int(row["line"]), row["rule"]) == ("ids.xlsx:Sheet", 3, "uuid")
