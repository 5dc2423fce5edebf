"""``lead-importer mapping suggest`` and ``mapping check``, run as a new user would."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from importer.cli import cli
from importer.errors import MappingError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "google_ads_leads.csv"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_suggest_then_check_as_a_new_user(tmp_path: Path) -> None:
    out = tmp_path / "google.yaml"
    code, stdout, stderr = run("mapping", "suggest", str(SAMPLE), "--output", str(out))
    assert code == 0, stderr
    assert stdout == ""
    assert stderr == (f"Wrote {out}. Check it with: lead-importer mapping check {out} {SAMPLE}\n")
    code, stdout, stderr = run("mapping", "check", str(out), str(SAMPLE))
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == f"{out}: OK — Google Ads lead form"
    assert lines[1] == "  phone from: User Phone"
    assert f"{SAMPLE}: header on row 1; phone column(s): User Phone" in lines
    assert (
        "  14 rows: 12 usable, 1 missing phone, 1 invalid phone, 0 phone type not allowed" in lines
    )
    assert "  row 11: missing_phone — no phone number in 'User Phone'" in lines
    assert lines[-1] == "Nothing was sent: this was a dry check."


def test_suggest_prints_to_stdout_and_refuses_to_overwrite(tmp_path: Path) -> None:
    code, stdout, _ = run("mapping", "suggest", str(SAMPLE))
    assert code == 0
    assert stdout.startswith('# Mapping suggested by lead-importer for "google_ads_leads.csv"\n')
    out = tmp_path / "m.yaml"
    out.write_text("keep me", encoding="utf-8")
    code, _, stderr = run("mapping", "suggest", str(SAMPLE), "-o", str(out))
    assert code == 2
    assert stderr == f"Error: {out} already exists; use --force to overwrite it\n"
    assert out.read_text(encoding="utf-8") == "keep me"
    assert run("mapping", "suggest", str(SAMPLE), "-o", str(out), "--force")[0] == 0


def test_check_without_a_file_validates_only(tmp_path: Path) -> None:
    code, stdout, _ = run("mapping", "check", str(ROOT / "mappings" / "generic-english.yaml"))
    assert code == 0
    assert "OK — Generic English lead list" in stdout
    assert "custom data: var_LeadID, var_Source, var_Email, var_City, var_Notes" in stdout


def test_bad_mapping_exits_2_listing_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("naem: x\nphone: {colums: [p]}\n", encoding="utf-8")
    code, stdout, stderr = run("mapping", "check", str(bad))
    assert code == 2 and stdout == ""
    assert stderr == (
        f"Error: {bad}: the mapping has 3 problem(s):\n"
        "  - top level: unknown key 'naem' — did you mean 'name'?\n"
        "  - phone.columns: is required (e.g. 'columns: [טלפון נייד, phone]')\n"
        "  - phone: unknown key 'colums' — did you mean 'columns'?\n"
        f"How to fix it: {MappingError.default_hint}\n"
    )


def test_missing_column_against_a_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("phone: [User Phon]\nfields:\n  CustomerName: Ful Name\n", encoding="utf-8")
    code, _, stderr = run("mapping", "check", str(bad), str(SAMPLE))
    assert code == 2
    assert (
        "phone.columns: no column 'User Phon' in google_ads_leads.csv — did you mean 'User Phone'"
        in stderr
    )
    assert (
        "fields.CustomerName: no column 'Ful Name' in google_ads_leads.csv "
        "— did you mean 'Full Name'" in stderr
    )


def test_check_json(tmp_path: Path) -> None:
    mapping = ROOT / "mappings" / "google-ads-lead-form.yaml"
    code, stdout, _ = run("mapping", "check", str(mapping), str(SAMPLE), "--json", "--show", "1")
    assert code == 0
    data = json.loads(stdout)
    assert data["valid"] is True
    assert data["counts"] == {
        "rows": 14,
        "usable": 12,
        "missing_phone": 1,
        "invalid_phone": 1,
        "type_rejected": 0,
        "not_a_lead": 0,
    }
    assert len(data["problems"]) == 1
    assert data["problems"][0]["row"] == 7 and data["problems"][0]["status"] == "invalid_phone"
    assert data["sheets"][0]["field_names"][0] == "CustomerName"


def test_suggest_on_a_file_without_phones_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    code, stdout, stderr = run("mapping", "suggest", str(path))
    assert code == 2 and stdout == ""
    assert "no column of x.csv holds phone numbers" in stderr
