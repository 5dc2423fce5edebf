"""Both engines send the same requests in real imports, in every mode.

Each engine imports into its own fresh emulator (the same demo account, the same calls
already pending, with details an upsert merges into); the AddCallsBulk / UpdateCall /
RemoveCall bodies each emulator received must be the same, in order (campaign codes and
the per-run import reference normalised), and so must the reports, the console output
and what is left pending. Running the same command again must then do the same nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.emulator.server import EmulatorServer
from tests.engine.conftest import start_emulator
from tests.engine.differential import ENGINES, assert_same, run_both, run_engine

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# (file, mapping): each sample with its own mapping, and corpus files with the
# differential mappings (None = the automatic mapping).
CASES: list[tuple[str, str | None]] = [
    ("sample_data/crm_export_he.csv", "mappings/hebrew-crm.yaml"),
    ("sample_data/facebook_leads.csv", "mappings/facebook-lead-ads.yaml"),
    ("sample_data/generic_leads_en.csv", "mappings/generic-english.yaml"),
    ("sample_data/google_ads_leads.csv", "mappings/google-ads-lead-form.yaml"),
    ("sample_data/handmade_leads.xlsx", "mappings/handmade-excel.yaml"),
    ("sample_data/voicenter_pending_export.csv", "mappings/voicenter-pending.yaml"),
    ("corpus/en_utf8.csv", "tests/engine/mappings/everything.yaml"),
    ("corpus/he_cp1255.csv", "tests/engine/mappings/split-datetime.yaml"),
    ("corpus/sheets.ods", "tests/engine/mappings/formats-sheets.yaml"),
    ("corpus/quotes.csv", None),
]
MODES = ("append", "upsert", "sync")


@pytest.fixture
def emulators(tmp_path: Path) -> Iterator[dict[str, EmulatorServer]]:
    """One fresh emulator per engine, with the same calls pending."""
    servers: dict[str, EmulatorServer] = {}
    try:
        for engine in ENGINES:
            folder = tmp_path / f"emulator-{engine}"
            folder.mkdir()
            servers[engine] = start_emulator(folder)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def _resolve(name: str, corpus: dict[str, Path]) -> Path:
    if name.startswith("corpus/"):
        return corpus[name.removeprefix("corpus/")]
    return ROOT / name


def _make_some_pending(
    path: Path, mapping: Path | None, servers: dict[str, EmulatorServer], scratch: Path
) -> int:
    """Make every third number the file would add pending in both emulators, with details.

    The numbers come from a dry run's report (where the formula guard writes '+972…),
    so this works for any file and mapping.
    """
    probe = run_engine("row", [path], scratch, servers["row"], mapping=mapping, formats="csv")
    assert probe.exit_code == 0, probe.stderr
    (report,) = (data for name, data in probe.csv.items() if ".report." in name)
    rows = list(csv.DictReader(io.StringIO(report.decode("utf-8-sig"))))
    phones = [r["phone"] for r in rows if r["status"] == "would_add"][::3]
    for server in servers.values():
        assert server.demo is not None
        client = DialerClient(Settings(api_url=server.base_url, account_code="demo"))
        for n, phone in enumerate(phones):
            client.add_call(server.demo.campaigns["Hot leads"], CallTarget(
                target=phone.lstrip("'+"), customer_name=f"Before {n}", priority=n % 3,
                custom_data={"var_LeadID": f"before-{n}", "var_Keep": "kept"}))
    return len(phones)


def _pending_state(server: EmulatorServer) -> list[tuple[Any, ...]]:
    assert server.demo is not None
    calls = server.pending_calls(server.demo.campaigns["Hot leads"])
    return sorted(
        (c.phone, c.customer_name, c.caller_id, c.priority, c.originate_time, c.is_date_local,
         sorted((k, str(v)) for k, v in (c.custom_data or {}).items()
                if k not in {"var_ImportRef", "var_Ref"}))
        for c in calls
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("name", "mapping_name"), CASES,
                         ids=[f"{Path(f).name}-{Path(m).stem if m else 'auto'}" for f, m in CASES])
def test_real_imports_push_the_same(
    name: str, mapping_name: str | None, mode: str, corpus: dict[str, Path],
    emulators: dict[str, EmulatorServer], tmp_path: Path
) -> None:
    path = _resolve(name, corpus)
    mapping = ROOT / mapping_name if mapping_name else None
    made_pending = _make_some_pending(path, mapping, emulators, tmp_path / "probe")
    assert made_pending > 0
    # Small chunks: every file goes out in several AddCallsBulk requests, so the windows the
    # rows are cut into must match too, not only the rows.
    extra = ["--mode", mode, "--yes", "--force", "--chunk-size", "7"]

    row, columnar = run_both([path], tmp_path / "first", emulators, mapping=mapping,
                             dry_run=False, extra=extra)
    assert_same(row, columnar, f"{name} × {mode}")
    assert row.exit_code in (0, 1), row.stderr
    assert row.pushes, "the import sent nothing: the comparison would prove nothing"
    if mode == "append":
        assert [m for m, _ in row.pushes].count("AddCallsBulk") > 1
    methods = {method for method, _ in row.pushes}
    if mode == "upsert":
        assert "UpdateCall" in methods
    if mode == "sync":
        assert "RemoveCall" in methods or "ClearCampaignCalls" in methods
    assert _pending_state(emulators["row"]) == _pending_state(emulators["columnar"])

    # The same command again: the journal says it was imported; nothing is sent.
    again_row, again_columnar = run_both([path], tmp_path / "first", emulators,
                                         mapping=mapping, dry_run=False, extra=extra,
                                         reports="reports-again")
    assert_same(again_row, again_columnar, f"{name} × {mode}, again")
    assert again_row.pushes == [] and "already imported" in again_row.stdout
