"""gr4vy_nb.widgets.explorer: the SessionExplorer fetches by id, loads exports and lists of ids, masks by default."""

from __future__ import annotations

from pathlib import Path

from gr4vy_nb.notebook_support import Connection
from gr4vy_nb.widgets import SessionExplorer
from tests.widgets.helpers import IDS, SAMPLE, WITH_PASSENGERS, upload_value


def test_explorer_fetches_masks_by_default_and_shows_raw_on_request(conn: Connection) -> None:
    passenger = WITH_PASSENGERS[0]
    email = passenger["airline"]["passengers"][0]["email_address"]
    explorer = SessionExplorer(conn)
    missing = "00000000-0000-4000-8000-000000000000"
    explorer.ids_box.value = f"{passenger['id']}, {IDS[1]}\n'{IDS[2]}'  junk\n{missing}"
    explorer.on_fetch()
    assert len(explorer.frames) == 3
    assert explorer.not_found["checkout_session_id"].tolist() == [missing]
    assert "junk" in explorer.messages.text
    shown = explorer.tables["passengers"].itable._dt_args["data_json"]
    assert email not in shown and passenger["id"] in shown
    explorer.show_raw.value = True
    assert email in explorer.tables["passengers"].itable._dt_args["data_json"]


def test_explorer_loads_jsonl_by_upload_and_ids_by_path(conn: Connection, tmp_path: Path) -> None:
    explorer = SessionExplorer(conn)
    jsonl = "\n".join(__import__("json").dumps(s) for s in SAMPLE[:5]).encode()
    explorer.upload.value = upload_value(("export.jsonl", jsonl))
    assert len(explorer.frames) == 5, explorer.messages.text
    ids_file = tmp_path / "ids.csv"
    ids_file.write_text("checkout_session_id,note\n" + "\n".join(f"{i},x" for i in IDS[10:14]))
    explorer.path_box.value = str(ids_file)
    explorer.on_load()
    assert sorted(explorer.frames.sessions["checkout_session_id"]) == sorted(IDS[10:14])


def test_explorer_refuses_bad_input_in_its_message_area(conn: Connection) -> None:
    explorer = SessionExplorer(conn)
    explorer.ids_box.value = "not an id"
    explorer.on_fetch()
    assert "no session ids to fetch" in explorer.messages.errors[-1]
    explorer.upload.value = upload_value(("broken.jsonl", b'{"id": 1}\nnot json\n'))
    assert "line 2 is not valid JSON" in explorer.messages.errors[-1]
    assert not explorer.fetch_button.disabled


def test_explorer_reads_uploaded_id_lists_as_export_does(conn: Connection) -> None:
    import io

    from openpyxl import Workbook

    explorer = SessionExplorer(conn)
    book = Workbook()
    for row in (["Checkout Session ID"], [IDS[3]], [f" {IDS[4]}"], [IDS[3]]):
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    explorer.upload.value = upload_value(("ids.xlsx", data.getvalue()))
    assert sorted(explorer.frames.sessions["checkout_session_id"]) == sorted(IDS[3:5]), explorer.messages.text
    assert "1 id(s) listed again, dropped (line 4)" in explorer.messages.text
    explorer.upload.value = upload_value(("ids.txt", f"{IDS[5]}\nnot-an-id\n".encode()))
    assert "line 2" in explorer.messages.errors[-1] and "not a checkout session id" in explorer.messages.errors[-1]
