"""The calling-hours rule (importer/calling_hours.py) on the hard days, zones and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from importer.calling_hours import (
    CallingHours,
    CallingHoursSection,
    parse_calling_hours,
    zones_for_e164,
)

IL = ZoneInfo("Asia/Jerusalem")
NY = ZoneInfo("America/New_York")
SYD = ZoneInfo("Australia/Sydney")
LON = ZoneInfo("Europe/London")
POLICY = CallingHours()


def at(text: str, tz: ZoneInfo = IL) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def moved(text: str, zones: tuple[str, ...] = ("Asia/Jerusalem",), tz: ZoneInfo = IL):
    decision = POLICY.next_allowed(zones, at(text, tz))
    return decision.moment, decision.reason


def test_inside_the_window_is_kept() -> None:
    moment, reason = moved("2026-12-03T10:00")  # a Thursday
    assert moment == at("2026-12-03T10:00") and reason == ""


def test_friday_afternoon_moves_to_sunday_morning() -> None:
    moment, reason = moved("2026-12-04T15:00")
    assert moment == at("2026-12-06T09:00")
    assert reason.startswith("outside calling hours: moved to Sunday 09:00 (06/12/2026")


def test_friday_morning_is_allowed_until_13_00() -> None:
    assert moved("2026-12-04T12:59")[1] == ""
    assert moved("2026-12-04T13:00")[0] == at("2026-12-06T09:00")


def test_shabbat() -> None:
    moment, reason = moved("2026-12-05T11:00")
    assert moment == at("2026-12-06T09:00")
    assert reason.startswith("Shabbat: moved to Sunday 09:00")


def test_evening_moves_to_the_next_morning() -> None:
    moment, reason = moved("2026-12-03T20:00")
    assert moment == at("2026-12-04T09:00") and reason.startswith("outside calling hours")


@pytest.mark.parametrize(
    ("during", "after"),
    [
        ("2026-09-21T10:00", "2026-09-22T09:00"),   # Yom Kippur 5787, a Monday
        ("2027-10-11T10:00", "2027-10-12T09:00"),   # Yom Kippur 5788, a Monday
    ],
)
def test_yom_kippur(during: str, after: str) -> None:
    moment, reason = moved(during)
    assert moment == at(after)
    assert reason.startswith("Yom Kippur: moved to Tuesday 09:00")


@pytest.mark.parametrize(
    ("eve", "after"),
    [
        ("2026-09-20T14:00", "2026-09-22T09:00"),   # the eve (Sunday) closes at 13:00
        ("2027-10-10T14:00", "2027-10-12T09:00"),
    ],
)
def test_yom_kippur_eve_is_short(eve: str, after: str) -> None:
    assert moved(eve.replace("14:00", "12:00"))[1] == ""
    moment, reason = moved(eve)
    assert moment == at(after)
    assert "eve of Yom Kippur" in reason


@pytest.mark.parametrize(
    ("during", "after"),
    [
        # 5787: Saturday-Sunday 12-13/09/2026, then Monday.
        ("2026-09-13T10:00", "2026-09-14T09:00"),
        # 5788: Saturday-Sunday 02-03/10/2027, then Monday.
        ("2027-10-03T10:00", "2027-10-04T09:00"),
    ],
)
def test_rosh_hashana(during: str, after: str) -> None:
    moment, reason = moved(during)
    assert moment == at(after)
    assert reason.startswith("Rosh Hashanah: moved to Monday 09:00")


def test_rosh_hashana_eve_on_a_friday() -> None:
    # 11/09/2026 is a Friday and the eve: the shorter hours (both 13:00) hold.
    assert moved("2026-09-11T12:00")[1] == ""
    assert moved("2026-09-11T13:30")[0] == at("2026-09-14T09:00")


def test_new_york_in_the_weeks_the_clocks_differ() -> None:
    # The USA moves to summer time on 14/03/2027, Israel on 26/03/2027: for those days
    # New York is 6 hours behind Israel instead of 7.
    zones = ("America/New_York",)
    before = moved("2027-03-08T15:30", zones)  # 08:30 in New York: wait for 09:00
    assert before[0] == at("2027-03-08T09:00", NY) == at("2027-03-08T16:00")
    between = moved("2027-03-15T15:30", zones)  # 09:30 in New York: allowed
    assert between == (at("2027-03-15T15:30"), "")
    after = moved("2027-03-29T15:30", zones)   # both on summer time again: 08:30 there
    assert after[0] == at("2027-03-29T09:00", NY) == at("2027-03-29T16:00")


def test_israel_autumn_change_keeps_9_local() -> None:
    # Israel leaves summer time on 25/10/2026 at 02:00; Saturday night → Sunday 09:00 (UTC+2).
    moment, _reason = moved("2026-10-24T22:00")
    assert moment == at("2026-10-25T09:00")
    assert moment.astimezone(UTC).hour == 7


def test_sydney_is_ahead_of_israel() -> None:
    zones = zones_for_e164("+61212345678")
    assert zones == ("Australia/Sydney",)
    assert moved("2026-12-03T10:00", zones) == (at("2026-12-03T10:00"), "")  # 19:00 there
    moment, reason = moved("2026-12-03T11:30", zones)  # 20:30 in Sydney
    assert moment == at("2026-12-04T09:00", SYD) == at("2026-12-04T00:00")
    assert "Friday 09:00" in reason and "Australia/Sydney" in reason


def test_london() -> None:
    zones = zones_for_e164("+442071234567")
    assert zones == ("Europe/London",)
    moment, reason = moved("2026-12-06T09:30", zones)  # Sunday 07:30 in London
    assert moment == at("2026-12-06T09:00", LON)
    assert reason.startswith("outside calling hours: moved to Sunday 09:00")


def test_a_plus_one_number_with_several_zones_waits_for_all() -> None:
    zones = zones_for_e164("+18005550100")
    assert len(zones) > 4 and "America/New_York" in zones and "Pacific/Honolulu" in zones
    moment, reason = moved("2026-12-03T16:00", zones)  # 09:00 in New York, night in Hawaii
    assert reason and f"one of the number's {len(zones)} zones" in reason
    assert all(_allowed_in(zone, moment) for zone in zones)


def test_zones_never_open_together_use_the_first_zone() -> None:
    moment, reason = moved("2026-12-03T10:00", ("Australia/Sydney", "Europe/London"))
    assert reason.startswith("no calling window shared by Australia/Sydney, Europe/London")
    assert _allowed_in("Australia/Sydney", moment)


def test_a_single_area_zone() -> None:
    assert zones_for_e164("+12125551234") == ("America/New_York",)
    assert zones_for_e164("+972521234567") == ("Asia/Jerusalem",)


def test_a_past_originate_time_counts_as_now_and_a_window_time_is_kept() -> None:
    now = at("2026-12-03T10:00")
    assert POLICY.schedule(("Asia/Jerusalem",), now, at("2026-12-01T22:00")) is None
    assert POLICY.schedule(("Asia/Jerusalem",), now, at("2026-12-07T11:00")) is None
    moved_to = POLICY.schedule(("Asia/Jerusalem",), now, at("2026-12-07T22:00"))
    assert moved_to is not None and moved_to.moment == at("2026-12-08T09:00")


def test_section_off_and_custom_days() -> None:
    assert parse_calling_hours("off") is None
    assert parse_calling_hours(False) is None
    policy = parse_calling_hours({
        "days": {"friday": "closed", "saturday": ["19:00-22:00"]},
        "closed_dates": ["2026-12-31"],
        "holidays": [],
    })
    assert policy is not None
    decision = policy.next_allowed(("Asia/Jerusalem",), at("2026-12-04T10:00"))
    assert decision.moment == at("2026-12-05T19:00")
    assert decision.reason.startswith("no calling on Fridays")
    decision = policy.next_allowed(("Asia/Jerusalem",), at("2026-12-31T10:00"))
    assert decision.reason.startswith("closed date: moved to Saturday 19:00")  # Friday closed
    assert decision.moment == at("2027-01-02T19:00")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"days": {"fryday": "09:00-13:00"}}, "not a weekday"),
        ({"days": {"friday": "13:00-09:00"}}, "ends before it starts"),
        ({"days": {"friday": "9-13"}}, "not a window"),
        ({"holidays": ["XX"]}, "no holiday calendar"),
        ({"holiday_categories": ["bank"]}, "not one of IL's"),
        ({"weekend": "closed"}, "Extra inputs"),
    ],
)
def test_bad_sections_say_what_is_wrong(value: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        CallingHoursSection.model_validate(value)


def test_no_hand_written_calendar_the_library_is_asked() -> None:
    # Pesach 2028 (11/04/2028) comes from the holidays package, as every year does.
    assert POLICY.day_status(date(2028, 4, 11))[1] == "Pesach"


# ---------------------------------------------------------------- the property

ZONES = ["Asia/Jerusalem", "America/New_York", "America/Los_Angeles", "Australia/Sydney",
         "Europe/London", "Asia/Kolkata", "Pacific/Honolulu", "Australia/Eucla"]


def _allowed_in(zone: str, moment: datetime) -> bool:
    local = moment.astimezone(ZoneInfo(zone))
    windows, _why = POLICY.day_status(local.date())
    clock = local.time().replace(tzinfo=None)
    return any(w.start <= clock and (w.end is None or clock < w.end) for w in windows)


@settings(max_examples=60, deadline=None)
@given(
    now=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)),
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True),
)
def test_never_closed_and_never_later_than_the_first_window(
    now: datetime, zones: list[str]
) -> None:
    now = now.replace(tzinfo=UTC, microsecond=0)
    decision = POLICY.next_allowed(tuple(zones), now)
    assert decision.moment >= now
    if decision.reason.startswith("no calling window shared"):
        # Zones that are never all open (Sydney and London): the first zone's window.
        zones = zones[:1]
    else:
        assert (decision.reason == "") == (decision.moment == now)
    assert all(_allowed_in(zone, decision.moment) for zone in zones)
    # Every window starts on a quarter hour: no quarter hour before the answer was open.
    step = now.replace(minute=now.minute - now.minute % 15, second=0) + timedelta(minutes=15)
    probes = [now]
    while step < decision.moment:
        probes.append(step)
        step += timedelta(minutes=15)
    for probe in probes[:-1] if decision.moment == now else probes:
        assert not all(_allowed_in(zone, probe) for zone in zones), probe
