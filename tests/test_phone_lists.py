"""Lists of numbers (`remove --file`, suppression lists) read our own reports and pending
exports by their phone column, end to end against the emulator (issue #12)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from importer.cli import cli
from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.emulator.server import EmulatorServer
from importer.errors import ConfigError
from importer.phone_lists import read_phone_list
from importer.phones import PhoneNormalizer
from importer.report import read_report_csv
from tests.phone_samples import e164, valid_mobiles
from tests.workbooks import write_sheets

MAPPING = """\
name: list test
phone: [phone]
fields:
  CustomerName: {column: name}
custom_data:
  var_LeadID: {column: lead_id}
dedupe:
  history_days: 0
"""
A, E, F, G = valid_mobiles(4, start=4_400_000)
DECOY = "036234567"  # a landline; as digits it is also the lead ID of row A: "36234567"


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _client(server: EmulatorServer) -> DialerClient:
    return DialerClient(Settings(api_url=server.base_url, account_code="demo"))


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(rows)
    return path


def _import(tmp_path: Path, source: Path, campaign: str, *extra: str) -> Path:
    """Run `import`; return the report folder."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    reports = tmp_path / f"reports-{source.stem}"
    code, out, err = _invoke(
        "import", str(source), "--mapping", str(mapping), "--campaign", campaign,
        "--report-dir", str(reports), "--state-dir", str(tmp_path / "state"), *extra,
    )
    assert code in (0, 1), out + err
    return reports


@pytest.fixture
def imported(emulator_env: EmulatorServer, tmp_path: Path) -> Path:
    """An import into "Hot leads" whose report holds every kind of row; the report folder.

    DECOY (not in the lead file) and F are pending beforehand: the report lists F
    (duplicate_pending) but not DECOY, although DECOY's digits are row A's lead ID.
    """
    assert emulator_env.demo is not None
    hot = emulator_env.demo.campaigns["Hot leads"]
    with _client(emulator_env) as client:
        for number in (DECOY, F):
            client.add_call(hot, CallTarget(number))
    leads = _write_csv(
        tmp_path / "leads.csv",
        ["name", "phone", "lead_id"],
        [
            ["A", A, DECOY[1:]],
            ["B", "+49 30 901820", "L2"],
            ["A again", A, "L3"],          # duplicate_in_batch
            ["Bad", "12345", "L4"],        # invalid_phone: no number in the phone column
            ["E", E, "L5"],
            ["F", F, "L6"],                # duplicate_pending
        ],
    )
    return _import(tmp_path, leads, "Hot leads")


REPORT_NUMBERS = {e164(A), "+4930901820", e164(E), e164(F)}


def _report(folder: Path, ext: str) -> Path:
    (path,) = folder.glob(f"*.report.{ext}")
    return path


def test_the_report_phone_column_reads_back_as_e164(imported: Path) -> None:
    rows = read_report_csv(_report(imported, "csv"))
    assert {r["phone"] for r in rows} - {""} == REPORT_NUMBERS
    raw = _report(imported, "csv").read_text(encoding="utf-8-sig")
    assert "'+4930901820" in raw  # the formula guard, which every reader here takes off
    for ext in ("csv", "xlsx"):
        assert read_phone_list(_report(imported, ext), PhoneNormalizer()) == REPORT_NUMBERS


@pytest.mark.parametrize("ext", ["csv", "xlsx"])
def test_remove_file_takes_exactly_the_report_numbers(
    emulator_env: EmulatorServer, imported: Path, ext: str
) -> None:
    assert emulator_env.demo is not None
    hot = emulator_env.demo.campaigns["Hot leads"]
    code, out, err = _invoke("remove", "Hot leads", "--file", str(_report(imported, ext)), "--json")
    assert code == 0, out + err
    assert json.loads(out)["sent"] == len(REPORT_NUMBERS)
    assert emulator_env.pending_phones(hot) == [e164(DECOY)[1:]]


@pytest.mark.parametrize("ext", ["csv", "xlsx"])
def test_a_report_as_a_suppression_list_suppresses_exactly_its_numbers(
    emulator_env: EmulatorServer, imported: Path, tmp_path: Path, ext: str
) -> None:
    source = _write_csv(
        tmp_path / "again.csv",
        ["name", "phone", "lead_id"],
        [["A", A, "1"], ["B", "+4930901820", "2"], ["E", E, "3"], ["F", F, "4"],
         ["Decoy", DECOY, "5"], ["G", G, "6"]],
    )
    folder = _import(
        tmp_path, source, "Callbacks", "--suppression", str(_report(imported, ext))
    )
    statuses = {r["phone"]: r["status"] for r in read_report_csv(_report(folder, "csv"))}
    assert statuses == {
        **{n: "suppressed" for n in REPORT_NUMBERS},
        e164(DECOY): "added",
        e164(G): "added",
    }


def test_a_pending_export_is_a_list_too(
    emulator_env: EmulatorServer, imported: Path, tmp_path: Path
) -> None:
    export = tmp_path / "pending.csv"
    code, out, err = _invoke("pending", "Hot leads", "--format", "csv", "--output", str(export))
    assert code == 0, out + err
    pending = REPORT_NUMBERS | {e164(DECOY)}
    source = _write_csv(
        tmp_path / "again.csv",
        ["name", "phone", "lead_id"],
        [[n, n, str(i)] for i, n in enumerate(sorted(pending))] + [["G", G, "9"]],
    )
    folder = _import(tmp_path, source, "Callbacks", "--suppression", str(export))
    statuses = {r["phone"]: r["status"] for r in read_report_csv(_report(folder, "csv"))}
    assert statuses == {**{n: "suppressed" for n in pending}, e164(G): "added"}

    assert emulator_env.demo is not None
    hot = emulator_env.demo.campaigns["Hot leads"]
    code, out, err = _invoke("remove", "Hot leads", "--file", str(export))
    assert code == 0, out + err
    assert emulator_env.pending_phones(hot) == []


def test_the_phone_column_is_found_by_name_else_by_its_numbers(tmp_path: Path) -> None:
    normalizer = PhoneNormalizer()
    named = _write_csv(
        tmp_path / "named.csv",
        ["Lead ID", "טלפון נייד", "Home phone", "CallerID"],
        [[DECOY[1:], A, E, "0722776772"], ["12", "", F, ""]],
    )
    assert read_phone_list(named, normalizer) == {e164(A), e164(E), e164(F)}
    worded = _write_csv(
        tmp_path / "worded.csv", ["Lead ID", "Phone (mobile)", "Contact phone 3"],
        [[DECOY[1:], A, E]],
    )
    assert read_phone_list(worded, normalizer) == {e164(A), e164(E)}
    bare = tmp_path / "bare.csv"
    bare.write_text(f"{A}\n{E}\n", encoding="utf-8")
    assert read_phone_list(bare, normalizer) == {e164(A), e164(E)}
    unnamed = _write_csv(
        tmp_path / "unnamed.csv",
        ["id", "שם", "מספר"],
        [[DECOY[1:], "דנה", A], ["7", "רון", "לא ידוע"], ["8", "גל", E]],
    )
    assert read_phone_list(unnamed, normalizer) == {e164(A), e164(E)}
    book = write_sheets(
        tmp_path / "dnc.xlsx",
        {"Notes": [["updated by", "Dana"], ["count", 2]], "2026": [["Name", "Phone"], ["x", A]],
         "old": [[E], [F]]},
    )
    assert read_phone_list(book, normalizer) == {e164(A), e164(E), e164(F)}


def test_a_list_without_a_phone_column_is_refused_with_its_columns(tmp_path: Path) -> None:
    names = _write_csv(tmp_path / "names.csv", ["name", "email"], [["Dana", "d@x.co"]])
    with pytest.raises(ConfigError) as caught:
        read_phone_list(names, PhoneNormalizer(), what="suppression list")
    message = str(caught.value)
    assert message.startswith("suppression list names.csv: no column holds phone numbers")
    assert "'name', 'email'" in message
    code, _out, err = _invoke("remove", "Hot leads", "--file", str(names))
    assert code == 2 and "Error: phone list names.csv: no column holds phone numbers" in err
    assert "Traceback" not in err
    only_header = tmp_path / "dnc.csv"
    only_header.write_text("phone\n", encoding="utf-8")
    assert read_phone_list(only_header, PhoneNormalizer()) == set()
