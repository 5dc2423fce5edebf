"""importer.campaigns' actions called as a library (no CLI), against the emulator."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from importer.campaigns import Removal, clear_with_backup, remove_numbers
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.emulator.faults import FaultConfig
from importer.emulator.server import EmulatorServer
from importer.errors import ConfigError

P1, P2, P3 = "0502345670", "0502345671", "0502345672"
E1, E2, E3 = "972502345670", "972502345671", "972502345672"


def test_clear_with_backup_saves_the_pending_calls_before_clearing(
    client: DialerClient, server: EmulatorServer, hot: str, tmp_path: Path
) -> None:
    client.add_calls_bulk(hot, [CallTarget(P1, customer_name="דנה"), CallTarget(P2)])
    campaign = client.get_campaign_details(hot)
    told: list[tuple[Path, int]] = []

    cleared = clear_with_backup(
        client, campaign, tmp_path / "backups", on_backup=lambda p, n: told.append((p, n))
    )

    assert server.pending_phones(hot) == []
    assert cleared.count == 2 and told == [(cleared.backup, 2)]
    assert cleared.backup.parent == tmp_path / "backups"
    assert cleared.backup.name.startswith("Hot_leads.pending-backup.")
    rows = list(csv.DictReader(cleared.backup.read_text(encoding="utf-8-sig").splitlines()))
    assert sorted(r["Phone"] for r in rows) == ["'+" + E1, "'+" + E2]
    assert {r["CustomerName"] for r in rows} == {"דנה", ""}


def test_clear_with_backup_clears_nothing_when_the_backup_cannot_be_written(
    client: DialerClient, server: EmulatorServer, hot: str, tmp_path: Path
) -> None:
    client.add_calls_bulk(hot, [CallTarget(P1)])
    campaign = client.get_campaign_details(hot)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"cannot write the backup.*nothing was cleared"):
        clear_with_backup(client, campaign, not_a_folder)

    assert server.pending_phones(hot) == [E1]


def test_remove_numbers_reports_each_number_and_goes_on_after_a_failure(
    client: DialerClient, server: EmulatorServer, hot: str
) -> None:
    """The second number's RemoveCall fails on every attempt; the third is still removed."""
    client.add_calls_bulk(hot, [CallTarget(P1), CallTarget(P2), CallTarget(P3)])
    campaign = client.get_campaign_details(hot)

    def fault_for_the_next_number(removal: Removal) -> None:
        # After the first number, every RemoveCall fails (HTTP 500); after the second, none.
        failing = removal.phone == P1
        server.set_faults(FaultConfig(fail_rate=1.0 if failing else 0.0, methods={"RemoveCall"}))

    server.clear_request_log()
    removals = remove_numbers(
        client, campaign, [P1, P2, "12345", P3], on_removal=fault_for_the_next_number
    )

    assert [(r.phone, r.target, r.sent) for r in removals] == [
        (P1, E1, True),
        (P2, E2, False),
        ("12345", None, False),
        (P3, E3, True),
    ]
    assert "500" in removals[1].reason
    assert removals[2].reason  # why the number was not sent
    assert server.pending_phones(hot) == [E2]
    attempts = [r for r in server.request_log if r.method.lower() == "removecall"]
    assert len(attempts) == 1 + client.retry_policy.max_attempts + 1
    assert removals[2].to_json() == {"phone": "12345", "sent": False, "reason": removals[2].reason}
    assert removals[0].to_json() == {"phone": P1, "target": E1, "sent": True, "reason": ""}
