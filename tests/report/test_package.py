"""The report package's surface: every name exists and is documented."""

from __future__ import annotations

from gr4vy_nb import report


def test_public_names_exist_and_are_documented():
    for name in report.__all__:
        obj = getattr(report, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"report.{name} has no docstring"
