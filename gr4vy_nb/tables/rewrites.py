"""What an editor makes of a value: the same number, date, boolean or amount written differently.

:func:`rewrite_of` compares a cell's new text with the value it replaces and says, in words,
when the new text is what an editor (Excel, LibreOffice Calc, Gnumeric, Google Sheets, pandas'
``read_csv``/``to_csv`` defaults) makes of the old one on opening and saving a CSV file, rather
than an edit:

* the same number written differently: leading or trailing zeros (``0901.21`` -> ``901.21``,
  ``0.50`` -> ``0.5``, pandas' ``795`` -> ``795.0``), an exponent (``1E06`` -> ``1000000``),
  thousands separators, a decimal comma, the digits past the 15th rounded or cut
  (``1234567890123456789`` -> ``1234567890123460000``, ``3.14159265358979323846`` ->
  ``3.14159265358979``), a long integer as the 64-bit float pandas makes of it
  (``9007199254740993`` -> ``9007199254740992.0``, ``12345678901234567890`` ->
  ``1.2345678901234568e+19``);
* a currency, percent or accounting format of the same number (``$5`` -> ``$5.00``,
  ``50%`` -> ``50.00%``, ``(123)`` -> ``-123``);
* the same date or time in another format (``1/2`` -> ``01/02/26``, ``12:30`` ->
  ``12:30:00 PM``, ``1985-03-02`` -> ``02/03/1985``, a date turned into a serial number);
* a boolean word in another case (``true`` -> ``TRUE``, pandas' ``True``);
* a text cut at 32,767 characters (a spreadsheet cell's limit).

:func:`is_error_value` tells a spreadsheet error value (``#VALUE!``, ``#REF!``, ..., LibreOffice's
``Err:502``); ``#N/A`` is not one here: it is the clear marker.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["CELL_LIMIT", "ERROR_VALUES", "is_error_value", "rewrite_of"]

CELL_LIMIT = 32_767
"""The most characters a spreadsheet cell holds (Excel, LibreOffice): longer text is cut there."""

ERROR_VALUES = frozenset({"#VALUE!", "#REF!", "#NAME?", "#DIV/0!", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
                          "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!"})
"""Spreadsheet error values (``#N/A`` excepted: it is the clear marker)."""
ERROR_PATTERN = r"^\s*(?:#(?:VALUE!|REF!|NAME\?|DIV/0!|NUM!|NULL!|SPILL!|CALC!|GETTING_DATA|FIELD!|BLOCKED!|" \
                r"CONNECT!|BUSY!|UNKNOWN!)|Err:\d{3})\s*$"
_ERROR = re.compile(ERROR_PATTERN, re.IGNORECASE)

NUMBER = "the same number written differently"
AMOUNT = "the same number in a currency, percent or accounting format"
ROUNDED = "the same number with its digits past the 15th lost"
DATE = "the same date or time in another format"
BOOLEAN = "the same boolean in another case"
CUT = f"the same text cut at {CELL_LIMIT:,} characters"


def is_error_value(text: str) -> bool:
    """Whether ``text`` is a spreadsheet error value (a formula that failed), ``#N/A`` excepted."""
    return bool(_ERROR.match(text))


# --------------------------------------------------------------------------- numbers

_NUM = re.compile(
    r"^(?P<sign>[-+\u2212])?\(?(?P<cur>[$€£¥₹]|[A-Z]{3}\s)?(?P<sign2>[-\u2212])?"
    r"(?P<body>\d[\d.,\s\u00a0\u202f']*|[.,]\d+)(?P<exp>[eE][-+]?\d+)?"
    r"(?P<pct>\s?%)?(?P<cur2>\s?[$€£¥₹]|\s[A-Z]{3})?\)?(?P<sign3>-)?$")
_SPACES = re.compile(r"[\s\u00a0\u202f']")


def _grouped(body: str, sep: str) -> bool:
    """Whether the thousands separators in ``body`` (before the decimal part) group by three."""
    groups = body.split(sep)
    return len(groups[0]) in (1, 2, 3) and all(len(g) == 3 for g in groups[1:])


def _bodies(body: str) -> set[Decimal]:
    """Every value the digits of a number may mean (point or comma as the decimal mark, grouped or not)."""
    body = _SPACES.sub("", body)
    out: set[Decimal] = set()
    for thousands, decimal in ((",", "."), (".", ",")):
        if body.count(decimal) > 1:
            continue
        whole, _, fraction = body.partition(decimal)
        if thousands in whole and not _grouped(whole, thousands):
            continue
        if thousands in fraction:
            continue
        text = whole.replace(thousands, "") + ("." + fraction if fraction or decimal in body else "")
        try:
            out.add(Decimal(text if text not in ("", ".") else "x"))
        except InvalidOperation:
            continue
    return out


def _numbers(text: str) -> tuple[set[Decimal], bool, bool]:
    """The values ``text`` may mean as a number, whether it has a format (currency, %, parentheses), an exponent."""
    s = text.strip()
    m = _NUM.match(s)
    if m is None:
        return set(), False, False
    accounting = s.startswith(("(", "-(", "+(")) and s.endswith(")")
    if ("(" in s) != (")" in s):
        return set(), False, False
    values = _bodies(m["body"])
    exp = int(m["exp"][1:]) if m["exp"] else 0
    negative = (m["sign"] in ("-", "\u2212")) ^ bool(m["sign2"]) ^ bool(m["sign3"]) ^ accounting
    out = set()
    for v in values:
        v = v.scaleb(exp)
        if m["pct"]:
            v = v.scaleb(-2)
        out.add(-v if negative else v)
    formatted = bool(m["cur"] or m["cur2"] or m["pct"] or accounting)
    return out, formatted, bool(m["exp"])


def _significant(v: Decimal) -> int:
    digits = v.normalize().as_tuple().digits
    return len(digits) if any(digits) else 1


def _round_sig(v: Decimal, digits: int, rounding: str) -> Decimal:
    if not v:
        return v
    exp = v.adjusted() - digits + 1
    return v.quantize(Decimal(1).scaleb(exp), rounding=rounding)


def _number_rewrite(current: str, new: str) -> str | None:
    old, old_formatted, _ = _numbers(current)
    if not old:
        return None
    now, now_formatted, now_exp = _numbers(new)
    if not now:
        return None
    if old & now:
        return AMOUNT if old_formatted or now_formatted else NUMBER
    if now_exp or "." in new:  # pandas: a long integer read as a 64-bit float and written back (9007199254740992.0)
        for o in old:
            if _significant(o) > 15 and any(float(o) == float(n) for n in now):
                return ROUNDED
    for o in old:
        for n in now:
            k = _significant(n)
            if (_significant(o) > 15 and k <= 15) or now_exp:
                for rounding in (ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_DOWN):
                    if _round_sig(o, k, rounding) == n:
                        return ROUNDED if _significant(o) > 15 else NUMBER
    return None


# --------------------------------------------------------------------------- dates and times

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_TIME = r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?"
_TZ = r"(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
_DATES = [
    ("ymd", r"(?P<y>\d{4})[-/.](?P<a>\d{1,2})[-/.](?P<b>\d{1,2})"),
    ("abc", r"(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{2}|\d{4})"),
    ("ab", r"(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})"),
    ("dmon", r"(?P<a>\d{1,2})[- ](?P<mon>[A-Za-z]{3,9})\.?(?:[- ,]+(?P<y>\d{2}|\d{4}))?"),
    ("mond", r"(?P<mon>[A-Za-z]{3,9})\.?[- ](?P<a>\d{1,2})(?:(?:,\s*|[- ])(?P<y>\d{4}))?"),
]
_WHEN = [(kind, re.compile(rf"^\s*{d}(?:(?:[T ]+|,\s*){_TIME})?\s*{_TZ}\s*$")) for kind, d in _DATES]
_TIME_ONLY = re.compile(rf"^\s*{_TIME}\s*{_TZ}\s*$")
_SERIAL = re.compile(r"^\s*(\d{1,7})?(?:[.,](\d+))?\s*$")
_EPOCH = datetime(1899, 12, 30)


def _year(text: str | None) -> int:
    if text is None:
        return date.today().year
    y = int(text)
    if len(text) == 2:
        y += 2000 if y < 30 else 1900
    return y


def _seconds(m: re.Match[str]) -> tuple[float | None, int | None]:
    """Seconds since midnight (``None``: no time) and the offset in seconds (``None``: none given)."""
    if m["h"] is None:
        return None, _offset(m["tz"])
    h, mi, s = int(m["h"]), int(m["mi"]), int(m["s"] or 0)
    if m["ampm"]:
        if not 1 <= h <= 12:
            return -1, None
        h = h % 12 + (12 if m["ampm"][0] in "Pp" else 0)
    if h > 23 or mi > 59 or s > 59:
        return -1, None
    frac = float("0." + m["f"]) if m["f"] else 0.0
    return round(h * 3600 + mi * 60 + s + frac, 3), _offset(m["tz"])


def _offset(tz: str | None) -> int | None:
    if not tz:
        return None
    if tz in ("Z", "UTC", "GMT"):
        return 0
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)


def _moments(text: str) -> set[tuple[date | None, float | None]]:
    """Every (date, seconds of the day) ``text`` may mean as a date, date-time or time (several when ambiguous)."""
    out: set[tuple[date | None, float | None]] = set()
    m = _TIME_ONLY.match(text)
    if m is not None:
        seconds, offset = _seconds(m)
        if seconds is not None and seconds >= 0:
            out.add((None, seconds))
        return out
    for kind, pattern in _WHEN:
        m = pattern.match(text)
        if m is None:
            continue
        seconds, offset = _seconds(m)
        if seconds == -1:
            continue
        groups = m.groupdict()
        if kind == "ymd":
            orders = [(int(m["y"]), int(m["a"]), int(m["b"]))]
        elif kind in ("abc", "ab"):
            y = _year(groups.get("y"))
            a, b = int(m["a"]), int(m["b"])
            orders = [(y, a, b), (y, b, a)]
        else:
            name = m["mon"].lower()
            month = _MONTHS.get(name[:3])
            if month is None or (len(name) > 3 and name not in _MONTH_NAMES):
                continue
            orders = [(_year(groups.get("y")), month, int(m["a"]))]
        for y, mo, d in orders:
            try:
                day = date(y, mo, d)
            except ValueError:
                continue
            out.add((day, seconds))
            if offset and seconds is not None:  # the same instant in UTC, as well as the wall clock written
                moment = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds - offset)
                out.add((moment.date(), round(moment.hour * 3600 + moment.minute * 60 + moment.second
                                              + moment.microsecond / 1e6, 3)))
    return out


_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                "november", "december", "sept")


def _serials(text: str) -> set[tuple[date | None, float | None]]:
    """What a spreadsheet date serial number (days since 1899-12-30) stands for."""
    m = _SERIAL.match(text)
    if m is None or (m[1] is None and m[2] is None):
        return set()
    days = int(m[1] or 0)
    fraction = float("0." + m[2]) if m[2] else 0.0
    seconds = round(fraction * 86400, 3)
    if days == 0:
        return {(None, seconds)}
    if days > 2_958_465:
        return set()
    day = (_EPOCH + timedelta(days=days)).date()
    return {(day, seconds if m[2] else None), (day, seconds)}


def _same_moment(old: set[tuple[date | None, float | None]], new: set[tuple[date | None, float | None]]) -> bool:
    for od, ot in old:
        for nd, nt in new:
            if od is None or nd is None:
                if od is None and nd is None and ot is not None and nt is not None and abs(ot - nt) < 0.001:
                    return True
                if od is None and nt is not None and ot is not None and abs(ot - nt) < 0.001:
                    return True  # a time that gained a date (today's or the epoch's)
                continue
            if od != nd:
                continue
            if (ot or 0.0) == (nt or 0.0) or abs((ot or 0.0) - (nt or 0.0)) < 0.001:
                return True
            # a spreadsheet showing minutes only: the seconds were cut
            if ot is not None and nt is not None and int(ot // 60) == int(nt // 60) and nt % 60 == 0:
                return True
    return False


def _date_rewrite(current: str, new: str) -> str | None:
    old = _moments(current)
    if not old:
        return None
    now = _moments(new) or _serials(new)
    return DATE if now and _same_moment(old, now) else None


# --------------------------------------------------------------------------- all together


def rewrite_of(current: str, new: str) -> str | None:
    """How ``new`` is what a spreadsheet makes of ``current`` (in words), or ``None`` when it is an edit.

    Equal texts are no rewrite (nothing changes). See the module docstring for what is recognised.
    """
    if current == new or current is None or new is None:
        return None
    if len(current) > CELL_LIMIT and len(new) == CELL_LIMIT and current.startswith(new):
        return CUT
    if len(current) > 200 or len(new) > 200:
        return None
    if current.lower() in ("true", "false") and new.lower() == current.lower():
        return BOOLEAN
    if _numbers(current)[0] and _numbers(new)[0]:  # two numbers: never read as dates (1.5 -> 1.05 is an edit)
        return _number_rewrite(current, new)
    return _date_rewrite(current, new)


def clip(text: str, width: int = 40) -> str:
    """Text for a message: long text cut, with its length."""
    if len(text) <= width:
        return repr(text)
    return f"{text[:width - 1]!r}… ({len(text):,} characters)"
