"""Reading callback dates and times typed by people, and turning them into OriginateTime.

Israeli files write dates day first (``01/07/2026 09:00``); the readers hand
Excel dates over as ISO-8601.  OriginateTime is epoch seconds; see
docs/decisions.md ("OriginateTime and IsDateLocal") for what ``is_date_local``
changes.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from importer.i18n.reasons import ReasonKind

__all__ = ["When", "combine", "parse_time_of_day", "parse_when", "to_originate"]

_TIME = r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp][Mm])?)?"
_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})" + _TIME + r"$")
_YMD = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})" + _TIME + r"$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp][Mm])?$")
_EXCEL_EPOCH = datetime(1899, 12, 30)
_EPOCH_MIN, _EPOCH_MAX = 946_684_800, 4_102_444_800      # 2000-01-01 .. 2100-01-01
_SERIAL_MIN, _SERIAL_MAX = 36_526, 73_051                 # the same range as Excel serials

# Why a date or time cell cannot be read: raised as ValueError(reason), the reason a Reason.
NOT_IN_FORMAT = ReasonKind("date_not_in_format", "{text} does not match the format {format}")
NUMBER_NOT_DATE = ReasonKind("date_is_number", "{text} is a number, not a date")
NOT_REAL_DATE = ReasonKind("date_not_real", "{text} is not a real date")
UNREADABLE_DATE = ReasonKind(
    "date_unreadable",
    "{text} is not a date we can read (use e.g. 01/07/2026 09:00 or 2026-07-01 09:00)",
)
NOT_TIME_OF_DAY = ReasonKind("time_unreadable", "{text} is not a time of day (use e.g. 09:30)")


@dataclass(frozen=True, slots=True)
class When:
    """A parsed moment, naive (a wall clock) or aware; ``has_time`` False for a date alone."""

    moment: datetime
    has_time: bool = True


def _hour(hour: int, ampm: str | None) -> int:
    if ampm:
        hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
    return hour


def _from_parts(y: int, mo: int, d: int, groups: tuple[str | None, ...]) -> When:
    hh, mm, ss, ampm = groups
    if y < 100:
        y += 2000
    if hh is None:
        return When(datetime(y, mo, d), has_time=False)
    return When(datetime(y, mo, d, _hour(int(hh), ampm), int(mm or 0), int(ss or 0)))


def parse_when(
    text: str, *, numeric: bool = False, day_first: bool = True, fmt: str | None = None
) -> When | None:
    """Parse a date/time cell; None when empty, ValueError (plain reason) when unreadable."""
    text = text.strip()
    if not text:
        return None
    if fmt:
        try:
            return When(datetime.strptime(text, fmt))
        except ValueError:
            raise ValueError(NOT_IN_FORMAT(text=repr(text), format=repr(fmt))) from None
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        value = float(text)
        if _EPOCH_MIN <= value <= _EPOCH_MAX:
            return When(datetime.fromtimestamp(value, UTC))
        if numeric and _SERIAL_MIN <= value <= _SERIAL_MAX:
            # An Excel date serial that reached us as a plain number.
            moment = _EXCEL_EPOCH + timedelta(days=value)
            return When(moment.replace(microsecond=0), has_time=value != int(value))
        raise ValueError(NUMBER_NOT_DATE(text=repr(text)))
    try:
        if _ISO_DATE.match(text):
            return When(datetime.fromisoformat(text), has_time=False)
        return When(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        if m := _DMY.match(text):
            a, b, y = int(m[1]), int(m[2]), int(m[3])
            day, month = (a, b) if day_first else (b, a)
            return _from_parts(y, month, day, (m[4], m[5], m[6], m[7]))
        if m := _YMD.match(text):
            return _from_parts(int(m[1]), int(m[2]), int(m[3]), (m[4], m[5], m[6], m[7]))
    except ValueError:
        raise ValueError(NOT_REAL_DATE(text=repr(text))) from None
    raise ValueError(UNREADABLE_DATE(text=repr(text)))


def parse_time_of_day(text: str, *, numeric: bool = False) -> time | None:
    """Parse a time-of-day cell (``9:30``, ``09:30:00``, an Excel fraction, an ISO datetime)."""
    text = text.strip()
    if not text:
        return None
    if m := _CLOCK.match(text):
        hour, minute = _hour(int(m[1]), m[4]), int(m[2])
        if hour < 24 and minute < 60:
            return time(hour, minute, int(m[3] or 0) % 60)
    if numeric and re.fullmatch(r"0?\.\d+", text):
        seconds = round(float(text) * 86_400)
        return time(seconds // 3600 % 24, seconds // 60 % 60, seconds % 60)
    try:
        return datetime.fromisoformat(text).time()    # Excel time cells come as 1899-12-30T..
    except ValueError:
        raise ValueError(NOT_TIME_OF_DAY(text=repr(text))) from None


def combine(day: When, clock: time | None, default_time: time) -> When:
    """A date cell plus a time cell (or the default time when the date has none)."""
    if clock is not None:
        return When(datetime.combine(day.moment.date(), clock, day.moment.tzinfo))
    if not day.has_time:
        return When(datetime.combine(day.moment.date(), default_time))
    return day


def to_originate(when: When, zone: ZoneInfo, *, is_date_local: bool) -> tuple[int, int, datetime]:
    """(epoch to send, true UTC epoch, local wall-clock time) for a parsed moment.

    A naive moment is a wall-clock time in ``zone``.  With ``is_date_local``
    False we send the true UTC epoch (IsDateLocal=false: the epoch is GMT+0).
    With True we send the wall clock read as if it were UTC ("local epoch"),
    which the dialer reads in the account's own time zone.
    """
    moment = when.moment
    local = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    utc_epoch = int(local.timestamp())
    if is_date_local:
        return calendar.timegm(local.replace(tzinfo=None).timetuple()), utc_epoch, local
    return utc_epoch, utc_epoch, local
