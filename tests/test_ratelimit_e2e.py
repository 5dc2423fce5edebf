"""Issue 18.5: a rate-limited Dialer API slows the import down instead of failing rows.

Every test runs the importer against the emulator over HTTP with its token-bucket rate limit
on (HTTP 429 with ``Retry-After``, nothing stored).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from importer.cli import cli
from importer.config import Settings
from importer.dialer.retry import RetryPolicy
from importer.emulator.server import EmulatorServer, FaultConfig
from importer.errors import RateLimitedError
from importer.pipeline import ImportOptions, run_import
from importer.report import read_report_csv
from tests.phone_samples import e164, valid_mobiles

MAPPING = """\
name: rate-limited leads
phone:
  columns: [phone]
fields:
  CustomerName: {column: name}
dedupe:
  history_days: 0
"""

# Waits cut short so a run that is refused for good ends within a second or two.
IMPATIENT = RetryPolicy(
    max_attempts=3, initial_wait=0.01, max_wait=0.05, max_retry_after=0.1, max_rate_limited=1.0
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(db_path=tmp_path / "emulator.db", port=0, seed=1) as emulator:
        emulator.seed_demo()
        yield emulator


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return tmp_path


def write_leads(path: Path, phones: list[str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "phone"])
        out.writerows([f"lead {i}", p] for i, p in enumerate(phones))
    return path


def hot(server: EmulatorServer) -> str:
    assert server.demo is not None
    return server.demo.campaigns["Hot leads"]


def assert_each_once(server: EmulatorServer, phones: list[str]) -> None:
    pending = server.pending_phones(hot(server))
    twice = [p for p, n in Counter(pending).items() if n > 1]
    assert not twice, f"numbers pending more than once: {twice[:5]}"
    assert sorted(pending) == sorted(e164(p)[1:] for p in phones)


def options(workdir: Path) -> ImportOptions:
    return ImportOptions(
        campaign="Hot leads",
        mapping_path=workdir / "mapping.yaml",
        report_dir=workdir / "reports",
        report_formats=frozenset({"csv"}),
        state_dir=workdir / "state",
        chunk_size=50,
        concurrency=8,
        retry=IMPATIENT,
    )


def test_rate_limited_run_at_concurrency_8_ends_with_no_failed_row(
    server: EmulatorServer, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case, scaled down: 8 workers against 2 requests/s, default retry policy."""
    phones = valid_mobiles(3000, start=4_000_000)
    source = write_leads(workdir / "leads.csv", phones)
    server.set_faults(FaultConfig(rate_limit=2))
    monkeypatch.setenv("VOICENTER_API_URL", server.base_url)
    monkeypatch.setenv("VOICENTER_ACCOUNT_CODE", "demo")
    monkeypatch.delenv("VOICENTER_CAMPAIGN", raising=False)
    result = CliRunner().invoke(
        cli,
        [
            "import", str(source), "--mapping", str(workdir / "mapping.yaml"),
            "--campaign", "Hot leads", "--report-dir", str(workdir / "reports"),
            "--state-dir", str(workdir / "state"), "--report-format", "csv,json",
            "--chunk-size", "100", "--concurrency", "8", "--json",
        ],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["counts"]["failed"] == 0
    assert summary["counts"]["added"] == len(phones)
    refused = [e for e in server.request_log if e.status == 429]
    assert refused, "the emulator's limit must have been hit for this test to mean anything"
    assert all(e.fault == "rate_limited" for e in refused)
    assert_each_once(server, phones)
    notes = summary["files"][0]["notes"]
    assert any("HTTP 429" in note for note in notes), notes


def test_writes_refused_for_good_end_with_failed_rows_then_a_rerun_delivers_them(
    server: EmulatorServer, workdir: Path
) -> None:
    phones = valid_mobiles(300, start=4_100_000)
    source = write_leads(workdir / "leads.csv", phones)
    # One request now and then one every 1,000 s: the first chunk goes, the rest never does.
    server.set_faults(FaultConfig(rate_limit=0.001, methods={"AddCallsBulk"}))
    settings = Settings(api_url=server.base_url, account_code="demo")
    result = run_import([source], options(workdir), settings)
    assert result.exit_code == 1
    rows = read_report_csv(next((workdir / "reports").glob("*.report.csv")))
    assert [r["row"] for r in rows] == [str(i + 2) for i in range(len(phones))]
    statuses = Counter(r["status"] for r in rows)
    assert statuses["added"] == 50 and statuses["failed"] == len(phones) - 50, statuses
    assert all("HTTP 429" in r["reason"] for r in rows if r["status"] == "failed")
    assert len(server.pending_phones(hot(server))) == 50

    server.set_faults(FaultConfig())
    for report in (workdir / "reports").iterdir():
        report.unlink()
    again = run_import([source], options(workdir), settings)
    assert again.exit_code == 0
    assert_each_once(server, phones)


def test_reads_follow_the_limiter_and_a_refusal_for_good_ends_the_run(
    server: EmulatorServer, workdir: Path
) -> None:
    source = write_leads(workdir / "leads.csv", valid_mobiles(20, start=4_200_000))
    # The campaign look-up passes; the pending-calls read for dedupe is refused for good.
    server.set_faults(FaultConfig(rate_limit=0.001))
    settings = Settings(api_url=server.base_url, account_code="demo")
    with pytest.raises(RateLimitedError) as info:
        run_import([source], options(workdir), settings)
    assert info.value.exit_code == 3
    assert hot(server) not in str(info.value)
    reads = [e for e in server.request_log if e.method == "GetCampaignPendingCalls"]
    assert reads and all(e.status == 429 for e in reads)
    # Retry-After (capped at 0.1 s here) was followed: a second of patience is ~10 reads, not
    # the thousands a loop that ignored it would send.
    assert len(reads) <= 20
    assert not [e for e in server.request_log if e.method == "AddCallsBulk"]


def test_ctrl_c_while_waiting_for_the_rate_limit_stops_at_once_and_a_rerun_finishes(
    server: EmulatorServer, workdir: Path
) -> None:
    phones = valid_mobiles(200, start=4_300_000)
    source = write_leads(workdir / "leads.csv", phones)
    # After the first chunk every write is told to come back in 1,000 s (obeyed up to 30 s).
    server.set_faults(FaultConfig(rate_limit=0.001, methods={"AddCallsBulk"}))
    env = {
        **os.environ,
        "VOICENTER_API_URL": server.base_url,
        "VOICENTER_ACCOUNT_CODE": "demo",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("VOICENTER_CAMPAIGN", None)
    command = [
        sys.executable, "-m", "importer", "import", str(source),
        "--mapping", str(workdir / "mapping.yaml"), "--campaign", "Hot leads",
        "--report-dir", str(workdir / "reports"), "--state-dir", str(workdir / "state"),
        "--report-format", "csv,json", "--chunk-size", "20", "--concurrency", "4",
        "--no-progress", "--json",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 30
        while not any(e.status == 429 for e in server.request_log):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the importer never hit the rate limit"
            time.sleep(0.01)
        time.sleep(0.2)  # let the workers settle into their wait
        proc.send_signal(signal.SIGINT)
        # Well inside the 30 s pause the server asked for: the wait itself was interrupted.
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    assert "Run the same command again" in err

    server.set_faults(FaultConfig())
    rerun = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["counts"]["failed"] == 0
    assert_each_once(server, phones)
