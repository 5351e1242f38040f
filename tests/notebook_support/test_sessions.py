"""gr4vy_nb.notebook_support.sessions: session ids from pasted text or files, and JSONL exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from gr4vy_nb.errors import InputError
from gr4vy_nb.notebook_support import parse_session_ids, read_sessions_jsonl, sample_session_ids

A = "4d645fa6-d13c-413a-82f8-eda197b1165f"
B = "8eef1a45-8a85-4b07-bd61-c8fe736d73ab"


@pytest.mark.parametrize(("text", "ids", "rejected"), [
    (f"{A}\n{B}\n", [A, B], []),
    (f"{A}, {B}; {A}", [A, B], []),
    (f"checkout_session_id\n{A.upper()}\n", [A], []),
    (f"'{A}' {{{B}}}\nnope", [A, B], ["nope"]),
    (f"\ufeffnote,checkout_session_id\nx,{A}\ny,{B}\n", [A, B], []),
    (f"checkout_session_id;amount\n{A};1\n", [A], []),
    ("", [], []),
])
def test_parse_session_ids(text: str, ids: list[str], rejected: list[str]) -> None:
    assert parse_session_ids(text) == (ids, rejected)


def test_read_sessions_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    assert read_sessions_jsonl(b'{"id": "x"}\n\n{"id": "y"}\n') == [{"id": "x"}, {"id": "y"}]
    with pytest.raises(InputError, match="line 2 is not a JSON object"):
        read_sessions_jsonl(b'{"id": "x"}\n[1, 2]\n')
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"{oops\n")
    with pytest.raises(InputError, match="line 1 is not valid JSON"):
        read_sessions_jsonl(path)
    assert len(sample_session_ids()) == 200 and sample_session_ids(3) == sample_session_ids()[:3]
