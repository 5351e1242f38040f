"""Reading user CSV files exactly (or refusing them precisely), writing them safely, and file digests."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gr4vy_nb.errors import InputError
from gr4vy_nb.problems import COLUMNS
from gr4vy_nb.tables.files import Limits, file_digest, read_table, read_text
from tests.strategies import TRICKY
from tests.tables.helpers import roundtrip


def _csv(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def _refused(data: bytes, **kwargs) -> pd.DataFrame:
    with pytest.raises(InputError) as info:
        read_table(data, name="upload.csv", **kwargs)
    problems = info.value.problems
    assert list(problems.columns) == list(COLUMNS)
    assert (problems["file"] == "upload.csv").all()
    return problems


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("value", [*TRICKY, "", "'=x", "'#N/A", "-", "=", "@", "+", "\r", "a\r\nb\nc"])
def test_text_values_survive_write_then_read(value):
    df = pd.DataFrame({"v": pd.array([value, None, "plain"], dtype="string[pyarrow]"), "k": [1, 2, 3]})
    _raw, table = roundtrip(df)
    assert table.frame["v"].tolist() == [value, pd.NA, "plain"]
    assert not table.cleared["v"].any()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))),
                min_size=1, max_size=8))
def test_any_text_column_round_trips(values):
    df = pd.DataFrame({"a": pd.array(values, dtype="string[pyarrow]"), "k": range(len(values))})
    _raw, table = roundtrip(df)
    assert table.frame["a"].tolist() == [pd.NA if v is None else v for v in values]


def test_formula_cells_are_neutralised_on_disk_and_restored_on_read():
    df = pd.DataFrame({"name": pd.array(['=HYPERLINK("http://evil.example","x")', "+441234567890", "@cmd",
                                         "-2+3", "\tx", "'lead", "#N/A", "", "safe"], dtype="string[pyarrow]"),
                       "k": range(9)})
    raw, table = roundtrip(df)
    text = raw.decode("utf-8-sig")
    for written in ["'=HYPERLINK", "'+441234567890", "'@cmd", "'-2+3", "'\tx", "''lead", "'#N/A"]:
        assert written in text
    assert "\n\"'\",7\n" in text  # the empty string is a lone quote mark
    assert table.frame["name"].tolist() == df["name"].tolist()
    assert raw.startswith(b"\xef\xbb\xbf")


def test_user_typed_prefixes():
    table = read_table(_csv("a\n'abc\n'\n''x\n'=1\n#N/A\n"))
    assert table.frame["a"].tolist() == ["'abc", "", "'x", "=1", "#N/A"]
    assert table.cleared["a"].tolist() == [False, False, False, False, True]


# --------------------------------------------------------------------------- reading


def test_na_detection_is_off_and_leading_zeros_are_kept():
    table = read_table(_csv("a,b,c,d,e\nNA,Null,None,nan,0012\n,N/A,NULL,,000\n"))
    assert table.frame.loc[2].tolist() == ["NA", "Null", "None", "nan", "0012"]
    assert table.frame.loc[3].tolist() == [pd.NA, "N/A", "NULL", pd.NA, "000"]
    assert all(str(t) == "string" for t in table.frame.dtypes)


def test_bom_is_accepted_and_reported():
    table = read_table(b"\xef\xbb\xbfa,b\n1,2\n")
    assert list(table.frame.columns) == ["a", "b"] and table.bom and table.encoding == "utf-8"


def test_line_numbers_count_quoted_newlines_and_blank_lines():
    text = 'id,note\n1,"first\nsecond\nthird"\n\n2,plain\n,\n3,"a\r\nb"\n4,x\n'
    table = read_table(_csv(text))
    assert table.frame["id"].tolist() == ["1", "2", "3", "4"]
    assert table.lines.tolist() == [2, 6, 8, 10]  # line 7 (",") is an empty row, skipped
    assert table.frame.index.name == "line"


def test_semicolons_are_detected_and_reported():
    table = read_table(_csv('id;amount;note\n1;1299;"a;b"\n'), name="eu.csv")
    assert table.delimiter == ";" and table.frame.loc[2].tolist() == ["1", "1299", "a;b"]
    assert table.warnings["rule"].tolist() == ["delimiter"] and table.warnings["line"].tolist() == [1]
    assert read_table(_csv("id\tnote\n1\tx\n")).delimiter == "\t"
    assert read_table(_csv('id,"a;b"\n1,2\n')).delimiter == ","


def test_cp1252_is_refused_with_line_and_byte_unless_encoding_given():
    data = "name,city\nZoë,Paris\nRené,Montréal\n".encode("cp1252")
    problems = _refused(data)
    row = problems.iloc[0]
    assert (row["rule"], row["line"]) == ("encoding", 2)
    assert "0xEB" in row["message"] and "'ë'" in row["message"] and "encoding='cp1252'" in row["message"]
    table = read_table(data, encoding="cp1252")
    assert table.frame["city"].tolist() == ["Paris", "Montréal"] and table.encoding == "cp1252"


def test_utf16_with_a_bom_is_read_as_such():
    table = read_table("a\tb\nMontréal\t2\n".encode("utf-16"))  # Excel's "Unicode text": UTF-16, tabs
    assert table.frame.to_dict("list") == {"a": ["Montréal"], "b": ["2"]} and table.encoding == "utf-16"
    assert read_table("a,b\n1,2\n".encode("utf-16-be")[0:0] + b"\xfe\xff" + "a,b\n1,2\n".encode("utf-16-be")
                      ).frame.to_dict("list") == {"a": ["1"], "b": ["2"]}


def test_utf16_without_a_bom_is_refused_naming_the_cli_option():
    problems = _refused("a,b\n1,2\n".encode("utf-16-le"))
    assert problems["rule"].tolist() == ["encoding"] and "UTF-16" in problems["message"][0]
    assert "--encoding utf-16-le" in problems["message"][0]
    assert read_table("a,b\n1,2\n".encode("utf-16-le"), encoding="utf-16-le").frame["b"].tolist() == ["2"]


def test_the_cp1252_refusal_names_the_cli_option():
    problems = _refused("city\nMontréal\n".encode("cp1252"))
    assert "--encoding cp1252" in problems["message"][0]


def test_default_encoding_applies_to_reads_without_one():
    from gr4vy_nb.tables.files import default_encoding

    with default_encoding("cp1252"):
        assert read_table("city\nMontréal\n".encode("cp1252")).frame["city"].tolist() == ["Montréal"]
    _refused("city\nMontréal\n".encode("cp1252"))


def test_trailing_unnamed_empty_columns_and_empty_rows_are_ignored():
    table = read_table(b"a,b,,\n1,2,,\n,,,\n3,4\n\n")
    assert table.frame.to_dict("list") == {"a": ["1", "3"], "b": ["2", "4"]} and table.lines.tolist() == [2, 4]
    problems = _refused(b"a,b,,\n1,2,x,\n")  # a value in an unnamed column is not residue
    assert problems["rule"].tolist() == ["empty_header"] and "column 3" in problems["message"][0]


def test_xlsx_renamed_csv_is_refused(tmp_path):
    from openpyxl import Workbook

    path = tmp_path / "ids.xlsx"
    wb = Workbook()
    wb.active.append(["checkout_session_id"])
    wb.save(path)
    problems = _refused(path.read_bytes())
    assert problems["rule"].tolist() == ["binary"] and "Excel workbook" in problems["message"][0]


@pytest.mark.parametrize("data,rule", [
    (b"", "empty"), (b"\xef\xbb\xbf", "empty"), (b"\n\n  \n", "empty"),
    (b"a,b\n\x00\x01\x02\x03", "binary"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "binary"),
])
def test_empty_and_binary_files_are_refused(data, rule):
    assert _refused(data)["rule"].tolist() == [rule]


def test_header_only_is_an_empty_table():
    table = read_table(_csv("checkout_session_id,amount\n"))
    assert len(table) == 0 and list(table.frame.columns) == ["checkout_session_id", "amount"]


def test_ragged_rows_are_all_reported_with_their_lines():
    problems = _refused(_csv('a,b,c\n1,2,3\n1,2\n"x",y,z\n1,2,3,4\n'))
    assert problems["rule"].tolist() == ["ragged_row", "ragged_row"]
    assert problems["line"].tolist() == [3, 5]
    assert "has 2 cells but the header has 3" in problems["message"][0]
    assert "missing its quotes" in problems["message"][1]


def test_unbalanced_quote_names_the_line_where_it_opens():
    problems = _refused(_csv('a,b\n1,2\n3,"never closed\n4,5\n6,7\n'))
    assert problems["rule"].tolist() == ["unbalanced_quote"] and problems["line"].tolist() == [3]


@pytest.mark.parametrize("header,rule,column", [("a,,c", "empty_header", None), ("a,b,a", "duplicate_header", "a"),
                                                ("a, ,c", "empty_header", None)])
def test_bad_headers_are_refused(header, rule, column):
    problems = _refused(_csv(header + "\n1,2,3\n"))
    assert problems["rule"].tolist() == [rule] and problems["line"].tolist() == [1]
    assert (problems["column"].tolist() == [column]) if column else pd.isna(problems["column"][0])


def test_size_caps(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"a\n" + b"1\n" * 100)
    problems = _refused(path.read_bytes(), limits=Limits(max_bytes=50))
    assert problems["rule"].tolist() == ["too_large"]
    with pytest.raises(InputError, match="limit is 50"):
        read_table(path, limits=Limits(max_bytes=50))  # refused from the file size, before reading
    assert _refused(b"a\n1\n2\n3\n", limits=Limits(max_rows=2))["rule"].tolist() == ["too_many_rows"]
    problems = _refused(_csv("a,b\n1,short\n2," + "x" * 11 + "\n"), limits=Limits(max_cell_chars=10))
    assert problems[["rule", "line", "column"]].values.tolist() == [["cell_too_long", 3, "b"]]
    assert _refused(b"a,b,c\n1,2,3\n", limits=Limits(max_columns=2))["rule"].tolist() == ["too_many_columns"]


def test_a_cell_beyond_the_csv_modules_own_limit_is_reported_not_raised():
    problems = _refused(_csv("a\n" + "x" * 200_000 + "\n"))
    assert problems["rule"].tolist() == ["cell_too_long"] and problems["line"].tolist() == [2]


def test_sources_path_bytes_and_file_objects(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a\n1\n")
    assert read_table(path).file == "t.csv"
    assert read_table(io.BytesIO(b"a\n1\n"), name="up.csv").file == "up.csv"
    assert read_table(b"a\n1\n").file == "<upload>"
    assert read_text(path) == ("a\n1\n", "t.csv")


# --------------------------------------------------------------------------- digests


def test_file_digest(tmp_path):
    f = tmp_path / "sessions.csv"
    f.write_bytes(b"checkout_session_id\n")
    d = file_digest(f)
    assert d["size"] == 20 and len(d["sha256"]) == 64 and d["path"].endswith("sessions.csv")


def test_a_cell_longer_than_a_spreadsheet_cell_is_read_whole():
    # 40,000 characters: valid for the API and more than a spreadsheet holds; a CSV holds it (limit 131,072).
    table = read_table(_csv("a,b\n1," + "x" * 40_000 + "\n"), name="upload.csv")
    assert table.frame["b"].str.len().tolist() == [40_000]
    assert Limits().max_cell_chars == 131_072
