"""Pieces every app shares: a message area, the busy guard, tables, download links, progress.

The guard is the widgets' one rule (STYLE.md item 12) in one place: while a handler runs its
buttons are disabled, they are re-enabled in ``finally``, and every error is shown in the
app's message area.  Errors of the toolkit (:class:`~gr4vy_nb.errors.Gr4vyError`) are the
user's to fix and are shown in words; anything else is a bug, shown with its traceback *and*
re-raised, so that a test calling the handler fails and the kernel's log records it.
"""

from __future__ import annotations

import base64
import contextlib
import html
import re
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ipywidgets as w
import pandas as pd

from ..errors import ApiError, Gr4vyError, InputError, Refused

__all__ = [
    "MAX_TABLE_ROWS",
    "MAX_UPLOAD_BYTES",
    "Confirmation",
    "Messages",
    "ProblemsView",
    "Table",
    "amount_text",
    "busy",
    "display_frame",
    "download_link",
    "error_text",
    "is_amount_path",
    "is_missing",
    "is_problems_frame",
    "problems_csv",
    "problems_for_display",
    "uploaded_files",
]

MAX_TABLE_ROWS = 5000
"""Rows sent to the browser per table; more are summarised (the files on disk hold them all)."""

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
"""Largest file taken through the browser's upload button.

Jupyter's websocket refuses messages over 10 MiB by default (tornado's limit), and an upload
travels as one message; bigger files are read from disk by typing their path instead."""

_TAG_RE = re.compile(r"<[^>]+>")
_COLOURS = {"info": "#1f2937", "ok": "#15803d", "warn": "#b45309", "error": "#b91c1c"}


def error_text(exc: BaseException) -> str:
    """A one-paragraph description of an error for the user (never a secret: errors carry none)."""
    if isinstance(exc, InputError):
        n = len(exc.problems) if exc.problems is not None else 0
        return f"{exc} ({n} problem{'s' if n != 1 else ''} listed below)" if n else str(exc)
    if isinstance(exc, ApiError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, Gr4vyError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Messages:
    """The app's message area: one HTML widget holding the latest messages, newest last.

    ``text`` is the plain text shown (for tests and logs); ``kind`` the kind of the last one
    (``info``, ``ok``, ``warn``, ``error``). A refusal (:class:`~gr4vy_nb.errors.Refused`) keeps its
    reason code, so that :meth:`prune` can drop it once the state it described no longer holds.
    """

    def __init__(self, keep: int = 6) -> None:
        self.widget = w.HTML(value="")
        self.widget.add_class("gr4vy-messages")
        self._keep = keep
        self._items: list[tuple[str, str, str, str | None]] = []  # (kind, text, extra html, reason code)
        self._lock = threading.Lock()
        self.kind = ""

    def _render(self) -> None:
        parts = []
        for kind, text, extra, _code in self._items:
            parts.append(
                f"<div class='gr4vy-msg gr4vy-msg-{kind}' style='color:{_COLOURS[kind]};margin:2px 0'>"
                f"{html.escape(text)}{extra}</div>"
            )
        self.widget.value = "".join(parts)

    def _add(self, kind: str, text: str, extra: str = "", code: str | None = None) -> None:
        with self._lock:
            self._items.append((kind, text, extra, code))
            del self._items[: -self._keep]
            self.kind = kind
            self._render()

    def prune(self, holding: Callable[[str], bool]) -> None:
        """Drop the refusals whose reason code no longer ``holding(code)`` (the state they described is gone)."""
        with self._lock:
            kept = [i for i in self._items if i[3] is None or holding(i[3])]
            if len(kept) != len(self._items):
                self._items = kept
                self.kind = kept[-1][0] if kept else ""
                self._render()

    def drop(self, *texts: str) -> None:
        """Drop the messages that start with one of ``texts`` (a note about a moment that has passed)."""
        with self._lock:
            kept = [i for i in self._items if not i[1].startswith(texts)]
            if len(kept) != len(self._items):
                self._items = kept
                self.kind = kept[-1][0] if kept else ""
                self._render()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.kind = ""
            self._render()

    def info(self, text: str) -> None:
        self._add("info", text)

    def ok(self, text: str) -> None:
        self._add("ok", text)

    def warn(self, text: str) -> None:
        self._add("warn", text)

    def error(self, exc_or_text: BaseException | str, *, with_traceback: bool = False) -> None:
        """Show an error; with ``with_traceback`` the traceback is folded under it."""
        if isinstance(exc_or_text, BaseException):
            text = error_text(exc_or_text)
            extra = ""
            if with_traceback:
                tb = "".join(traceback.format_exception(exc_or_text))
                extra = f"<details><summary>traceback</summary><pre>{html.escape(tb)}</pre></details>"
            reason = getattr(exc_or_text, "reason", None) if isinstance(exc_or_text, Refused) else None
            self._add("error", text, extra, str(reason.code) if hasattr(reason, "code") else None)
        else:
            self._add("error", exc_or_text)

    @property
    def text(self) -> str:
        """The plain text of the messages shown, one per line."""
        return "\n".join(i[1] for i in self._items)

    @property
    def errors(self) -> list[str]:
        return [i[1] for i in self._items if i[0] == "error"]


@contextlib.contextmanager
def busy(buttons: Sequence[w.Button], messages: Messages, *, on_done: Callable[[], None] | None = None,
         reraise_foreign: bool = True) -> Iterator[None]:
    """Disable ``buttons`` while the block runs; show any error in ``messages``; re-enable in ``finally``.

    Toolkit errors (:class:`Gr4vyError`) are shown and not re-raised: the message is the
    answer.  Any other exception is shown with its traceback and re-raised (a bug must be seen).
    ``on_done`` runs last, in ``finally``, to recompute which buttons the app's state allows.
    """
    before = [b.disabled for b in buttons]
    for b in buttons:
        b.disabled = True
    try:
        yield
    except Gr4vyError as exc:
        messages.error(exc)
    except Exception as exc:
        messages.error(exc, with_traceback=True)
        if reraise_foreign:
            raise
    finally:
        for b, was in zip(buttons, before, strict=True):
            b.disabled = was
        if on_done is not None:
            on_done()


# ISO 4217 currencies whose minor unit is not the cent (two digits); amounts are integers in the minor unit.
_MINOR_DIGITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                     "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4, "UYW": 4,
}


def is_amount_path(name: str) -> bool:
    """Whether a column or diff path holds an amount (``amount``, ``cart_items[0].unit_amount``, ...)."""
    return str(name).rsplit(".", 1)[-1].endswith("amount")


def is_missing(value: Any) -> bool:
    """Whether a cell is missing (``None``, NaN, ``pd.NA``, ``NaT``); lists and dicts never are."""
    return _is_missing(value)


def amount_text(value: Any, currency: Any) -> str:
    """An amount in minor units as people read it: ``1299``, ``EUR`` -> ``12.99 EUR`` (empty when missing).

    Exact (decimal arithmetic); the digits follow the currency's minor unit (``JPY`` none, ``KWD`` three).
    Without a currency the integer is shown as it is.
    """
    from decimal import Decimal

    if _is_missing(value):
        return ""
    code = "" if _is_missing(currency) else str(currency).strip().upper()
    try:
        minor = int(value)
    except (TypeError, ValueError):
        return str(value)
    if minor != value:
        return str(value)
    if not code:
        return str(minor)
    digits = _MINOR_DIGITS.get(code, 2)
    major = Decimal(minor).scaleb(-digits)
    return f"{major:,.{digits}f} {code}"


def _amount_columns(df: pd.DataFrame, currency: pd.Series | None) -> dict[str, pd.Series]:
    """The amount columns of ``df`` as text in their currency (``currency``: per row, else ``df['currency']``)."""
    if currency is None and "currency" in df.columns:
        currency = df["currency"]
    if currency is None:
        return {}
    codes = list(currency.reset_index(drop=True).astype(object))
    out = {}
    for name in df.columns:
        if is_amount_path(str(name)) and pd.api.types.is_integer_dtype(df[name].dtype):
            out[str(name)] = pd.Series([amount_text(v, c) for v, c in zip(df[name].astype(object), codes,
                                                                           strict=True)], dtype=object)
    return out


def display_frame(df: pd.DataFrame, max_rows: int = MAX_TABLE_ROWS, *,
                  currency: pd.Series | None = None) -> pd.DataFrame:
    """A copy of ``df`` for display: text cells, empty for missing, datetimes as ISO text, capped rows.

    Amount columns (integers in minor units) are shown in their currency's units (``12.99 EUR``) where the
    currency is known: ``currency`` (one per row of ``df``) or the frame's own ``currency`` column.
    """
    # Positional from here on: a filtered or sorted frame keeps its original index labels, and the
    # columns built below must line up with the rows they came from (not with labels 0..n-1).
    df = df.head(max_rows).reset_index(drop=True)
    amounts = _amount_columns(df, None if currency is None else currency.head(max_rows))
    out: dict[str, Any] = {}
    for name in df.columns:
        col = df[name]
        if str(name) in amounts:
            out[str(name)] = amounts[str(name)]
        elif isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(col.dtype):
            text = col.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            out[str(name)] = text.astype(object).where(col.notna(), "")
        else:
            values = col.astype(object)
            mask = col.isna() if col.dtype != object else col.map(_is_missing)
            out[str(name)] = values.where(~mask, "").map(_cell_text)
    return pd.DataFrame(out, index=range(len(df)))


def is_problems_frame(df: pd.DataFrame) -> bool:
    """Whether ``df`` is a problems table (:mod:`gr4vy_nb.problems`: ``severity``, ``line``, ``rule``, ``message``;
    not its summary, which is shown in its own order)."""
    return {"severity", "line", "rule", "message"} <= set(map(str, df.columns))


def problems_for_display(df: pd.DataFrame) -> pd.DataFrame:
    """A problems table as people read it (see :func:`gr4vy_nb.notebook_support.display.problems_in_order`).

    The session's id comes right after the place (file, line, column), before the wrapped message: a wide
    message never pushes it out of sight.
    """
    from ..notebook_support.display import problems_in_order

    out = problems_in_order(df)
    columns = [str(c) for c in out.columns]
    if "checkout_session_id" in columns and "message" in columns:
        columns.remove("checkout_session_id")
        columns.insert(columns.index("message"), "checkout_session_id")
        out = out[columns]
    return out


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def problems_csv(df: pd.DataFrame) -> bytes:
    """``problems.csv`` for people to read in a spreadsheet: UTF-8 with a BOM, sorted as shown.

    A cell a spreadsheet would run as a formula (starting with ``= + - @``, tab, CR, LF) gets a
    leading ``'``; nothing else is changed, so a message that already starts with a quote
    (``'ORD-000042' is not a UUID``) is written as it is, not with a doubled quote. (It is a
    report, not a file to upload again: no round-trip marker is needed.)
    """
    shown = problems_for_display(df)
    text = pd.DataFrame({str(c): shown[c].astype(object).map(
        lambda v: "" if _is_missing(v) else _guard_formula(_cell_text(v))) for c in shown.columns})
    return text.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _guard_formula(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and dicts
        return False


def _cell_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Columns of sentences: wrapped (never cut), while ids, codes and times stay on one line.
_WRAP_COLUMNS = frozenset({"message", "error_message", "differences", "fields", "error", "notes", "rolled back by",
                           "value", "journal"})
_TABLE_STYLE = ("<style>.gr4vy-table table.dataTable.nowrap td.gr4vy-wrap{white-space:normal;min-width:22em;"
                "max-width:36em;overflow-wrap:anywhere}</style>")


class Table:
    """An interactive table (itables' DataTables widget: paged, sortable, searchable, offline).

    The JavaScript comes with the ``itables`` package and loads through the widget, so it
    works with no network.  ``frame`` is the DataFrame last shown, in full (for tests and
    downloads); at most :data:`MAX_TABLE_ROWS` rows go to the browser, with a note saying so.
    An empty frame is shown as a sentence (``empty``), never as an empty grid. A problems table
    (:func:`is_problems_frame`) is shown severity first, sorted by file, line and column. Columns
    of sentences (messages, differences) wrap, never cut; ids, codes and times stay on one line.
    """

    def __init__(self, frame: pd.DataFrame | None = None, *, page_length: int = 10, caption: str = "",
                 empty: str = "Nothing to show.") -> None:
        from itables.widget import ITable

        self._page_length = page_length
        self.empty_text = empty
        self.note = w.HTML(value="")
        self.note.add_class("gr4vy-table-note")
        self.itable = ITable(
            display_frame(pd.DataFrame()),
            caption=caption,
            pageLength=page_length,
            lengthMenu=[5, 10, 25, 50, 100],
            maxBytes=0,
            showIndex=False,
            classes="display compact nowrap cell-border",
            scrollX=True,
        )
        self.itable.add_class("gr4vy-table")
        self.widget = w.VBox([w.HTML(_TABLE_STYLE), self.note, self.itable])
        self.frame = pd.DataFrame()
        self.itable.layout.display = "none"  # nothing shown yet: no empty grid ("No data available in table")
        if frame is not None:
            self.show(frame)

    def show(self, frame: pd.DataFrame, *, note: str = "", empty: str | None = None,
             currency: pd.Series | None = None, text: pd.DataFrame | None = None) -> None:
        """Show ``frame`` (replacing what was shown); ``note`` is a line of text above it.

        With no rows, the table is hidden and ``empty`` (default: the table's ``empty`` sentence) is
        shown instead, after ``note``. ``currency`` (one per row) shows amounts in their currency's units
        (see :func:`display_frame`); ``text``: ``frame`` as already formatted for display (same rows and
        columns). :attr:`frame` keeps the exact values.
        """
        if is_problems_frame(frame):
            frame = problems_for_display(frame)
        self.frame = frame
        shown = display_frame(frame if text is None else text, currency=currency)
        notes = [note] if note else []
        if not len(frame):
            notes.append(empty if empty is not None else self.empty_text)
        elif len(frame) > len(shown):
            notes.append(f"showing the first {len(shown):,} of {len(frame):,} rows")
        self.note.value = html.escape(" · ".join(notes))
        self.itable.layout.display = "none" if not len(frame) else None
        wrap = [i for i, c in enumerate(shown.columns) if c in _WRAP_COLUMNS]
        self.itable.update(shown, pageLength=self._page_length, maxBytes=0, showIndex=False,
                           columnDefs=[{"targets": wrap, "className": "gr4vy-wrap"}] if wrap else [])

    def clear(self) -> None:
        self.show(pd.DataFrame())


def uploaded_files(upload: w.FileUpload, limit: int = MAX_UPLOAD_BYTES) -> list[tuple[str, bytes]]:
    """``(name, content)`` of each file in a ``FileUpload``, in the order chosen.

    Raises:
        InputError: a file is larger than ``limit``; the message points to the path box.
    """
    files: list[tuple[str, bytes]] = []
    for item in upload.value or ():
        name = str(item["name"])
        content = bytes(item["content"])
        if len(content) > limit:
            raise InputError(
                f"{name} is {len(content) / 2**20:.1f} MB, more than the {limit >> 20} MB an upload through the "
                "browser can carry: put the file on disk and type its path (or its folder) in the path box instead"
            )
        files.append((name, content))
    return files


def download_link(data: bytes | str, filename: str, label: str | None = None, mime: str = "text/csv") -> str:
    """An HTML link that downloads ``data`` as ``filename`` from the page itself (a ``data:`` URI).

    It needs no server route and works offline; the browser holds the bytes, so use it for
    result files of a few megabytes at most (the files are also on disk, named in the app).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    b64 = base64.b64encode(raw).decode("ascii")
    label = label or f"download {filename}"
    size = f"{len(raw) / 1024:,.1f} KiB" if len(raw) >= 1024 else f"{len(raw)} bytes"
    return (
        f"<a class='gr4vy-download' download='{html.escape(filename, quote=True)}' "
        f"href='data:{mime};base64,{b64}' style='margin-right:12px'>{html.escape(label)}</a>"
        f"<span style='color:#6b7280'>({size})</span>"
    )


def plain(html_text: str) -> str:
    """The text of an HTML fragment (for tests and for messages built from HTML)."""
    return html.unescape(_TAG_RE.sub("", html_text))


class Confirmation:
    """The PRODUCTION guard: a checkbox and the merchant account id typed by hand.

    For targets that need no confirmation (see
    :func:`~gr4vy_nb.notebook_support.needs_confirmation`) :attr:`ok` is always true and
    :attr:`widgets` is empty.
    """

    def __init__(self, settings: Any, on_change: Callable[[], None] | None = None) -> None:
        from ..notebook_support import needs_confirmation, target_style

        self.settings = settings
        self.required = needs_confirmation(settings)
        _, label, colour = target_style(settings)
        self.box = w.Checkbox(value=False, indent=False, description=f"I confirm writing to {label}",
                              style={"description_width": "initial"}, layout=w.Layout(width="auto"))
        self.text = w.Text(value="", placeholder=f"type the merchant account id ({settings.merchant_account_id}) "
                           "to confirm", layout=w.Layout(width="auto", min_width="420px"))
        self.box.add_class("gr4vy-confirm")
        self.text.add_class("gr4vy-confirm-text")
        if on_change is not None:
            self.box.observe(lambda _c: on_change(), names="value")
            self.text.observe(lambda _c: on_change(), names="value")
        self.widgets: list[w.Widget] = [
            w.HTML(f"<b style='color:{colour}'>Writes here go to {html.escape(label)}.</b> Tick the box and "
                   "type the merchant account id to enable them."),
            self.box, self.text,
        ] if self.required else []

    @property
    def ok(self) -> bool:
        """Whether writes may go ahead."""
        if not self.required:
            return True
        return bool(self.box.value) and self.text.value.strip() == self.settings.merchant_account_id

    @property
    def confirmed_id(self) -> str | None:
        """What to hand ``BulkUpdate.confirm``: the merchant account id once confirmed, else ``None``."""
        return self.settings.merchant_account_id if self.ok else None

    def reset(self) -> None:
        """Re-arm: untick the box and clear the typed id (after every action, so the next one asks again)."""
        if self.required:
            self.box.value = False
            self.text.value = ""

    def require(self, action: str) -> None:
        """Raise :class:`InputError` (nothing sent) unless confirmed."""
        if not self.ok:
            raise InputError(
                f"{action} writes to {self.settings.target} (PRODUCTION): tick the confirmation and type the "
                f"merchant account id {self.settings.merchant_account_id!r} to proceed; nothing was sent")


class ProblemsView:
    """Problems grouped by file, column and rule (:func:`gr4vy_nb.problems.summarise`), expandable to the cells.

    ``groups``: one row a group (count, lines, an example, one message); ``choice``: which group's cells
    ``cells`` shows (``-1``: every cell, the default). ``cells.frame`` is every problem shown.
    """

    def __init__(self, *, page_length: int = 10) -> None:
        self.groups = Table(page_length=page_length)
        self.choice = w.Dropdown(options=[("every cell", -1)], value=-1, description="cells of",
                                 layout=w.Layout(width="640px", display="none"))
        self.choice.add_class("gr4vy-problem-group")
        self.cells = Table(page_length=page_length)
        self.problems = pd.DataFrame()
        self.summary = pd.DataFrame()
        self._note = ""  # what the cells table says while it shows every cell
        self.choice.observe(lambda _change: self._show_cells(), names="value")
        self.widget = w.VBox([self.groups.widget, self.choice, self.cells.widget])

    def show(self, problems: pd.DataFrame, *, note: str = "", empty: str | None = None) -> None:
        """Show ``problems``: the groups, and every cell until a group is chosen."""
        from ..problems import summarise

        self.problems, self._note = problems, note
        self.summary = summarise(problems) if len(problems) else pd.DataFrame()
        grouped = (f"{len(problems):,} problem(s) in {len(self.summary):,} group(s) by file, column and rule"
                   if len(problems) else note)
        self.groups.show(self.summary, note=grouped, empty=empty if empty is not None else "")
        options = [("every cell", -1)] + [
            (f"{g.severity}: {g.file} {'' if g.column is pd.NA else g.column} [{g.rule}] ({int(g.count):,})", i)
            for i, g in enumerate(self.summary.itertuples(index=False))]
        with self.choice.hold_trait_notifications():
            self.choice.options = options
            self.choice.value = -1
        self.choice.layout.display = "none" if len(self.summary) < 2 else None
        self._show_cells()

    def cells_of(self, group: int) -> pd.DataFrame:
        """The problems of group ``group`` (a row of :attr:`summary`; ``-1``: all)."""
        if group < 0 or not len(self.problems):
            return self.problems
        g = self.summary.iloc[group]
        mask = pd.Series(True, index=self.problems.index)
        for key in ("file", "column", "rule", "severity"):
            value, column = g[key], self.problems[key]
            mask &= column.isna() if value is pd.NA or value is None else (column == value).fillna(False)
        return self.problems[mask.to_numpy(dtype=bool)]

    def _show_cells(self) -> None:
        group = int(self.choice.value)
        cells = self.cells_of(group)
        label = self._note if group < 0 else f"{len(cells):,} cell(s) of the chosen group"
        self.cells.show(cells, note=label, empty="")
