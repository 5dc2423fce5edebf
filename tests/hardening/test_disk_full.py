"""A full disk after calls were pushed is a resumable stop, end to end (real CLI, emulator).

The report folder or the state directory (the run journal) fills up while an
import is sending: the child must exit 3 with one paragraph that says how many
calls were added, where space is needed and that running the same command
again finishes the job, without a traceback and without leaving empty reports
or temporary files.  After space is freed, the same command must finish with
every number pending exactly once.

Full disks are real: a size-limited tmpfs (Linux, root: CI runs so here), in
which a "ballast" file takes all but a little of the room and deleting it is
how the test frees space; and, everywhere on POSIX, a file-size limit
(``RLIMIT_FSIZE``) under which writes fail with EFBIG as on a full disk.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from importer.emulator.server import EmulatorServer
from tests.hardening._run import Completed, run_importer, valid_mobiles
from tests.phone_samples import e164

pytestmark = pytest.mark.slow

DISK_SIZE = 8 * 1024 * 1024


def write_leads(path: Path, phones: list[str]) -> None:
    out = io.StringIO()
    rows = [[f"Lead {i}", phone] for i, phone in enumerate(phones)]
    csv.writer(out).writerows([["name", "phone"], *rows])
    path.write_text(out.getvalue(), encoding="utf-8")


def import_args(workdir: Path, source: Path, *, chunk_size: int = 50) -> list[str]:
    return [
        "import", str(source), "--mapping", str(workdir / "mapping.yaml"),
        "--campaign", "Hot leads", "--report-dir", str(workdir / "reports"),
        "--state-dir", str(workdir / "state"), "--chunk-size", str(chunk_size), "--no-progress",
    ]


def pending(emulator: EmulatorServer) -> list[str]:
    assert emulator.demo is not None
    return ["+" + p for p in emulator.pending_phones(emulator.demo.campaigns["Hot leads"])]


def assert_stopped_cleanly(result: Completed, emulator: EmulatorServer, folder: Path) -> int:
    """Exit 3 and one paragraph naming the folder, the calls added and the re-run; returns
    the number of calls added, which must be what the campaign holds."""
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    (message,) = lines
    assert message.startswith("Error: "), message
    assert str(folder) in message
    assert "Free space on the disk that holds" in message
    assert "run the same command again" in message
    said = re.search(r"this run had added ([\d,]+) call\(s\) from leads\.csv", message)
    assert said is not None, message
    added = int(said.group(1).replace(",", ""))
    assert added == len(pending(emulator)), message
    return added


def assert_no_leftovers(reports: Path) -> None:
    """No empty report and no temporary file in the report folder."""
    empty = [p.name for p in reports.iterdir() if p.is_file() and p.stat().st_size == 0]
    temporary = [p.name for p in reports.iterdir() if p.name.endswith(".tmp")]
    assert empty == temporary == [], (empty, temporary)


def assert_every_number_once(emulator: EmulatorServer, phones: list[str]) -> None:
    now = pending(emulator)
    assert Counter(now) == Counter(e164(p) for p in phones)


# ------------------------------------------------------------------ a small real disk


@pytest.fixture
def small_disk() -> Iterator[Callable[[Path, int], Path]]:
    """Mount a size-limited tmpfs on a folder and fill all but ``free`` bytes of it.

    Returns the ballast file: deleting it frees the space.  Skips when mounting
    is impossible here (not Linux, or not root); the RLIMIT_FSIZE test below
    covers a full disk everywhere else.
    """
    mounted: list[Path] = []

    def mount(folder: Path, free: int) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if sys.platform != "linux" or shutil.which("mount") is None:
            pytest.skip("size-limited tmpfs mounts need Linux")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0755", "tmpfs", str(folder)],
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        ballast = folder / "ballast.bin"
        with ballast.open("wb") as fh:
            fh.write(b"\0" * (DISK_SIZE - free))
        usage = shutil.disk_usage(folder)
        assert usage.free <= free, usage
        return ballast

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def test_full_report_folder_stops_with_exit_3_and_the_rerun_finishes(
    emulator: EmulatorServer,
    env: dict[str, str],
    workdir: Path,
    small_disk: Callable[[Path, int], Path],
) -> None:
    phones = valid_mobiles(2000)
    source = workdir / "leads.csv"
    write_leads(source, phones)
    reports = workdir / "reports"
    ballast = small_disk(reports, 96 * 1024)

    result = run_importer(import_args(workdir, source), env)

    added = assert_stopped_cleanly(result, emulator, reports)
    assert 0 < added < len(phones)
    assert "the disk is full: cannot write the reports in" in result.stderr
    assert_no_leftovers(reports)
    ballast.unlink()                                  # the user frees space
    again = run_importer(import_args(workdir, source), env)
    assert again.returncode == 0, again.stderr
    assert_every_number_once(emulator, phones)
    assert_no_leftovers(reports)


def test_full_journal_disk_stops_with_exit_3_and_the_rerun_finishes(
    emulator: EmulatorServer,
    env: dict[str, str],
    workdir: Path,
    small_disk: Callable[[Path, int], Path],
) -> None:
    phones = valid_mobiles(3000)
    source = workdir / "leads.csv"
    write_leads(source, phones)
    state = workdir / "state"
    ballast = small_disk(state, 400 * 1024)

    result = run_importer(import_args(workdir, source), env)

    added = assert_stopped_cleanly(result, emulator, state)
    assert 0 < added < len(phones)
    assert "the run journal" in result.stderr
    assert_no_leftovers(workdir / "reports")
    ballast.unlink()
    again = run_importer(import_args(workdir, source), env)
    assert again.returncode == 0, again.stderr
    assert_every_number_once(emulator, phones)
    assert_no_leftovers(workdir / "reports")


# ------------------------------------------------------------------ a file-size limit


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_file_size_limit_on_the_journal_stops_with_exit_3_and_the_rerun_finishes(
    emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    """Runs without root: the journal (its write-ahead log grows fastest) hits the limit."""
    phones = valid_mobiles(3000)
    source = workdir / "leads.csv"
    write_leads(source, phones)

    result = run_importer(import_args(workdir, source), env, file_size_limit=256 * 1024)

    added = assert_stopped_cleanly(result, emulator, workdir / "state")
    assert 0 < added < len(phones)
    assert_no_leftovers(workdir / "reports")
    again = run_importer(import_args(workdir, source), env)
    assert again.returncode == 0, again.stderr
    assert_every_number_once(emulator, phones)
    assert_no_leftovers(workdir / "reports")


# ------------------------------------------------------------------ killed runs


def test_run_killed_while_writing_the_workbook_leaves_nothing_empty_after_the_rerun(
    emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    phones = valid_mobiles(20_000)
    source = workdir / "leads.csv"
    write_leads(source, phones)
    reports = workdir / "reports"
    argv = [sys.executable, "-m", "importer", *import_args(workdir, source, chunk_size=3000)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    caught = False
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if reports.is_dir() and any(
                p.name.endswith(".tmp") and ".report.xlsx." in p.name for p in reports.iterdir()
            ):
                proc.kill()  # SIGKILL while the workbook is being written
                caught = True
                break
            time.sleep(0.002)
    finally:
        if proc.poll() is None and not caught:
            proc.kill()
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
    assert caught, "the run ended before its workbook could be caught being written"
    left = {p.name: p.stat().st_size for p in reports.iterdir()}
    assert any(n.endswith(".tmp") for n in left), left
    assert any(n.endswith(".report.xlsx") and size == 0 for n, size in left.items()), left

    again = run_importer(import_args(workdir, source, chunk_size=3000), env, timeout=120)

    assert again.returncode == 0, again.stderr
    assert_no_leftovers(reports)
    assert_every_number_once(emulator, phones)


# ------------------------------------------------------------------ the drop folder


def test_inbox_file_waits_in_processing_while_the_report_disk_is_full(
    emulator: EmulatorServer,
    env: dict[str, str],
    workdir: Path,
    small_disk: Callable[[Path, int], Path],
) -> None:
    root = workdir / "leads"
    env = {**env, "LEAD_IMPORTER_STATE_DIR": str(workdir / "state")}
    made = run_importer(["inbox", "init", str(root), "--campaign", "Hot leads"], env)
    assert made.returncode == 0, made.stderr
    config = root / "inbox.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("settle_seconds: 10", "settle_seconds: 0"),
        encoding="utf-8",
    )
    ballast = small_disk(root / "reports", 96 * 1024)
    phones = valid_mobiles(2000)
    write_leads(root / "inbox" / "leads.csv", phones)
    past = time.time() - 3600
    os.utime(root / "inbox" / "leads.csv", (past, past))
    once = ["inbox", "run", "--config", str(config), "--once"]

    first = run_importer(once, env)

    assert first.returncode == 3, first.stderr
    assert "Traceback" not in first.stderr, first.stderr
    assert "the disk is full: cannot write the reports in" in first.stdout, first.stdout
    assert "The file stays in processing/ and the next run retries it" in first.stdout
    assert sorted(p.name for p in (root / "processing").iterdir()) == ["leads.csv"]
    assert list((root / "done").iterdir()) == list((root / "failed").iterdir()) == []
    assert_no_leftovers(root / "reports")
    ballast.unlink()
    second = run_importer(once, env)
    assert second.returncode == 0, second.stderr
    assert sorted(p.name for p in (root / "done").iterdir()) == ["leads.csv"]
    assert_every_number_once(emulator, phones)
    assert_no_leftovers(root / "reports")


def test_clear_with_a_full_backup_disk_is_exit_3_and_clears_nothing(
    emulator: EmulatorServer, tmp_path: Path, small_disk: Callable[[Path, int], Path]
) -> None:
    from importer.campaigns import clear_with_backup
    from importer.config import Settings
    from importer.dialer.client import DialerClient
    from importer.dialer.models import CallTarget
    from importer.errors import StorageError

    assert emulator.demo is not None
    code = emulator.demo.campaigns["Hot leads"]
    folder = tmp_path / "backups"
    ballast = small_disk(folder, 0)
    with DialerClient(Settings(api_url=emulator.base_url, account_code="demo")) as client:
        client.add_calls_bulk(code, [CallTarget(p) for p in valid_mobiles(3)])
        campaign = client.get_campaign_details(code)
        with pytest.raises(StorageError, match="disk is full") as caught:
            clear_with_backup(client, campaign, folder)
        assert caught.value.exit_code == 3 and caught.value.folder == folder
        assert len(emulator.pending_phones(code)) == 3  # nothing was cleared
        ballast.unlink()  # space freed: the same call now saves the backup, then clears
        cleared = clear_with_backup(client, campaign, folder)
    assert cleared.count == 3 and emulator.pending_phones(code) == []


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_file_size_limit_on_a_columnar_dry_run_report_is_one_paragraph(
    emulator: EmulatorServer, env: dict[str, str], workdir: Path
) -> None:
    """The columnar engine writes its report a block at a time (Arrow's writer, raw bytes
    to the file's buffer): a write that fails still reaches the user as one paragraph, with
    nothing empty left behind."""
    source = workdir / "leads.csv"
    write_leads(source, valid_mobiles(3000))
    args = [*import_args(workdir, source), "--dry-run", "--engine", "columnar",
            "--report-format", "csv"]

    result = run_importer(args, env, file_size_limit=64 * 1024)

    assert result.returncode == 3, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert str(workdir / "reports") in lines[0]
    assert_no_leftovers(workdir / "reports")
