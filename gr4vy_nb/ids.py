"""Checkout session ids: the one UUID pattern, and the one parser of ids typed, pasted or read from a file.

A session id is a UUID (8-4-4-4-12 hexadecimal digits). The API answers ids in lower case
and compares them without regard to case, so every id the toolkit reads is put in that
canonical form (:func:`canonical_id`); anything else is rejected, never sent, because an id
goes into a URL path.

::

    >>> canonical_id(" 4D645FA6-D13C-413A-82F8-EDA197B1165F ")
    '4d645fa6-d13c-413a-82f8-eda197b1165f'
    >>> parse_session_ids("4d645fa6-d13c-413a-82f8-eda197b1165f, nope")
    (['4d645fa6-d13c-413a-82f8-eda197b1165f'], ['nope'])
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

__all__ = [
    "ID_COLUMN",
    "UUID_PATTERN",
    "UUID_RE",
    "canonical_id",
    "is_id_header",
    "is_session_id",
    "parse_session_ids",
    "split_ids",
]

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
"""The pattern of a checkout session id, as the OpenAPI document writes it (``format: uuid``)."""
UUID_RE = re.compile(UUID_PATTERN)
ID_COLUMN = "checkout_session_id"
"""The name of the id column in every table and file the toolkit reads or writes."""

_SEPARATORS = re.compile(r"[\s,;|]+")
_WRAPPERS = "'\"{}[]()"
_LETTERS = re.compile(r"[^a-z0-9]")


def is_id_header(text: object) -> bool:
    """Whether a header names the id column: ``checkout_session_id``, quoted or typed (``Checkout Session ID``).

    Letters and digits are compared without regard to case; anything else (spaces, ``_``, ``-``, quotes) is ignored.
    """
    return isinstance(text, str) and _LETTERS.sub("", text.lower()) == _LETTERS.sub("", ID_COLUMN)


def is_session_id(value: object) -> bool:
    """Whether ``value`` is text holding exactly one UUID (no surrounding space; ``\\n`` included)."""
    return isinstance(value, str) and UUID_RE.fullmatch(value) is not None


def canonical_id(value: object) -> str | None:
    """The id in the API's form (stripped of spaces, quotes and braces, lower case), or ``None`` if it is none."""
    if not isinstance(value, str):
        return None
    text = value.strip().strip(_WRAPPERS).strip()
    return text.lower() if UUID_RE.fullmatch(text) else None


def split_ids(text: str) -> Iterable[str]:
    """The tokens of ``text`` that may be ids: split on white space, ``,``, ``;`` and ``|``.

    A CSV text whose first line names a ``checkout_session_id`` column (with ``,`` or ``;``)
    yields that column's cells only; a first line that is such a header alone (however written, see
    :func:`is_id_header`) and a ``checkout_session_id`` token are skipped.
    """
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    if is_id_header(first):  # a header line of its own ("Checkout Session ID"): not three values
        text = text.split("\n", 1)[1] if "\n" in text else ""
        first = ""
    if ID_COLUMN in first and ("," in first or ";" in first):
        delimiter = ";" if first.count(";") > first.count(",") else ","
        tokens: Iterable[str] = ((row.get(ID_COLUMN) or "") for row in csv.DictReader(io.StringIO(text),
                                                                                      delimiter=delimiter))
    else:
        tokens = _SEPARATORS.split(text)
    for token in tokens:
        value = token.strip().strip(_WRAPPERS).strip()
        if value and value.lower() != ID_COLUMN:
            yield value


def parse_session_ids(text: str) -> tuple[list[str], list[str]]:
    """Session ids pasted or read from a file: ``(ids, rejected)``, each once, in first-seen order.

    Accepts ids separated by newlines, spaces, commas, semicolons or ``|``, optionally quoted
    or in braces (as some tools copy them); see :func:`split_ids`. Ids are put in the API's
    form (:func:`canonical_id`); anything that is not a UUID is rejected.
    """
    ids: dict[str, None] = {}
    rejected: dict[str, None] = {}
    for token in split_ids(text):
        sid = canonical_id(token)
        if sid is None:
            rejected[token] = None
        else:
            ids[sid] = None
    return list(ids), list(rejected)
