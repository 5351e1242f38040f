"""Places inside a session: JSON pointers (RFC 6901) and the paths people read, one encoder and one decoder.

A place is a sequence of parts, keys and list positions: ``("cart_items", 0, "tax_amount")``.
It is written three ways:

=====================  =================================  ===================================
form                   example                            used for
=====================  =================================  ===================================
pointer                ``/cart_items/0/tax_amount``       API error details, locating cells
path                   ``cart_items[0].tax_amount``       diffs, differences, messages
field                  ``cart_items.tax_amount``          which field (no positions): masking,
                                                          error counts by field
=====================  =================================  ===================================

::

    >>> encode(["metadata", "a/b"])
    '/metadata/a~1b'
    >>> decode("/metadata/a~1b")
    ['metadata', 'a/b']
    >>> path_text(("airline", "passengers", 1, "first_name"))
    'airline.passengers[1].first_name'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["decode", "encode", "field_of_path", "field_of_pointer", "path_text"]

_POSITION = re.compile(r"\[\d+\]")


def encode(parts: Iterable[Any]) -> str:
    """The JSON pointer of ``parts``: ``["cart_items", 0, "name"]`` -> ``/cart_items/0/name`` (``""``: the whole)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def decode(pointer: str | None) -> list[str]:
    """The parts of a JSON pointer, unescaped (positions stay text: ``"0"``); ``None`` or ``""`` -> ``[]``.

    Empty parts are dropped, so a malformed pointer such as ``cart_items//0`` still reads as
    its keys; a leading ``body`` part (FastAPI's location) is the caller's to drop.
    """
    return [p.replace("~1", "/").replace("~0", "~") for p in (pointer or "").split("/") if p != ""]


def path_text(parts: Sequence[Any]) -> str:
    """``("cart_items", 0, "tax_amount")`` -> ``cart_items[0].tax_amount`` (positions as ``[n]``)."""
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text


def field_of_path(path: str) -> str:
    """The field a path names, positions dropped: ``passengers[1].first_name`` -> ``passengers.first_name``."""
    return _POSITION.sub("", path)


def field_of_pointer(pointer: str | None) -> str:
    """The field a pointer names, positions dropped: ``/cart_items/0/name`` -> ``cart_items.name`` (``""`` if none)."""
    return ".".join(p for p in decode(pointer) if not p.isdigit())
