"""SessionExplorer: fetch sessions by id (or load an export) and browse the four tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from ..errors import InputError
from ..notebook_support import Connection, connect, parse_session_ids, read_sessions_jsonl
from ._common import MAX_UPLOAD_BYTES, Messages, Table, busy, uploaded_files

__all__ = ["SessionExplorer"]

_TABLES = ("sessions", "cart_items", "legs", "passengers")


class SessionExplorer:
    """Paste or upload session ids (or load a JSONL export), fetch them, browse the tables.

    Args:
        connection: the target (see :func:`~gr4vy_nb.notebook_support.connect`; the configured
            one, or the embedded sandbox, when omitted).

    The tables (``sessions``, ``cart_items``, ``legs``, ``passengers``, and the ids not found)
    are interactive: paged, sortable, searchable.  Personal data is masked unless "show personal
    data" is ticked.  After a fetch or load, :attr:`frames` holds the unmasked
    :class:`~gr4vy_nb.tables.frames.SessionFrames` and :attr:`not_found` the ids that failed, with why.
    Handlers (``on_fetch``, ``on_load``, ``on_upload``) may be called directly.
    """

    def __init__(self, connection: Connection | None = None) -> None:
        self.connection = connection if connection is not None else connect(announce=False)
        self.frames: Any = None
        self.not_found = pd.DataFrame({"checkout_session_id": pd.Series(dtype="str"),
                                       "error": pd.Series(dtype="str")})
        self.messages = Messages()

        self.ids_box = w.Textarea(placeholder="paste checkout session ids: one per line, or separated by commas",
                                  layout=w.Layout(width="100%", height="90px"))
        self.upload = w.FileUpload(accept=".txt,.csv,.xlsx,.jsonl,.json", multiple=False,
                                   description="Upload ids or JSONL", layout=w.Layout(width="auto"))
        self.path_box = w.Text(placeholder="or a path: a JSONL export, or a .txt/.csv/.xlsx list of ids",
                               layout=w.Layout(width="60%"))
        # Each button as wide as its label: the default width cut "Upload ids or JSONL" to "Upload ids or J…".
        self.fetch_button = w.Button(description="Fetch sessions", button_style="primary", icon="download",
                                     layout=w.Layout(width="auto"))
        self.load_button = w.Button(description="Load path", icon="folder-open", layout=w.Layout(width="auto"))
        self.show_raw = w.Checkbox(value=False, description="show personal data", indent=False)
        self.progress = w.IntProgress(value=0, min=0, max=1, description="fetched", layout=w.Layout(width="50%"))
        self.status = w.Label(value="")
        for widget, name in ((self.fetch_button, "fetch"), (self.load_button, "load"), (self.upload, "upload"),
                             (self.show_raw, "show-raw"), (self.status, "status")):
            widget.add_class(f"gr4vy-explorer-{name}")
        self.tables = {name: Table(page_length=10) for name in (*_TABLES, "not_found")}
        self.tabs = w.Tab(children=[self.tables[n].widget for n in (*_TABLES, "not_found")])
        for i, name in enumerate((*_TABLES, "not found")):
            self.tabs.set_title(i, name)

        self.fetch_button.on_click(self.on_fetch)
        self.load_button.on_click(self.on_load)
        self.upload.observe(self.on_upload, names="value")
        self.show_raw.observe(self._on_toggle_raw, names="value")
        self._buttons = [self.fetch_button, self.load_button]
        self.widget = w.VBox([
            w.HTML(f"<b>Explore checkout sessions</b> &middot; {self.connection.settings.target}"),
            self.ids_box,
            w.HBox([self.fetch_button, self.upload,
                    w.HTML(f"<span style='color:#6b7280'>uploads up to {MAX_UPLOAD_BYTES >> 20} MB</span>")]),
            w.HBox([self.path_box, self.load_button]),
            w.HBox([self.progress, self.status]),
            self.show_raw,
            self.messages.widget,
            self.tabs,
        ])

    # ------------------------------------------------------------------ handlers

    def on_fetch(self, _button: Any = None) -> None:
        """Fetch the sessions whose ids are in the box, with progress; show them."""
        with busy(self._buttons, self.messages):
            ids, rejected = parse_session_ids(self.ids_box.value)
            if rejected:
                shown = ", ".join(repr(r) for r in rejected[:5]) + (" ..." if len(rejected) > 5 else "")
                self.messages.warn(f"{len(rejected)} value(s) are not session ids and were skipped: {shown}")
            if not ids:
                raise InputError("no session ids to fetch: paste some in the box, or upload a list")
            self.progress.max = len(ids)
            self.progress.value = 0

            def progress(done: int, total: int) -> None:
                self.progress.value = done
                self.status.value = f"{done} / {total}"

            from ..export import fetch_sessions

            fetched = fetch_sessions(self.connection.client, ids, progress=progress)
            sessions = fetched.sessions
            missing = list(zip(fetched.failures["checkout_session_id"], fetched.failures["reason"], strict=True))
            self._set(sessions, missing)
            self.messages.ok(f"fetched {len(sessions)} session(s); {len(missing)} not found or failed")

    def on_load(self, _button: Any = None) -> None:
        """Load the path in the path box: a JSONL export is shown, a list of ids is fetched."""
        with busy(self._buttons, self.messages):
            raw = self.path_box.value.strip().strip("'\"")
            if not raw:
                raise InputError("type the path of a JSONL export or of a list of ids first")
            path = Path(raw).expanduser()
            if not path.is_file():
                raise InputError(f"{path} is not a file")
            self._load_bytes(path.name, path.read_bytes())

    def on_upload(self, _change: Any = None) -> None:
        """Take the uploaded file: a JSONL export is shown, a list of ids is fetched."""
        with busy(self._buttons, self.messages):
            files = uploaded_files(self.upload)
            if not files:
                return
            name, content = files[0]
            self._load_bytes(name, content)

    # ------------------------------------------------------------------ internals

    def _load_bytes(self, name: str, content: bytes) -> None:
        if name.lower().endswith((".jsonl", ".json")):
            sessions = read_sessions_jsonl(content)
            self._set(sessions, [])
            self.messages.ok(f"loaded {len(sessions)} session(s) from {name}")
            return
        from ..tables.idlists import read_id_list

        listed = read_id_list(content, name=name)  # the one id-list reader (text, CSV, XLSX), as export's
        self.ids_box.value = "\n".join(listed.ids)
        self.messages.info("; ".join([f"{name}: {len(listed.ids)} session id(s)", *listed.describe()]))
        self.on_fetch()

    def _set(self, sessions: list[dict[str, Any]], missing: list[tuple[str, str]]) -> None:
        from ..tables.frames import flatten_sessions

        self.frames = flatten_sessions(sessions).remember()  # fetched: the base of edits made with pandas
        self.not_found = pd.DataFrame(missing, columns=["checkout_session_id", "error"])
        self._show()

    def _on_toggle_raw(self, _change: Any = None) -> None:
        with busy(self._buttons, self.messages):
            self._show()

    def _show(self) -> None:
        if self.frames is None:
            return
        shown = self.frames if self.show_raw.value else self.frames.masked()
        # Amounts are shown in their session's currency (12.99 EUR, not 1299); the frames keep the minor units.
        sessions = self.frames.sessions
        currency_of = dict(zip(sessions["checkout_session_id"].astype(str), sessions["currency"], strict=True)) \
            if "currency" in sessions.columns else {}
        for name in _TABLES:
            frame = getattr(shown, name)
            currency = frame["checkout_session_id"].astype(str).map(currency_of) if (
                currency_of and name != "sessions" and "checkout_session_id" in frame.columns) else None
            self.tables[name].show(frame, currency=currency, note=f"{len(frame):,} row(s)" + (
                "" if self.show_raw.value else " · personal data masked"),
                empty=f"None of these sessions has {name.replace('_', ' ')}." if name != "sessions" else
                "No session fetched.")
        self.tables["not_found"].show(self.not_found, note=f"{len(self.not_found):,} id(s) not found",
                                      empty="Every id was found.")
        self.status.value = f"{len(self.frames.sessions):,} session(s)"

    @property
    def shown(self) -> Any:
        """The frames as displayed: masked unless "show personal data" is ticked."""
        if self.frames is None:
            return None
        return self.frames if self.show_raw.value else self.frames.masked()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
