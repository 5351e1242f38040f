"""Values as the API compares them, the parts of a value this version may send back, and leaf diffs.

* :func:`canonical`: the comparable form of a top-level field's value (``null``, a missing
  key, ``{}`` and ``[]`` alike; schema defaults given or not alike; date-times in UTC);
* :func:`same_fields`: which top-level fields differ between two sessions;
* :func:`carried_value` / :func:`carried_item`: a current value as it is sent back inside an
  object or list an update replaces: everything kept, fields this version does not know too;
  :func:`known_part`: the part the models know, to validate;
* :func:`leaf_diff`: every leaf that differs between two values, with its path
  (``cart_items[0].tax_amount``; see :mod:`gr4vy_nb.pointers`).
"""

from __future__ import annotations

import copy
import types
import typing
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC
from functools import cache
from typing import Annotated, Any

import pydantic
from pydantic import TypeAdapter

from .. import schema
from ..instants import parse_datetime
from ..pointers import path_text
from ..schema import CheckoutSessionUpdate
from ..tables import spec as F

__all__ = [
    "canonical",
    "carried_item",
    "carried_value",
    "diff_parts",
    "get_path",
    "keyed_lists",
    "known_body",
    "known_part",
    "leaf_diff",
    "prune",
    "same_fields",
]


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    info = CheckoutSessionUpdate.model_fields[name]
    annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(annotation)


def prune(value: Any) -> Any:
    """Drop ``None`` members; an empty object or list becomes ``None``."""
    if isinstance(value, dict):
        out = {k: p for k, v in value.items() if (p := prune(v)) is not None}
        return out or None
    if isinstance(value, list):
        return [prune(v) for v in value] or None
    return value


@cache
def _datetime_paths() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Top-level field -> paths of the date-times inside it (``*``: every element of a list)."""
    out: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for f in F.table_fields("sessions"):
        if f.kind == "datetime" and not f.read_only:
            out[f.path[0]].append(f.path[1:])
    for table, child in F.CHILD_TABLES.items():
        for f in F.table_fields(table):
            if f.kind == "datetime":
                out[child.path[0]].append((*child.path[1:], "*", *f.path))
    return {k: tuple(v) for k, v in out.items()}


def _utc_text(value: Any) -> Any:
    when = parse_datetime(value)
    if when is None or when.tzinfo is None:  # not a date-time with an offset: compared as it is
        return value
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _to_utc(holder: Any, key: Any, path: tuple[str, ...]) -> None:
    """Rewrite the date-time at ``holder[key]`` then ``path`` in UTC, in place."""
    value = holder[key] if isinstance(holder, list) or (isinstance(holder, dict) and key in holder) else None
    if value is None:
        return
    if not path:
        holder[key] = _utc_text(value)
    elif path[0] == "*":
        if isinstance(value, list):
            for i in range(len(value)):
                _to_utc(value, i, path[1:])
    elif isinstance(value, dict) and path[0] in value:
        _to_utc(value, path[0], path[1:])


def canonical(name: str, value: Any) -> Any:
    """The comparable form of a top-level session field's value.

    Values the API treats alike compare equal: ``null``, a missing key, ``{}`` and ``[]``; a
    schema default given or not (``discount_amount`` 0); ``2013-07-16T19:23:00.000+00:00`` and
    ``2013-07-16T19:23:00Z``. Keys unknown to this version are compared as they are (a change
    in one is a change). A value the models refuse is compared as given (minus ``None`` members).
    """
    if value is None:
        return None
    if name in CheckoutSessionUpdate.model_fields:
        adapter = _adapter(name)
        try:
            parsed = adapter.validate_python(value, context={"lenient": True})
        except pydantic.ValidationError:
            return prune(value)
        dumped = adapter.dump_python(parsed, mode="json", exclude_none=True)
        _restore(value, dumped, *_fields_of(CheckoutSessionUpdate)[name])
        if name in _datetime_paths():
            box = {name: dumped}
            for path in _datetime_paths()[name]:
                _to_utc(box, name, path)
            dumped = box[name]
        return prune(dumped)
    return prune(value)


def _unwrap(annotation: Any) -> Any:
    """``Optional[Annotated[X, ...]]`` -> ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _shape_of(annotation: Any) -> tuple[str, Any]:
    """``("model", cls)``, ``("models", cls)`` (a list of models) or ``("value", None)``."""
    inner = _unwrap(annotation)
    if isinstance(inner, type) and issubclass(inner, pydantic.BaseModel):
        return "model", inner
    if typing.get_origin(inner) is list:
        item = _unwrap(typing.get_args(inner)[0])
        if isinstance(item, type) and issubclass(item, pydantic.BaseModel):
            return "models", item
    return "value", None


@cache
def _fields_of(model: type[pydantic.BaseModel]) -> dict[str, tuple[str, Any]]:
    return {name: _shape_of(info.annotation) for name, info in model.model_fields.items()}


@cache
def _model_keys(model: type[pydantic.BaseModel]) -> tuple[frozenset[str], dict[str, tuple[str, Any]]]:
    """A model's field names, and the shapes of those that hold models (the others hold plain values)."""
    fields = _fields_of(model)
    return frozenset(fields), {k: v for k, v in fields.items() if v[0] != "value"}


def _plain_copy(v: Any) -> Any:
    return list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v


def _filter(value: Any, kind: str, model: Any, path: str, unknown: list[str], index: int | None = None, *,
            keep: bool = True) -> Any:
    """A copy of ``value`` without nulls; keys ``model`` does not know are kept (``keep``) or left out.

    Either way the path of each unknown key goes to ``unknown`` (``cart_items[0].x_new``).
    ``index``: the position of ``value`` in the list at ``path`` (a list element).
    """
    if value is None:
        return None
    if kind == "models":
        if not isinstance(value, list):
            return copy.deepcopy(value)
        return [_filter(v, "model", model, path, unknown, i, keep=keep) for i, v in enumerate(value)]
    if kind == "model":
        if not isinstance(value, dict):
            return copy.deepcopy(value)
        known, nested = _model_keys(model)
        if not nested and known.issuperset(value):  # the common case: one flat copy
            return {k: _plain_copy(v) if isinstance(v, list | dict) else v for k, v in value.items() if v is not None}
        here = path if index is None else f"{path}[{index}]"
        out = {}
        for key, v in value.items():
            if v is None:
                continue
            if key not in known:
                unknown.append(f"{here}.{key}")
                if keep:
                    out[key] = copy.deepcopy(v)
                continue
            shape = nested.get(key)
            out[key] = _plain_copy(v) if shape is None else _filter(v, shape[0], shape[1], f"{here}.{key}", unknown,
                                                                     keep=keep)
        return out
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    return list(value) if isinstance(value, list) else value


def carried_value(name: str, value: Any, unknown: list[str] | None = None) -> Any:
    """A top-level field's current value as it is sent back inside an update that replaces it (a copy).

    Everything is kept, fields this version does not know included (their paths go to
    ``unknown``): the API replaces ``cart_items`` and ``airline`` whole, so a key left out
    would be deleted. Only ``null`` members are left out (null and missing mean the same).
    """
    kind, model = _fields_of(CheckoutSessionUpdate).get(name, ("value", None))
    return _filter(value, kind, model, name, [] if unknown is None else unknown)


def known_part(name: str, value: Any, unknown: list[str] | None = None) -> Any:
    """The part of a top-level field's value that this version's models know (to validate it; never to send).

    The paths of the parts left out go to ``unknown``.
    """
    kind, model = _fields_of(CheckoutSessionUpdate).get(name, ("value", None))
    return _filter(value, kind, model, name, [] if unknown is None else unknown, keep=False)


def known_body(body: Mapping[str, Any], unknown: list[str] | None = None) -> dict[str, Any]:
    """An update body reduced to what the models know, to validate it (the rest is the server's to judge).

    Top-level fields the models do not know (sent back whole, see :mod:`~gr4vy_nb.updates.bodies`) are left out
    too, their names going to ``unknown``.
    """
    known = CheckoutSessionUpdate.model_fields
    if unknown is not None:
        unknown.extend(n for n in body if n not in known)
    return {n: known_part(n, v, unknown) for n, v in body.items() if n in known}


def _restore(raw: Any, dumped: Any, kind: str, model: Any) -> None:
    """Put back into ``dumped`` (a model dump of ``raw``) the keys of ``raw`` the model does not know."""
    if kind == "models" and isinstance(raw, list) and isinstance(dumped, list):
        for r, d in zip(raw, dumped, strict=False):
            _restore(r, d, "model", model)
    elif kind == "model" and isinstance(raw, dict) and isinstance(dumped, dict):
        known, nested = _model_keys(model)
        for key, v in raw.items():
            if v is None:
                continue
            if key not in known:
                dumped[key] = copy.deepcopy(v)
            elif key in nested and key in dumped:
                _restore(v, dumped[key], *nested[key])


def same_fields(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, names: Iterable[str]) -> list[str]:
    """The top-level fields among ``names`` whose canonical values differ between sessions ``a`` and ``b``."""
    a = a or {}
    b = b or {}
    return [n for n in names if canonical(n, a.get(n)) != canonical(n, b.get(n))]


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def diff_parts(before: Any, after: Any, parts: tuple[Any, ...], out: list[tuple[tuple[Any, ...], Any, Any]]) -> None:
    if before == after:
        return
    if isinstance(before, dict) or isinstance(after, dict):
        if (before is not None and not isinstance(before, dict)) or (after is not None and not isinstance(after, dict)):
            out.append((parts, before, after))
            return
        b = before or {}
        a = after or {}
        for k in list(a) + [k for k in b if k not in a]:
            diff_parts(b.get(k), a.get(k), (*parts, k), out)
        return
    if (isinstance(before, list) or isinstance(after, list)) and not (
        _is_scalar_list(before or []) and _is_scalar_list(after or [])
    ):
        b = before if isinstance(before, list) else []
        a = after if isinstance(after, list) else []
        for i in range(max(len(a), len(b))):
            diff_parts(b[i] if i < len(b) else None, a[i] if i < len(a) else None, (*parts, i), out)
        return
    out.append((parts, before, after))


def _with(obj: Any, path: tuple[str, ...], value: Any) -> Any:
    """A shallow copy of ``obj`` with ``value`` at ``path`` (``obj`` itself when a part of the path is missing)."""
    if not path:
        return value
    if not isinstance(obj, dict):
        return obj
    return {**obj, path[0]: _with(obj.get(path[0]), path[1:], value)}


def keyed_lists(before: Any, after: Any, path: tuple[str, ...],
                origins: list[int | None]) -> tuple[Any, Any, dict[int, int]]:
    """Two values of a top-level field with the list at ``path`` keyed by the element's current index, to diff.

    ``origins`` gives, for each position of the new list, the index in the current list of the
    element it was made from (``None``: a new element). Each list becomes ``{key: element}``:
    the current elements by their index, the new list's elements by their origin, new elements
    numbered after the current ones (``n``, ``n + 1``, ...). So a kept element is diffed against
    itself wherever it now stands, a removed one reads as removed, and diff paths name elements
    by their current index. Also returns each key's position in the new list.
    """
    b_list = get_path(before, path) if path else before
    a_list = get_path(after, path) if path else after
    b_list = b_list if isinstance(b_list, list) else []
    a_list = a_list if isinstance(a_list, list) else []
    keyed_before = dict(enumerate(b_list))
    keyed_after: dict[int, Any] = {}
    place: dict[int, int] = {}
    new = len(b_list)
    for p, i in enumerate(origins):
        if i is None:
            key, new = new, new + 1
        else:
            key = i
        if p < len(a_list):
            keyed_after[key] = a_list[p]
        place[key] = p
    return _with(before, path, keyed_before or None), _with(after, path, keyed_after or None), place


def leaf_diff(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """``(path, before, after)`` for every leaf that differs between two canonical values.

    Paths read like ``metadata.tag``, ``cart_items[0].tax_amount``,
    ``airline.passengers[1].first_name``; a list of plain values (``categories``) is one leaf.
    """
    out: list[tuple[tuple[Any, ...], Any, Any]] = []
    diff_parts(before, after, (path,) if path else (), out)
    return [(path_text(p), b, a) for p, b, a in out]


@cache
def _item_model(table: str) -> type[pydantic.BaseModel]:
    """The model of one element of a child table's list (``CartItem`` for ``cart_items``), from the spec."""
    path = F.CHILD_TABLES[table].path
    return getattr(schema, next(c.model for c in F.containers() if c.kind == "list" and c.path == path))


def carried_item(table: str, value: Mapping[str, Any], unknown: list[str] | None = None,
                 index: int | None = None) -> dict[str, Any]:
    """An element of a child table's list as it is sent back (a copy, no nulls, unknown keys kept)."""
    path = ".".join(F.CHILD_TABLES[table].path)
    return _filter(value, "model", _item_model(table), path, [] if unknown is None else unknown, index)


def get_path(obj: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in nested mappings (``None`` where a part is missing)."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj
