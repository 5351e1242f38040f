"""Masking personal and card data for display: partial reveal plus a short keyed hash.

Which fields are masked is decided by the field spec (:data:`gr4vy_nb.tables.spec.PERSONAL`:
names, emails, phones, passports, dates of birth, frequent-flyer and ticket numbers,
addresses, tax ids, account numbers, display names, card fingerprints, BINs and labels),
so marking a new field personal is one edit there.

The scheme: each masked value keeps a small, useful part in the clear and ends with a tag,
``#`` + 6 characters of base32 of HMAC-SHA256(key, value).  Equal values get equal tags,
so masked columns still group, count and join; different values collide with probability
about 1e-9 per pair.  The tag is not reversible without the key, and a brute force over
a small space (dates of birth, phone numbers) needs the key too.

======================  ==========================  =====================================
style                   example                     keeps
======================  ==========================  =====================================
name                    ``J*** #k3x9qa``            first letter
email                   ``j***@***.com #p2m4sd``    first letter and the top-level domain
phone                   ``+44*******90 #aa3bqe``    ``+``, two leading and two last digits
id                      ``***67 #mq7d2k``           last two characters
postcode                ``EC*** #b2kq4s``           first two characters (postal area)
text (address lines)    ``1*** #c7x2mm``            first character
date (date of birth)    ``1985-**-** #x2k9fa``      the year
bin                     ``4***** #fk2m3q``          first digit (the card network)
hash (fingerprint)      ``#3kd8sq``                 nothing
======================  ==========================  =====================================

The key is one per process, so a plan and its run in one kernel show the same tags; it is
``GR4VY_NB_MASK_KEY`` (any text) when set, else a random key kept in the user's config folder
(``mask-key``, readable by the user only, made on first use), so that ``gr4vy-nb plan`` and a
later ``gr4vy-nb apply`` can be compared too; delete the file to start new tags. Tags cannot
be linked across machines or users.  :func:`unmasked` (what ``--raw`` does) turns
:func:`mask_value` off for the duration of a block, so the problems, notes and warnings made
inside it quote values as they are.  Values in the ``extra`` column (fields unknown to this
version) are masked as a whole, keys kept, since nothing is known about them.

A masked value is never data: every masked table carries the names of its masked columns in
``DataFrame.attrs`` (:data:`MASKED_ATTR`, read by :func:`masked_columns`), so the update
pipeline refuses masked frames whole, and :data:`TOKEN_PATTERN` finds a masked display that
has lost that mark (copied into a file) cell by cell.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, lru_cache
from typing import Any

import numpy as np
import orjson
import pandas as pd

from . import spec as F

__all__ = ["HASH_TOKEN_PATTERN", "MASKED_ATTR", "TOKEN_PATTERN", "is_personal", "mask_frame", "mask_style",
           "mask_value", "masked_columns", "masking_on", "set_mask_key", "unmasked"]

MASKED_ATTR = "gr4vy_nb.masked"
"""The ``DataFrame.attrs`` key of a masked table: the list of its masked columns."""
_TAG = r"#[a-z2-7]{6}"
TOKEN_PATTERN = rf"^\s*\S*\*\*\S*(?:@\*\*\*\S*)?(?:-\*\*-\*\*)? {_TAG}\s*$"
"""A cell that is a masked display (``J*** #k3x9qa``, ``***67 #mq7d2k``, ``1985-**-** #x2k9fa``): RE2 syntax."""
HASH_TOKEN_PATTERN = rf"^\s*{_TAG}\s*$"
"""The bare tag of the ``hash`` style (card fingerprints), matched only in such columns."""
_KEY_FILE = "mask-key"

_RAW: ContextVar[bool] = ContextVar("gr4vy_nb_raw", default=False)


@contextmanager
def unmasked(raw: bool = True) -> Iterator[None]:
    """Within the block, :func:`mask_value` leaves personal values as they are (``--raw``; ``raw=False``: no-op).

    Problems, notes and warnings built inside it quote values unmasked; the displays that mask
    a whole frame (:func:`mask_frame`) are not affected.
    """
    token = _RAW.set(bool(raw) or _RAW.get())
    try:
        yield
    finally:
        _RAW.reset(token)


def masking_on() -> bool:
    """Whether :func:`mask_value` masks (``False`` inside :func:`unmasked`)."""
    return not _RAW.get()

_key: bytes | None = None


def _kept_key() -> bytes:
    """The key kept in the config folder (made on first use, mode 0600); a random one if it cannot be kept."""
    from ..config import config_dir

    path = config_dir() / _KEY_FILE
    try:
        data = path.read_bytes().strip()
        if len(data) >= 32:
            return data
    except OSError:
        pass
    fresh = base64.b32encode(os.urandom(40))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(fresh + b"\n")
    except FileExistsError:  # another process made it first: use theirs
        data = path.read_bytes().strip()
        return data if len(data) >= 32 else fresh
    except OSError:
        pass
    return fresh


def _current_key() -> bytes:
    global _key
    if _key is None:
        from ..config import MASK_KEY_ENV

        _key = (os.environ.get(MASK_KEY_ENV) or "").encode() or _kept_key()
    return _key


def set_mask_key(key: bytes | str | None) -> None:
    """Use ``key`` for the tags from now on (``None``: a new random key for this process)."""
    global _key
    _key = (key.encode() if isinstance(key, str) else key) if key else os.urandom(32)
    _tag.cache_clear()


@lru_cache(maxsize=100_000)
def _tag(value: str) -> str:
    digest = hmac.new(_current_key(), value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return "#" + base64.b32encode(digest[:5]).decode("ascii")[:6].lower()


def _first(value: str, n: int = 1) -> str:
    return value[:n] if len(value) > n else ""


def _mask(style: str, value: str) -> str:
    tag = _tag(value)
    if style == "name" or style == "text":
        return f"{_first(value)}*** {tag}"
    if style == "email":
        local, _, domain = value.rpartition("@")
        tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
        return f"{_first(local)}***@***{'.' + tld if tld else ''} {tag}" if local else f"*** {tag}"
    if style == "phone":
        if len(value) >= 7:
            return f"{value[:3]}{'*' * (len(value) - 5)}{value[-2:]} {tag}"
        return f"*** {tag}"
    if style == "id":
        return f"***{value[-2:] if len(value) >= 6 else ''} {tag}"
    if style == "postcode":
        return f"{_first(value, 2)}*** {tag}"
    if style == "date":
        return f"{value[:4]}-**-** {tag}" if re.match(r"^\d{4}-", value) else f"*** {tag}"
    if style == "bin":
        return f"{_first(value)}***** {tag}"
    if style == "hash":
        return tag
    return f"*** {tag}"


@cache
def _styles() -> dict[str, str]:
    """Masking style by column name (child tables by bare and by ``table.column`` name)."""
    out: dict[str, str] = {}
    for table in F.TABLES:
        for f in F.table_fields(table):
            if f.mask:
                out[f.column] = f.mask
                if table != "sessions":
                    out[f"{table}.{f.column}"] = f.mask
                    child = F.CHILD_TABLES[table]
                    out[".".join((*child.path, f.column))] = f.mask
    return out


def mask_style(column: str, table: str | None = None) -> str | None:
    """The masking style of a column (``None`` when it is not personal).

    ``column`` may be a table column (``first_name``, ``buyer.billing_details.last_name``),
    ``table.column``, or a path of the session such as ``airline.passengers.0.first_name`` or
    the JSON pointer ``/airline/passengers/0/first_name``; ``extra`` is masked as a whole.
    """
    if table is not None:
        f = F.field_for(table, column)
        if f is not None:
            return f.mask or ("json" if f.role == "extra" else None)
    if column == F.EXTRA or column.endswith("." + F.EXTRA):
        return "json"
    styles = _styles()
    if column in styles:
        return styles[column]
    parts = [p for p in re.split(r"[/.]", column) if p and not p.isdigit()]
    return styles.get(".".join(parts))


def is_personal(column: str, table: str | None = None) -> bool:
    """Whether a column holds personal or card data (see :func:`mask_style`)."""
    return mask_style(column, table) is not None


def _mask_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    return _mask("other", str(value))


def _mask_any(style: str, value: str) -> str:
    if style == "json":
        try:
            return orjson.dumps(_mask_json(orjson.loads(value)), option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONDecodeError:
            return _mask("other", value)
    return _mask(style, value)


def mask_value(column: str, value: Any, table: str | None = None) -> Any:
    """``value`` masked if ``column`` is personal (see :func:`mask_style`), else unchanged.

    Missing values (``None``, ``NA``) stay missing; a masked value is always text. Inside
    :func:`unmasked` every value is returned as it is.
    """
    if _RAW.get():
        return value
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return value
    style = mask_style(column, table)
    if style is None:
        return value
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return _mask_any(style, text)


def mask_series(series: pd.Series, style: str) -> pd.Series:
    """A column masked with ``style``: each distinct value is masked once; the result is text."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        text = series.dt.strftime("%Y-%m-%dT%H:%M:%S").astype("string[pyarrow]")
    elif isinstance(series.dtype, pd.ArrowDtype) or not isinstance(series.dtype, pd.StringDtype):
        text = series.astype("string[pyarrow]")
    else:
        text = series
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    masked = np.array([_mask_any(style, str(u)) for u in uniques] + [None], dtype=object)
    return pd.Series(pd.array(masked[codes], dtype="string[pyarrow]"), index=series.index, name=series.name)


def mask_frame(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """A copy of one flattened table (``sessions``, ``cart_items``, ...) with its personal columns masked.

    The copy knows it is masked: ``attrs[MASKED_ATTR]`` lists the masked columns (see :func:`masked_columns`).
    """
    out = df.copy()
    done = list(masked_columns(df))
    for column in df.columns:
        style = mask_style(str(column), table)
        if style is not None:
            out[column] = mask_series(df[column], style)
            done.append(str(column))
    out.attrs[MASKED_ATTR] = list(dict.fromkeys(done))
    return out


def masked_columns(df: Any) -> list[str]:
    """The masked columns of a table made by :func:`mask_frame` (kept through copies and edits), else ``[]``."""
    attrs = getattr(df, "attrs", None)
    found = attrs.get(MASKED_ATTR) if isinstance(attrs, dict) else None
    return [str(c) for c in found] if isinstance(found, list | tuple) else []
