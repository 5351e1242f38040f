"""The fast CSV path gives exactly what ``read_table`` gives, or declines (``None``) and leaves the file to it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gr4vy_nb.errors import InputError
from gr4vy_nb.tables.fastcsv import read_regular
from gr4vy_nb.tables.files import DEFAULT_LIMITS, CsvTable, Limits, default_encoding, read_table
from tests.strategies import TRICKY
from tests.tables.helpers import HYP, roundtrip


def _same(fast: CsvTable, slow: CsvTable) -> None:
    assert fast.file == slow.file and fast.delimiter == slow.delimiter
    assert fast.encoding == slow.encoding and fast.bom == slow.bom
    assert list(fast.frame.columns) == list(slow.frame.columns)
    assert list(fast.frame.dtypes) == list(slow.frame.dtypes)
    assert fast.frame.index.equals(slow.frame.index) and fast.frame.index.name == slow.frame.index.name
    assert fast.frame.index.dtype == slow.frame.index.dtype
    assert fast.frame.equals(slow.frame)
    assert fast.cleared.equals(slow.cleared) and list(fast.cleared.dtypes) == list(slow.cleared.dtypes)
    assert fast.warnings.equals(slow.warnings)


def _compare(data: bytes, limits: Limits = DEFAULT_LIMITS) -> CsvTable | None:
    """The fast result (or ``None``), checked against ``read_table`` of the same bytes."""
    fast = read_regular(data, name="t.csv", limits=limits)
    try:
        slow = read_table(data, name="t.csv", limits=limits)
    except InputError:
        assert fast is None, "the fast path took a file read_table refuses"
        return None
    if fast is not None:
        _same(fast, slow)
    return fast


REGULAR = [
    b"a,b\n1,2\n",
    b"a,b\n1,2",  # no final line end
    b"\xef\xbb\xbfa,b\n1,2\n",
    b"a,b\r\n1,2\r\n3,4\r\n",
    b"a,b\n",  # header only
    b"a,b,c,d,e\nNA,Null,None,nan,0012\n,N/A,NULL,,000\n",
    b'a,b\n"x,y","say ""hi"""\n"",\n1,""\n',
    b"a,b\n,\n1,2\n,\n",  # rows of empty cells are skipped
    b'a,b\n"",""\n1,2\n',
    b"a,b\n'abc,'\n''x,'=1\n#N/A,'#N/A\n",
    "name,city\nZo\u00eb,Montr\u00e9al\n\u4e2d\u6587,\U0001f600\n".encode(),
    b"a,b\n x , y \n\t,\t\n",
    b'"a","b"\n"1",2\n',
    b"a,b\nab\"c,d\n",  # a quote inside an unquoted cell: left to read_table
]


@pytest.mark.parametrize("data", REGULAR)
def test_regular_files_match_read_table(data):
    _compare(data)


def test_the_fast_path_is_taken_for_regular_files():
    taken = [read_regular(d, name="t.csv", limits=DEFAULT_LIMITS) is not None for d in REGULAR]
    assert taken == [True] * 13 + [False]


IRREGULAR = [
    b"",
    b"\xef\xbb\xbf",
    b"a\n1\n2\n",  # one column: a blank line would be a row of it
    b'id,note\n1,"first\nsecond"\n2,x\n',  # a line break inside a quoted cell
    b"a,b\n1,2\n\n3,4\n",  # a blank line
    b"a,b\r1,2\r",  # bare carriage returns
    b"a,b\n1,x\ry\n",
    b"a;b\n1;2\n",  # semicolons
    b"a\tb\n1\t2\n",
    b"a,b,,\n1,2,,\n",  # trailing unnamed columns
    b"a,,c\n1,2,3\n",
    b"a,b,a\n1,2,3\n",
    b"'=a,b\n1,2\n",  # a prefixed header name
    b"a,b\n1,2,3\n",  # ragged
    b"a,b\n1,2\n,,\n",  # a ragged row of empty cells, which read_table skips
    b"a,b\n1\n",
    b'a,b\n"x"y,2\n',  # text after a closing quote
    b'a,b\n1,"never closed\n',
    b"a,b\n1,\x00\n",
    b"a,b\n1,\xe9\n",  # not UTF-8
    "a,b\n1,2\n".encode("utf-16"),
    b"PK\x03\x04rest",
]


@pytest.mark.parametrize("data", IRREGULAR)
def test_irregular_files_are_left_to_read_table(data):
    assert read_regular(data, name="t.csv", limits=DEFAULT_LIMITS) is None
    _compare(data)


def test_limits_and_encodings_are_left_to_read_table(tmp_path):
    data = b"a,b\n1,2\n3,4\n"
    assert read_regular(data, name="t.csv", limits=Limits(max_rows=1)) is None
    assert read_regular(data, name="t.csv", limits=Limits(max_bytes=5)) is None
    assert read_regular(b"a,b\n1," + b"x" * 20 + b"\n", name="t.csv", limits=Limits(max_cell_chars=10)) is None
    assert read_regular(data, name="t.csv", limits=Limits(max_columns=1)) is None
    assert read_regular(data, name="t.csv", limits=DEFAULT_LIMITS, encoding="cp1252") is None
    with default_encoding("cp1252"):
        assert read_regular(data, name="t.csv", limits=DEFAULT_LIMITS) is None
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    fast = read_regular(path, name=None, limits=DEFAULT_LIMITS)
    assert fast is not None and fast.file == "t.csv"
    _same(fast, read_table(path))
    assert read_regular(tmp_path / "missing.csv", name=None, limits=DEFAULT_LIMITS) is None
    huge = Limits(max_bytes=64 << 30, max_rows=100_000_000)  # a cap far beyond memory is not allocated
    assert read_regular(path, name=None, limits=huge) is not None


def test_an_export_is_read_the_fast_way(sample_frames, tmp_path):
    paths = sample_frames.to_csv(tmp_path)
    for path in paths.values():
        fast = read_regular(path, name=None, limits=DEFAULT_LIMITS)
        assert fast is not None, path.name
        _same(fast, read_table(path))


_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


@HYP
@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from(TRICKY), st.text(_CHARS, max_size=12)),
                         min_size=3, max_size=3), max_size=6))
def test_any_written_table_reads_the_same_both_ways(rows):
    df = pd.DataFrame({name: pd.array([r[i] for r in rows], dtype="string[pyarrow]")
                       for i, name in enumerate(["a", "b", "c"])})
    raw, _table = roundtrip(df)
    _compare(raw)


_PIECES = ["a", "b", "1", ",", ",", '"', '""', "\n", "\n", "\r\n", "\r", "'", "'=", "#N/A", " ", "\u00e9", "x,y"]


@HYP
@given(st.lists(st.sampled_from(_PIECES), max_size=30))
def test_any_bytes_read_the_same_both_ways_or_are_declined(pieces):
    _compare(("h1,h2\n" + "".join(pieces)).encode())


_CORPUS = Path(__file__).resolve().parents[1] / "reliability" / "bad_inputs"


def test_the_bad_input_corpus_reads_the_same_both_ways():
    files = sorted(_CORPUS.rglob("*.csv"))
    assert len(files) > 50
    taken = [path for path in files if _compare(path.read_bytes()) is not None]
    assert 0 < len(taken) < len(files)  # both ways are exercised
