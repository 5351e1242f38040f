"""gr4vy_nb.widgets as a package: the only importer of ipywidgets, and every app it exports documented."""

from __future__ import annotations

import re

from tests.paths import REPO


def test_only_the_widgets_import_ipywidgets() -> None:
    package = REPO / "gr4vy_nb"
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if "widgets" not in p.relative_to(package).parts
                 and re.search(r"^\s*(import|from)\s+ipywidgets\b", p.read_text(encoding="utf-8"), re.M)]
    assert offenders == []


def test_widget_exports_are_documented() -> None:
    import inspect

    import gr4vy_nb.widgets as widgets

    for name in widgets.__all__:
        doc = inspect.getdoc(getattr(widgets, name))
        assert doc and len(doc) > 20, name
