"""The standalone HTML report: self-contained, escaped, masked by default, opens in a real browser.

Canaries are planted in the fixture (names, emails, a passport number, a phone number,
an over-long name); the masked report must contain none of them, the raw one must show
the ones it displays (so the check can fail). The browser test needs ``/usr/bin/chromium``
(skipped with the reason when absent, failed instead when ``CI=true``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def test_values_are_escaped_and_nothing_runs(html_masked, html_raw):
    for path in (html_masked, html_raw):
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text.lower(), "no script element, not even from data"
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the product name, shown as text
        assert "<img src=x" not in text and "&lt;img src=x onerror=alert(2)&gt;" in text  # a metadata value
        assert "onerror=" not in re.sub(r"&lt;.*?&gt;", "", text)


def test_report_is_self_contained(html_masked):
    text = html_masked.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    sources = re.findall(r'<img [^>]*src="([^"]*)"', text)
    assert len(sources) == 8 and all(s.startswith("data:image/svg+xml;base64,") for s in sources)
    # No attribute points anywhere but inside the page.
    links = re.findall(r'\s(?:src|href|action|srcset)\s*=\s*"([^"]*)"', text)
    assert all(link.startswith(("data:", "#")) for link in links), links
    assert "<link" not in text and "@import" not in text and "url(" not in text




# --------------------------------------------------------------------------- sources and report_command







# --------------------------------------------------------------------------- a real browser


def test_report_opens_in_headless_chromium(html_masked, tmp_path):
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is required in CI (apt-get install chromium)")
        pytest.skip("/usr/bin/chromium is not installed")
    base = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}"]
    url = html_masked.as_uri()
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    assert "<h1>Checkout sessions report</h1>" in dom
    assert "Schema rule failures" in dom and "By status" in dom
    assert "<script" not in dom.lower()
    shot = tmp_path / "shot.png"
    subprocess.run([*base, "--window-size=1200,2400", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120, check=True)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000  # a page, not a blank
