"""Hypothesis strategies for checkout sessions, built by walking the schema models.

``sessions()`` draws valid ``CheckoutSession`` dicts as the API could return them: every
field of the JSON schema of :class:`gr4vy_nb.schema.CheckoutSession` is optional or
required as declared, each value within its constraints (patterns via ``from_regex``,
lengths, bounds, enums, ``maxItems``), nulls and empty lists/objects mixed in, text drawn
from a pool of values that break naive CSV handling (``NA``, ``=HYPERLINK(...)``,
``+44...``, newlines, quotes, ``|``, ``;``, emoji, leading zeros) and from arbitrary Unicode.
With ``unknown=True`` some objects also carry fields unknown to the models.

Reused by the round-trip tests of frames, CSV files and the bulk engine.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any

from hypothesis import strategies as st

from gr4vy_nb.schema import CheckoutSession

TRICKY = [
    "NA", "Null", "None", "nan", "NaN", "null", "#N/A", "N/A", "=HYPERLINK(\"http://x.example\",\"y\")",
    "=1+1", "+441234567890", "-1", "@SUM(A1)", "'quoted", "''", "'", "a,b", "a;b", "a|b", "a\\|b", "a\\b",
    'say "hi"', '"', "line\nbreak", "cr\rlf", "crlf\r\nx", "\ttab", " padded ", "0012", "000", "1.23E+12",
    "😀 emoji", "Zoë Ångström", "中文", "[x", "[]", "{}", "true", "FALSE", " ", "\n",
]
_ALPHABET = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def text(min_size: int = 0, max_size: int | None = None, pattern: str | None = None) -> st.SearchStrategy[str]:
    """Text within the given constraints: tricky values, arbitrary Unicode, or a pattern's matches."""
    if pattern is not None:
        return st.from_regex(re.compile(pattern.replace(r"\d", "[0-9]")), fullmatch=True)
    top = 40 if max_size is None else min(max_size, 40)
    pool = [t for t in TRICKY if min_size <= len(t) <= (max_size or 10**9)]
    options = [st.text(_ALPHABET, min_size=min_size, max_size=max(top, min_size))]
    if pool:
        options.insert(0, st.sampled_from(pool))
    return st.one_of(*options)


_OFFSETS = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)), timezone(timedelta(0))]


@st.composite
def date_times(draw: Any) -> str:
    """RFC 3339 text with an offset, in the forms an API writes (``Z``, ``+00:00``, fractions)."""
    value = draw(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9998, 12, 30),
                              timezones=st.sampled_from(_OFFSETS)))
    if draw(st.booleans()):
        value = value.replace(microsecond=0)
    form = draw(st.sampled_from(["iso", "z", "millis"]))
    if form == "z" and value.utcoffset() == timedelta(0):
        return value.replace(tzinfo=None).isoformat() + "Z"
    if form == "millis":
        return value.isoformat(timespec="milliseconds")
    return value.isoformat()


def json_values() -> st.SearchStrategy[Any]:
    """Arbitrary JSON (for fields unknown to the models): no floats, which JSON may not round-trip exactly."""
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), text(0, 20))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), inner, max_size=3)),
        max_leaves=6)


class _Builder:
    def __init__(self, unknown: bool) -> None:
        self.schema = CheckoutSession.model_json_schema()
        self.defs = self.schema.get("$defs", {})
        self.unknown = unknown

    def resolve(self, node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        nullable = False
        if "anyOf" in node:
            options = [o for o in node["anyOf"] if o.get("type") != "null"]
            nullable = len(options) < len(node["anyOf"])
            node = {**options[0], **{k: v for k, v in node.items() if k != "anyOf"}}
        if "$ref" in node:
            node = {**self.defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        return node, nullable

    def value(self, node: dict[str, Any]) -> st.SearchStrategy[Any]:
        node, nullable = self.resolve(node)
        strategy = self.non_null(node)
        return st.one_of(st.none(), strategy) if nullable else strategy

    def non_null(self, node: dict[str, Any]) -> st.SearchStrategy[Any]:
        if "const" in node:
            return st.just(node["const"])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        kind = node.get("type")
        if kind == "object" and "properties" in node:
            return self.obj(node)
        if kind == "object":
            return st.dictionaries(text(0, 12), text(0, 20), max_size=3)
        if kind == "array":
            top = min(node.get("maxItems", 3), 3)
            return st.lists(self.value(node["items"]), max_size=top)
        if kind == "integer":
            low = node.get("minimum", node["exclusiveMinimum"] + 1 if "exclusiveMinimum" in node else -(2**40))
            return st.integers(low, node.get("maximum", 2**40))
        if kind == "number":
            return st.integers(int(node.get("minimum", 0)), int(node.get("maximum", 10**6)))
        if kind == "boolean":
            return st.booleans()
        if kind == "string":
            if node.get("format") == "date-time":
                return date_times()
            if node.get("format") == "date":
                return st.dates().map(lambda d: d.isoformat())
            return text(node.get("minLength", 0), node.get("maxLength"), node.get("pattern"))
        raise TypeError(f"no strategy for {node}")

    def obj(self, node: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        required = set(node.get("required", ()))
        must = {k: self.value(v) for k, v in node["properties"].items() if k in required}
        may = {k: self.value(v) for k, v in node["properties"].items() if k not in required}
        base = st.fixed_dictionaries(must, optional=may)
        if not self.unknown:
            return base
        extra = st.dictionaries(st.from_regex(r"zz_[a-z]{1,6}", fullmatch=True), json_values(), max_size=2)
        return st.tuples(base, extra).map(lambda pair: {**pair[0], **pair[1]})


@cache
def _builder(unknown: bool) -> _Builder:
    return _Builder(unknown)


def session(*, unknown: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """One valid session dict (with fields unknown to the models if ``unknown``)."""
    builder = _builder(unknown)
    return builder.obj(builder.schema)


def sessions(*, unknown: bool = False, max_size: int = 4) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A list of valid sessions with distinct ids."""
    return st.lists(session(unknown=unknown), max_size=max_size, unique_by=lambda s: s["id"].lower())
