"""Migrations keep every number: `pending --format csv` / `clear` backups re-imported with
mappings/voicenter-pending.yaml give back the same calls, numbers abroad included (issue #12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from importer.cli import cli
from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget, PendingCall
from importer.emulator.server import EmulatorServer
from tests.phone_samples import valid_mobiles

MAPPING = Path(__file__).resolve().parent.parent / "mappings" / "voicenter-pending.yaml"
# Israeli mobile and landline, then +1, +44, +49 (a 10-digit Berlin number that reads as a
# too-long Israeli landline without its "+", and a short one whose digits are also 04-952-3746
# without its zero) and +33, each as a caller would type it.
NUMBERS = [valid_mobiles(1)[0], "03-623-4567", "+1 212 555 0123", "+44 20 7946 0018",
           "+49 30 901820", "+33 6 12 34 56 78", "+49 5237 46"]
API_FORMS = ["972" + NUMBERS[0][1:], "97236234567", "12125550123", "442079460018",
             "4930901820", "33612345678", "49523746"]
NAMES = ["דנה כהן", "+ליד חם", "John Smith", "=HYPERLINK(1)", "'-quoted", "Zoé", "''=2"]


def _client(server: EmulatorServer) -> DialerClient:
    return DialerClient(Settings(api_url=server.base_url, account_code="demo"))


def _fill(server: EmulatorServer, code: str) -> None:
    with _client(server) as client:
        for i, number in enumerate(NUMBERS):
            client.add_call(
                code,
                CallTarget(
                    target=number,
                    customer_name=NAMES[i],
                    priority=i * 3 - 4,          # negative ones too: "-4" must not be a formula
                    custom_data={"var_LeadID": f"L{i}", "var_Notes": "-לא ענה", "var_Src": "+crm"}
                    if i % 2 == 0
                    else {"var_LeadID": f"L{i}", "var_Country": "'=x"},
                ),
            )


def _calls(server: EmulatorServer, code: str) -> dict[str, tuple[Any, ...]]:
    """phone -> (name, priority, CustomData without this run's own import reference)."""
    with _client(server) as client:
        calls: list[PendingCall] = client.get_campaign_pending_calls(code).calls
    out = {}
    for call in calls:
        data = dict(call.custom_data or {})
        data.pop("var_ImportRef", None)
        out[call.phone] = (call.customer_name, call.priority, data)
    return out


def _import(path: Path, campaign: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["import", str(path), "--mapping", str(MAPPING), "--campaign", campaign,
         "--report-dir", str(tmp_path / "reports"), "--state-dir", str(tmp_path / "state")],
    )
    assert result.exit_code == 0, result.output
    assert "invalid_phone" not in result.output


def test_pending_csv_reimports_every_number_unchanged(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    assert emulator_env.demo is not None
    hot = emulator_env.demo.campaigns["Hot leads"]
    _fill(emulator_env, hot)
    before = _calls(emulator_env, hot)
    assert sorted(before) == sorted(API_FORMS)

    exported = CliRunner().invoke(cli, ["pending", "Hot leads", "--format", "csv"])
    assert exported.exit_code == 0, exported.output
    # E.164 behind the formula guard, so Excel shows the number and our reader the "+".
    assert "'+4930901820," in exported.stdout and "'+97236234567," in exported.stdout
    export = tmp_path / "hot.csv"
    export.write_text(exported.stdout, encoding="utf-8")

    empty = emulator_env.add_campaign("demo", "Migrated")
    _import(export, "Migrated", tmp_path)
    assert _calls(emulator_env, empty) == before


def test_an_older_digits_only_export_still_reimports(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    """Exports written before the "+" (Phone = the API's digits) read back the same, except
    short digits that are also a local number without its 0 (documented: those stay local)."""
    assert emulator_env.demo is not None
    hot = emulator_env.demo.campaigns["Hot leads"]
    _fill(emulator_env, hot)
    exported = CliRunner().invoke(cli, ["pending", "Hot leads", "--format", "csv"])
    assert exported.exit_code == 0, exported.output
    old_style = exported.stdout.replace("'+", "")
    assert "\n4930901820," in old_style
    export = tmp_path / "old.csv"
    export.write_text(old_style, encoding="utf-8")

    empty = emulator_env.add_campaign("demo", "Migrated")
    _import(export, "Migrated", tmp_path)
    expected = [n for n in API_FORMS if n != "49523746"] + ["97249523746"]
    assert sorted(_calls(emulator_env, empty)) == sorted(expected)


@pytest.mark.parametrize("local", ["0531000000", "531000000", "036234567"])
def test_a_local_number_in_a_pending_file_stays_israeli(
    emulator_env: EmulatorServer, tmp_path: Path, local: str
) -> None:
    export = tmp_path / "local.csv"
    export.write_text(f"Phone,CustomerName\n{local},x\n", encoding="utf-8")
    empty = emulator_env.add_campaign("demo", "Migrated")
    _import(export, "Migrated", tmp_path)
    assert list(_calls(emulator_env, empty)) == ["972" + local.lstrip("0")]


def test_a_clear_backup_restores_every_number(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    assert emulator_env.demo is not None
    hot = emulator_env.demo.campaigns["Hot leads"]
    _fill(emulator_env, hot)
    before = _calls(emulator_env, hot)
    backups = tmp_path / "backups"
    cleared = CliRunner().invoke(
        cli, ["clear", "Hot leads", "--yes", "--backup-dir", str(backups)]
    )
    assert cleared.exit_code == 0, cleared.output
    assert _calls(emulator_env, hot) == {}
    (backup,) = backups.glob("Hot_leads.pending-backup.*.csv")
    _import(backup, "Hot leads", tmp_path)
    assert _calls(emulator_env, hot) == before


def test_a_sync_backup_restores_every_number(emulator_env: EmulatorServer, tmp_path: Path) -> None:
    assert emulator_env.demo is not None
    hot = emulator_env.demo.campaigns["Hot leads"]
    _fill(emulator_env, hot)
    before = _calls(emulator_env, hot)
    mapping = tmp_path / "keep.yaml"
    mapping.write_text("phone: [phone]\ndedupe: {history_days: 0}\n", encoding="utf-8")
    keep = tmp_path / "keep.csv"
    keep.write_text(f"phone\n{NUMBERS[0]}\n", encoding="utf-8")
    reports = tmp_path / "sync-reports"
    synced = CliRunner().invoke(
        cli,
        ["import", str(keep), "--mapping", str(mapping), "--campaign", "Hot leads",
         "--mode", "sync", "--yes", "--force", "--report-dir", str(reports),
         "--state-dir", str(tmp_path / "state")],
    )
    assert synced.exit_code == 0, synced.output
    assert list(_calls(emulator_env, hot)) == [API_FORMS[0]]
    (backup,) = reports.glob("Hot_leads.pending-backup.*.csv")
    empty = emulator_env.add_campaign("demo", "Migrated")
    _import(backup, "Migrated", tmp_path)
    assert _calls(emulator_env, empty) == before
