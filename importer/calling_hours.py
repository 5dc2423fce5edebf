"""Calling hours: when a lead may be dialled, in each of its time zones (issue #16).

The one home of the rule.  A :class:`CallingHours` policy lists the allowed windows of each
weekday, the windows of a holiday's eve, closed dates and the holiday calendars (the
``holidays`` package: Israel's public holidays by default, no hand-written Hebrew calendar).
Every zone is judged on its own wall clock: 09:00 in New York is 09:00 there.
:meth:`CallingHours.next_allowed` gives the first moment at or after a time that is inside an
allowed window in *every* zone of a lead, and why it moved.  Pure: no clock is read here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from importer.i18n.reasons import ReasonKind

__all__ = [
    "DAY_NAMES",
    "DEFAULT_ZONE",
    "CallingHours",
    "CallingHoursSection",
    "Decision",
    "Window",
    "parse_calling_hours",
    "prefix_length",
    "zones_for_e164",
    "zones_from_cell",
]

#: The zone of a number whose zone is unknown, and of the report's times.
DEFAULT_ZONE = "Asia/Jerusalem"
#: Weekday names, Monday first (``date.weekday()`` order).
DAY_NAMES: tuple[str, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
# How far ahead a common window is looked for; a lead whose zones share none in three weeks
# (no such zones exist on Earth with the default windows) is scheduled for its first zone.
_HORIZON_DAYS = 21


@dataclass(frozen=True, slots=True)
class Window:
    """One allowed stretch of a local day: ``start`` <= t < ``end`` (``end`` 24:00 = midnight)."""

    start: time
    end: time | None  # None: until midnight

    def __str__(self) -> str:
        end = "24:00" if self.end is None else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}-{end}"


def _parse_window(text: str) -> Window:
    """'09:00-20:00' as a Window; ValueError with a plain sentence otherwise."""
    match = _WINDOW.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a window like '09:00-20:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{text!r} has a time of day that does not exist")
    start = time(h1, m1)
    end = None if h2 == 24 else time(h2, m2)
    if end is not None and end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return Window(start, end)


def _windows(value: Any) -> tuple[Window, ...]:
    """A day's windows from 'closed', one 'HH:MM-HH:MM' or a list of them."""
    if value is None or value is False or (isinstance(value, str) and value.strip() in
                                           {"closed", "off", ""}):
        return ()
    items = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(item, str) for item in items):
        raise ValueError("give windows as text like '09:00-20:00', or 'closed'")
    return tuple(sorted((_parse_window(item) for item in items), key=lambda w: w.start))


_DEFAULT_DAYS: dict[str, Any] = {
    "sunday": "09:00-20:00", "monday": "09:00-20:00", "tuesday": "09:00-20:00",
    "wednesday": "09:00-20:00", "thursday": "09:00-20:00", "friday": "09:00-13:00",
    "saturday": "closed",
}


class CallingHoursSection(BaseModel):
    """The ``calling_hours:`` section of a mapping, inbox.yaml or the config (``off`` allowed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    days: dict[str, Any] = Field(default_factory=lambda: dict(_DEFAULT_DAYS))
    # A holiday's eve (the day before a holiday that is not itself one): Friday's hours.
    eves: Any = "09:00-13:00"
    holidays: list[str] = Field(default_factory=lambda: ["IL"])
    holiday_categories: list[str] = Field(default_factory=lambda: ["public"])
    closed_dates: list[date] = Field(default_factory=list)
    # A mapping's column naming each lead's time zone(s) (aliases); a zone in it wins over the
    # number's.  Only a mapping's section has columns to read.
    timezone_column: list[str] | None = None

    @field_validator("timezone_column", mode="before")
    @classmethod
    def _aliases(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, data: Any) -> Any:
        # `calling_hours: off` (YAML without 1.1 booleans keeps it as text) or false.
        if data is False or (isinstance(data, str) and data.strip().casefold() in
                             {"off", "false", "no"}):
            return {"enabled": False}
        if data is True or data is None or (isinstance(data, str) and
                                            data.strip().casefold() in {"on", "true", "yes"}):
            return {}
        return data

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("give one line per weekday, e.g. 'friday: 09:00-13:00'")
        out = dict(_DEFAULT_DAYS)
        for key, windows in value.items():
            name = str(key).strip().casefold()
            if name not in DAY_NAMES:
                raise ValueError(f"{key!r} is not a weekday (sunday … saturday)")
            _windows(windows)
            out[name] = windows
        return out

    @field_validator("eves")
    @classmethod
    def _eves(cls, value: Any) -> Any:
        if not (isinstance(value, str) and value.strip() == "as_day"):
            _windows(value)
        return value

    @field_validator("holidays", "holiday_categories", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if value is None or value is False:
            return []
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _calendars_exist(self) -> CallingHoursSection:
        import holidays as calendars

        supported = calendars.list_supported_countries()
        for code in self.holidays:
            if code.upper() not in supported:
                raise ValueError(f"no holiday calendar for {code!r} (e.g. 'IL', 'US', 'GB')")
            cats = calendars.country_holidays(code.upper()).supported_categories
            for cat in self.holiday_categories:
                if cat.casefold() not in cats:
                    raise ValueError(
                        f"holiday category {cat!r} is not one of {code.upper()}'s: "
                        + ", ".join(sorted(cats))
                    )
        return self


def parse_calling_hours(value: Any) -> CallingHours | None:
    """A policy from a section's raw value (None when off); ValueError on a bad section."""
    section = (value if isinstance(value, CallingHoursSection)
               else CallingHoursSection.model_validate(value))
    return CallingHours.from_section(section)


# Why a lead's call was moved (README "Reason codes"); the day and zone are values.
CLOSED_DATE = ReasonKind("closed_date", "closed date")()
SHABBAT = ReasonKind("shabbat", "Shabbat")()
HOLIDAY = ReasonKind("holiday", "{holiday}")
EVE_OF = ReasonKind("holiday_eve", "eve of {holiday}")
NO_CALLING_ON = ReasonKind("closed_weekday", "no calling on {day}s")
OUTSIDE_HOURS = ReasonKind("outside_calling_hours", "outside calling hours")()
OUTSIDE_HOURS_BECAUSE = ReasonKind("outside_calling_hours_because", "outside calling hours ({why})")
MOVED = ReasonKind("calling_hours_moved", "{why}: moved to {day} {time} ({date}, {where})")
ZONES_LISTED = ReasonKind("zones_listed", "{zone}; zones {zones}")
ZONES_COUNTED = ReasonKind("zones_counted", "{zone}; one of the number's {count} zones")
NO_SHARED_WINDOW_KEPT = ReasonKind(
    "no_shared_window_kept",
    "no calling window shared by {zones}: kept at {day} {time} ({date}, {zone})",
)
NO_SHARED_WINDOW_MOVED = ReasonKind(
    "no_shared_window_moved",
    "no calling window shared by {zones}: moved to {day} {time} ({date}, {zone})",
)
#: Weekday names inside reasons (Monday first, as date.weekday()).
WEEKDAYS = (
    ReasonKind("weekday_monday", "Monday")(),
    ReasonKind("weekday_tuesday", "Tuesday")(),
    ReasonKind("weekday_wednesday", "Wednesday")(),
    ReasonKind("weekday_thursday", "Thursday")(),
    ReasonKind("weekday_friday", "Friday")(),
    ReasonKind("weekday_saturday", "Saturday")(),
    ReasonKind("weekday_sunday", "Sunday")(),
)

@dataclass(frozen=True, slots=True)
class Decision:
    """When a lead may be dialled: ``moment`` (UTC) and why it moved ("" when it did not)."""

    moment: datetime
    reason: str


@dataclass(frozen=True)
class CallingHours:
    """Allowed windows per weekday, eves, closed dates and holiday calendars."""

    week: tuple[tuple[Window, ...], ...] = field(
        default_factory=lambda: tuple(_windows(_DEFAULT_DAYS[d]) for d in DAY_NAMES)
    )
    eve: tuple[Window, ...] | None = field(default_factory=lambda: _windows("09:00-13:00"))
    closed_dates: frozenset[date] = frozenset()
    calendars: tuple[str, ...] = ("IL",)
    categories: tuple[str, ...] = ("public",)

    @classmethod
    def from_section(cls, section: CallingHoursSection) -> CallingHours | None:
        """The policy a validated section describes; None when it is ``off``."""
        if not section.enabled:
            return None
        eves = section.eves
        return cls(
            week=tuple(_windows(section.days[d]) for d in DAY_NAMES),
            eve=None if isinstance(eves, str) and eves.strip() == "as_day" else _windows(eves),
            closed_dates=frozenset(section.closed_dates),
            calendars=tuple(c.upper() for c in section.holidays),
            categories=tuple(c.casefold() for c in section.holiday_categories),
        )

    # ------------------------------------------------------------------ the rule

    def day_status(self, day: date) -> tuple[tuple[Window, ...], str]:
        """A local date's windows and what makes it special ("" for an ordinary day)."""
        return _day_status(self, day)

    def next_allowed(self, zones: Sequence[str], not_before: datetime) -> Decision:
        """The first moment at or after ``not_before`` inside an allowed window in every zone."""
        return _next_allowed(self, tuple(zones) or (DEFAULT_ZONE,), _utc(not_before))

    def schedule(
        self, zones: Sequence[str], now: datetime, originate: datetime | None
    ) -> Decision | None:
        """The OriginateTime to send: None keeps the row as it is (dial at once, or its own time).

        A row's own time inside a window is kept; a time in the past counts as ``now`` (the
        dialer calls at once).  Otherwise the next allowed moment, with the reason.
        """
        when = _utc(now) if originate is None else max(_utc(originate), _utc(now))
        decision = self.next_allowed(zones, when)
        return decision if decision.reason else None

    def common_windows(
        self, zones: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The stretches (UTC) between ``start`` and ``end`` that are open in every zone."""
        known = tuple(dict.fromkeys(z for z in zones if _is_zone(z))) or (DEFAULT_ZONE,)
        since, until = _utc(start), _utc(end)
        common: list[tuple[datetime, datetime]] | None = None
        for zone in known:
            first = since.astimezone(_zone(zone)).date() - timedelta(days=1)
            days = (until - since).days + 3
            mine = [iv for offset in range(days)
                    for iv in _zone_intervals(self, zone, first + timedelta(days=offset))]
            common = mine if common is None else _intersect(common, mine)
        return [(max(s, since), min(e, until)) for s, e in common or [] if e > since and s < until]

    def windows(self, zone: str, start: date, days: int) -> Iterator[tuple[date, Window, str]]:
        """The allowed windows of ``days`` local dates from ``start`` in one zone, and why."""
        for offset in range(days):
            day = start + timedelta(days=offset)
            windows, why = self.day_status(day)
            for window in windows:
                yield day, window, why


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("calling hours need a time with its time zone")
    return moment.astimezone(UTC)


@lru_cache(maxsize=512)
def _calendar(code: str, categories: tuple[str, ...]) -> Mapping[date, str]:
    import holidays as calendars

    return calendars.country_holidays(code, categories=categories)


@lru_cache(maxsize=8192)
def _day_status(policy: CallingHours, day: date) -> tuple[tuple[Window, ...], str]:
    if day in policy.closed_dates:
        return (), CLOSED_DATE
    for code in policy.calendars:
        name = _calendar(code, policy.categories).get(day)
        if name:
            return (), HOLIDAY(holiday=name)
    if policy.eve is not None:
        tomorrow = day + timedelta(days=1)
        for code in policy.calendars:
            calendar = _calendar(code, policy.categories)
            name = calendar.get(tomorrow)
            if name and day not in calendar:
                return _earlier_end(policy.eve, policy.week[day.weekday()]), EVE_OF(holiday=name)
    windows = policy.week[day.weekday()]
    if not windows:
        return (), SHABBAT if day.weekday() == 5 else NO_CALLING_ON(day=WEEKDAYS[day.weekday()])
    return windows, ""


def _earlier_end(eve: tuple[Window, ...], day: tuple[Window, ...]) -> tuple[Window, ...]:
    """An eve keeps the shorter of its own hours and the weekday's (an eve on Friday)."""
    if not day:
        return ()
    eve_end = max((w.end or time.max for w in eve), default=time.min)
    day_end = max((w.end or time.max for w in day), default=time.min)
    return eve if eve_end <= day_end else day


@lru_cache(maxsize=16384)
def _zone_intervals(
    policy: CallingHours, zone: str, day: date
) -> tuple[tuple[datetime, datetime], ...]:
    """A zone's allowed intervals on one local date, in UTC."""
    tz = _zone(zone)
    windows, _why = policy.day_status(day)
    out = []
    for window in windows:
        start = datetime.combine(day, window.start, tz).astimezone(UTC)
        end_day = day if window.end is not None else day + timedelta(days=1)
        end = datetime.combine(end_day, window.end or time(0), tz).astimezone(UTC)
        if end > start:
            out.append((start, end))
    return tuple(out)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _intervals(policy: CallingHours, zone: str, since: datetime) -> list[tuple[datetime, datetime]]:
    """A zone's allowed intervals from the local day before ``since`` over the horizon."""
    first = since.astimezone(_zone(zone)).date() - timedelta(days=1)
    out: list[tuple[datetime, datetime]] = []
    for offset in range(_HORIZON_DAYS + 2):
        out.extend(_zone_intervals(policy, zone, first + timedelta(days=offset)))
    return out


def _intersect(
    a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


@lru_cache(maxsize=8192)  # the Scheduler keeps its own per-run cache; this one stays small
def _next_allowed(policy: CallingHours, zones: tuple[str, ...], when: datetime) -> Decision:
    known = tuple(dict.fromkeys(z for z in zones if _is_zone(z))) or (DEFAULT_ZONE,)
    common = _intervals(policy, known[0], when)
    for zone in known[1:]:
        common = _intersect(common, _intervals(policy, zone, when))
    moment = next((max(s, when) for s, e in common if e > when), None)
    if moment is None and len(known) > 1:
        # No window shared by every zone (Sydney and London never are both at work): the
        # first zone's, said in the reason, rather than a lead never dialled.
        moment = next((max(s, when) for s, e in _intervals(policy, known[0], when) if e > when),
                      None)
        if moment is not None:
            shown = moment.astimezone(_zone(known[0]))
            kind = NO_SHARED_WINDOW_KEPT if moment == when else NO_SHARED_WINDOW_MOVED
            return Decision(moment, kind(
                zones=", ".join(known), day=WEEKDAYS[shown.weekday()], time=f"{shown:%H:%M}",
                date=f"{shown:%d/%m/%Y}", zone=known[0],
            ))
    if moment is None:
        moment = when  # a policy without any window: nothing is ever moved
    if moment == when:
        return Decision(moment, "")
    return Decision(moment, _why(policy, known, when, moment))


def _why(policy: CallingHours, zones: tuple[str, ...], when: datetime, moment: datetime) -> str:
    """'Shabbat: moved to Sunday 09:00 (06/09/2026, Asia/Jerusalem)' and the like."""
    closed_zone = zones[0]
    for zone in zones:
        if not any(s <= when < e for s, e in _zone_intervals(
                policy, zone, when.astimezone(_zone(zone)).date())):
            closed_zone = zone
            break
    windows, why = policy.day_status(when.astimezone(_zone(closed_zone)).date())
    if not why:
        why = OUTSIDE_HOURS
    elif windows:
        why = OUTSIDE_HOURS_BECAUSE(why=why)
    shown = moment.astimezone(_zone(closed_zone))
    where: str = closed_zone
    if 1 < len(zones) <= 4:
        where = ZONES_LISTED(zone=closed_zone, zones=", ".join(zones))
    elif len(zones) > 4:
        where = ZONES_COUNTED(zone=closed_zone, count=len(zones))
    return MOVED(why=why, day=WEEKDAYS[shown.weekday()], time=f"{shown:%H:%M}",
                 date=f"{shown:%d/%m/%Y}", where=where)


def _is_zone(name: str) -> bool:
    return name in _zone_names()


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


# ------------------------------------------------------------------ zones of a number


@lru_cache(maxsize=1)
def _tz_data() -> tuple[Mapping[str, tuple[str, ...]], int]:
    from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

    return TIMEZONE_DATA, int(TIMEZONE_LONGEST_PREFIX)


def prefix_length(head: str) -> int:
    """How many digits decide the zones of numbers starting with ``head`` (3 digits).

    Israel's data has one entry (972), the USA's go down to area codes: grouping numbers by
    this many digits gives a handful of groups instead of one per number.
    """
    return _depth(head[:3])


@lru_cache(maxsize=4096)
def _depth(head: str) -> int:
    data, longest = _tz_data()
    return max((len(k) for k in data if k.startswith(head) or head.startswith(k)), default=longest)


def zones_for_e164(e164: str) -> tuple[str, ...]:
    """The time zones of an E.164 number (phonenumbers' data), looked up once per prefix."""
    digits = e164.lstrip("+")
    # Only as many digits as decide: one cache entry for all of Israel, one per US area code.
    return _zones_for_prefix(digits[:_depth(digits[:3])])


@lru_cache(maxsize=8192)
def _zones_for_prefix(digits: str) -> tuple[str, ...]:
    # phonenumbers' time_zones_for_geographical_number: the longest listed prefix wins.
    data, _longest = _tz_data()
    for size in range(len(digits), 0, -1):
        zones = data.get(digits[:size])
        if zones:
            return tuple(z for z in zones if _is_zone(z)) or (DEFAULT_ZONE,)
    return (DEFAULT_ZONE,)


_ZONE_SPLIT = re.compile(r"[,;\s]+")


@lru_cache(maxsize=4096)
def zones_from_cell(text: str) -> tuple[str, ...] | None:
    """The zones a time-zone cell names ("America/Chicago", "Asia/Jerusalem; UTC"), or None
    when it names no known zone (the number's zones are used then)."""
    zones = tuple(dict.fromkeys(z for z in _ZONE_SPLIT.split(text) if z and _is_zone(z)))
    return zones or None
