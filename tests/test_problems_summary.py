"""Problems summarised (issue 22, item 4): one line per file, column and rule, with a count, the first lines and
their range, an example and one message; ``--problems FILE`` (and the problems table) still list every cell."""

from __future__ import annotations

import pandas as pd
import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.cli import main
from gr4vy_nb.config import Settings
from gr4vy_nb.problems import Problems, Rule, describe_problems, line_span, summarise
from gr4vy_nb.tables.files import read_table
from gr4vy_nb.tables.masking import mask_value
from gr4vy_nb.updates.plan import plan_updates
from tests.updates.helpers import IDS, S0, write

ROWS = 3000


@pytest.mark.parametrize(("lines", "text"), [
    ([], ""),
    ([7], "line 7"),
    ([9, 2, 5], "lines 2, 5, 9"),
    ([4, 2, 3, 3], "lines 2, 3, 4"),
    (range(2, 1002), "lines 2, 3, 4, \u2026 (2\u20131001)"),
])
def test_line_span(lines, text):
    assert line_span(lines) == text


def test_summarise_groups_by_file_column_and_rule_errors_first():
    found = Problems(mask=mask_value)
    found.warn(Rule.REWRITE_KEPT, "kept", file="b.csv", line=3, column="sku", value="1")
    for line in (9, 4, 6):
        found.add(Rule.PATTERN, f"{line} bad", file="p.csv", line=line, column="first_name", value="Smith",
                  table="passengers")
    found.add(Rule.EMPTY, "the file is empty", file="c.csv")
    groups = summarise(found.frame())
    assert groups[["severity", "file", "column", "rule", "count", "lines"]].astype(object).where(
        groups[["column"]].notna().reindex(columns=groups.columns[:6], fill_value=True), None).values.tolist() == [
        ["error", "c.csv", None, "empty", 1, ""],
        ["error", "p.csv", "first_name", "pattern", 3, "lines 4, 6, 9"],
        ["warning", "b.csv", "sku", "rewrite_kept", 1, "line 3"],
    ]
    personal = groups[groups.column == "first_name"].iloc[0]
    assert personal.value != "Smith" and "Smith" not in personal.message  # an example, masked
    assert personal.message == "9 bad"  # the first problem's message
    assert summarise(Problems().frame()).empty and list(summarise(Problems().frame()).columns) == list(groups.columns)
    text = describe_problems(found.frame(), max_rows=2)
    assert text[0] == "  problems by file, column and rule (5 in 3 group(s)):"
    assert text[2].startswith("    error: p.csv first_name [pattern] x3 (lines 4, 6, 9), e.g. 'S")
    assert text[-1] == "    ... and 1 more group(s)"


def _three_kinds(folder):
    """3,000 cart rows (15 items of 200 sessions) with three kinds of mistakes on 2,501 of them."""
    rows = ["checkout_session_id,item_index,name,quantity,unit_amount,product_type,seller_country"]
    for k in range(ROWS):
        quantity = "1.5" if k < 1000 else "2"
        product_type = "gadget" if 1000 <= k < 2000 else "physical"
        country = "gb" if 2000 <= k < 2501 else "GB"
        rows.append(f"{IDS[k // 15]},{k % 15},Item {k},{quantity},100,{product_type},{country}")
    write(folder, "cart_items.csv", "\n".join(rows) + "\n")


def test_the_cli_prints_one_line_a_group_and_problems_csv_lists_every_cell(env, tmp_path, capsys):
    _three_kinds(tmp_path / "up")
    assert main(["plan", str(tmp_path / "up"), "--problems", str(tmp_path / "problems.csv"), "--limit", "5"]) == 2
    out = capsys.readouterr().out
    lines = out.splitlines()
    table = lines[lines.index("Problems:") + 1:]
    assert table[0].split() == ["severity", "file", "column", "rule", "count", "lines", "example", "message"]
    groups = [" ".join(line.split()).split(" ", 5) for line in table[2:5]]  # the table's alignment aside
    assert [g[:5] for g in groups] == [["error", "cart_items.csv", "quantity", "type.integer", "1,000"],
                                       ["error", "cart_items.csv", "product_type", "enum", "1,000"],
                                       ["error", "cart_items.csv", "seller_country", "pattern", "501"]]
    assert groups[0][5].startswith("lines 2, 3, 4, \u2026 (2\u20131001) 1.5 '1.5' is not a whole number")
    assert groups[1][5].startswith("lines 1002, 1003, 1004, \u2026 (1002\u20132001) gadget 'gadget' is not one of")
    assert groups[2][5].startswith("lines 2002, 2003, 2004, \u2026 (2002\u20132502) gb 'gb' is not a two-letter")
    assert table[5] == "2,501 problem(s) in 3 group(s); --problems FILE lists every one"
    assert "is not a whole number" not in "\n".join(table[6:])  # each message once
    assert len(lines) < 80
    listed = read_table(tmp_path / "problems.csv").frame
    assert len(listed) == 2501
    spans = {rule: [len(v), int(v.astype(int).min()), int(v.astype(int).max())]
             for rule, v in listed.groupby("rule")["line"]}
    assert spans == {"type.integer": [1000, 2, 1001], "enum": [1000, 1002, 2001], "pattern": [501, 2002, 2502]}
    assert set(listed.file) == {"cart_items.csv"} and listed.checkout_session_id.notna().all()


def test_plan_describe_lists_the_groups(env, tmp_path):
    write(tmp_path, "sessions.csv",
          f"checkout_session_id,metadata.a,metadata.b\n{S0},#REF!,x\n{IDS[1]},#REF!,#VALUE!\n")
    with Gr4vyClient(Settings.for_sandbox(env)) as client:
        plan = plan_updates(tmp_path, client=client)
    text = plan.describe()
    assert "  problems by file, column and rule (3 in 2 group(s)):" in text
    assert "    error: sessions.csv metadata.a [spreadsheet_rewrite] x2 (lines 2, 3): '#REF!' is a spreadsheet" in text
    assert "problems by file" not in plan.describe(problems=False)
    assert isinstance(summarise(plan.problems), pd.DataFrame)
