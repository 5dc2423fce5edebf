"""OriginateTime: dates typed by people, time zones with DST, and what IsDateLocal means.

The reading we chose (docs/decisions.md, "OriginateTime and IsDateLocal"): by default we
send the true UTC epoch of the wall-clock time in the mapping's time zone, with
IsDateLocal=false (GMT+0, unambiguous).  With ``options.is_date_local: true`` we send the
wall-clock time read as if it were UTC (a "local epoch") with IsDateLocal=true, which the
dialer reads in the account's own time zone.
"""

from __future__ import annotations

import calendar
from datetime import date

import pytest

from importer.errors import MappingError
from tests.mapping._helpers import MOBILE, bind, row


def utc(*parts: int) -> int:
    """Epoch seconds of a UTC wall-clock time, computed without any time-zone library."""
    return calendar.timegm((*parts, 0, 0, 0, 0)[:6])


ONE_COLUMN = "phone: [p]\nfields:\n  OriginateTime: {column: at%s}\n%s"


def originate(
    cell: str, extra: str = "", options: str = "", numeric: bool = False
) -> tuple[int | None, bool | None, str, str]:
    bound = bind(ONE_COLUMN % (extra, options), "p", "at")
    mapped = bound.map_row(row(MOBILE, cell, numeric=[1] if numeric else []))
    assert mapped.problem is None and mapped.target is not None
    return (
        mapped.target.originate_time,
        mapped.target.is_date_local,
        mapped.fields["OriginateTime"],
        mapped.reason,
    )


def test_summer_time_in_jerusalem_is_sent_as_true_utc_with_is_date_local_false() -> None:
    epoch, local, shown, reason = originate("01/07/2026 09:00")
    assert epoch == utc(2026, 7, 1, 6, 0)  # 09:00 IDT = 06:00 UTC
    assert local is False
    assert shown == "2026-07-01T09:00+03:00"
    assert reason == ""


def test_is_date_local_true_sends_the_wall_clock_as_a_local_epoch() -> None:
    epoch, local, shown, _ = originate(
        "01/07/2026 09:00", options="options: {is_date_local: true}\n"
    )
    assert epoch == utc(2026, 7, 1, 9, 0)  # 09:00 read as if it were UTC
    assert local is True
    assert shown == "2026-07-01T09:00+03:00"


def test_winter_time_and_the_dst_switch() -> None:
    assert originate("15/01/2026 09:00")[0] == utc(2026, 1, 15, 7, 0)  # IST, UTC+2
    # Israel moves to summer time on the Friday before the last Sunday of March.
    assert originate("26/03/2026 09:00")[0] == utc(2026, 3, 26, 7, 0)
    assert originate("27/03/2026 09:00")[0] == utc(2026, 3, 27, 6, 0)
    # ... and back on the last Sunday of October.
    assert originate("24/10/2026 09:00")[0] == utc(2026, 10, 24, 6, 0)
    assert originate("25/10/2026 09:00")[0] == utc(2026, 10, 25, 7, 0)


def test_other_time_zones() -> None:
    assert originate("01/07/2026 09:00", extra=", timezone: UTC")[0] == utc(2026, 7, 1, 9, 0)
    london = originate("01/07/2026 09:00", extra=", timezone: Europe/London")
    assert london[0] == utc(2026, 7, 1, 8, 0) and london[2] == "2026-07-01T09:00+01:00"


@pytest.mark.parametrize(
    "cell",
    [
        "01/07/2026 09:00",
        "1/7/2026 9:00",
        "01.07.2026 09:00",
        "01-07-2026 09:00:00",
        "01/07/26 09:00",
        "2026-07-01 09:00",
        "2026-07-01T09:00:00",  # what the readers give for an Excel date cell
        "2026/07/01 09:00",
        "01/07/2026 9:00 AM",
        "2026-07-01T06:00:00Z",  # an explicit zone wins over the mapping's
        "2026-07-01T09:00:00+03:00",
        str(utc(2026, 7, 1, 6, 0)),  # epoch seconds (e.g. Voicenter's own export)
        "01/07/2026",  # a date alone is called at default_time (09:00)
    ],
)
def test_israeli_and_iso_forms(cell: str) -> None:
    assert originate(cell)[0] == utc(2026, 7, 1, 6, 0)


def test_pm_and_seconds() -> None:
    assert originate("01/07/2026 1:30 PM")[0] == utc(2026, 7, 1, 10, 30)
    assert originate("01/07/2026 13:30:15")[0] == utc(2026, 7, 1, 10, 30) + 15


def test_excel_serial_number_cells() -> None:
    serial = (date(2026, 7, 1) - date(1899, 12, 30)).days + 0.375
    assert originate(str(serial), numeric=True)[0] == utc(2026, 7, 1, 6, 0)
    # The same digits typed as text are not a date.
    assert originate(str(serial))[0] is None


def test_month_first_and_explicit_formats() -> None:
    assert originate("07/01/2026 09:00", extra=", day_first: false")[0] == utc(2026, 7, 1, 6, 0)
    fmt = originate("20260701 0900", extra=", format: '%Y%m%d %H%M'")
    assert fmt[0] == utc(2026, 7, 1, 6, 0)
    later = originate("01/07/2026", extra=", default_time: '14:30'")
    assert later[0] == utc(2026, 7, 1, 11, 30)


def test_date_and_time_in_two_columns() -> None:
    bound = bind(
        "phone: [p]\nfields:\n  OriginateTime: {date_column: d, time_column: t}\n", "p", "d", "t"
    )
    assert bound.map_row(row(MOBILE, "01/07/2026", "09:00")).target.originate_time == utc(  # type: ignore[union-attr]
        2026, 7, 1, 6, 0
    )
    # Excel gives a time cell as a fraction of a day or as 1899-12-30T..
    excel = bound.map_row(row(MOBILE, "2026-07-01T00:00:00", "0.375", numeric=[2]))
    assert excel.target is not None and excel.target.originate_time == utc(2026, 7, 1, 6, 0)
    iso = bound.map_row(row(MOBILE, "2026-07-01T00:00:00", "1899-12-30T09:00:00"))
    assert iso.target is not None and iso.target.originate_time == utc(2026, 7, 1, 6, 0)
    no_time = bound.map_row(row(MOBILE, "01/07/2026", ""))
    assert no_time.target is not None and no_time.target.originate_time == utc(2026, 7, 1, 6, 0)


def test_a_time_in_the_past_is_kept_with_a_note() -> None:
    epoch, local, _, reason = originate("01/01/2026 09:00")
    assert epoch == utc(2026, 1, 1, 7, 0) and local is False
    assert reason == (
        "OriginateTime 01/01/2026 09:00 is in the past; the dialer will call as soon as possible"
    )


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("next tuesday", "'next tuesday' is not a date we can read"),
        ("31/02/2026 09:00", "'31/02/2026 09:00' is not a real date"),
        ("12345", "'12345' is a number, not a date"),
    ],
)
def test_unreadable_times_are_left_out_but_the_lead_is_kept(cell: str, why: str) -> None:
    epoch, local, shown, reason = originate(cell)
    assert (epoch, local, shown) == (None, None, "")
    assert reason.startswith(f"OriginateTime: {why}")
    assert reason.endswith("left out (the lead is dialled as soon as possible)")


def test_empty_cell_means_dial_as_soon_as_possible() -> None:
    epoch, local, shown, reason = originate("")
    assert (epoch, local, shown, reason) == (None, None, "", "")


def test_is_date_local_is_sent_only_with_an_originate_time() -> None:
    bound = bind(ONE_COLUMN % ("", ""), "p", "at")
    timed = bound.map_row(row(MOBILE, "01/07/2026 09:00")).target
    assert timed is not None
    assert timed.to_json("c")["OriginateTime"] == utc(2026, 7, 1, 6, 0)
    assert timed.to_json("c")["IsDateLocal"] is False
    untimed = bound.map_row(row(MOBILE, "")).target
    assert untimed is not None
    assert "IsDateLocal" not in untimed.to_json("c") and "OriginateTime" not in untimed.to_json("c")


def test_a_constant_time_is_checked_when_binding() -> None:
    bound = bind("phone: [p]\nfields:\n  OriginateTime: {value: '2026-07-01 09:00'}\n", "p")
    assert bound.map_row(row(MOBILE)).target.originate_time == utc(2026, 7, 1, 6, 0)  # type: ignore[union-attr]
    with pytest.raises(MappingError) as caught:
        bind("phone: [p]\nfields:\n  OriginateTime: {value: soon}\n", "p")
    assert caught.value.problems[0].startswith("fields.OriginateTime.value: 'soon' is not a date")


def test_a_time_the_clock_change_skips_or_repeats_is_noted() -> None:
    # 26/03/2027: Jerusalem's clocks jump from 02:00 to 03:00; 31/10/2027: back from 02:00 to 01:00.
    epoch, _, shown, reason = originate("26/03/2027 02:30")
    assert epoch == utc(2027, 3, 26, 0, 30)  # read with the winter offset: 03:30 summer time
    assert shown == "2027-03-26T03:30+03:00"
    assert reason == (
        "OriginateTime 26/03/2027 02:30 does not exist in Asia/Jerusalem (the clocks moved "
        "forward); the call is set for 03:30"
    )
    epoch, _, _, reason = originate("31/10/2027 01:30")
    assert epoch == utc(2027, 10, 30, 22, 30)  # the first 01:30, still summer time
    assert "happens twice in Asia/Jerusalem" in reason
    assert originate("01/06/2027 09:00")[3] == ""
