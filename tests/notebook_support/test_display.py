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
