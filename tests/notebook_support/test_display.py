"""gr4vy_nb.notebook_support.display: a standalone document shown in a sandboxed iframe."""

from __future__ import annotations

import html
import re

from gr4vy_nb.notebook_support import InlineHTML


def test_inline_html_is_a_sandboxed_frame() -> None:
    document = '<html><head><meta http-equiv="Content-Security-Policy" content="x"></head>"&</html>'
    frame = InlineHTML(document, height=300)._repr_html_()
    # The frame's sandbox attribute allows nothing (bare or empty: no allow-* token), and the whole
    # document travels escaped in srcdoc (no raw quote ends the attribute early).
    assert re.match(r'<iframe sandbox(="")?[ >]', frame) and frame.endswith("></iframe>")
    assert 'srcdoc="&lt;html&gt;' in frame
    assert "&quot;&amp;" in frame and "height:300px" in frame
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)
    assert html.unescape(srcdoc) == document


def test_problems_are_shown_severity_first_in_file_line_column_order_with_whole_messages() -> None:
    import pandas as pd

    from gr4vy_nb.notebook_support import show_problems
    from gr4vy_nb.notebook_support.display import problems_in_order

    df = pd.DataFrame({"file": ["sessions.csv", "cart_items.csv", "sessions.csv"], "line": [10, 4, 2],
                       "column": ["a", "b", "c"], "value": ["1", "2", "3"], "rule": ["r", "r", "r"],
                       "message": ["x" * 400, "short", "mid"], "severity": ["warning", "error", "error"]},
                      index=[5, 6, 7])
    ordered = problems_in_order(df)
    assert list(ordered.columns[:5]) == ["severity", "file", "line", "column", "message"]
    assert ordered["line"].tolist() == [4, 2, 10] and ordered.index.tolist() == [0, 1, 2]
    page = show_problems(df).to_html()
    assert "x" * 400 in page and "pre-wrap" in page  # whole, wrapped
    assert "No problems" in show_problems(df.iloc[0:0])._repr_html_()
