"""A drop-folder file that is written to while it is imported is never left part-imported.

The writer keeps its file open and pauses longer than ``settle_seconds``: the
inbox claims the file, and the writer appends the rest while the import is
sending the first chunks (through the handle it still holds, so the rows land
in the claimed file, as they do on POSIX).  The real import runs against the
emulator over HTTP; the only hook is the import's progress callback, which is
where the writer wakes up.
"""

from __future__ import annotations

import csv
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from importer.config import Settings, load_settings
from importer.emulator.server import EmulatorServer
from importer.inbox import InboxRunner, init_inbox
from importer.inbox.config import load_inbox_config
from importer.pipeline import ImportOptions, ImportResult, ProgressEvent, run_import
from importer.report import read_report_csv
from tests.phone_samples import e164, valid_mobiles

pytestmark = pytest.mark.slow


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def pending(emulator: EmulatorServer) -> list[str]:
    assert emulator.demo is not None
    return ["+" + p for p in emulator.pending_phones(emulator.demo.campaigns["Hot leads"])]


@pytest.mark.parametrize(
    "written_first",
    [
        # The first chunks settle only after the reader reached the end of these rows:
        # the rest is appended after the read, and only these 100 were imported (#18).
        100,
        # The first chunk settles while the reader is in the middle: it may read on.
        300,
    ],
)
def test_file_appended_to_during_its_import_goes_back_and_is_imported_whole_next_pass(
    written_first: int,
    emulator_env: EmulatorServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = emulator_env
    root = tmp_path / "leads"
    config_path = init_inbox(root, campaign="Hot leads")
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data.update(settle_seconds=0, poll_seconds=0.05)
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")

    phones = valid_mobiles(2000)
    dropped = root / "inbox" / "growing.csv"
    writer_fh = dropped.open("w", encoding="utf-8", newline="")
    rows = csv.writer(writer_fh)
    rows.writerow(["name", "phone"])
    rows.writerows([f"Lead {i}", p] for i, p in enumerate(phones[:written_first]))
    writer_fh.flush()
    past = time.time() - 3600  # the writer paused far longer than settle_seconds
    os.utime(dropped, (past, past))

    appended = threading.Event()
    done_when_imports_began: list[list[str]] = []

    def import_fn(
        paths: Sequence[Path],
        options: ImportOptions,
        settings: Settings,
        *,
        progress: Callable[[ProgressEvent], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ImportResult:
        done_when_imports_began.append(names(root / "done"))

        def writer_wakes_up(event: ProgressEvent) -> None:
            if event.stage == "push" and not appended.is_set():
                appended.set()  # the first chunk is in the campaign: the writer goes on
                rest = enumerate(phones[written_first:], written_first)
                rows.writerows([f"Lead {i}", p] for i, p in rest)
                writer_fh.flush()

        return run_import(
            paths, replace(options, chunk_size=50), settings, progress=writer_wakes_up,
            cancel=cancel,
        )

    settings = load_settings(None, state_dir=tmp_path / "state")
    runner = InboxRunner(load_inbox_config(config_path), settings, import_fn=import_fn)
    caplog.set_level(logging.INFO, logger="importer")

    first = runner.run_once()

    assert appended.is_set()
    (changed,) = first.files
    assert changed.outcome == "changed", changed.message
    assert changed.exit_code == first.exit_code == 0
    assert changed.location == dropped
    assert names(root / "inbox") == ["growing.csv"]
    assert names(root / "done") == names(root / "processing") == names(root / "failed") == []
    assert "changed while it was being imported" in caplog.text
    assert "growing.csv" in caplog.text
    sent = pending(emulator)
    assert 0 < len(sent) <= len(phones)
    if written_first == 100:
        assert Counter(sent) == Counter(e164(p) for p in phones[:100])
    assert f"{len(sent):,} call(s) from the part that was read were added" in changed.message

    writer_fh.close()  # the writer is done
    second = runner.run_once()  # the next pass

    (done,) = second.files
    assert done.outcome == "done", done.message
    assert done_when_imports_began == [[], []]
    assert names(root / "done") == ["growing.csv"]
    assert names(root / "inbox") == names(root / "processing") == []
    assert Counter(pending(emulator)) == Counter(e164(p) for p in phones)
    report = read_report_csv(done.reports["csv"])
    assert len(report) == len(phones)
    assert Counter(r["status"] for r in report) == Counter(
        {"duplicate_pending": len(sent), "added": len(phones) - len(sent)}
    )


def test_file_rewritten_in_place_with_its_size_and_time_kept_is_caught_by_its_hash(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    """Coarse or restored timestamps (some network shares): only the content tells."""
    emulator = emulator_env
    root = tmp_path / "leads"
    config_path = init_inbox(root, campaign="Hot leads")
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data.update(settle_seconds=0, poll_seconds=0.05)
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    old, new = valid_mobiles(100), valid_mobiles(100, start=2_000_000)

    def content(phones: list[str]) -> bytes:
        return "".join(
            ["name,phone\r\n", *(f"Lead {i},{p}\r\n" for i, p in enumerate(phones))]
        ).encode()

    assert len(content(old)) == len(content(new))
    dropped = root / "inbox" / "leads.csv"
    dropped.write_bytes(content(old))
    past = time.time() - 3600
    os.utime(dropped, (past, past))
    rewritten = threading.Event()

    def import_fn(
        paths: Sequence[Path],
        options: ImportOptions,
        settings: Settings,
        *,
        progress: Callable[[ProgressEvent], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ImportResult:
        def rewrite(event: ProgressEvent) -> None:
            if event.stage == "push" and not rewritten.is_set():
                rewritten.set()
                claimed = paths[0]
                st = claimed.stat()
                with claimed.open("r+b") as fh:
                    fh.write(content(new))
                os.utime(claimed, ns=(st.st_atime_ns, st.st_mtime_ns))

        return run_import(
            paths, replace(options, chunk_size=50), settings, progress=rewrite, cancel=cancel
        )

    settings = load_settings(None, state_dir=tmp_path / "state")
    runner = InboxRunner(load_inbox_config(config_path), settings, import_fn=import_fn)

    (changed,) = runner.run_once().files

    assert rewritten.is_set()
    assert changed.outcome == "changed", changed.message
    assert names(root / "inbox") == ["leads.csv"]
    assert names(root / "done") == []
    (done,) = runner.run_once().files
    assert done.outcome == "done", done.message
    assert Counter(pending(emulator)) == Counter(e164(p) for p in old + new)


def test_file_that_failed_while_it_was_still_being_written_goes_back_not_to_failed(
    emulator_env: EmulatorServer, tmp_path: Path
) -> None:
    """Only the header was there when it was read ("no data rows"); the rows came meanwhile."""
    emulator = emulator_env
    root = tmp_path / "leads"
    config_path = init_inbox(root, campaign="Hot leads")
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data.update(settle_seconds=0, poll_seconds=0.05)
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    phones = valid_mobiles(20)
    dropped = root / "inbox" / "leads.csv"
    writer_fh = dropped.open("w", encoding="utf-8", newline="")
    rows = csv.writer(writer_fh)
    rows.writerow(["name", "phone"])
    writer_fh.flush()
    past = time.time() - 3600
    os.utime(dropped, (past, past))
    outcomes: list[str] = []

    def import_fn(
        paths: Sequence[Path],
        options: ImportOptions,
        settings: Settings,
        *,
        progress: Callable[[ProgressEvent], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ImportResult:
        try:
            result = run_import(paths, options, settings, progress=progress, cancel=cancel)
        except Exception as exc:
            outcomes.append(type(exc).__name__)
            raise
        finally:
            if not writer_fh.closed:  # the writer finishes while the first import gives up
                rows.writerows([f"Lead {i}", p] for i, p in enumerate(phones))
                writer_fh.close()
        outcomes.append("imported")
        return result

    settings = load_settings(None, state_dir=tmp_path / "state")
    runner = InboxRunner(load_inbox_config(config_path), settings, import_fn=import_fn)

    (changed,) = runner.run_once().files

    assert outcomes == ["EmptySourceError"]
    assert changed.outcome == "changed", changed.message
    assert names(root / "failed") == names(root / "done") == []
    assert names(root / "inbox") == ["leads.csv"]
    (done,) = runner.run_once().files
    assert done.outcome == "done", done.message
    assert Counter(pending(emulator)) == Counter(e164(p) for p in phones)
