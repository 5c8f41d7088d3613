"""Dates as real survey exports write them. Pure.

Understood: ISO 8601 (``2026-03-05``, with time and time zone; aware times become naive UTC), ``yyyy/mm/dd``,
``yyyymmdd``, numeric day/month forms with ``.``, ``/`` or ``-`` (``29/01/2018 19:34``, ``05.03.26``,
``3/5/2026 7:05 PM``), Excel serial day numbers (``43129.81``), and English month names (``5 Mar 2026``).

Day-first or month-first is decided once for the whole column (:func:`infer_day_first`): a first part above 12
means day-first, a second part above 12 means month-first; when no value decides it, day-first is assumed
(German and most European exports; ``input.date_format: monthfirst`` for US exports). A value that cannot be
read gives ``None``; the validation step keeps the response and counts it (``dates_unparsed``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

DATE_FORMATS = ("auto", "iso", "german", "dayfirst", "monthfirst")
"""``input.date_format``: ``german`` is kept as an alias of ``dayfirst``; ``iso`` reads ISO dates only."""
MIN_YEAR, MAX_YEAR = 1900, 2200
EXCEL_SERIAL_RANGE = (20_000, 80_000)  # 1954-10-03 .. 2119-01-10
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_NUMERIC = re.compile(
    r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})\.?"
    r"(?:[ ,T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*([AaPp]\.?[Mm]\.?)?)?$"
)
_ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T]\S.*)?$")
_YMD_SLASH = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_WORDY = re.compile(r"[A-Za-z]{3}.*\d{4}|\d{4}.*[A-Za-z]{3}")


@dataclass(frozen=True)
class DateColumnInfo:
    """How a date column was read: for the manifest and the report."""

    parsed: int = 0
    unparsed: int = 0
    day_first: bool | None = None
    """None when no value needed the decision (ISO, serials)."""
    order_assumed: bool = False
    """True when no value showed whether the day or the month comes first (day-first was assumed)."""
    unparsed_examples: tuple[str, ...] = field(default_factory=tuple)


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def infer_day_first(values: Sequence[object], date_format: str = "auto") -> tuple[bool | None, bool]:
    """``(day_first, assumed)`` for a whole column; ``day_first`` is None when no value is day/month-ambiguous."""
    if date_format in ("dayfirst", "german"):
        return True, False
    if date_format == "monthfirst":
        return False, False
    first_over = second_over = ambiguous = 0
    for value in set(values):
        text = _clean(value)
        match = _NUMERIC.match(text) if text else None
        if match is None:
            continue
        ambiguous += 1
        first, second = int(match.group(1)), int(match.group(3))
        first_over += first > 12
        second_over += second > 12
    if not ambiguous or date_format == "iso":
        return None, False
    if first_over or second_over:
        return first_over >= second_over, False
    return True, True


def parse_date(
    value: object, date_format: str = "auto", day_first: bool | None = None
) -> tuple[pd.Timestamp | None, str | None]:
    """Parse one date: ``(timestamp, None)``, ``(None, reason)``, or ``(None, None)`` for an empty value.

    ``day_first`` decides ``01/02/2026``; None takes it from ``date_format`` (``auto``: day-first).

    Example:
        >>> parse_date("29/01/2018 19:34")[0]
        Timestamp('2018-01-29 19:34:00')
    """
    text = _clean(value)
    if text is None:
        return None, None
    if day_first is None:
        day_first = date_format != "monthfirst"
    stamp = _parse(text, date_format, day_first)
    if stamp is None:
        return None, f"date {text[:80]!r} is not a date ({_expected(date_format)})"
    if not MIN_YEAR <= stamp.year <= MAX_YEAR:
        return None, f"date {text[:80]!r} is not a valid calendar date between {MIN_YEAR} and {MAX_YEAR}"
    return stamp, None


def parse_dates(values: Sequence[object], date_format: str = "auto") -> tuple[list[pd.Timestamp | None], DateColumnInfo]:
    """Parse a whole date column with one day/month order (see :func:`infer_day_first`); each distinct text once."""
    day_first, assumed = infer_day_first(values, date_format)
    cache: dict[Any, pd.Timestamp | None] = {}
    stamps: list[pd.Timestamp | None] = []
    unparsed: list[str] = []
    for value in values:
        key = value if isinstance(value, str) or value is None else str(value)
        if key not in cache:
            cache[key] = parse_date(key, date_format, day_first)[0]
        stamp = cache[key]
        stamps.append(stamp)
        if stamp is None and _clean(key) is not None:
            unparsed.append(str(key))
    examples = tuple(dict.fromkeys(text[:80] for text in unparsed[:200]))[:5]
    info = DateColumnInfo(
        parsed=sum(stamp is not None for stamp in stamps),
        unparsed=len(unparsed),
        day_first=day_first,
        order_assumed=assumed,
        unparsed_examples=examples,
    )
    return stamps, info


def _expected(date_format: str) -> str:
    return {
        "iso": "expected YYYY-MM-DD",
        "german": "expected DD.MM.YYYY",
        "dayfirst": "expected DD.MM.YYYY, DD/MM/YYYY or YYYY-MM-DD",
        "monthfirst": "expected MM/DD/YYYY or YYYY-MM-DD",
    }.get(date_format, "expected YYYY-MM-DD, DD.MM.YYYY, DD/MM/YYYY or an Excel date number")


def _stamp(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> pd.Timestamp | None:
    try:
        return pd.Timestamp(year=year, month=month, day=day, hour=hour, minute=minute, second=second)
    except (ValueError, OverflowError):
        return None


def _parse(text: str, date_format: str, day_first: bool) -> pd.Timestamp | None:
    if _ISO.match(text):
        try:
            stamp = pd.Timestamp(text)
        except (ValueError, TypeError, OverflowError):
            return None
        if stamp is pd.NaT:
            return None
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp
    if date_format == "iso":
        return None
    numeric = _NUMERIC.match(text)
    if numeric:
        first, second, year = int(numeric.group(1)), int(numeric.group(3)), int(numeric.group(4))
        if numeric.group(2) == "." and date_format == "auto":
            day_first = True  # nobody writes month.day.year
        day, month = (first, second) if day_first else (second, first)
        year = year + 2000 if year < 100 else year
        hour, minute, second_ = int(numeric.group(5) or 0), int(numeric.group(6) or 0), int(numeric.group(7) or 0)
        meridiem = (numeric.group(8) or "").lower()[:1]
        if meridiem and not 1 <= hour <= 12:
            return None
        if meridiem == "p" and hour != 12:
            hour += 12
        elif meridiem == "a" and hour == 12:
            hour = 0
        return _stamp(year, month, day, hour, minute, second_)
    slash = _YMD_SLASH.match(text)
    if slash:
        parts = [int(part or 0) for part in slash.groups()]
        return _stamp(*parts)
    compact = _COMPACT.match(text)
    if compact:
        return _stamp(*(int(part) for part in compact.groups()))
    if _SERIAL.match(text):
        serial = float(text)
        low, high = EXCEL_SERIAL_RANGE
        if low <= serial <= high:
            return (_EXCEL_EPOCH + pd.to_timedelta(serial, unit="D")).round("s")
        return None
    if _WORDY.search(text) and len(text) <= 64:
        from dateutil import parser

        try:
            stamp = pd.Timestamp(parser.parse(text, dayfirst=day_first))
        except (ValueError, OverflowError, TypeError):
            return None
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp
    return None
