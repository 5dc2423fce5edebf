"""One import into a campaign at a time: concurrent imports never both add a number.

Two real importer processes import overlapping files into one emulator
campaign at the same time: two ``import`` runs sharing a state directory, and
a drop-folder pass (``inbox run --once``) next to an ``import`` run, each
with its own state directory.  AddCallsBulk answers slowly, so without a
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
from click.testing import CliRunner

from importer.cli import cli
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
        faults=FaultConfig(latency_ms=1200, methods={"AddCallsBulk"}),
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


@pytest.mark.slow
@pytest.mark.parametrize("shared_state", [True, False], ids=["one state dir", "two state dirs"])
def test_concurrent_imports_into_one_campaign_add_each_number_once(
    slow_adds: EmulatorServer, tmp_path: Path, shared_state: bool
) -> None:
    first, second, shared = overlapping_files(tmp_path / "files")
    reports = [tmp_path / "reports-a", tmp_path / "reports-b"]
    if shared_state:
        state = tmp_path / "state"
        commands = [import_command(first, state, reports[0])]
        commands.append(import_command(second, state, reports[1]))
    else:
        # A drop folder with its own state dir next to a manual import with another one.
        reports[0] = tmp_path / "drop" / "reports"
        commands = [inbox_command(tmp_path / "drop", first, tmp_path / "inbox-state")]
        commands.append(import_command(second, tmp_path / "my-state", reports[1]))

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


_HOLDER = """
import sys
from pathlib import Path
from importer.locking import CampaignLock
lock = CampaignLock(sys.argv[1], Path(sys.argv[2]), purpose="importing other.csv")
lock.acquire()
print("locked", flush=True)
sys.stdin.readline()          # hold until the parent says so (or kills us)
"""


def test_an_import_into_a_busy_campaign_waits_then_exits_3_naming_the_holder(
    emulator_env: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert emulator_env.demo is not None
    code = emulator_env.demo.campaigns[CAMPAIGN]
    locks = tmp_path / "shared-locks"
    monkeypatch.setenv("LEAD_IMPORTER_LOCK_DIR", str(locks))
    source = write_leads(tmp_path / "leads.csv", valid_mobiles(5))
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, code, str(locks)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )

    def run(state: str, *extra: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, [
            "import", str(source), "--campaign", CAMPAIGN, "--state-dir", str(tmp_path / state),
            "--report-dir", str(tmp_path / "reports"), "--no-progress", *extra,
        ])  # fmt: skip
        return result.exit_code, result.stdout, result.stderr

    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        exit_code, out, err = run("state-a", "--lock-timeout", "0.5")
        assert exit_code == 3, err
        assert "another lead-importer run is importing into campaign 'Hot leads'" in err
        assert f"pid {holder.pid} on " in err and "importing other.csv" in err
        assert "waited 0.5 s" in err and "Traceback" not in err
        assert code not in out + err
        assert emulator_env.pending_phones(code) == []
        # A dry run adds nothing: it neither waits for the campaign nor needs it.
        exit_code, out, err = run("state-b", "--dry-run", "--lock-timeout", "0")
        assert exit_code == 0, err
        assert "would_add" in out and emulator_env.pending_phones(code) == []
    finally:
        holder.kill()                                      # the OS frees its lock
        holder.wait(timeout=30)
        for stream in (holder.stdin, holder.stdout):
            if stream is not None:
                stream.close()
    exit_code, out, err = run("state-a", "--lock-timeout", "5")
    assert exit_code == 0, err
    assert len(emulator_env.pending_phones(code)) == 5
