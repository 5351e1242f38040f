"""ConnectionPanel: which target the notebook talks to, and a button that proves it works."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ..notebook_support import Connection, ConnectionCheck, check_connection, connect, needs_confirmation
from ..notebook_support.connection import ApiBehaviourCheck, check_api_behaviour
from ._common import Messages, busy

__all__ = ["ConnectionPanel"]


class ConnectionPanel:
    """The target in words with a colour badge, the merchant account, the key's ``kid``, a test button.

    Args:
        connection: a :class:`~gr4vy_nb.notebook_support.Connection`; when omitted,
            :func:`~gr4vy_nb.notebook_support.connect` is called (the configured target, or the
            embedded sandbox seeded with the sample data, which the panel then says).

    ``on_test`` runs the check (``check_connection``): it reports the round-trip latency, or the
    exact problem — a key the server refuses, a clock too far off, a missing scope, no answer.
    ``on_probe`` (*Check API behaviour*) runs ``gr4vy-nb probe`` and shows its table: assumption,
    observed, what the toolkit does about it (on PRODUCTION only once its checkbox is ticked).
    """

    def __init__(self, connection: Connection | None = None) -> None:
        self.connection = connection if connection is not None else connect(announce=False)
        self.banner = w.HTML(value=self.connection.banner_html())
        self.banner.add_class("gr4vy-connection-banner")
        self.test_button = w.Button(description="Test connection", icon="plug", tooltip="read one session",
                                    layout=w.Layout(width="auto"))
        self.test_button.add_class("gr4vy-test-connection")
        self.messages = Messages(keep=3)
        self.last_check: ConnectionCheck | None = None
        self.test_button.on_click(self.on_test)
        self.probe_button = w.Button(description="Check API behaviour", icon="search", layout=w.Layout(width="auto"),
                                     tooltip="gr4vy-nb probe: create, update and delete one throwaway session")
        self.probe_button.add_class("gr4vy-check-api-behaviour")
        self.probe_confirm = w.Checkbox(value=False, description="allow on PRODUCTION (one session created and "
                                        "deleted)", indent=False)
        self.probe_confirm.layout.display = "" if needs_confirmation(self.connection.settings) else "none"
        self.probe_table = w.HTML(value="")
        self.last_probe: ApiBehaviourCheck | None = None
        self.probe_button.on_click(self.on_probe)
        self.widget = w.VBox([self.banner, w.HBox([self.test_button, self.probe_button, self.probe_confirm]),
                              self.messages.widget, self.probe_table])

    def on_test(self, _button: Any = None) -> ConnectionCheck | None:
        """Check the connection and show the outcome; returns the :class:`ConnectionCheck`."""
        self.last_check = None
        with busy([self.test_button], self.messages):
            self.messages.info(f"testing {self.connection.settings.target} ...")
            check = check_connection(self.connection)
            self.last_check = check
            (self.messages.ok if check.ok else self.messages.error)(check.message)
        return self.last_check

    def on_probe(self, _button: Any = None) -> ApiBehaviourCheck | None:
        """Check what the target's PUT really does (``gr4vy-nb probe``) and show the table; returns the outcome."""
        self.last_probe = None
        with busy([self.probe_button], self.messages):
            self.messages.info(f"checking the API behaviour of {self.connection.settings.target} ...")
            check = check_api_behaviour(self.connection, confirm=bool(self.probe_confirm.value))
            self.last_probe = check
            self.probe_table.value = check.html()
            (self.messages.ok if check.ok else self.messages.error)(check.message)
        return self.last_probe

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
