"""Calling hours end to end: `import` against the emulator over HTTP, both engines (#16)."""

from __future__ import annotations

import calendar
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from importer.calling_hours import CallingHours, zones_for_e164
from importer.cli import cli
from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.emulator.server import EmulatorServer
from importer.mapping import scheduling
from importer.report import read_report_csv
from tests.phone_samples import e164, valid_mobiles

IL = ZoneInfo("Asia/Jerusalem")
NY = ZoneInfo("America/New_York")

MAPPING = """\
name: Calling hours
phone:
  columns: [phone]
  default_region: IL
  strictness: possible
  allow_types: [mobile, fixed_line, fixed_line_or_mobile, toll_free]
fields:
  CustomerName: name
  OriginateTime:
    column: call_at
    optional: true
"""

FRIDAY_15 = "2026-12-04T15:00:00+02:00"
THURSDAY_10 = "2026-12-03T10:00:00+02:00"
US = "+12015550123"          # New Jersey: America/New_York
TOLL_FREE = "+18002345678"   # a +1 number of many zones
SYDNEY = "+61212345678"
LONDON = "+442071234567"


def write_leads(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "phone", "call_at"])
        out.writerows(rows)
    return path


def run(workdir: Path, source: Path, *args: str, mapping: str = MAPPING) -> list[dict[str, str]]:
    (workdir / "mapping.yaml").write_text(mapping, encoding="utf-8")
    reports = workdir / "reports"
    result = CliRunner().invoke(
        cli,
        ["import", str(source), "--mapping", str(workdir / "mapping.yaml"), "--campaign",
         "Hot leads", "--report-dir", str(reports), "--state-dir", str(workdir / "state"), *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr + result.stdout
    (path,) = sorted(reports.glob("*.report.csv"))
    rows = read_report_csv(path)
    path.rename(path.with_suffix(".seen"))
    return rows


def pending(server: EmulatorServer) -> dict[str, tuple[int | None, bool | None]]:
    code = server.demo.campaigns["Hot leads"]
    client = DialerClient(Settings(api_url=server.base_url, account_code="demo"))
    return {
        c.phone: (c.originate_time, c.is_date_local)
        for c in client.get_campaign_pending_calls(code).calls
    }


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def test_friday_afternoon_import_waits_for_each_leads_own_morning(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    (il,) = valid_mobiles(1)
    source = write_leads(tmp_path / "leads.csv", [
        ("Dana", il, ""), ("Joe", US, ""), ("Ann", LONDON, ""), ("Kim", SYDNEY, ""),
    ])
    rows = run(tmp_path, source, "--now", FRIDAY_15)
    by_phone = {r["phone"]: r for r in rows}
    calls = pending(emulator_env)

    sunday_il = datetime(2026, 12, 6, 9, 0, tzinfo=IL)
    assert calls[e164(il)[1:]] == (epoch(sunday_il), False)
    assert by_phone[e164(il)]["dial_after"] == "2026-12-06T09:00:00+02:00"
    assert "outside calling hours: moved to Sunday 09:00 (06/12/2026, Asia/Jerusalem)" in (
        by_phone[e164(il)]["reason"])
    # 15:00 in Israel is 08:00 in New York: the same Friday at 09:00 there.
    assert calls[US[1:]] == (epoch(datetime(2026, 12, 4, 9, 0, tzinfo=NY)), False)
    assert by_phone[US]["dial_after"] == "2026-12-04T09:00:00-05:00"
    # 13:00 in London: Friday's window is over there too.
    assert by_phone[LONDON]["dial_after"] == "2026-12-06T09:00:00+00:00"
    # Midnight into Saturday in Sydney: Shabbat there.
    assert by_phone[SYDNEY]["dial_after"] == "2026-12-06T09:00:00+11:00"
    assert "Shabbat: moved to Sunday 09:00" in by_phone[SYDNEY]["reason"]
    assert all(r["status"] == "added" for r in rows)


def test_a_mapped_time_inside_the_window_is_kept_and_one_outside_is_moved(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    a, b = valid_mobiles(2)
    source = write_leads(tmp_path / "leads.csv", [
        ("In", a, "07/12/2026 11:00"), ("Out", b, "07/12/2026 21:00"),
    ])
    rows = run(tmp_path, source, "--now", THURSDAY_10)
    calls = pending(emulator_env)
    assert calls[e164(a)[1:]] == (epoch(datetime(2026, 12, 7, 11, 0, tzinfo=IL)), False)
    assert calls[e164(b)[1:]] == (epoch(datetime(2026, 12, 8, 9, 0, tzinfo=IL)), False)
    assert [r["dial_after"] for r in rows] == [
        "2026-12-07T11:00:00+02:00", "2026-12-08T09:00:00+02:00",
    ]
    assert rows[0]["reason"] == ""
    assert rows[1]["reason"] == (
        "outside calling hours: moved to Tuesday 09:00 (08/12/2026, Asia/Jerusalem)"
    )


def test_is_date_local_sends_the_moved_time_as_wall_clock(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    (a,) = valid_mobiles(1)
    source = write_leads(tmp_path / "leads.csv", [("Dana", a, "")])
    run(tmp_path, source, "--now", FRIDAY_15,
        mapping=MAPPING + "options:\n  is_date_local: true\n")
    wall = calendar.timegm(datetime(2026, 12, 6, 9, 0).timetuple())
    assert pending(emulator_env)[e164(a)[1:]] == (wall, True)


@pytest.mark.parametrize("how", ["flag", "mapping"])
def test_calling_hours_off_dials_at_once(
    emulator_env: EmulatorServer, tmp_path: Path, how: str
) -> None:
    (a,) = valid_mobiles(1)
    source = write_leads(tmp_path / "leads.csv", [("Dana", a, "")])
    saturday = "2026-12-05T11:00:00+02:00"
    if how == "flag":
        rows = run(tmp_path, source, "--now", saturday, "--calling-hours", "off",
                   mapping=MAPPING + "calling_hours:\n  days: {saturday: '09:00-10:00'}\n")
    else:
        rows = run(tmp_path, source, "--now", saturday,
                   mapping=MAPPING + "calling_hours: off\n")
    assert pending(emulator_env)[e164(a)[1:]] == (None, None)
    assert rows[0]["dial_after"] == "" and rows[0]["reason"] == ""


def test_the_mappings_section_wins_over_the_default(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    (a,) = valid_mobiles(1)
    source = write_leads(tmp_path / "leads.csv", [("Dana", a, "")])
    rows = run(tmp_path, source, "--now", "2026-12-05T11:00:00+02:00",
               mapping=MAPPING + "calling_hours:\n  days: {saturday: '10:00-12:00'}\n")
    assert pending(emulator_env)[e164(a)[1:]] == (None, None)
    assert rows[0]["dial_after"] == ""


def test_a_long_import_keeps_deciding_as_chunks_are_sent(
    emulator_env: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window closes at 20:00 while the file is being sent: later chunks wait."""
    monkeypatch.delenv("LEAD_IMPORTER_NOW")
    ticks = iter(datetime(2026, 12, 3, 19, 59, 58, tzinfo=IL) + timedelta(seconds=s)
                 for s in range(100))
    monkeypatch.setattr(scheduling, "wall_clock", lambda: next(ticks))
    numbers = valid_mobiles(4)
    source = write_leads(tmp_path / "leads.csv", [(f"n{i}", n, "") for i, n in enumerate(numbers)])
    rows = run(tmp_path, source, "--chunk-size", "1", "--concurrency", "1", "--engine", "row")
    assert [r["dial_after"] for r in rows] == [
        "", "", "2026-12-04T09:00:00+02:00", "2026-12-04T09:00:00+02:00",
    ]
    calls = pending(emulator_env)
    friday = epoch(datetime(2026, 12, 4, 9, 0, tzinfo=IL))
    assert [calls[e164(n)[1:]][0] for n in numbers] == [None, None, friday, friday]


@pytest.mark.parametrize("now", [FRIDAY_15, "2026-09-21T10:00:00+03:00", THURSDAY_10])
def test_both_engines_report_the_same_schedule_in_a_dry_run(
    emulator_env: EmulatorServer, tmp_path: Path, now: str
) -> None:
    numbers = valid_mobiles(30)
    rows_in = [(f"n{i}", n, "07/12/2026 21:00" if i % 3 == 0 else "") for i, n in
               enumerate(numbers)]
    rows_in += [("us", US, ""), ("tf", TOLL_FREE, "08/12/2026 10:00"), ("au", SYDNEY, ""),
                ("uk", LONDON, ""), ("dup", numbers[0], ""), ("bad", "12", "")]
    source = write_leads(tmp_path / "leads.csv", rows_in)
    reports = {}
    for engine in ("row", "columnar"):
        (tmp_path / engine).mkdir()
        reports[engine] = run(tmp_path / engine, source, "--dry-run", "--now", now,
                              "--engine", engine)
    assert reports["row"] == reports["columnar"]
    assert any(r["dial_after"] for r in reports["row"])
    assert pending(emulator_env) == {}


def test_a_toll_free_number_waits_for_all_its_zones(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    source = write_leads(tmp_path / "leads.csv", [("tf", TOLL_FREE, "")])
    rows = run(tmp_path, source, "--now", THURSDAY_10)
    zones = zones_for_e164(TOLL_FREE)
    sent = pending(emulator_env)[TOLL_FREE[1:]][0]
    assert sent is not None
    moment = datetime.fromtimestamp(sent, UTC)
    assert CallingHours().next_allowed(zones, moment).reason == ""  # open everywhere then
    assert f"one of the number's {len(zones)} zones" in rows[0]["reason"]


def test_bad_now_is_one_clear_line(tmp_path: Path) -> None:
    source = write_leads(tmp_path / "leads.csv", [("Dana", valid_mobiles(1)[0], "")])
    result = CliRunner().invoke(cli, ["import", str(source), "--dry-run", "--now", "friday"])
    assert result.exit_code == 2
    assert "'friday' is not a date and time like 2026-12-04T15:00+02:00" in result.stderr
    assert "Traceback" not in result.stderr


def test_hours_command_lists_israels_days_and_a_numbers_windows(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["hours", "--from", "2026-09-18", "--days", "4", US, "12"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Fri 18/09/2026  09:00-13:00" in out
    assert "Sat 19/09/2026  closed (Shabbat)" in out
    assert "Sun 20/09/2026  09:00-13:00 (eve of Yom Kippur)" in out
    assert "Mon 21/09/2026  closed (Yom Kippur)" in out
    assert f"{US}: America/New_York" in out
    assert "Fri 18/09 16:00-20:00 Israel  = Fri 18/09 09:00-13:00 America/New_York" in out
    assert "12: not a usable number" in out


def test_hours_command_with_a_mapping_that_turns_them_off(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING + "calling_hours: off\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["hours", "--mapping", str(mapping)])
    assert result.exit_code == 0
    assert "Calling hours are off" in result.stdout


def test_a_bad_calling_hours_section_is_one_clear_paragraph(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING + "calling_hours:\n  days: {fryday: '09:00-13:00'}\n",
                       encoding="utf-8")
    result = CliRunner().invoke(cli, ["hours", "--mapping", str(mapping)])
    assert result.exit_code == 2
    assert "calling_hours.days: 'fryday' is not a weekday (sunday … saturday)" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_config_files_section_and_now(tmp_path: Path) -> None:
    from importer.config import load_settings

    config = tmp_path / "config.yaml"
    config.write_text("calling_hours:\n  days: {friday: closed}\n  closed_dates: [2026-12-31]\n"
                      "now: 2026-12-04T15:00+02:00\n", encoding="utf-8")
    settings = load_settings(config, environ={})
    assert settings.calling_hours.days["friday"] == "closed"
    assert settings.now == datetime(2026, 12, 4, 15, 0, tzinfo=IL)
    off = load_settings(None, environ={"LEAD_IMPORTER_CALLING_HOURS": "off"})
    assert CallingHours.from_section(off.calling_hours) is None


TZ_MAPPING = MAPPING + "calling_hours:\n  timezone_column: [tz, time zone]\n"


def write_zoned(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "phone", "call_at", "tz"])
        out.writerows([(f"n{i}", phone, "", tz) for i, (phone, tz) in enumerate(rows)])
    return path


def test_a_mapped_time_zone_column_wins_over_the_number(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    a, b, c = valid_mobiles(3)
    source = write_zoned(tmp_path / "leads.csv", [
        (a, "America/Los_Angeles"), (b, ""), (c, "Mars/Olympus"),
    ])
    rows = run(tmp_path, source, "--now", THURSDAY_10, mapping=TZ_MAPPING)
    # 10:00 in Israel is midnight in Los Angeles: 09:00 there, 19:00 in Israel.
    assert rows[0]["dial_after"] == "2026-12-03T09:00:00-08:00"
    assert "America/Los_Angeles" in rows[0]["reason"]
    assert [r["dial_after"] for r in rows[1:]] == ["", ""]  # the number's zone: open
    calls = pending(emulator_env)
    assert calls[e164(a)[1:]][0] == epoch(datetime(2026, 12, 3, 19, 0, tzinfo=IL))
    assert calls[e164(b)[1:]][0] is None and calls[e164(c)[1:]][0] is None


def test_both_engines_read_the_time_zone_column_alike(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    numbers = valid_mobiles(12)
    zones = ["America/New_York", "", "Europe/London; Asia/Jerusalem", "nonsense", "UTC",
             "Australia/Perth"]
    source = write_zoned(tmp_path / "leads.csv",
                         [(n, zones[i % len(zones)]) for i, n in enumerate(numbers)])
    reports = {}
    for engine in ("row", "columnar"):
        (tmp_path / engine).mkdir()
        reports[engine] = run(tmp_path / engine, source, "--dry-run", "--now", FRIDAY_15,
                              "--engine", engine, mapping=TZ_MAPPING)
    assert reports["row"] == reports["columnar"]
    assert {r["dial_after"][-6:] for r in reports["row"]} >= {"-05:00", "+00:00", "+02:00",
                                                             "+08:00"}
