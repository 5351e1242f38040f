"""Write the bad-input corpus: ``tests/reliability/bad_inputs/<case>/`` (CSV files + ``expected.json``).

Every case is built here from real session ids and values of the sample sessions (package data),
so the committed files are reviewable and reproducible: ``python -m tests.reliability.make_corpus``
rewrites them byte for byte, and ``test_bad_inputs.py`` checks that the committed corpus is what
this script writes.

``expected.json`` holds:

* ``outcome``: ``reject`` (errors: ``gr4vy-nb plan`` exits 2, nothing fetched or sent),
  ``warn`` (plans, exit 0, with a warning naming the cell) or ``accept`` (data that must
  survive: plans, exit 0, the value intact in the diff);
* ``exit_code``;
* ``problems``: the problems that must be reported, each with ``severity``, ``rule``, ``file``,
  ``line`` (the file's line; header = 1), ``column`` and a ``message`` substring (``rule`` and
  ``message`` may be lists of acceptable alternatives); ``line`` or
  ``column`` is ``null`` only where the whole file is at fault (an empty or binary file) or
  the fault is in the bytes of a line rather than in a cell (its position is then in the
  message);
* ``diff``: values that must reach the plan's diff exactly as written (``session``, ``path``,
  ``after``);
* ``kept``: values an editor rewrote that keep their current value (``session``, ``path``): never in
  the plan's diff, nothing sent for them;
* ``rewrites``: the plan's ``--rewrites`` choice when not the default (``error`` keeps a test of the
  refusal);
* ``generated``: for the one case too big to commit (over a million rows), how the test
  writes the file at run time instead.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.paths import SAMPLE

ROOT = Path(__file__).resolve().parent / "bad_inputs"


def _sessions() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


SESSIONS = _sessions()
S0 = SESSIONS[0]  # cart items (one sku with a leading zero), 2 legs, 4 passengers, a payment method
S1 = SESSIONS[1]  # a buyer with billing details, 3 legs, 1 passenger
S2 = SESSIONS[2]  # a buyer, 5 cart items, 4 legs, 2 passengers
ID0, ID1, ID2 = S0["id"], S1["id"], S2["id"]
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"  # a valid UUID that names no session


# --------------------------------------------------------------------------- building files


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]], *, delimiter: str = ",", bom: bool = False,
              encoding: str = "utf-8", newline: str = "\n", quoting: int = csv.QUOTE_MINIMAL) -> bytes:
    """A CSV file as bytes, written the way a spreadsheet would."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=quoting)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    data = buf.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def sessions_csv(columns: Sequence[str], *rows: Sequence[Any], **kw: Any) -> dict[str, bytes]:
    return {"sessions.csv": csv_bytes(["checkout_session_id", *columns], rows, **kw)}


def child_csv(table: str, columns: Sequence[str], *rows: Sequence[Any], **kw: Any) -> dict[str, bytes]:
    return {f"{table}.csv": csv_bytes(["checkout_session_id", *columns], rows, **kw)}


_LISTS = {"cart_items": ("cart_items",), "legs": ("airline", "legs"), "passengers": ("airline", "passengers")}
_INDEX = {"cart_items": "item_index", "legs": "leg_index", "passengers": "passenger_index"}


def child_edit(table: str, session: dict[str, Any], edits: dict[int, dict[str, str]]) -> dict[str, bytes]:
    """A child table giving the session's whole current list (its rows become the new list), with
    ``edits`` ({index: {column: text}}) applied; cells not edited are empty, which keeps them."""
    holder: Any = session
    for key in _LISTS[table]:
        holder = holder.get(key) or {}
    n = len(holder or [])
    columns = sorted({c for cells in edits.values() for c in cells})
    rows = [[session["id"], str(i), *[edits.get(i, {}).get(c, "") for c in columns]] for i in range(n)]
    return child_csv(table, [_INDEX[table], *columns], *rows)


def _xlsx(header: Sequence[str] = ("checkout_session_id", "metadata.channel"), row: Sequence[Any] = (ID0, "web"),
          title: str | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    if title:
        sheet.title = title
    sheet.append(list(header))
    sheet.append(list(row))
    buf = io.BytesIO()
    book.save(buf)
    data = buf.getvalue()
    # openpyxl stamps the current time into docProps/core.xml; a fixed workbook keeps the corpus
    # byte-for-byte reproducible, so rewrite the zip with fixed timestamps and no dates.
    import re
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", b"2026-01-01T00:00:00Z", content)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, content)
    return out.getvalue()


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    name: str
    description: str
    files: dict[str, bytes]
    outcome: str  # reject | warn | accept
    problems: list[dict[str, Any]] = field(default_factory=list)
    diff: list[dict[str, Any]] = field(default_factory=list)
    generated: dict[str, Any] | None = None
    kept: list[dict[str, Any]] = field(default_factory=list)
    rewrites: str | None = None

    @property
    def exit_code(self) -> int:
        return 2 if self.outcome == "reject" else 0

    def expected(self) -> dict[str, Any]:
        out: dict[str, Any] = {"description": self.description, "outcome": self.outcome, "exit_code": self.exit_code,
                               "problems": self.problems, "diff": self.diff}
        if self.generated:
            out["generated"] = self.generated
        if self.kept:
            out["kept"] = self.kept
        if self.rewrites:
            out["rewrites"] = self.rewrites
        return out


def err(rule: str | list[str], file: str, line: int | None, column: str | None,
        message: str | list[str]) -> dict[str, Any]:
    """An expected error; ``rule`` and ``message`` may list acceptable alternatives."""
    return {"severity": "error", "rule": rule, "file": file, "line": line, "column": column, "message": message}


def warn(rule: str, file: str, line: int | None, column: str | None, message: str) -> dict[str, Any]:
    return {"severity": "warning", "rule": rule, "file": file, "line": line, "column": column, "message": message}


def keep(session: str, path: str, after: Any) -> dict[str, Any]:
    return {"session": session, "path": path, "after": after}


def unsent(session: str, path: str) -> dict[str, Any]:
    """A value an editor rewrote: the current one is kept, so ``path`` is not in the diff."""
    return {"session": session, "path": path}


CASES: list[Case] = []


def case(name: str, description: str, outcome: str, *, problems: Sequence[dict[str, Any]] = (),
         diff: Sequence[dict[str, Any]] = (), generated: dict[str, Any] | None = None,
         kept: Sequence[dict[str, Any]] = (), rewrites: str | None = None,
         ) -> Callable[[Callable[[], dict[str, bytes]]], Callable[[], dict[str, bytes]]]:
    def register(build: Callable[[], dict[str, bytes]]) -> Callable[[], dict[str, bytes]]:
        CASES.append(Case(name, description, build(), outcome, list(problems), list(diff), generated, list(kept),
                          rewrites))
        return build
    return register


S = "sessions.csv"
C = "cart_items.csv"
L = "legs.csv"
P = "passengers.csv"
META = "metadata.channel"
KEPT = "kept as they are"  # what a rewrite_kept warning says

# ---- file level ----------------------------------------------------------------------------


@case("file_bom_utf8", "UTF-8 with a byte-order mark, as Excel's 'CSV UTF-8' writes it: read normally", "accept",
      diff=[keep(ID0, "metadata.channel", "phone")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [ID0, "phone"], bom=True)


@case("file_cp1252", "Windows-1252 bytes (Excel's plain 'CSV'): refused with the line and the byte", "reject",
      problems=[err("encoding", S, 3, None, "0xFC")])
def _() -> dict[str, bytes]:
    return sessions_csv(["buyer.billing_details.last_name"], [ID1, "Sample"], [ID2, "Müller"], encoding="cp1252")


@case("file_utf16", "UTF-16 with a BOM ('Unicode Text' from Excel): read as such", "accept",
      diff=[keep(ID0, "metadata.channel", "Montréal")])
def _() -> dict[str, bytes]:
    return {S: b"\xff\xfe" + "checkout_session_id,metadata.channel\n".encode("utf-16-le")
            + f"{ID0},Montréal\n".encode("utf-16-le")}


@case("file_utf16_no_bom", "UTF-16 without a BOM: refused, naming --encoding", "reject",
      problems=[err("encoding", S, 1, None, "--encoding utf-16-le")])
def _() -> dict[str, bytes]:
    return {S: "checkout_session_id,metadata.channel\n".encode("utf-16-le") + f"{ID0},web\n".encode("utf-16-le")}


@case("file_trailing_empty_columns", "unnamed empty columns and empty rows a spreadsheet added: ignored", "accept",
      diff=[keep(ID0, "metadata.channel", "kiosk")])
def _() -> dict[str, bytes]:
    return {S: f"checkout_session_id,metadata.channel,,\n{ID0},kiosk,,\n,,,\n".encode()}


@case("file_not_a_table", "a text file that is none of the four tables: refused as such", "reject",
      problems=[err("not_a_table", "notes.txt", 1, None, "not one of the four tables")])
def _() -> dict[str, bytes]:
    return {"notes.txt": b"remember to update the sessions\nfirst, check the export, then upload\n"}


@case("file_xlsx_upload", "an Excel workbook: read like the CSV files (a sheet per table)", "accept",
      diff=[keep(ID0, "metadata.channel", "kiosk")])
def _() -> dict[str, bytes]:
    return {"edits.xlsx": _xlsx(["checkout_session_id", "metadata.channel"], [ID0, "kiosk"], title="sessions")}


@case("file_semicolons", "European Excel: ';' as the delimiter; read that way, with a warning", "warn",
      problems=[warn("delimiter", S, 1, None, "semicolons")], diff=[keep(ID0, "metadata.channel", "kiosk")])
def _() -> dict[str, bytes]:
    return sessions_csv([META, "amount"], [ID0, "kiosk", "55943"], delimiter=";")


@case("file_ragged_long_row", "a row with one cell too many (an unquoted comma in a value)", "reject",
      problems=[err("ragged_row", S, 3, None, "3 cells but the header has 2")])
def _() -> dict[str, bytes]:
    return {S: f"checkout_session_id,{META}\n{ID0},web\n{ID1},web,shop\n".encode()}


@case("file_ragged_short_row", "a row with a cell missing", "reject",
      problems=[err("ragged_row", S, 2, None, "1 cells but the header has 3")])
def _() -> dict[str, bytes]:
    return {S: f"checkout_session_id,{META},amount\n{ID0}\n{ID1},web,100\n".encode()}


@case("file_unbalanced_quote", "a quote opened and never closed", "reject",
      problems=[err("unbalanced_quote", S, 3, None, "never closed")])
def _() -> dict[str, bytes]:
    return {S: f'checkout_session_id,{META}\n{ID0},web\n{ID1},"web\n{ID2},ios\n'.encode()}


@case("file_duplicate_header", "the same column twice in the header", "reject",
      problems=[err("duplicate_header", S, 1, META, "twice")])
def _() -> dict[str, bytes]:
    return {S: f"checkout_session_id,{META},amount,{META}\n{ID0},web,100,ios\n".encode()}


@case("file_empty_header", "a header cell with no name", "reject",
      problems=[err("empty_header", S, 1, None, "column 3 has no name")])
def _() -> dict[str, bytes]:
    return {S: f"checkout_session_id,{META},\n{ID0},web,x\n".encode()}


@case("file_xlsx_renamed", "an Excel workbook renamed .csv", "reject",
      problems=[err("binary", S, None, None, "Excel workbook")])
def _() -> dict[str, bytes]:
    return {S: _xlsx()}


@case("file_binary_nul", "binary bytes (a NUL) in the file", "reject",
      problems=[err("binary", S, 2, None, "NUL")])
def _() -> dict[str, bytes]:
    return {S: f"checkout_session_id,{META}\n{ID0},w\x00eb\n".encode()}


@case("file_empty", "a file of zero bytes", "reject", problems=[err("empty", S, None, None, "empty")])
def _() -> dict[str, bytes]:
    return {S: b""}


@case("file_header_only", "a header and no rows: nothing to do", "warn",
      problems=[warn("no_rows", S, 1, None, "nothing to do")])
def _() -> dict[str, bytes]:
    return {S: f"checkout_session_id,{META}\n".encode()}


@case("file_huge_cell", "a cell longer than a spreadsheet can hold (40,000 characters), valid for the API: read whole",
      "accept", diff=[keep(ID0, META, "web"), keep(ID1, META, "x" * 40_000)])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [ID0, "web"], [ID1, "x" * 40_000])


@case("file_too_many_rows", "more than 1,000,000 rows (written at run time: 37 MB)", "reject",
      problems=[err("too_many_rows", S, 1_000_002, None, "more than 1,000,000 rows")],
      generated={"file": S, "header": "checkout_session_id", "row": ID0, "rows": 1_000_001})
def _() -> dict[str, bytes]:
    return {}


@case("file_multiline_cell_line_numbers", "a quoted cell spanning lines: the error after it names the right line",
      "reject", problems=[err("type.integer", S, 5, "amount", "not a whole number")])
def _() -> dict[str, bytes]:
    return {S: f'checkout_session_id,{META},amount\n{ID0},"web\nand more\nlines",55943\n{ID1},ios,12.5x\n'.encode()}


@case("file_crlf", "Windows line endings and a trailing blank line: read normally", "accept",
      diff=[keep(ID1, "metadata.channel", "call-centre-2")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [ID1, "call-centre-2"], newline="\r\n")


# ---- identifiers and spreadsheet damage ------------------------------------------------------


@case("id_not_a_uuid", "an order reference where the session id should be", "reject",
      problems=[err("uuid", S, 3, "checkout_session_id", "not a UUID")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [ID0, "web"], ["ORD-000123", "web"])


@case("id_braces", "a GUID in braces, as some tools write them", "reject",
      problems=[err("uuid", S, 2, "checkout_session_id", "not a UUID")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], ["{" + ID0 + "}", "web"])


@case("id_whitespace", "spaces around the id (a pasted cell): trimmed, as in a list of ids, and said", "warn",
      problems=[warn("spaces_trimmed", S, 2, "checkout_session_id", "trimmed")],
      diff=[keep(ID0, "metadata.channel", "pasted")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [f" {ID0} ", "pasted"])


@case("id_upper_case", "an upper-case UUID is the same session", "accept",
      diff=[keep(ID0, "metadata.channel", "upper")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [ID0.upper(), "upper"])


@case("id_unknown_session", "a well-formed id that names no session (a typo, or expired): the row is named",
      "warn", problems=[warn("not_found", S, 2, "checkout_session_id", "not found")],
      diff=[keep(ID0, "metadata.channel", "web2")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [UNKNOWN_ID, "web"], [ID0, "web2"])


@case("id_missing_cell", "a row without a session id", "reject",
      problems=[err("required", S, 3, "checkout_session_id", "needs a checkout_session_id")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [ID0, "web"], ["", "ios"])


@case("id_missing_column", "no checkout_session_id column at all", "reject",
      problems=[err("required", S, 1, "checkout_session_id", "needs a checkout_session_id column")])
def _() -> dict[str, bytes]:
    return {S: b"metadata.channel\nweb\n"}


@case("id_duplicate_rows", "the same session on two rows of sessions.csv", "reject",
      problems=[err("duplicate_key", S, 4, "checkout_session_id", "already on line 2")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [ID0, "web"], [ID1, "ios"], [ID0, "android"])


@case("id_duplicate_child_index", "the same item_index twice for one session", "reject",
      problems=[err("duplicate_key", C, 3, "item_index", "already has item_index 0 on line 2")])
def _() -> dict[str, bytes]:
    return child_csv("cart_items", ["item_index", "quantity"], [ID0, "0", "1"], [ID0, "0", "2"])


@case("damage_scientific_amount", "the current amount turned into scientific notation by a spreadsheet: kept",
      "warn", problems=[warn("rewrite_kept", S, 2, "amount", "'5.5943E+04' for '55943'")],
      kept=[unsent(ID0, "amount")])
def _() -> dict[str, bytes]:
    return sessions_csv(["amount"], [ID0, "5.5943E+04"])


@case("damage_scientific_amount_edit", "another amount in scientific notation (digits may be lost): refused",
      "reject", problems=[err("type.integer", S, 2, "amount", "scientific notation")])
def _() -> dict[str, bytes]:
    return sessions_csv(["amount"], [ID0, "5.5944E+04"])


@case("damage_scientific_text", "a UPC turned into scientific notation: the current value kept", "warn",
      problems=[warn("rewrite_kept", C, 2, "upc", "'8.16018E+11' for '816017752891'")],
      kept=[unsent(ID0, "cart_items[0].upc")])
def _() -> dict[str, bytes]:
    return child_edit("cart_items", S0, {0: {"upc": "8.16018E+11"}})


@case("damage_precision_loss", "a long number past 15 digits, its tail zeroed by a spreadsheet", "warn",
      problems=[warn("precision_loss", C, 2, "upc", "15 significant digits")])
def _() -> dict[str, bytes]:
    return child_edit("cart_items", S0, {0: {"upc": "8160177528910000000"}})


@case("damage_leading_zeros", "a SKU that lost its leading zero (021464 -> 21464): the current value kept", "warn",
      problems=[warn("rewrite_kept", C, 2, "sku", "'21464' for '021464'")], kept=[unsent(ID0, "cart_items[0].sku")])
def _() -> dict[str, bytes]:
    return child_edit("cart_items", S0, {0: {"sku": "21464"}})


@case("rewrite_refused_leading_zeros", "--rewrites error: a SKU that lost its leading zero is refused", "reject",
      problems=[err("spreadsheet_rewrite", C, 2, "sku", "same number written differently")], rewrites="error")
def _() -> dict[str, bytes]:
    return child_edit("cart_items", S0, {0: {"sku": "21464"}})


@case("rewrite_exponent", "the same UPC written with an exponent (8.16017752891E+11): kept", "warn",
      problems=[warn("rewrite_kept", C, 2, "upc", KEPT)], kept=[unsent(ID0, "cart_items[0].upc")])
def _() -> dict[str, bytes]:
    return child_edit("cart_items", S0, {0: {"upc": "8.16017752891E+11"}})


@case("rewrite_refused_exponent", "--rewrites error: the same UPC written with an exponent is refused", "reject",
      problems=[err("spreadsheet_rewrite", C, 2, "upc", "import the file with this column as Text")],
      rewrites="error")
def _() -> dict[str, bytes]:
    return child_edit("cart_items", S0, {0: {"upc": "8.16017752891E+11"}})


@case("rewrite_thousands", "the same UPC with thousands separators: kept", "warn",
      problems=[warn("rewrite_kept", C, 2, "upc", "'816,017,752,891' for '816017752891'")],
      kept=[unsent(ID0, "cart_items[0].upc")])
def _() -> dict[str, bytes]:
    return child_edit("cart_items", S0, {0: {"upc": "816,017,752,891"}})


@case("rewrite_pandas_floats", "pandas' defaults: an integer and a long number written as floats, a boolean as True, "
      "the SKU's leading zero lost: all kept", "warn",
      problems=[warn("rewrite_kept", C, 2, "sku", KEPT), warn("rewrite_kept", C, 2, "upc", "'816017752891.0'"),
                warn("rewrite_kept", C, 2, "shipping_amount", "'795.0' for '795'")],
      kept=[unsent(ID0, "cart_items[0].sku"), unsent(ID0, "cart_items[0].upc"),
            unsent(ID0, "cart_items[0].shipping_amount")])
def _() -> dict[str, bytes]:
    return child_edit("cart_items", S0, {0: {"sku": "21464", "upc": "816017752891.0", "shipping_amount": "795.0"}})


@case("rewrite_pandas_edit", "pandas' defaults: an edited amount written as a float (123.0) is the integer 123",
      "accept", diff=[keep(ID0, "cart_items[0].shipping_amount", 123)])
def _() -> dict[str, bytes]:
    return child_edit("cart_items", S0, {0: {"shipping_amount": "123.0"}})


@case("rewrite_personal_phone", "a phone number that lost its + (a spreadsheet read it as a number): kept", "warn",
      problems=[warn("rewrite_kept", P, 2, "phone_number", ["+44*******20", "'+44509409120'"])],
      kept=[unsent(ID0, "airline.passengers[0].phone_number")])
def _() -> dict[str, bytes]:
    return child_edit("passengers", S0, {0: {"phone_number": "44509409120"}})


@case("rewrite_refused_personal_phone", "--rewrites error: a phone number that lost its + is refused", "reject",
      problems=[err("spreadsheet_rewrite", P, 2, "phone_number", ["+44*******20", "'+44509409120'"])],
      rewrites="error")
def _() -> dict[str, bytes]:
    return child_csv("passengers", ["passenger_index", "phone_number"], [ID0, "0", "44509409120"])


@case("rewrite_error_value", "a formula error (#REF!) where a value should be: refused", "reject",
      problems=[err("spreadsheet_rewrite", S, 2, META, "spreadsheet error")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [ID0, "#REF!"])


@case("rewrite_edit_still_allowed", "a real edit of a number-like value (021464 -> 021465) is an edit", "accept",
      diff=[keep(ID0, "cart_items[0].sku", "021465")])
def _() -> dict[str, bytes]:
    return child_edit("cart_items", S0, {0: {"sku": "021465"}})


@case("damage_excel_serial_date", "a date of birth as an Excel date serial (23450)", "reject",
      problems=[err("date_format", P, 2, "date_of_birth", "Excel date serial")])
def _() -> dict[str, bytes]:
    return child_csv("passengers", ["passenger_index", "date_of_birth"], [ID0, "0", "23450"])


@case("damage_excel_serial_datetime", "a date-time as an Excel serial (71591.125)", "reject",
      problems=[err("datetime_format", L, 2, "departure_at", "not an RFC 3339 date-time")])
def _() -> dict[str, bytes]:
    return child_csv("legs", ["leg_index", "departure_at"], [ID0, "0", "71591.125"])


@case("damage_locale_date", "the current date of birth as a day-first locale date (14/03/2062): kept", "warn",
      problems=[warn("rewrite_kept", P, 2, "date_of_birth", KEPT)],
      kept=[unsent(ID0, "airline.passengers[0].date_of_birth")])
def _() -> dict[str, bytes]:
    return child_edit("passengers", S0, {0: {"date_of_birth": "14/03/2062"}})


@case("damage_locale_date_edit", "another date as a day-first locale date (15/03/2062): refused", "reject",
      problems=[err("date_format", P, 2, "date_of_birth", "is not a date in the form YYYY-MM-DD")])
def _() -> dict[str, bytes]:
    return child_edit("passengers", S0, {0: {"date_of_birth": "15/03/2062"}})


@case("damage_datetime_without_offset", "the current date-time with no UTC offset (as Gnumeric writes it): kept",
      "warn", problems=[warn("rewrite_kept", L, 2, "arrival_at", "'2098-10-08 14:00:00' for '2098-10-08T14:00:00Z'")],
      kept=[unsent(ID0, "airline.legs[0].arrival_at")])
def _() -> dict[str, bytes]:
    return child_edit("legs", S0, {0: {"arrival_at": "2098-10-08 14:00:00"}})


@case("damage_datetime_without_offset_edit", "another date-time with no UTC offset (a local time): refused", "reject",
      problems=[err("datetime_format", L, 2, "arrival_at", "no UTC offset")])
def _() -> dict[str, bytes]:
    return child_edit("legs", S0, {0: {"arrival_at": "2098-10-08 15:00:00"}})


@case("damage_decimal_amount", "an amount in major units (12.99) instead of minor units", "reject",
      problems=[err("type.integer", C, 2, "unit_amount", "minor unit")])
def _() -> dict[str, bytes]:
    return child_csv("cart_items", ["item_index", "unit_amount"], [ID0, "0", "22.99"])


@case("damage_thousands_separator", "the current amount with a thousands separator (55,943): kept", "warn",
      problems=[warn("rewrite_kept", S, 2, "amount", "'55,943' for '55943'")], kept=[unsent(ID0, "amount")])
def _() -> dict[str, bytes]:
    return sessions_csv(["amount"], [ID0, "55,943"])


@case("damage_thousands_separator_edit", "another amount with a thousands separator (55,944): refused", "reject",
      problems=[err("type.integer", S, 2, "amount", "not a whole number")])
def _() -> dict[str, bytes]:
    return sessions_csv(["amount"], [ID0, "55,944"])


@case("damage_impossible_date", "a date that does not exist (30 February)", "reject",
      problems=[err("date_format", P, 2, "date_of_birth", "no such day")])
def _() -> dict[str, bytes]:
    return child_csv("passengers", ["passenger_index", "date_of_birth"], [ID0, "0", "2062-02-30"])


# ---- schema rules ----------------------------------------------------------------------------


@case("rule_pattern_currency", "a currency in lower case", "reject",
      problems=[err("pattern", S, 2, "currency", "three-letter currency code")])
def _() -> dict[str, bytes]:
    return sessions_csv(["currency"], [ID0, "gbp"])


@case("rule_pattern_country", "a three-letter country code", "reject",
      problems=[err("pattern", S, 2, "buyer.billing_details.address.country", "two-letter country code")])
def _() -> dict[str, bytes]:
    return sessions_csv(["buyer.billing_details.address.country"], [ID1, "GBR"])


@case("rule_pattern_phone", "a phone number with spaces (not E.164)", "reject",
      problems=[err("pattern", S, 2, "buyer.billing_details.phone_number", "E.164")])
def _() -> dict[str, bytes]:
    return sessions_csv(["buyer.billing_details.phone_number"], [ID1, "+44 1234 567890"])


@case("rule_pattern_state_code", "a state name where an ISO 3166-2 code belongs", "reject",
      problems=[err("pattern", S, 2, "buyer.billing_details.address.state_code", "ISO 3166-2")])
def _() -> dict[str, bytes]:
    return sessions_csv(["buyer.billing_details.address.state_code"], [ID1, "California"])


@case("rule_pattern_uuid_field", "a payment service id that is not a UUID", "reject",
      problems=[err("uuid", S, 2, "payment_service_id", "not a UUID")])
def _() -> dict[str, bytes]:
    return sessions_csv(["payment_service_id"], [ID0, "stripe-main"])


@case("rule_minimum", "a negative amount", "reject", problems=[err("minimum", S, 2, "amount", "at least 0")])
def _() -> dict[str, bytes]:
    return sessions_csv(["amount"], [ID0, "-1"])


@case("rule_maximum", "an amount over 99,999,999", "reject",
      problems=[err("maximum", S, 2, "amount", "at most 99,999,999")])
def _() -> dict[str, bytes]:
    return sessions_csv(["amount"], [ID0, "100000000"])


@case("rule_exclusive_minimum", "a cart item quantity of 0", "reject",
      problems=[err("minimum", C, 2, "quantity", "more than 0")])
def _() -> dict[str, bytes]:
    return child_csv("cart_items", ["item_index", "quantity"], [ID0, "0", "0"])


@case("rule_integer_overflow", "a number past 64 bits", "reject",
      problems=[err("maximum", C, 2, "tax_amount", "far too large")])
def _() -> dict[str, bytes]:
    return child_csv("cart_items", ["item_index", "tax_amount"], [ID0, "0", "99999999999999999999999"])


@case("rule_enum", "an enum value in the wrong case", "reject",
      problems=[err("enum", C, 2, "product_type", "did you mean 'physical'")])
def _() -> dict[str, bytes]:
    return child_csv("cart_items", ["item_index", "product_type"], [ID0, "0", "Physical"])


@case("rule_enum_unknown", "a value outside the enum", "reject",
      problems=[err("enum", S, 2, "airline.ticket_delivery_method", "is not one of")])
def _() -> dict[str, bytes]:
    return sessions_csv(["airline.ticket_delivery_method"], [ID0, "email"])


@case("rule_boolean", "yes/no where a boolean belongs", "reject",
      problems=[err("type.boolean", L, 2, "stop_over", "write true or false")])
def _() -> dict[str, bytes]:
    return child_csv("legs", ["leg_index", "stop_over"], [ID0, "0", "yes"])


@case("rule_min_length", "a frequent-flyer number shorter than 5 characters", "reject",
      problems=[err("min_length", P, 2, "frequent_flyer_number", "at least 5 characters")])
def _() -> dict[str, bytes]:
    return child_csv("passengers", ["passenger_index", "frequent_flyer_number"], [ID0, "0", "1234"])


@case("rule_max_length", "a fare basis code longer than 8 characters", "reject",
      problems=[err("max_length", L, 2, "fare_basis_code", "at most 8")])
def _() -> dict[str, bytes]:
    return child_csv("legs", ["leg_index", "fare_basis_code"], [ID0, "0", "QLOWEU123"])


@case("rule_max_length_multibyte", "a 256-character multibyte last name (one over the limit)", "reject",
      problems=[err("max_length", P, 2, "last_name", "256 characters long")])
def _() -> dict[str, bytes]:
    return child_csv("passengers", ["passenger_index", "last_name"], [ID0, "0", "ü" * 256])


@case("rule_max_items", "21 legs for one session (at most 20)", "reject",
      problems=[err("max_items", L, 22, "checkout_session_id", "at most 20")])
def _() -> dict[str, bytes]:
    rows = [[ID0, str(i), f"LH{1000 + i}"] for i in range(21)]
    return child_csv("legs", ["leg_index", "flight_number"], *rows)


@case("rule_index_beyond_max_items", "a leg_index of 20 (indexes run 0..19)", "reject",
      problems=[err("max_items", L, 2, "leg_index", "beyond the limit")])
def _() -> dict[str, bytes]:
    return child_csv("legs", ["leg_index", "flight_number"], [ID0, "20", "LH1000"])


@case("rule_categories_list", "a list cell that starts like JSON but is not", "reject",
      problems=[err("list_format", C, 2, "categories", "not a JSON array")])
def _() -> dict[str, bytes]:
    return child_csv("cart_items", ["item_index", "categories"], [ID0, "0", '["apparel", "shoes"'])


@case("rule_extra_json", "the extra column holding something that is not a JSON object", "reject",
      problems=[err("json", S, 2, "extra", "JSON object")])
def _() -> dict[str, bytes]:
    return sessions_csv(["extra"], [ID0, "not json"])


@case("rule_required_after_merge", "a new cart item without its required name", "reject",
      problems=[err("api.missing", C, 2, "name", "Field required")])
def _() -> dict[str, bytes]:
    return child_csv("cart_items", ["item_index", "quantity", "unit_amount"], [ID0, "3", "1", "100"])


@case("columns_unknown", "a column the schema does not have", "reject",
      problems=[err("unknown_column", S, 1, "colour", "not a column of sessions.csv")])
def _() -> dict[str, bytes]:
    return sessions_csv(["colour"], [ID0, "blue"])


@case("columns_wrong_table", "a passenger column in sessions.csv", "reject",
      problems=[err("unknown_column", S, 1, "passport_number", "belongs in passengers.csv")])
def _() -> dict[str, bytes]:
    return sessions_csv(["passport_number"], [ID0, "X0000001"])


@case("columns_read_only_expires_at", "expires_at edited (set by the API, reset by every update): ignored, said once",
      "warn", problems=[warn("read_only", S, 2, "expires_at", "are ignored")])
def _() -> dict[str, bytes]:
    return sessions_csv(["expires_at"], [ID0, "2099-12-31T00:00:00Z"])


@case("columns_stale_row_version", "a row whose row_version is not its session's now (changed since the export)",
      "reject", problems=[err("stale", S, 2, "row_version", "has changed since this file was exported")])
def _() -> dict[str, bytes]:
    return sessions_csv([META, "row_version"], [ID0, "web2", "vaaaaaaaaaaaaaaaa"])


@case("columns_read_only_payment_method", "card details edited (read-only)", "reject",
      problems=[err("read_only", S, 2, "payment_method.scheme", "read-only")])
def _() -> dict[str, bytes]:
    return sessions_csv(["payment_method.scheme"], [ID0, "visa"])


@case("clear_in_id", "#N/A where the session id should be", "reject",
      problems=[err(["clear_not_allowed", "required"], S, 2, "checkout_session_id",
                    ["cannot be #N/A", "needs a checkout_session_id"])])
def _() -> dict[str, bytes]:
    return sessions_csv([META], ["#N/A", "web"])


@case("clear_in_index", "#N/A as an item index", "reject",
      problems=[err("clear_not_allowed", C, 2, "item_index", "cannot be #N/A")])
def _() -> dict[str, bytes]:
    return child_csv("cart_items", ["item_index", "quantity"], [ID0, "#N/A", "1"])


@case("clear_required", "#N/A in a required field (a cart item's name)", "reject",
      problems=[err("clear_not_allowed", C, 2, "name", "required")])
def _() -> dict[str, bytes]:
    return child_csv("cart_items", ["item_index", "name"], [ID0, "0", "#N/A"])


@case("clear_only_column", "text in a whole-object column, which only takes #N/A", "reject",
      problems=[err("clear_only", S, 2, "airline", "only #N/A")])
def _() -> dict[str, bytes]:
    return sessions_csv(["airline"], [ID0, "none"])


# ---- data that must survive -------------------------------------------------------------------


@case("survive_null_na_none", "surnames Null and NA and a metadata value None are data, not missing values",
      "accept", diff=[keep(ID0, "airline.passengers[1].last_name", "NA"),
                      keep(ID0, "airline.passengers[1].first_name", "Null"),
                      keep(ID0, "metadata.campaign", "None")])
def _() -> dict[str, bytes]:
    files = child_edit("passengers", S0, {1: {"first_name": "Null", "last_name": "NA"}})
    files.update(sessions_csv(["metadata.campaign"], [ID0, "None"]))
    return files


@case("survive_formulas", "formula-like values: typed by a user, or neutralised by an export", "accept",
      diff=[keep(ID0, "metadata.channel", "=1+2"), keep(ID0, "metadata.order_ref", '=HYPERLINK("http://x")'),
            keep(ID0, "metadata.campaign", "@SUM(A1)"),
            keep(ID0, "airline.passengers[0].phone_number", "+441234567890")])
def _() -> dict[str, bytes]:
    files = sessions_csv([META, "metadata.order_ref", "metadata.campaign"],
                         [ID0, "=1+2", "'=HYPERLINK(\"http://x\")", "'@SUM(A1)"])
    files.update(child_edit("passengers", S0, {0: {"phone_number": "'+441234567890"}}))
    return files


@case("survive_literal_na_marker", "a value that is literally #N/A, written with the export's prefix", "accept",
      diff=[keep(ID0, "metadata.channel", "#N/A")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [ID0, "'#N/A"])


@case("survive_unicode_nbsp", "a no-break space inside a name", "accept",
      diff=[keep(ID0, "airline.passengers[0].first_name", "Ana\u00a0María")])
def _() -> dict[str, bytes]:
    return child_edit("passengers", S0, {0: {"first_name": "Ana\u00a0María"}})


@case("survive_unicode_zwj", "emoji joined by zero-width joiners", "accept",
      diff=[keep(ID0, "metadata.channel", "family 👩\u200d👩\u200d👧 trip")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [ID0, "family 👩\u200d👩\u200d👧 trip"])


@case("survive_unicode_rtl", "right-to-left names with direction marks", "accept",
      diff=[keep(ID0, "airline.passengers[0].last_name", "\u200fمريم الأحمد"),
            keep(ID0, "airline.passengers[0].first_name", "שָׁלוֹם")])
def _() -> dict[str, bytes]:
    return child_edit("passengers", S0, {0: {"first_name": "שָׁלוֹם", "last_name": "\u200fمريم الأحمد"}})


@case("survive_unicode_nfd", "accents as combining characters (NFD), kept as written", "accept",
      diff=[keep(ID0, "airline.passengers[2].last_name", unicodedata.normalize("NFD", "Müller-Sánchez"))])
def _() -> dict[str, bytes]:
    return child_edit("passengers", S0, {2: {"last_name": unicodedata.normalize("NFD", "Müller-Sánchez")}})


@case("survive_emoji", "emoji in a cart item's name", "accept",
      diff=[keep(ID0, "cart_items[1].name", "Trail running shoes 🏃\u200d♀️🔥")])
def _() -> dict[str, bytes]:
    return child_edit("cart_items", S0, {1: {"name": "Trail running shoes 🏃\u200d♀️🔥"}})


@case("survive_255_multibyte", "a 255-character name in multibyte characters (the limit counts characters)",
      "accept", diff=[keep(ID0, "airline.passengers[3].last_name", "日本" * 127 + "語")])
def _() -> dict[str, bytes]:
    return child_edit("passengers", S0, {3: {"last_name": "日本" * 127 + "語"}})


@case("survive_spaces_in_text", "leading and trailing spaces in text are data", "accept",
      diff=[keep(ID0, "metadata.channel", "  web  ")])
def _() -> dict[str, bytes]:
    return sessions_csv([META], [ID0, "  web  "])


@case("survive_multiline_value", "a quoted value with a line break and a comma", "accept",
      diff=[keep(ID1, "buyer.billing_details.address.line2", "Flat 4,\nthe Annex")])
def _() -> dict[str, bytes]:
    return sessions_csv(["buyer.billing_details.address.line2"], [ID1, "Flat 4,\nthe Annex"])


# --------------------------------------------------------------------------- writing


def write_case(c: Case, root: Path) -> Path:
    folder = root / c.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, data in c.files.items():
        (folder / name).write_bytes(data)
    (folder / "expected.json").write_text(json.dumps(c.expected(), ensure_ascii=False, indent=2) + "\n",
                                          encoding="utf-8")
    return folder


def write_corpus(root: Path = ROOT) -> list[Path]:
    """Write every case under ``root`` (stale case folders removed); returns the folders."""
    root.mkdir(parents=True, exist_ok=True)
    names = {c.name for c in CASES}
    for stale in root.iterdir():
        if stale.is_dir() and stale.name not in names:
            shutil.rmtree(stale)
    return [write_case(c, root) for c in CASES]


def materialise(folder: Path, into: Path) -> Path:
    """A copy of a case folder in ``into`` with any ``generated`` file written out."""
    shutil.copytree(folder, into, dirs_exist_ok=True)
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    spec = expected.get("generated")
    if spec:
        with (into / spec["file"]).open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(spec["header"] + "\n")
            line = spec["row"] + "\n"
            chunk = line * 10_000
            for _ in range(spec["rows"] // 10_000):
                fh.write(chunk)
            fh.write(line * (spec["rows"] % 10_000))
    return into


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    written = write_corpus(target)
    print(f"wrote {len(written)} cases to {target}")
