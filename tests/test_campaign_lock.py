"""One import into a campaign at a time: concurrent imports never both add a number.

Two real importer processes (``python -m importer import`` and the drop-folder
runner) import overlapping files into one emulator campaign at the same time,
sharing a state directory or not.  AddCallsBulk answers slowly, so without a
campaign lock both runs read the pending calls before either run's numbers
arrive, and both add the overlap.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from importer.emulator.server import EmulatorServer, FaultConfig
from importer.report import read_report_csv
from tests.phone_samples import valid_mobiles

EACH = 3000
OVERLAP = 1500
CAMPAIGN = "Hot leads"


@pytest.fixture
def slow_adds(tmp_path: Path) -> Iterator[EmulatorServer]:
    """The emulator, with AddCallsBulk answering after a pause (the race window)."""
    server = EmulatorServer(
        db_path=tmp_path / "emulator.db",
        host="127.0.0.1",
        port=0,
        faults=FaultConfig(latency_ms=1500, methods={"AddCallsBulk"}),
        seed=0,
    )
    server.start()
    try:
        server.seed_demo()
        yield server
    finally:
        server.stop()


def write_leads(path: Path, phones: list[str]) -> Path:
    """A CSV of leads with these phone numbers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "phone"])
        writer.writerows([f"Lead {i}", phone] for i, phone in enumerate(phones))
    return path


def overlapping_files(root: Path) -> tuple[Path, Path, set[str]]:
    """Two files of EACH numbers sharing OVERLAP of them; the shared numbers as digits."""
    numbers = valid_mobiles(2 * EACH - OVERLAP)
    first = numbers[:EACH]
    second = numbers[EACH - OVERLAP :]
    shared = {"972" + p[1:] for p in first[EACH - OVERLAP :]}
    assert len(shared) == OVERLAP and len(set(first) | set(second)) == 2 * EACH - OVERLAP
    return write_leads(root / "a.csv", first), write_leads(root / "b.csv", second), shared


def environment(server: EmulatorServer, lock_dir: Path) -> dict[str, str]:
    """The importer's environment: the emulator, and one lock folder for every run."""
    env = dict(os.environ)
    env.update(
        VOICENTER_API_URL=server.base_url,
        VOICENTER_ACCOUNT_CODE="demo",
        LEAD_IMPORTER_LOCK_DIR=str(lock_dir),
        PYTHONIOENCODING="utf-8",
    )
    for name in ("VOICENTER_CAMPAIGN", "LEAD_IMPORTER_STATE_DIR"):
        env.pop(name, None)
    return env


def import_command(source: Path, state_dir: Path, report_dir: Path) -> list[str]:
    """`lead-importer import` of one file into the campaign."""
    return [
        sys.executable, "-m", "importer", "import", str(source),
        "--campaign", CAMPAIGN,
        "--state-dir", str(state_dir),
        "--report-dir", str(report_dir),
        "--report-format", "csv",
        "--lock-timeout", "60",
        "--no-progress",
    ]  # fmt: skip


def inbox_command(root: Path, source: Path, state_dir: Path) -> list[str]:
    """`lead-importer inbox run --once` over a drop folder holding ``source``."""
    for name in ("inbox", "processing", "done", "failed", "reports"):
        (root / name).mkdir(parents=True, exist_ok=True)
    dropped = root / "inbox" / source.name
    dropped.write_bytes(source.read_bytes())
    past = time.time() - 3600
    os.utime(dropped, (past, past))  # settled: the runner picks it up at once
    config = {
        "settle_seconds": 0,
        "poll_seconds": 0.1,
        "state_dir": str(state_dir),
        "inboxes": [{"name": "Leads", "path": str(root), "campaign": CAMPAIGN}],
    }
    path = root / "inbox.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return [sys.executable, "-m", "importer", "inbox", "run", "--config", str(path), "--once"]


def statuses(report_dir: Path) -> dict[str, str]:
    """Phone digits -> status, from the one CSV report in ``report_dir``."""
    (report,) = report_dir.glob("*.report.csv")
    return {row["phone"].lstrip("+"): row["status"] for row in read_report_csv(report)}


def run_together(commands: list[list[str]], env: dict[str, str]) -> list[int]:
    """Start every command at once and wait for all; their exit codes."""
    procs = [
        subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            encoding="utf-8",
        )
        for cmd in commands
    ]
    codes = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err
        codes.append(proc.returncode)
        if proc.returncode:
            print(out, err)  # shown by pytest when the test fails
    return codes


@pytest.mark.parametrize("runner", ["one state dir", "two state dirs", "drop folder and import"])
def test_concurrent_imports_into_one_campaign_add_each_number_once(
    slow_adds: EmulatorServer, tmp_path: Path, runner: str
) -> None:
    first, second, shared = overlapping_files(tmp_path / "files")
    states = [tmp_path / "state", tmp_path / ("state" if runner == "one state dir" else "state2")]
    reports = [tmp_path / "reports-a", tmp_path / "reports-b"]
    if runner == "drop folder and import":
        reports[0] = tmp_path / "drop" / "reports"
        commands = [inbox_command(tmp_path / "drop", first, states[0])]
    else:
        commands = [import_command(first, states[0], reports[0])]
    commands.append(import_command(second, states[1], reports[1]))

    codes = run_together(commands, environment(slow_adds, tmp_path / "locks"))

    assert codes == [0, 0]
    assert slow_adds.demo is not None
    pending = Counter(slow_adds.pending_phones(slow_adds.demo.campaigns[CAMPAIGN]))
    twice = sorted(p for p, n in pending.items() if n > 1)
    assert not twice, f"{len(twice)} number(s) pending twice, e.g. {twice[:3]}"
    assert len(pending) == 2 * EACH - OVERLAP
    got = [statuses(r) for r in reports]
    for phone in shared:
        pair = sorted(g[phone] for g in got)
        assert pair == ["added", "duplicate_pending"], (phone, pair)
    for report in got:
        alone = {s for p, s in report.items() if p not in shared}
        assert alone == {"added"}
