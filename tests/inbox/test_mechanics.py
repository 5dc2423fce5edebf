"""Folder mechanics of the drop folder, with a small real processor standing in for the import."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from importer.inbox import (
    LOCK_NAME,
    InboxRunner,
    SettleTracker,
    ignore_reason,
    unique_target,
)
from importer.locking import StateLock
from tests.inbox.conftest import CsvProcessor, drop

Runner = Callable[..., InboxRunner]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- what is ignored ------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "~$leads.xlsx",
        ".~lock.leads.xlsx#",
        ".hidden.csv",
        "leads.csv.part",
        "leads.xlsx.crdownload",
        "leads.TMP",
        "leads.csv.partial",
        "leads.csv.download",
        "leads.csv~",
        "Thumbs.db",
        "desktop.ini",
    ],
)
def test_temporary_lock_and_hidden_files_are_ignored(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("x")
    assert ignore_reason(name, path.lstat()) is not None


def test_ordinary_files_are_not_ignored(tmp_path: Path) -> None:
    for name in ["leads.csv", "לידים.xlsx", "export (1).xls", "a.part.csv"]:
        path = tmp_path / name
        path.write_text("x")
        assert ignore_reason(name, path.lstat()) is None


def test_symlinks_and_directories_are_ignored(tmp_path: Path) -> None:
    target = tmp_path / "real.csv"
    target.write_text("x")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    sub = tmp_path / "sub"
    sub.mkdir()
    assert ignore_reason("link.csv", link.lstat()) == "symbolic link"
    assert ignore_reason("sub", sub.lstat()) == "not a regular file"


def test_ignored_files_stay_in_the_inbox(make_runner: Runner, tmp_path: Path) -> None:
    runner = make_runner()
    inbox = tmp_path / "inbox"
    for name in ["~$leads.xlsx", ".hidden.csv", "leads.csv.part", "x.crdownload"]:
        drop(inbox, name)
    (inbox / "link.csv").symlink_to(drop(tmp_path, "elsewhere.csv"))
    (inbox / "subfolder").mkdir()
    result = runner.run_once()
    assert result.files == []
    assert result.exit_code == 0
    assert len(names(inbox)) == 6
    assert names(tmp_path / "processing") == []


# --- settling ---------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_settle_tracker_requires_stability_for_the_window(tmp_path: Path) -> None:
    clock = FakeClock()
    wall = FakeClock()
    path = tmp_path / "f.csv"
    path.write_text("a")
    wall.now = path.stat().st_mtime + 1  # modified one second ago
    tracker = SettleTracker(10, clock=clock, wall_clock=wall)
    assert not tracker.settled("f", path.stat())
    clock.now += 5
    wall.now += 5
    assert not tracker.settled("f", path.stat())
    path.write_text("ab")  # still being written
    wall.now = path.stat().st_mtime + 1
    clock.now += 6
    assert not tracker.settled("f", path.stat())
    clock.now += 10
    wall.now += 10
    assert tracker.settled("f", path.stat())


def test_settle_tracker_accepts_a_file_older_than_the_window(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a")
    past = time.time() - 60
    os.utime(path, (past, past))
    assert SettleTracker(10).settled("f", path.stat())


def test_settle_tracker_distrusts_an_old_mtime_once_the_file_changed(tmp_path: Path) -> None:
    # copy tools that preserve the source's mtime: the size still moves
    clock = FakeClock()
    path = tmp_path / "f.csv"
    path.write_text("a")
    tracker = SettleTracker(10, clock=clock)
    fresh = path.stat()
    assert not tracker.settled("f", fresh)
    past = time.time() - 3600
    path.write_text("abc")
    os.utime(path, (past, past))
    clock.now += 1
    assert not tracker.settled("f", path.stat())
    clock.now += 10
    assert tracker.settled("f", path.stat())


def test_settle_tracker_waits_for_empty_files_to_be_observed(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "empty.csv"
    path.touch()
    past = time.time() - 3600
    os.utime(path, (past, past))
    tracker = SettleTracker(10, clock=clock)
    assert not tracker.settled("e", path.stat())
    clock.now += 10
    assert tracker.settled("e", path.stat())


def test_a_file_still_being_written_is_not_picked_up(
    make_runner: Runner, tmp_path: Path, processor: CsvProcessor
) -> None:
    runner = make_runner(settle_seconds=0.3, poll_seconds=0.05)
    inbox = tmp_path / "inbox"
    growing = inbox / "growing.csv"
    growing.write_text("name,phone\n")
    drop(inbox, "ready.csv")
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            with growing.open("a") as fh:
                fh.write(f"n{i},052{i:07d}\n")
            i += 1
            time.sleep(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = runner.run_once()
    finally:
        stop.set()
        thread.join()
    assert processor.calls == ["ready.csv"]
    assert result.still_changing == [str(growing)]
    assert names(inbox) == ["growing.csv"]
    assert names(tmp_path / "done") == ["ready.csv"]
    # once the writer is done and the file has aged, the next run takes it
    past = time.time() - 60
    os.utime(growing, (past, past))
    result = runner.run_once()
    assert [f.name for f in result.files] == ["growing.csv"]
    assert names(inbox) == []


def test_once_waits_for_a_fresh_file_that_stops_changing(
    make_runner: Runner, tmp_path: Path, processor: CsvProcessor
) -> None:
    runner = make_runner(settle_seconds=0.2, poll_seconds=0.05)
    drop(tmp_path / "inbox", "fresh.csv", old=False)
    result = runner.run_once()
    assert [f.name for f in result.files] == ["fresh.csv"]
    assert result.still_changing == []


# --- placements -------------------------------------------------------------------


def test_good_file_goes_to_done_with_reports(make_runner: Runner, tmp_path: Path) -> None:
    runner = make_runner()
    drop(tmp_path / "inbox", "leads.csv", "name,phone\nDana,0521234567\nYossi,0541234567\n")
    result = runner.run_once()
    assert result.exit_code == 0
    [processed] = result.files
    assert processed.outcome == "done"
    assert processed.location == tmp_path / "done" / "leads.csv"
    assert names(tmp_path / "done") == ["leads.csv"]
    assert names(tmp_path / "inbox") == names(tmp_path / "processing") == []
    [report] = (tmp_path / "reports").iterdir()
    assert report.name.startswith("leads.") and report.name.endswith(".report.csv")
    assert processed.notice.counts == {"added": 2}


def test_options_come_from_the_inbox(
    tmp_path: Path, make_runner: Runner, processor: CsvProcessor
) -> None:
    (tmp_path / "map.yaml").write_text("name: x\n")
    from importer.inbox.config import load_inbox_config
    from tests.inbox.conftest import write_config

    config = load_inbox_config(
        write_config(
            tmp_path,
            [
                {
                    "name": "FB",
                    "path": ".",
                    "campaign": "Callbacks",
                    "mapping": "map.yaml",
                    "mode": "upsert",
                    "dry_run": True,
                    "report_formats": "csv,json",
                    "reports": "out",
                }
            ],
        )
    )
    runner = make_runner(config)
    drop(tmp_path / "inbox", "a.csv")
    runner.run_once()
    [options] = processor.options
    assert options.campaign == "Callbacks"
    assert options.mapping_path == tmp_path / "map.yaml"
    assert options.mode == "upsert"
    assert options.dry_run is True
    assert options.report_formats == frozenset({"csv", "json"})
    assert options.report_dir == tmp_path / "out"


def test_rows_rejected_file_goes_to_done_with_exit_1(make_runner: Runner, tmp_path: Path) -> None:
    runner = make_runner()
    drop(tmp_path / "inbox", "some.csv", "name,phone\nA,0521234567\nB,reject\n")
    result = runner.run_once()
    assert result.exit_code == 1
    assert names(tmp_path / "done") == ["some.csv"]
    assert "some rows were not accepted" in result.files[0].notice.headline()


def test_bad_file_goes_to_failed_with_a_plain_language_note(
    make_runner: Runner, tmp_path: Path
) -> None:
    runner = make_runner()
    drop(tmp_path / "inbox", "nophone.csv", "name,email\nDana,d@x.co\n")
    result = runner.run_once()
    assert result.exit_code == 2
    assert names(tmp_path / "failed") == ["nophone.csv", "nophone.csv.error.txt"]
    text = (tmp_path / "failed" / "nophone.csv.error.txt").read_text(encoding="utf-8-sig")
    assert "no column looks like a phone number; the columns are: name, email" in text
    assert "How to fix it" in text
    assert "one column holds the phone numbers" in text
    assert "Nothing from this file was sent to the dialer." in text
    assert str(tmp_path / "processing") not in text  # the user's name, not our path
    assert names(tmp_path / "reports") == []


def test_encoding_problem_tells_how_to_save_as_utf8(make_runner: Runner, tmp_path: Path) -> None:
    runner = make_runner()
    (tmp_path / "inbox" / "hebrew.csv").write_bytes("שם,phone\n".encode("cp1255"))
    runner.run_once()
    text = (tmp_path / "failed" / "hebrew.csv.error.txt").read_text(encoding="utf-8-sig")
    assert "CSV UTF-8" in text


def test_one_bad_file_does_not_stop_the_others(make_runner: Runner, tmp_path: Path) -> None:
    runner = make_runner()
    inbox = tmp_path / "inbox"
    drop(inbox, "a.csv")
    drop(inbox, "b.csv", "crash,phone\n1,2\n")
    drop(inbox, "c.csv", "")
    drop(inbox, "d.csv")
    result = runner.run_once()
    assert {f.name: f.outcome for f in result.files} == {
        "a.csv": "done",
        "b.csv": "failed",
        "c.csv": "failed",
        "d.csv": "done",
    }
    assert result.exit_code == 2
    text = (tmp_path / "failed" / "b.csv.error.txt").read_text(encoding="utf-8-sig")
    assert "unexpected internal error" in text and "send this note" in text


def test_nothing_is_overwritten(make_runner: Runner, tmp_path: Path) -> None:
    runner = make_runner()
    done, failed = tmp_path / "done", tmp_path / "failed"
    (done / "leads.csv").write_text("earlier")
    (failed / "bad.csv.error.txt").write_text("earlier note")
    drop(tmp_path / "inbox", "leads.csv")
    drop(tmp_path / "inbox", "bad.csv", "x\n1\n")
    runner.run_once()
    assert (done / "leads.csv").read_text() == "earlier"
    [new] = [p for p in done.iterdir() if p.name != "leads.csv"]
    assert new.name.startswith("leads.") and new.suffix == ".csv"
    assert (failed / "bad.csv.error.txt").read_text() == "earlier note"
    failed_files = names(failed)
    assert len(failed_files) == 3
    moved = next(n for n in failed_files if n.endswith(".csv") and n != "bad.csv")
    assert f"{moved}.error.txt" in failed_files
    # the same name dropped again later is claimed under a new name too
    drop(tmp_path / "inbox", "leads.csv")
    runner.run_once()
    assert len(names(done)) == 3


def test_unique_target_adds_a_counter_within_one_second(tmp_path: Path) -> None:
    first = unique_target(tmp_path, "a.csv")
    first.write_text("1")
    second = unique_target(tmp_path, "a.csv")
    second.write_text("2")
    third = unique_target(tmp_path, "a.csv")
    assert len({first, second, third}) == 3
    assert third.suffix == ".csv"


# --- API unusable, resume, locking -------------------------------------------------------


def test_api_unusable_leaves_the_file_in_processing_and_stops_the_inbox(
    make_runner: Runner, tmp_path: Path, processor: CsvProcessor
) -> None:
    runner = make_runner(retry_after_seconds=0)
    inbox = tmp_path / "inbox"
    past = time.time() - 100
    drop(inbox, "a_offline.csv", "offline,phone\n1,2\n")
    os.utime(inbox / "a_offline.csv", (past - 7200, past - 7200))  # the oldest goes first
    drop(inbox, "b.csv")
    result = runner.run_once()
    assert result.exit_code == 3
    assert names(tmp_path / "processing") == ["a_offline.csv"]
    assert names(inbox) == ["b.csv"]  # not claimed while the API is down
    assert names(tmp_path / "failed") == []
    assert "retried automatically" in result.files[0].message


def test_files_left_in_processing_are_resumed_first(
    make_runner: Runner, tmp_path: Path, processor: CsvProcessor
) -> None:
    runner = make_runner()
    drop(tmp_path / "processing", "crashed.csv")
    drop(tmp_path / "inbox", "new.csv")
    result = runner.run_once()
    assert processor.calls == ["crashed.csv", "new.csv"]
    assert [f.outcome for f in result.files] == ["done", "done"]
    assert names(tmp_path / "done") == ["crashed.csv", "new.csv"]


def test_a_locked_inbox_is_left_to_the_run_holding_it(
    make_runner: Runner, tmp_path: Path, processor: CsvProcessor
) -> None:
    runner = make_runner()
    drop(tmp_path / "inbox", "a.csv")
    drop(tmp_path / "processing", "busy.csv")  # being imported by the other run
    with StateLock(tmp_path, name=LOCK_NAME, timeout=0):
        result = runner.run_once()
    assert result.locked == ["Leads"]
    assert result.exit_code == 0
    assert processor.calls == []
    assert names(tmp_path / "processing") == ["busy.csv"]
    assert names(tmp_path / "inbox") == ["a.csv"]


def test_concurrent_runners_never_process_a_file_twice(
    tmp_path: Path, processor: CsvProcessor
) -> None:
    from importer.config import Settings
    from importer.inbox.config import load_inbox_config
    from tests.inbox.conftest import write_config

    config = load_inbox_config(write_config(tmp_path))
    runners = [InboxRunner(config, Settings(), import_fn=processor) for _ in range(4)]
    runners[0].prepare()
    for i in range(30):
        drop(tmp_path / "inbox", f"f{i:02d}.csv")
    threads = [threading.Thread(target=r.run_once) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(3):  # runs that found the lock busy left files for later runs
        runners[0].run_once()
    assert sorted(processor.calls) == [f"f{i:02d}.csv" for i in range(30)]
    assert names(tmp_path / "done") == [f"f{i:02d}.csv" for i in range(30)]


# --- watching ----------------------------------------------------------------------


def test_watch_processes_new_files_until_stopped(
    make_runner: Runner, tmp_path: Path, processor: CsvProcessor
) -> None:
    runner = make_runner(settle_seconds=0.1, poll_seconds=0.05)
    seen: list[str] = []
    thread = threading.Thread(
        target=runner.watch, kwargs={"on_file": lambda f: seen.append(f.name)}
    )
    thread.start()
    try:
        drop(tmp_path / "inbox", "one.csv", old=False)
        drop(tmp_path / "inbox", "bad.csv", "x\n1\n", old=False)
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        drop(tmp_path / "inbox", "two.csv", old=False)
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop.set()
        thread.join()
    assert sorted(seen) == ["bad.csv", "one.csv", "two.csv"]
    assert names(tmp_path / "done") == ["one.csv", "two.csv"]
    assert names(tmp_path / "failed") == ["bad.csv", "bad.csv.error.txt"]


def test_missing_inbox_root_is_a_config_error(tmp_path: Path) -> None:
    from importer.config import Settings
    from importer.errors import ConfigError
    from importer.inbox.config import load_inbox_config
    from tests.inbox.conftest import write_config

    config = load_inbox_config(write_config(tmp_path, [{"name": "X", "path": "nowhere"}]))
    with pytest.raises(ConfigError, match="does not exist"):
        InboxRunner(config, Settings(), import_fn=CsvProcessor()).run_once()
