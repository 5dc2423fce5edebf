"""Crash-safe runs: killed and interrupted imports resume without loss or duplicates.

The importer runs as a real child process (``python -m importer import ...``)
against the emulator over HTTP, is killed (SIGKILL) or stopped (SIGTERM,
SIGINT) at seeded random points, and the same command is run again.  After
the final run the campaign must hold every expected number exactly once and
the report must account for every input row.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from importer.cli import cli
from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget
from importer.dialer.retry import RetryPolicy
from importer.emulator.faults import Action, FaultInjector, Verdict
from importer.emulator.server import EmulatorServer, FaultConfig
from importer.errors import DialerError
from importer.journal import Journal
from importer.journal.schema import SCHEMA_VERSION
from importer.pipeline import ImportOptions, run_import
from importer.report import read_report_csv
from tests.phone_samples import valid_mobiles

# --------------------------------------------------------------------------- helpers

MAPPING = """\
name: resume test
phone:
  columns: [phone]
fields:
  CustomerName: {column: name}
dedupe:
  history_days: %d
"""


def digits(local: str) -> str:
    """How the emulator stores a local number: E.164 without the plus."""
    return "972" + local[1:]


def pretty(local: str) -> str:
    """The same number as a human would type it internationally."""
    return f"+972-{local[1:3]}-{local[3:]}"


@dataclass
class Leads:
    """An input file and what a complete import of it must produce."""

    rows: list[tuple[str, str]]  # (name, phone cell)
    expected: list[str]  # the status of each row after a complete import
    added: set[str] = field(default_factory=set)  # digits of the numbers that must be added

    def write(self, path: Path) -> Path:
        lines = ["name,phone", *(f"{name},{phone}" for name, phone in self.rows)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def make_leads(
    rng: random.Random, new: list[str], pending: list[str], *, dups: int = 15, bad: int = 4
) -> Leads:
    """Shuffled new and already-pending numbers, repeats, invalid and empty phones."""
    base: list[tuple[str, str]] = [(f"lead {i}", p) for i, p in enumerate(new + pending)]
    base += [(f"short {i}", "12345") for i in range(bad)]
    base += [(f"empty {i}", "") for i in range(bad)]
    rng.shuffle(base)
    for _ in range(dups):
        j = rng.randrange(len(base))
        while not base[j][1].startswith("0"):
            j = rng.randrange(len(base))
        base.insert(rng.randint(j + 1, len(base)), ("again", pretty(base[j][1])))
    expected: list[str] = []
    seen: set[str] = set()
    added: set[str] = set()
    pending_digits = {digits(p) for p in pending}
    for _name, phone in base:
        if not phone:
            expected.append("missing_phone")
            continue
        if phone == "12345":
            expected.append("invalid_phone")
            continue
        number = "972" + phone.replace("+972", "").replace("-", "").lstrip("0")
        if number in seen:
            expected.append("duplicate_in_batch")
        elif number in pending_digits:
            expected.append("duplicate_pending")
        else:
            expected.append("added")
            added.add(number)
        seen.add(number)
    return Leads(base, expected, added)


def start_server(tmp_path: Path, faults: FaultConfig, seed: int = 0) -> EmulatorServer:
    server = EmulatorServer(
        db_path=tmp_path / "emulator.db", host="127.0.0.1", port=0, faults=faults, seed=seed
    )
    server.start()
    server.seed_demo()
    return server


@pytest.fixture
def slow_emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    """The emulator with some latency on AddCallsBulk, so a run takes a while."""
    server = start_server(tmp_path, FaultConfig(latency_ms=40, methods={"AddCallsBulk"}))
    try:
        yield server
    finally:
        server.stop()


def client_for(server: EmulatorServer) -> DialerClient:
    return DialerClient(Settings(api_url=server.base_url, account_code="demo"))


@dataclass
class Workdir:
    """One importer's folders: mapping, reports and state."""

    root: Path
    server: EmulatorServer
    campaign: str = "Hot leads"
    history_days: int = 30

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "mapping.yaml").write_text(MAPPING % self.history_days, encoding="utf-8")

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def code(self) -> str:
        assert self.server.demo is not None
        found = self.server.demo.campaigns.get(self.campaign)
        if found is not None:
            return found
        (row,) = [c for c in self.server.store.campaigns_of("demo") if c.name == self.campaign]
        return row.code

    def options(self, **overrides: Any) -> ImportOptions:
        """In-process import options for this workdir (CSV report, chunks of 10)."""
        base: dict[str, Any] = {
            "campaign": self.campaign,
            "mapping_path": self.root / "mapping.yaml",
            "report_dir": self.root / "reports",
            "report_formats": frozenset({"csv"}),
            "chunk_size": 10,
            "state_dir": self.state,
        }
        return ImportOptions(**{**base, **overrides})

    def command(self, source: Path, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "importer", "import", str(source),
            "--mapping", str(self.root / "mapping.yaml"),
            "--campaign", self.campaign,
            "--report-dir", str(self.root / "reports"),
            "--report-format", "csv,json",
            "--state-dir", str(self.state),
            "--chunk-size", "10",
            "--no-progress", "--json",
            *extra,
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            VOICENTER_API_URL=self.server.base_url,
            VOICENTER_ACCOUNT_CODE="demo",
            PYTHONUNBUFFERED="1",
        )
        env.pop("VOICENTER_CAMPAIGN", None)
        env.pop("LEAD_IMPORTER_STATE_DIR", None)
        return env

    def start(self, source: Path, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(source, *extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=self.env(),
        )

    def run(self, source: Path, *extra: str) -> Finished:
        proc = subprocess.run(
            self.command(source, *extra),
            check=False,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=self.env(),
            timeout=90,
        )
        return Finished(proc.returncode, proc.stdout, proc.stderr)

    def pending(self) -> list[str]:
        return self.server.pending_phones(self.code)

    def journal_run(self) -> tuple[str | None, list[int]] | None:
        """The outcome of the latest run and its chunks still awaiting an answer."""
        if not Journal.path_for(self.state).exists():
            return None
        with Journal.open(self.state) as journal:
            runs = journal.list_runs(1)
            if not runs:
                return None
            return runs[0].outcome, [c.chunk_no for c in journal.unknown_chunks(runs[0].run_id)]


@dataclass
class Finished:
    """A finished child process."""

    code: int
    out: str
    err: str

    @property
    def summary(self) -> dict[str, Any]:
        assert self.out.strip(), f"no JSON on stdout (exit {self.code}); stderr:\n{self.err}"
        result: dict[str, Any] = json.loads(self.out)
        return result

    def report(self) -> list[dict[str, str]]:
        (entry,) = self.summary["files"]
        return read_report_csv(entry["reports"]["csv"])


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> Finished:
    out, err = proc.communicate(timeout=timeout)
    return Finished(proc.returncode, out, err)


def wait_until(predicate: Any, proc: subprocess.Popen[str], timeout: float = 30) -> bool:
    """Poll until ``predicate()`` holds; False when the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    raise AssertionError("timed out waiting for the importer")


def assert_complete(work: Workdir, leads: Leads, final: Finished, pre: list[str]) -> None:
    """The campaign holds each expected number once; the report accounts for every row."""
    assert final.code == 0, final.err
    rows = final.report()
    assert [r["row"] for r in rows] == [str(i + 2) for i in range(len(leads.rows))]
    got = [r["status"] for r in rows]
    wrong = [(i + 2, e, g) for i, (e, g) in enumerate(zip(leads.expected, got, strict=True))
             if e != g]  # fmt: skip
    assert not wrong, f"rows with an unexpected status (row, expected, got): {wrong[:10]}"
    pending = work.pending()
    twice = [p for p, n in Counter(pending).items() if n > 1]
    assert not twice, f"numbers pending more than once: {twice}"
    assert set(pending) == leads.added | {digits(p) for p in pre}
    assert {r["phone"][1:] for r in rows if r["status"] == "added"} == leads.added


# --------------------------------------------------------------------------- SIGKILL


def start_and_kill(
    work: Workdir, source: Path, rng: random.Random, total: int
) -> tuple[str | None, list[int]] | None:
    """SIGKILL the import at a random point; return the journal's state of the latest run."""
    proc = work.start(source)
    if rng.random() < 0.2:
        # Anywhere from start-up (reading, resolving the campaign) onwards.
        time.sleep(rng.uniform(0.2, 1.5))
    else:
        already = len(work.pending())
        target = rng.randint(already + 1, max(already + 1, total))
        wait_until(lambda: len(work.pending()) >= target, proc)
        time.sleep(rng.uniform(0, 0.06))
    proc.send_signal(signal.SIGKILL)
    killed = finish(proc)
    assert killed.code in {-signal.SIGKILL, 0}, killed.err
    return work.journal_run()


def kill_and_rerun(
    server: EmulatorServer, root: Path, seed: int
) -> list[tuple[str | None, list[int]] | None]:
    """One seed: start, SIGKILL at a random point (twice for some seeds), run again, check."""
    rng = random.Random(seed)
    campaign = f"Kill {seed}"
    server.add_campaign("demo", campaign)
    work = Workdir(root / f"seed{seed}", server, campaign)
    new = valid_mobiles(150, start=1_000_000 + seed * 1000)
    pre = valid_mobiles(6, start=5_000_000 + seed * 1000)
    client = client_for(server)
    try:
        for number in pre:
            client.add_call(work.code, CallTarget(target=number))
    finally:
        client.close()
    leads = make_leads(rng, new, pre)
    source = leads.write(work.root / "leads.csv")
    total = len(pre) + len(leads.added)

    # The second kill (some seeds) hits a resumed run.
    at_kill = [start_and_kill(work, source, rng, total) for _ in range(2 if seed % 5 == 2 else 1)]

    final = work.run(source)
    assert_complete(work, leads, final, pre)
    assert work.journal_run() == ("finished", [])
    if seed % 5 == 0:
        # A finished file is not imported twice.
        again = work.run(source)
        assert again.code == 0, again.err
        assert any("Already imported" in n for n in again.summary["files"][0]["notes"])
        assert [r["status"] for r in again.report()] == leads.expected
        assert sorted(work.pending()) == sorted(leads.added | {digits(p) for p in pre})
    return at_kill


@pytest.mark.parametrize(
    ("ambiguous", "seeds"),
    [(0.0, range(0, 5)), (0.25, range(100, 105))],
    ids=["clean", "unanswered-writes"],
)
def test_sigkill_at_random_points_then_rerun_adds_each_number_once(
    tmp_path: Path, ambiguous: float, seeds: range
) -> None:
    # Unanswered writes (stored, connection dropped) leave chunks whose outcome is
    # unknown at the moment of the kill; the re-run must reconcile them first.
    faults = FaultConfig(latency_ms=40, ambiguous_rate=ambiguous, methods={"AddCallsBulk"})
    server = start_server(tmp_path, faults, seed=seeds[0])
    try:
        # Seeds run side by side (each with its own campaign and state) to keep this quick.
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = {seed: pool.submit(kill_and_rerun, server, tmp_path, seed) for seed in seeds}
        for seed, future in futures.items():
            error = future.exception()
            if error is not None:
                raise AssertionError(f"seed {seed}: {error}") from error
        states = [state for f in futures.values() for state in f.result()]
        # The kills did land mid-run, some with chunks sent and their answer not recorded.
        assert any(s is not None and s[0] is None and s[1] for s in states), states
    finally:
        server.stop()


# --------------------------------------------------------------------------- SIGTERM / Ctrl-C


@pytest.mark.parametrize(
    ("signals", "seed"),
    [((signal.SIGTERM,), 1), ((signal.SIGINT,), 2), ((signal.SIGTERM, signal.SIGTERM), 3)],
    ids=["SIGTERM", "Ctrl-C", "SIGTERM-twice"],
)
def test_stop_signal_exits_3_and_rerun_finishes(
    slow_emulator: EmulatorServer, tmp_path: Path, signals: tuple[signal.Signals, ...], seed: int
) -> None:
    rng = random.Random(seed)
    work = Workdir(tmp_path / "work", slow_emulator)
    leads = make_leads(rng, valid_mobiles(150, start=2_000_000), [])
    source = leads.write(work.root / "leads.csv")
    proc = work.start(source)
    target = rng.randint(10, 50 if len(signals) > 1 else 80)
    assert wait_until(lambda: len(work.pending()) >= target, proc), finish(proc).err
    if len(signals) > 1:
        # Slow answers, so that the second signal comes while chunks are still in flight.
        slow_emulator.set_faults(FaultConfig(latency_ms=600, methods={"AddCallsBulk"}))
        time.sleep(0.1)
    for signum in signals:
        proc.send_signal(signum)
        time.sleep(0.15)  # signals of one kind do not queue: let the handler see each
    stopped = finish(proc)
    slow_emulator.set_faults(FaultConfig(latency_ms=40, methods={"AddCallsBulk"}))
    assert stopped.code == 3, stopped.err
    assert "Traceback" not in stopped.err
    assert work.code not in stopped.out + stopped.err

    with Journal.open(work.state) as journal:
        (run,) = journal.list_runs(1)
        recorded = {r.phone[1:] for r in journal.rows_with_status(run.run_id, ["added"])}
        unknown = journal.unknown_chunks(run.run_id)
    pending = set(work.pending())
    assert len(pending) < len(leads.added), "the run was not stopped early"
    if len(signals) == 1:
        # Graceful: the chunks in flight were finished and recorded, the report closed.
        assert "Run the same command again" in stopped.err
        assert run.outcome == "interrupted"
        assert unknown == []
        assert recorded == pending
        (csv_path,) = (work.root / "reports").glob("*.report.csv")
        (json_path,) = (work.root / "reports").glob("*.summary.json")
        rows = read_report_csv(csv_path)
        assert 0 < len(rows) < len(leads.rows)
        assert [r["status"] for r in rows] == leads.expected[: len(rows)]
        summary = json.loads(json_path.read_text(encoding="utf-8"))
        assert summary["counts"]["added"] == len(pending)
        assert summary["total_rows"] == len(rows)
        assert summary["exit_code"] == 3
        assert any("Interrupted" in note for note in summary["notes"])
    else:
        # A second signal aborts at once: what was in flight is reconciled by the re-run.
        assert "aborted by a second signal" in stopped.err
        assert run.outcome is None
        assert unknown
        assert recorded < pending

    final = work.run(source)
    assert_complete(work, leads, final, [])
    assert any("Resumed unfinished run" in n for n in final.summary["files"][0]["notes"])
    assert work.journal_run() == ("finished", [])


# --------------------------------------------------------------------------- lock


def test_second_importer_on_the_same_file_waits_then_exits_3(tmp_path: Path) -> None:
    server = start_server(tmp_path, FaultConfig(latency_ms=100, methods={"AddCallsBulk"}))
    try:
        work = Workdir(tmp_path / "work", server)
        leads = make_leads(random.Random(7), valid_mobiles(150, start=2_500_000), [])
        source = leads.write(work.root / "leads.csv")
        first = work.start(source, "--concurrency", "1")
        assert wait_until(lambda: len(work.pending()) > 0, first), finish(first).err
        # Keep the first importer busy (and holding its lock) while the second starts.
        server.set_faults(FaultConfig(latency_ms=1000, methods={"AddCallsBulk"}))
        second = work.run(source, "--lock-timeout", "0.5")
        server.set_faults(FaultConfig())
        assert first.poll() is None, "the first importer ended before the second one waited"
        assert second.code == 3, second.err
        # The campaign's lock is met first; it names the same holder.
        assert "another lead-importer run is importing into campaign 'Hot leads'" in second.err
        assert f"pid {first.pid}" in second.err
        assert "importing leads.csv" in second.err
        assert "waited 0.5 s" in second.err
        assert "Traceback" not in second.err
        first.send_signal(signal.SIGTERM)
        assert finish(first).code == 3
        final = work.run(source)
        assert_complete(work, leads, final, [])
    finally:
        server.stop()


# --------------------------------------------------------------------------- unknown chunks


class BlindWrites(FaultInjector):
    """AddCallsBulk is applied but never answered, and then the campaign cannot be read."""

    def __init__(self) -> None:
        super().__init__(FaultConfig())
        self.blind = True
        self.dropped = 0

    def decide(self, method: str, *, is_write: bool) -> Verdict:
        if self.blind and method.lower() == "addcallsbulk":
            self.dropped += 1
            return Verdict(Action.DROP)
        if self.blind and self.dropped and method.lower() == "getcampaignpendingcalls":
            return Verdict(Action.FAIL)
        return super().decide(method, is_write=is_write)


def bulk_requests(server: EmulatorServer) -> int:
    return sum(1 for r in server.request_log if r.method.lower() == "addcallsbulk")


def test_chunks_whose_outcome_stays_unknown_are_reconciled_before_anything_is_resent(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    work = Workdir(tmp_path / "work", emulator)
    numbers = valid_mobiles(35, start=4_000_000)
    source = tmp_path / "leads.csv"
    source.write_text("name,phone\n" + "".join(f"n{i},{p}\n" for i, p in enumerate(numbers)))
    blind = BlindWrites()
    emulator.faults_injector = blind
    settings = Settings(api_url=emulator.base_url, account_code="demo")
    options = work.options(retry=RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02))
    first = run_import([source], options, settings)
    assert first.exit_code == 1
    (outcome,) = first.files
    assert outcome.summary.counts["failed"] == 35
    rows = read_report_csv(outcome.reports["csv"])
    assert all("a re-run checks it before resending" in r["reason"] for r in rows)
    # Every number did arrive (once); the journal still says "sent, answer unknown".
    assert sorted(work.pending()) == sorted(digits(n) for n in numbers)
    with Journal.open(work.state) as journal:
        (run,) = journal.list_runs(1)
        assert run.outcome == "incomplete"
        assert len(journal.unknown_chunks(run.run_id)) == 4
        assert journal.status_counts(run.run_id) == {"sent": 35}
    sent = bulk_requests(emulator)

    # While the campaign cannot be read, a re-run stops (exit 3) and resends nothing.
    with pytest.raises(DialerError):
        run_import([source], options, settings)
    assert bulk_requests(emulator) == sent

    blind.blind = False
    final = run_import([source], options, settings)
    assert final.exit_code == 0
    assert bulk_requests(emulator) == sent, "rows that had arrived were sent again"
    rows = read_report_csv(final.files[0].reports["csv"])
    assert [r["status"] for r in rows] == ["added"] * 35
    assert sorted(work.pending()) == sorted(digits(n) for n in numbers)
    assert work.journal_run() == ("finished", [])


class Crash(BaseException):
    """Stands for the process dying at one exact point (not an error the importer handles)."""


@pytest.mark.parametrize(
    ("point", "crashes"),
    [
        ("add_rows", (3,)),  # a window's rows not yet recorded; earlier chunks in flight
        ("mark_chunk_sent", (3,)),  # rows recorded as planned, the chunk never sent
        ("mark_chunk_done", (3,)),  # a chunk sent and applied, its answer not recorded
        ("mark_chunk_done", (3, 1)),  # ... and the re-run dies while reconciling it
        ("finish_run", (1,)),  # everything recorded but the end of the run
    ],
)
def test_crash_at_each_journal_step_resumes_without_loss_or_duplicates(
    emulator: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
    crashes: tuple[int, ...],
) -> None:
    work = Workdir(tmp_path / "work", emulator)
    numbers = valid_mobiles(60, start=4_100_000)
    source = write_leads(tmp_path / "leads.csv", numbers)
    settings = Settings(api_url=emulator.base_url, account_code="demo")
    options = work.options(concurrency=2)
    original = getattr(Journal, point)
    for crash_at in crashes:
        calls = 0

        def crashing(self: Journal, *args: Any, _at: int = crash_at, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == _at:
                raise Crash
            return original(self, *args, **kwargs)

        monkeypatch.setattr(Journal, point, crashing)
        with pytest.raises(Crash):
            run_import([source], options, settings)
    monkeypatch.setattr(Journal, point, original)
    sent = bulk_requests(emulator)

    result = run_import([source], options, settings)
    assert result.exit_code == 0
    rows = read_report_csv(result.files[0].reports["csv"])
    assert [r["status"] for r in rows] == ["added"] * 60
    client = client_for(emulator)
    try:
        calls_now = client.get_campaign_pending_calls(work.code).calls
    finally:
        client.close()
    assert sorted(c.phone for c in calls_now) == sorted(digits(n) for n in numbers)
    # One run from start to end: every import reference is that run's, row by row.
    refs = {(c.custom_data or {}).get("var_ImportRef") for c in calls_now}
    assert refs == {f"{result.run_id}-{seq}" for seq in range(60)}
    resumed = [r for r in rows if r["reason"] == "confirmed in the campaign when the run resumed"]
    if point == "mark_chunk_done":
        assert len(resumed) >= 10
    if point == "finish_run":
        assert bulk_requests(emulator) == sent, "a finished chunk was sent again"


# --------------------------------------------------------------------------- history


def invoke(work: Workdir, source: Path, *extra: str) -> Finished:
    """Run the CLI in-process (quicker than a child process) with the emulator's settings."""
    result = CliRunner().invoke(
        cli,
        work.command(source, *extra)[3:],
        env={
            "VOICENTER_API_URL": work.server.base_url,
            "VOICENTER_ACCOUNT_CODE": "demo",
            "VOICENTER_CAMPAIGN": None,
            "LEAD_IMPORTER_STATE_DIR": None,
        },
        catch_exceptions=False,
    )
    return Finished(result.exit_code, result.stdout, result.stderr)


def write_leads(path: Path, numbers: list[str]) -> Path:
    path.write_text("name,phone\n" + "".join(f"n{i},{p}\n" for i, p in enumerate(numbers)))
    return path


def remove_calls(server: EmulatorServer, code: str, numbers: list[str]) -> None:
    """What the dialer does to a lead it has called: it leaves the pending list."""
    client = client_for(server)
    try:
        for number in numbers:
            client.remove_call(code, number)
    finally:
        client.close()


def age_history(state: Path, days: float) -> None:
    """Pretend every recorded import happened ``days`` days ago."""
    moment = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn = sqlite3.connect(Journal.path_for(state))
    try:
        with conn:
            conn.execute("UPDATE history SET added_at = ?", (moment,))
    finally:
        conn.close()


@pytest.mark.parametrize("history_days", [30, 0])
def test_day_two_cumulative_file_adds_only_the_new_leads(
    emulator: EmulatorServer, tmp_path: Path, history_days: int
) -> None:
    work = Workdir(tmp_path / "work", emulator, history_days=history_days)
    day1 = valid_mobiles(20, start=3_000_000)
    new = valid_mobiles(8, start=3_100_000)
    first = invoke(work, write_leads(tmp_path / "leads-day1.csv", day1))
    assert first.code == 0, first.err
    assert [r["status"] for r in first.report()] == ["added"] * 20
    dialled = day1[3:9]
    remove_calls(emulator, work.code, dialled)

    # Day 2: the same export again, with the day's new leads at the end. A dry run first:
    # its preview must skip what the real run skips (it reads the history, records nothing).
    again = "duplicate_history" if history_days else "would_add"
    expected = [again if n in dialled else "duplicate_pending" for n in day1] + ["would_add"] * 8
    preview = invoke(work, write_leads(tmp_path / "leads-day2.csv", day1 + new), "--dry-run")
    assert preview.code == 0, preview.err
    assert [r["status"] for r in preview.report()] == expected
    second = invoke(work, write_leads(tmp_path / "leads-day2.csv", day1 + new))
    assert second.code == 0, second.err
    again = "duplicate_history" if history_days else "added"
    expected = [again if n in dialled else "duplicate_pending" for n in day1] + ["added"] * 8
    assert [r["status"] for r in second.report()] == expected
    pending = work.pending()
    assert len(pending) == len(set(pending))
    kept = [n for n in day1 if history_days == 0 or n not in dialled]
    assert set(pending) == {digits(n) for n in kept + new}


def test_history_window_ends_after_history_days(emulator: EmulatorServer, tmp_path: Path) -> None:
    work = Workdir(tmp_path / "work", emulator, history_days=30)
    numbers = valid_mobiles(10, start=3_300_000)
    source = write_leads(tmp_path / "leads.csv", numbers)
    assert invoke(work, source).code == 0
    remove_calls(emulator, work.code, numbers[:4])

    age_history(work.state, 29.9)
    inside = invoke(work, source, "--again")
    assert inside.code == 0, inside.err
    assert [r["status"] for r in inside.report()] == (
        ["duplicate_history"] * 4 + ["duplicate_pending"] * 6
    )
    age_history(work.state, 30.1)
    outside = invoke(work, source, "--again")
    assert outside.code == 0, outside.err
    assert [r["status"] for r in outside.report()] == ["added"] * 4 + ["duplicate_pending"] * 6
    assert sorted(work.pending()) == sorted(digits(n) for n in numbers)


# --------------------------------------------------------------------------- --again


def test_finished_file_is_not_sent_again_unless_again(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    work = Workdir(tmp_path / "work", emulator, history_days=0)
    numbers = valid_mobiles(12, start=3_200_000)
    source = write_leads(tmp_path / "leads.csv", numbers)
    first = invoke(work, source)
    assert first.code == 0, first.err
    run_id = first.summary["run_id"]
    sent = bulk_requests(emulator)

    repeat = invoke(work, source)
    assert repeat.code == 0, repeat.err
    assert bulk_requests(emulator) == sent
    (notes,) = [f["notes"] for f in repeat.summary["files"]]
    assert any(f"Already imported by run {run_id}" in n and "--again" in n for n in notes)
    assert [r["status"] for r in repeat.report()] == ["added"] * 12

    remove_calls(emulator, work.code, numbers[:4])
    again = invoke(work, source, "--again")
    assert again.code == 0, again.err
    assert again.summary["run_id"] != run_id
    assert [r["status"] for r in again.report()] == ["added"] * 4 + ["duplicate_pending"] * 8
    assert sorted(work.pending()) == sorted(digits(n) for n in numbers)
    later = invoke(work, source)
    assert any(
        f"Already imported by run {again.summary['run_id']}" in n
        for n in later.summary["files"][0]["notes"]
    )


def test_killed_again_run_is_resumed_by_a_plain_rerun(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = Workdir(tmp_path / "work", emulator, history_days=0)
    numbers = valid_mobiles(40, start=3_700_000)
    source = write_leads(tmp_path / "leads.csv", numbers)
    first = invoke(work, source)
    assert first.code == 0, first.err
    remove_calls(emulator, work.code, numbers)  # the campaign was cleared meanwhile

    original = Journal.mark_chunk_done
    calls = 0

    def crashing(self: Journal, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Crash
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Journal, "mark_chunk_done", crashing)
    with pytest.raises(Crash):
        invoke(work, source, "--again")
    monkeypatch.setattr(Journal, "mark_chunk_done", original)

    # The newest run is unfinished: it is resumed, not hidden by the older finished one.
    rerun = invoke(work, source)
    assert rerun.code == 0, rerun.err
    (notes,) = [f["notes"] for f in rerun.summary["files"]]
    assert any("Resumed unfinished run" in n for n in notes), notes
    assert rerun.summary["run_id"] != first.summary["run_id"]
    assert [r["status"] for r in rerun.report()] == ["added"] * 40
    assert sorted(work.pending()) == sorted(digits(n) for n in numbers)


# --------------------------------------------------------------------------- damaged journal


def test_journal_that_is_not_a_database_is_reported_not_reset(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    work = Workdir(tmp_path / "work", emulator)
    source = write_leads(tmp_path / "leads.csv", valid_mobiles(3, start=3_400_000))
    work.state.mkdir()
    path = Journal.path_for(work.state)
    junk = b"lead-importer journal? no: " + bytes(range(256)) * 20
    path.write_bytes(junk)
    result = invoke(work, source)
    assert result.code == 2
    assert str(path) in result.err
    assert "damaged" in result.err and "will not reset it" in result.err
    assert "Traceback" not in result.err
    assert path.read_bytes() == junk
    assert work.pending() == []


def test_journal_from_a_newer_version_is_reported_not_touched(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    work = Workdir(tmp_path / "work", emulator)
    numbers = valid_mobiles(3, start=3_500_000)
    assert invoke(work, write_leads(tmp_path / "day1.csv", numbers[:1])).code == 0
    path = Journal.path_for(work.state)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()
    result = invoke(work, write_leads(tmp_path / "day2.csv", numbers))
    assert result.code == 2
    assert "newer lead-importer" in result.err
    assert str(path) in result.err
    assert path.read_bytes() == before
    assert work.pending() == [digits(numbers[0])]


def test_journal_damaged_inside_is_reported_not_reset(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    work = Workdir(tmp_path / "work", emulator)
    numbers = valid_mobiles(400, start=3_600_000)
    source = write_leads(tmp_path / "leads.csv", numbers)
    assert invoke(work, source).code == 0
    path = Journal.path_for(work.state)
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    for start in range(2 * page, len(data), page):  # every page but the header's
        data[start : start + page] = b"\xa5" * page
    path.write_bytes(bytes(data))
    result = invoke(work, source)
    assert result.code == 2
    assert "damaged" in result.err and str(path) in result.err
    assert "Traceback" not in result.err
    assert path.read_bytes() == bytes(data)


# --------------------------------------------------------------------------- upsert


def test_upsert_update_lost_in_a_crash_is_sent_again_not_reported_added(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An UpdateCall cannot be confirmed by reading the campaign (the number was pending
    before), so a chunk left unknown by a crash must not call its update rows "added":
    the resumed run updates them again (UpdateCall is safe to repeat)."""
    import importer.file_run as file_run

    work = Workdir(tmp_path / "work", emulator)
    old = valid_mobiles(3, start=4_300_000)
    new = valid_mobiles(5, start=4_310_000)
    client = client_for(emulator)
    try:
        for number in old:
            client.add_call(work.code, CallTarget(target=digits(number), customer_name="old"))
    finally:
        client.close()
    source = tmp_path / "leads.csv"
    source.write_text(
        "name,phone\n" + "".join(f"fresh{i},{p}\n" for i, p in enumerate([*new, *old]))
    )
    settings = Settings(api_url=emulator.base_url, account_code="demo")
    options = work.options(chunk_size=20, mode="upsert")

    def die(*args: Any, **kwargs: Any) -> Any:
        raise Crash  # the process dies after the bulk add, before any UpdateCall

    monkeypatch.setattr(file_run, "update_one", die)
    with pytest.raises(Crash):
        run_import([source], options, settings)
    with Journal.open(work.state) as journal:
        (run,) = journal.list_runs(1)
        assert journal.status_counts(run.run_id) == {"sent": 5, "updating": 3}
    monkeypatch.undo()

    result = run_import([source], options, settings)
    assert result.exit_code == 0
    rows = read_report_csv(result.files[0].reports["csv"])
    assert [r["status"] for r in rows] == ["added"] * 5 + ["updated"] * 3
    client = client_for(emulator)
    try:
        calls = client.get_campaign_pending_calls(work.code).calls
    finally:
        client.close()
    names = {c.phone: c.customer_name for c in calls}
    assert len(calls) == 8, "a number was added twice"
    assert {names[digits(n)] for n in old} == {"fresh5", "fresh6", "fresh7"}
    assert work.journal_run() == ("finished", [])
