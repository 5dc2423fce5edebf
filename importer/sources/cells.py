"""Turn workbook cell values into the text a user sees in Excel."""

from __future__ import annotations

import datetime as dt
import math

__all__ = ["EXACT_INT_LIMIT", "column_letter", "format_number", "format_timedelta", "to_text"]

# Integers up to this size are exact in a double and shown whole by Excel (phone numbers
# are far below it); larger values keep Python's shortest round-trip text.
EXACT_INT_LIMIT = 1e15


def format_number(value: float) -> str:
    """Shortest exact text for a number: ``521234567.0`` -> ``"521234567"``."""
    if math.isfinite(value) and value.is_integer() and abs(value) < EXACT_INT_LIMIT:
        return str(int(value))
    return repr(value)


def format_timedelta(value: dt.timedelta) -> str:
    """A duration as Excel's ``[h]:mm:ss`` shows it."""
    total = round(value.total_seconds())
    sign = "-" if total < 0 else ""
    hours, rest = divmod(abs(total), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{seconds:02d}"


def _format_time(value: dt.time | dt.datetime) -> str:
    # Excel stores times as fractions of a day, so readers can return 14:29:59.999999:
    # round to the millisecond (Excel's precision) and drop it when it is zero.
    if not value.microsecond:
        return value.isoformat()
    ms = round(value.microsecond / 1000)
    if isinstance(value, dt.datetime):
        rounded = value.replace(microsecond=0) + dt.timedelta(milliseconds=ms)
        return rounded.isoformat(timespec="milliseconds" if rounded.microsecond else "seconds")
    if ms < 1000:
        return value.replace(microsecond=ms * 1000).isoformat(
            timespec="milliseconds" if ms else "seconds"
        )
    as_dt = dt.datetime.combine(dt.date(2000, 1, 1), value.replace(microsecond=0))
    return (as_dt + dt.timedelta(seconds=1)).time().isoformat()


def to_text(value: object) -> tuple[str, bool]:
    """Return ``(text, is_number)`` for one cell value from a workbook reader."""
    if isinstance(value, str):
        return value, False
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE"), False
    if isinstance(value, float):
        return format_number(value), True
    if isinstance(value, int):
        return str(value), True
    if isinstance(value, dt.datetime):
        if not (value.hour or value.minute or value.second or value.microsecond):
            return value.date().isoformat(), False
        return _format_time(value), False
    if isinstance(value, dt.date):
        return value.isoformat(), False
    if isinstance(value, dt.time):
        return _format_time(value), False
    if isinstance(value, dt.timedelta):
        return format_timedelta(value), False
    if value is None:
        return "", False
    return str(value), False


def column_letter(index: int) -> str:
    """0-based column index -> Excel letters (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
