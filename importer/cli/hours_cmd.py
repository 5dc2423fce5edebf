"""``lead-importer hours``: the next calling windows, for Israel and for given numbers."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from importer.calling_hours import DEFAULT_ZONE, CallingHours, zones_for_e164
from importer.cli._common import settings_from

_HOME = ZoneInfo(DEFAULT_ZONE)


def _policy(mapping_path: Path | None, config_file: Path | None) -> CallingHours | None:
    """The mapping's calling hours, else the config's (as an import would use them)."""
    settings = settings_from(config_file, None)
    section = settings.calling_hours
    if mapping_path is not None:
        from importer.mapping import load_mapping

        mapping = load_mapping(mapping_path)
        section = mapping.calling_hours or section
    return CallingHours.from_section(section)


def _day_lines(policy: CallingHours, start: date, days: int) -> list[str]:
    lines = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        windows, why = policy.day_status(day)
        text = ", ".join(str(w) for w in windows) if windows else "closed"
        note = f" ({why})" if why else ""
        lines.append(f"  {day:%a %d/%m/%Y}  {text}{note}")
    return lines


def _number_lines(policy: CallingHours, e164: str, start: date, days: int) -> list[str]:
    zones = zones_for_e164(e164)
    begin = datetime.combine(start, time(0), _HOME)
    stretches = policy.common_windows(zones, begin, begin + timedelta(days=days))
    shown = ZoneInfo(zones[0])
    lines = [f"{e164}: {', '.join(zones)}"]
    if not stretches:
        lines.append("  no window open in all of these zones in these days")
    for open_, close in stretches:
        here, there = open_.astimezone(_HOME), open_.astimezone(shown)
        lines.append(
            f"  {here:%a %d/%m %H:%M}-{close.astimezone(_HOME):%H:%M} Israel"
            f"  = {there:%a %d/%m %H:%M}-{close.astimezone(shown):%H:%M} {zones[0]}"
        )
    return lines


@click.command("hours")
@click.argument("phones", nargs=-1)
@click.option("--mapping", "mapping_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Use this mapping's calling_hours section.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day (default: today in Israel).")
@click.option("--days", type=click.IntRange(1, 60), default=7, show_default=True)
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="A YAML or .env file with the settings.")
@click.option("--region", default="IL", show_default=True,
              help="Country of numbers written without a country code.")
def hours_command(
    phones: tuple[str, ...],
    mapping_path: Path | None,
    start: datetime | None,
    days: int,
    config_file: Path | None,
    region: str,
) -> None:
    """Print the next calling windows for Israel and for the given numbers."""
    policy = _policy(mapping_path, config_file)
    if policy is None:
        click.echo("Calling hours are off: every lead is dialled as soon as it is imported.")
        return
    first = start.date() if start is not None else datetime.now(_HOME).date()
    click.echo(f"Israel ({DEFAULT_ZONE}), local times:")
    for line in _day_lines(policy, first, days):
        click.echo(line)
    if not phones:
        return
    from importer.phones import PhoneNormalizer, PhonePolicy

    normalizer = PhoneNormalizer(PhonePolicy(default_region=region))
    for raw in phones:
        result = normalizer.normalize(raw)
        click.echo("")
        if not result.ok or result.e164 is None:
            click.echo(f"{raw}: not a usable number ({result.reason or 'unreadable'})")
            continue
        for line in _number_lines(policy, result.e164, first, days):
            click.echo(line)


def register(group: click.Group) -> None:
    """Add the hours command."""
    group.add_command(hours_command)
