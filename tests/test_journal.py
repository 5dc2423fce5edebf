"""The run journal: runs, rows, chunks, history, damage handling, and the runs/history CLI."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from importer.cli import cli
from importer.errors import ConfigError, JournalError
from importer.journal import ChunkRecord, Journal, JournalRow, RunKey, RunRecord
from importer.journal.schema import MIGRATIONS, SCHEMA_VERSION
from importer.outcomes import Status
from importer.report import read_report_csv

KEY = RunKey("f" * 64, "m" * 64, "c0ffee0123456789", "append")
OTHER_KEY = RunKey("e" * 64, "m" * 64, "c0ffee0123456789", "append")
# Valid, allocated Israeli mobile numbers (050-234-567X); 050-1234567 is not allocated.
PHONES = [f"+97250234567{d}" for d in range(10)]


class FakeClock:
    """An injectable clock that only moves when told to."""

    def __init__(self, start: datetime = datetime(2026, 11, 28, 14, 30, 5, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def journal(tmp_path: Path, clock: FakeClock) -> Iterator[Journal]:
    j = Journal.open(tmp_path / "state", clock=clock)
    yield j
    j.close()


def new_run(j: Journal, key: RunKey = KEY, *, dry_run: bool = False, name: str = "leads.csv",
            campaign: str = "Hot leads") -> RunRecord:
    return j.create_run(
        key,
        source_file=name,
        source_path=f"/data/{name}",
        campaign_name=campaign,
        mapping_name="Facebook Lead Ads",
        dry_run=dry_run,
        field_names=["CustomerName", "var_LeadID"],
    )


def make_rows(start: int, stop: int, *, status: str = "planned") -> list[JournalRow]:
    return [
        JournalRow(
            seq=i,
            sheet=None,
            row=i + 2,
            phone_raw=f"050-234-567{i % 10}",
            phone=PHONES[i % 10],
            status=status,
            import_ref=f"ref-{i}",
            fields={"CustomerName": f"ישראל {i}", "var_LeadID": str(i)},
            target_json=json.dumps({"Target": PHONES[i % 10][1:], "CustomerName": f"ישראל {i}"},
                                   ensure_ascii=False),
        )
        for i in range(start, stop)
    ]


# ----------------------------------------------------------------------- opening


def test_open_creates_a_wal_journal_with_a_schema_version(tmp_path: Path) -> None:
    state = tmp_path / "deep" / "state"
    with Journal.open(state) as j:
        assert j.journal_mode == "wal"
        assert j.path == state / "journal.sqlite3"
    conn = sqlite3.connect(state / "journal.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with Journal.open(state) as j:             # reopening keeps working
        assert j.list_runs() == []


def test_a_version_1_journal_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    """A journal written before upserts kept what they replaced opens, resumes and gains it."""
    state = tmp_path / "state"
    state.mkdir()
    conn = sqlite3.connect(state / "journal.sqlite3")
    for statement in MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute("PRAGMA application_id=0x4C494D50")
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        "INSERT INTO runs (run_id, file_sha256, mapping_sha256, campaign_key, mode, "
        "source_file, source_path, campaign_name, mapping_name, dry_run, started_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        ("20261101-090000-ab12", KEY.file_sha256, KEY.mapping_sha256, KEY.campaign_key,
         KEY.mode, "old.csv", "/data/old.csv", "Hot leads", "m", "2026-11-01T09:00:00Z"),
    )
    conn.commit()
    conn.close()
    with Journal.open(state) as j:
        (old,) = j.list_runs()
        assert j.find_unfinished(KEY) == old  # still resumable
        j.add_rows(old.run_id, [JournalRow(0, None, 2, "050", PHONES[0])])
        j.mark_chunk_sent(
            old.run_id, 0, [0], updates=[0], replaced=[(0, PHONES[0], '{"CustomerName": "A"}')]
        )
        # A resumed attempt records again; the details from before the first one stay.
        j.mark_chunk_sent(
            old.run_id, 0, [0], updates=[0], replaced=[(0, PHONES[0], '{"CustomerName": "B"}')]
        )
        (entry,) = j.replaced(old.run_id)
        assert (entry.seq, entry.phone, entry.previous_json) == (
            0, PHONES[0], '{"CustomerName": "A"}'
        )
    conn = sqlite3.connect(state / "journal.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_garbage_file_is_reported_and_left_untouched(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    garbage = b"this is not sqlite \x00\xff" * 300
    (state / "journal.sqlite3").write_bytes(garbage)
    with pytest.raises(JournalError) as err:
        Journal.open(state)
    message = str(err.value)
    assert str(state / "journal.sqlite3") in message
    assert "damaged" in message and "will not reset" in message and "move it aside" in message
    assert (state / "journal.sqlite3").read_bytes() == garbage


def test_newer_schema_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Journal.open(state).close()
    path = state / "journal.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 4}")
    conn.close()
    before = path.read_bytes()
    newer = rf"newer lead-importer .*version {SCHEMA_VERSION + 4}.* up to {SCHEMA_VERSION}\b"
    with pytest.raises(JournalError, match=newer):
        Journal.open(state)
    assert path.read_bytes() == before


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    conn = sqlite3.connect(state / "journal.sqlite3")
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="not a lead-importer journal"):
        Journal.open(state)


def test_malformed_pages_surface_as_journal_error(tmp_path: Path, clock: FakeClock) -> None:
    state = tmp_path / "state"
    with Journal.open(state, clock=clock) as j:
        run = new_run(j)
        j.add_rows(run.run_id, make_rows(0, 3000))
    path = state / "journal.sqlite3"
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 20 * page
    for offset in range(page, len(data)):        # every page but the header page
        data[offset] = 0xA5
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="damaged"), Journal.open(state) as j:
        j.list_runs()


def test_unusable_state_dir_is_a_journal_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(JournalError, match="cannot create the state directory"):
        Journal.open(blocker / "state")


# ----------------------------------------------------------------------- runs


def test_run_ids_are_short_unique_and_typable(journal: Journal) -> None:
    first = new_run(journal)
    second = new_run(journal, OTHER_KEY)                       # same second
    assert re.fullmatch(r"20261128-143005-[0-9a-f]{4}", first.run_id)
    assert first.run_id != second.run_id
    assert first.started_at == "2026-11-28T14:30:05Z"
    assert journal.get_run(first.run_id) == first


def test_find_unfinished_and_finished(journal: Journal, clock: FakeClock) -> None:
    assert journal.find_unfinished(KEY) is None
    run = new_run(journal)
    assert journal.find_unfinished(KEY) == run
    assert journal.find_unfinished(OTHER_KEY) is None
    assert journal.find_finished(KEY) is None
    for outcome in ("interrupted", "failed", "incomplete"):
        journal.finish_run(run.run_id, outcome, {})
        found = journal.find_unfinished(KEY)
        assert found is not None and found.run_id == run.run_id and found.outcome == outcome
    clock.advance(minutes=5)
    journal.finish_run(run.run_id, "finished", {"added": 3}, {"csv": "reports/a.csv"})
    assert journal.find_unfinished(KEY) is None
    done = journal.find_finished(KEY)
    assert done is not None
    assert (done.outcome, done.counts, done.finished_at) == (
        "finished", {"added": 3}, "2026-11-28T14:35:05Z")
    assert done.report_paths == {"csv": "reports/a.csv"}
    again = new_run(journal)                                    # --again, then killed
    found = journal.find_unfinished(KEY)
    assert found is not None and found.run_id == again.run_id
    finished = journal.find_finished(KEY)
    assert finished is not None and finished.run_id == run.run_id


def test_an_older_unfinished_run_is_not_resumed_after_a_later_finished_one(
    journal: Journal,
) -> None:
    new_run(journal)                                            # killed
    later = new_run(journal)
    journal.finish_run(later.run_id, "finished", {})
    assert journal.find_unfinished(KEY) is None


def test_dry_runs_and_real_runs_do_not_mix(journal: Journal) -> None:
    dry = new_run(journal, dry_run=True)
    journal.finish_run(dry.run_id, "finished", {"would_add": 3})
    assert journal.find_finished(KEY) is None
    found = journal.find_finished(KEY, dry_run=True)
    assert found is not None and found.dry_run


def test_finish_run_rejects_unknown_outcomes(journal: Journal) -> None:
    run = new_run(journal)
    with pytest.raises(ValueError, match="unknown run outcome"):
        journal.finish_run(run.run_id, "done", {})


def test_get_run_by_prefix_unknown_and_ambiguous(journal: Journal, clock: FakeClock) -> None:
    a = new_run(journal)
    clock.advance(seconds=1)
    b = new_run(journal, OTHER_KEY)
    assert journal.get_run("20261128-143005") == a
    assert journal.get_run(b.run_id.upper()) == b
    with pytest.raises(ConfigError, match="ambiguous"):
        journal.get_run("20261128")
    with pytest.raises(ConfigError, match=r"no run 'nope'.*lead-importer runs"):
        journal.get_run("nope")


def test_list_runs_newest_first_with_limit(journal: Journal, clock: FakeClock) -> None:
    ids = []
    for _ in range(4):
        ids.append(new_run(journal).run_id)
        clock.advance(hours=1)
    assert [r.run_id for r in journal.list_runs()] == ids[::-1]
    assert [r.run_id for r in journal.list_runs(limit=2)] == ids[:1:-1]


# ----------------------------------------------------------------------- rows


def test_rows_stream_in_input_order_across_pages(journal: Journal) -> None:
    run = new_run(journal)
    journal.add_rows(run.run_id, make_rows(2500, 4500))
    journal.add_rows(run.run_id, make_rows(0, 2500))
    rows = list(journal.rows(run.run_id))
    assert [r.seq for r in rows] == list(range(4500))
    assert rows[7].fields == {"CustomerName": "ישראל 7", "var_LeadID": "7"}
    assert rows[7].row == 9 and rows[7].import_ref == "ref-7" and rows[7].status == "planned"
    assert journal.max_seq(run.run_id) == 4499
    assert journal.max_seq("no-such-run") == -1


def test_rows_with_status_and_update_rows(journal: Journal) -> None:
    run = new_run(journal)
    journal.add_rows(run.run_id, make_rows(0, 6))
    journal.update_rows(run.run_id, [(1, "invalid_phone", "too short", None),
                                     (4, "rejected", "Invalid target", 3)])
    assert [r.seq for r in journal.rows_with_status(run.run_id, ["planned"])] == [0, 2, 3, 5]
    rejected = list(journal.rows_with_status(run.run_id, {"rejected", "invalid_phone"}))
    assert [(r.seq, r.status, r.reason, r.error_code) for r in rejected] == [
        (1, "invalid_phone", "too short", None), (4, "rejected", "Invalid target", 3)]
    assert list(journal.rows_with_status(run.run_id, [])) == []
    assert journal.status_counts(run.run_id) == {"planned": 4, "invalid_phone": 1, "rejected": 1}


def test_add_rows_refuses_a_target_with_the_campaign_code(journal: Journal) -> None:
    run = new_run(journal)
    row = make_rows(0, 1)[0]
    row.target_json = json.dumps({"Target": "972502345670", "Campaign": "SECRETCODE"})
    with pytest.raises(ValueError, match="never stores campaign codes") as err:
        journal.add_rows(run.run_id, [row])
    assert "SECRETCODE" not in str(err.value)
    row.target_json = json.dumps({"Target": "1", "CustomData": {"Campaign": "summer"}})
    assert journal.add_rows(run.run_id, [row]) == 1             # a nested key is lead data


def test_add_rows_rejects_unknown_statuses(journal: Journal) -> None:
    run = new_run(journal)
    with pytest.raises(ValueError, match="unknown journal row status"):
        journal.add_rows(run.run_id, make_rows(0, 1, status="queued"))
    with pytest.raises(ValueError, match="unknown journal row status"):
        journal.update_rows(run.run_id, [(0, "ok", "", None)])


def test_resumed_planning_replaces_open_rows_but_never_settled_ones(journal: Journal) -> None:
    run = new_run(journal)
    journal.add_rows(run.run_id, make_rows(0, 4))
    journal.mark_chunk_sent(run.run_id, 0, [0, 1, 2])
    journal.mark_chunk_done(run.run_id, 0, [(0, "added", "", 0), (1, "failed", "timeout", None)])
    # seq 0 added, 1 failed, 2 still sent, 3 planned.
    journal.add_rows(run.run_id, [r for r in make_rows(0, 4) if r.seq in {1, 3}])
    assert journal.status_counts(run.run_id) == {"added": 1, "planned": 2, "sent": 1}
    with pytest.raises(ValueError, match="seq 2 is already 'sent'"):
        journal.add_rows(run.run_id, make_rows(2, 3))
    with pytest.raises(ValueError, match="seq 0 is already 'added'"):
        journal.add_rows(run.run_id, make_rows(0, 1))
    kept = make_rows(0, 1, status="added")                      # re-stating it is harmless
    assert journal.add_rows(run.run_id, kept) == 0
    assert next(journal.rows(run.run_id)).status == "added"


# ----------------------------------------------------------------------- chunks


def test_chunk_sent_then_done(journal: Journal, clock: FakeClock) -> None:
    run = new_run(journal)
    journal.add_rows(run.run_id, make_rows(0, 5))
    assert journal.max_chunk_no(run.run_id) == -1
    journal.mark_chunk_sent(run.run_id, 0, [0, 1, 2])
    assert [r.status for r in journal.rows(run.run_id)] == ["sent"] * 3 + ["planned"] * 2
    assert journal.unknown_chunks(run.run_id) == [
        ChunkRecord(run.run_id, 0, "sent", [0, 1, 2], "2026-11-28T14:30:05Z", 1)]
    assert [r.seq for r in journal.rows_in_chunk(run.run_id, 0)] == [0, 1, 2]
    clock.advance(seconds=3)
    left = journal.mark_chunk_done(
        run.run_id, 0, [(0, "added", "", 0), (1, "rejected", "Invalid target", 2),
                        (2, "added", "", 0)])
    assert left == []
    assert journal.unknown_chunks(run.run_id) == []
    (chunk,) = journal.chunks(run.run_id)
    assert (chunk.state, chunk.done_at) == ("done", "2026-11-28T14:30:08Z")
    assert journal.max_chunk_no(run.run_id) == 0 and journal.next_chunk_no(run.run_id) == 1
    assert journal.rows_in_chunk(run.run_id, 0)[1].error_code == 2


def test_partial_answer_leaves_the_chunk_unknown(journal: Journal) -> None:
    run = new_run(journal)
    journal.add_rows(run.run_id, make_rows(0, 3))
    journal.mark_chunk_sent(run.run_id, 4, [0, 1, 2])
    assert journal.mark_chunk_done(run.run_id, 4, [(1, "added", "", 0)]) == [0, 2]
    (unknown,) = journal.unknown_chunks(run.run_id)
    assert unknown.chunk_no == 4
    # Reconciliation found seq 0 pending; seq 2 is planned again and resent alone.
    assert journal.mark_chunk_done(
        run.run_id, 4, [(0, "added", "confirmed when resumed", None), (2, "planned", "", None)]
    ) == []
    journal.mark_chunk_sent(run.run_id, 4, [2])
    (resent,) = journal.unknown_chunks(run.run_id)
    assert (resent.seqs, resent.attempts) == ([2], 2)


def test_sent_state_survives_a_killed_process(tmp_path: Path) -> None:
    state = tmp_path / "state"
    script = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from importer.journal import Journal
from test_journal import KEY, make_rows
j = Journal.open({str(state)!r})
run = j.create_run(KEY, source_file="a.csv", source_path="/a.csv", campaign_name="Hot",
                   mapping_name="m", dry_run=False)
j.add_rows(run.run_id, make_rows(0, 10))
j.mark_chunk_sent(run.run_id, 0, list(range(6)))
print(run.run_id, flush=True)
os._exit(9)   # no close, no finish: as if killed
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 9, done.stderr
    run_id = done.stdout.strip()
    with Journal.open(state) as j:
        run = j.find_unfinished(KEY)
        assert run is not None and run.run_id == run_id and run.outcome is None
        assert j.status_counts(run_id) == {"sent": 6, "planned": 4}
        assert [c.seqs for c in j.unknown_chunks(run_id)] == [[0, 1, 2, 3, 4, 5]]


def test_two_threads_share_one_journal(journal: Journal) -> None:
    run = new_run(journal)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for n in range(20):
                start = offset + n * 50
                journal.add_rows(run.run_id, make_rows(start, start + 50))
                journal.mark_chunk_sent(run.run_id, start, list(range(start, start + 50)))
                journal.mark_chunk_done(run.run_id, start,
                                        [(s, "added", "", 0) for s in range(start, start + 50)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(o,)) for o in (0, 1000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert journal.status_counts(run.run_id) == {"added": 2000}
    assert [r.seq for r in journal.rows(run.run_id)] == list(range(2000))


def test_finished_runs_drop_resend_payloads_but_not_fields(journal: Journal) -> None:
    run = new_run(journal)
    journal.add_rows(run.run_id, make_rows(0, 3))
    journal.finish_run(run.run_id, "incomplete", {"failed": 3})
    assert all(r.target_json for r in journal.rows(run.run_id))
    journal.finish_run(run.run_id, "finished", {"added": 3})
    rows = list(journal.rows(run.run_id))
    assert [r.target_json for r in rows] == [None] * 3
    assert rows[2].fields["var_LeadID"] == "2"


# ----------------------------------------------------------------------- history


def _add_confirmed(j: Journal, run: RunRecord, seqs: range) -> None:
    j.add_rows(run.run_id, make_rows(seqs.start, seqs.stop))
    j.mark_chunk_sent(run.run_id, seqs.start, list(seqs))
    j.mark_chunk_done(run.run_id, seqs.start, [(s, "added", "", 0) for s in seqs])


def test_confirmed_rows_enter_history_and_age_out(journal: Journal, clock: FakeClock) -> None:
    run = new_run(journal)
    _add_confirmed(journal, run, range(0, 3))
    assert journal.recently_added(KEY.campaign_key, 30) == set(PHONES[:3])
    assert journal.recently_added("another-campaign", 30) == set()
    assert journal.recently_added(KEY.campaign_key, 30, exclude_run=run.run_id) == set()
    clock.advance(days=10)
    later = new_run(journal, OTHER_KEY, name="nightly.xlsx")
    _add_confirmed(journal, later, range(2, 5))
    assert journal.recently_added(KEY.campaign_key, 30) == set(PHONES[:5])
    assert journal.recently_added(KEY.campaign_key, 7) == set(PHONES[2:5])
    assert journal.recently_added(KEY.campaign_key, 0) == set()
    clock.advance(days=25)
    assert journal.recently_added(KEY.campaign_key, 30) == set(PHONES[2:5])
    entries = journal.history(PHONES[2])
    assert [(e.source_file, e.row, e.added_at, e.campaign_name) for e in entries] == [
        ("nightly.xlsx", 4, "2026-12-08T14:30:05Z", "Hot leads"),
        ("leads.csv", 4, "2026-11-28T14:30:05Z", "Hot leads"),
    ]
    assert journal.history_matching("050-234-5672") == entries
    assert journal.history_matching("972502345672") == entries
    assert journal.history_matching("12") == []


def test_record_history_is_idempotent_and_dry_runs_record_nothing(journal: Journal) -> None:
    run = new_run(journal)
    _add_confirmed(journal, run, range(0, 2))
    entries = [(PHONES[0], 2, "added"), (PHONES[2], 4, "updated")]
    journal.record_history(KEY.campaign_key, "Hot leads", entries,
                           run_id=run.run_id, source_file="leads.csv")
    assert len(journal.history(PHONES[0])) == 1
    assert journal.history(PHONES[2])[0].action == "updated"
    dry = new_run(journal, OTHER_KEY, dry_run=True)
    journal.add_rows(dry.run_id, make_rows(5, 6))
    journal.update_rows(dry.run_id, [(5, "added", "", 0)])
    assert journal.history(PHONES[5]) == []


def test_prune_forgets_old_rows_and_history(journal: Journal, clock: FakeClock) -> None:
    old = new_run(journal)
    _add_confirmed(journal, old, range(0, 2))
    journal.finish_run(old.run_id, "finished", {"added": 2})
    unfinished = new_run(journal, OTHER_KEY)
    journal.add_rows(unfinished.run_id, make_rows(0, 2))
    clock.advance(days=100)
    assert journal.prune(90) == 1
    assert list(journal.rows(old.run_id)) == []
    assert journal.get_run(old.run_id).counts == {"added": 2}
    assert len(list(journal.rows(unfinished.run_id))) == 2
    # Dedupe reads the history: it goes only when asked for, separately.
    assert len(journal.history(PHONES[0])) == 1
    journal.prune(90, history_older_than_days=120)
    assert len(journal.history(PHONES[0])) == 1
    journal.prune(90, history_older_than_days=90)
    assert journal.history(PHONES[0]) == []


def test_campaign_key_is_a_salted_fingerprint(tmp_path: Path, journal: Journal) -> None:
    key = journal.campaign_key("ABCDEFGH12345")
    assert key == journal.campaign_key("ABCDEFGH12345")
    assert key != journal.campaign_key("ABCDEFGH12346")
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    with Journal.open(tmp_path / "elsewhere") as other:
        assert other.campaign_key("ABCDEFGH12345") != key


# ----------------------------------------------------------------------- reports


def test_regenerated_report_rows(journal: Journal) -> None:
    run = new_run(journal)
    journal.add_rows(run.run_id, make_rows(0, 4))
    journal.update_rows(run.run_id, [(3, "duplicate_in_batch", "same phone as row 2", None)])
    journal.mark_chunk_sent(run.run_id, 0, [0, 1])
    journal.mark_chunk_done(run.run_id, 0, [(0, "added", "", 0)])
    rows = list(journal.regenerate_report_rows(run.run_id))
    assert [(r.row, r.status) for r in rows] == [
        (2, Status.ADDED), (3, Status.FAILED), (4, Status.FAILED), (5, Status.DUPLICATE_IN_BATCH)]
    assert "answer not recorded" in rows[1].reason
    assert "not sent yet" in rows[2].reason
    assert rows[3].reason == "same phone as row 2"
    assert {r.campaign for r in rows} == {"Hot leads"}
    assert {r.source_file for r in rows} == {"leads.csv"}
    assert rows[0].fields == {"CustomerName": "ישראל 0", "var_LeadID": "0"}


def test_field_names_fall_back_to_the_rows(journal: Journal) -> None:
    run = journal.create_run(KEY, source_file="a.csv", source_path="/a.csv", campaign_name="C",
                             mapping_name="", dry_run=False)
    journal.add_rows(run.run_id, make_rows(0, 2))
    assert journal.field_names(run.run_id) == ["CustomerName", "var_LeadID"]
    journal.set_field_names(run.run_id, ["var_LeadID"])
    assert journal.field_names(run.run_id) == ["var_LeadID"]


# ----------------------------------------------------------------------- CLI


@pytest.fixture
def populated(tmp_path: Path, clock: FakeClock) -> tuple[Path, list[str]]:
    """A journal with a finished run and an unfinished one with an unanswered chunk."""
    state = tmp_path / "cli-state"
    with Journal.open(state, clock=clock) as j:
        first = new_run(j)
        _add_confirmed(j, first, range(0, 3))
        j.add_rows(first.run_id, make_rows(3, 4))
        j.update_rows(first.run_id, [(3, "invalid_phone", "too short", None)])
        j.finish_run(first.run_id, "finished", {"added": 3, "invalid_phone": 1},
                     {"csv": "reports/leads.csv"})
        clock.advance(days=1, minutes=2)
        second = new_run(j, OTHER_KEY, name="nightly-export-from-the-crm-system.xlsx",
                         campaign="Retention campaign north")
        _add_confirmed(j, second, range(0, 1))
        j.add_rows(second.run_id, make_rows(1, 3))
        j.mark_chunk_sent(second.run_id, 1, [1, 2])
    return state, [first.run_id, second.run_id]


def test_cli_runs_lists_recent_runs(populated: tuple[Path, list[str]]) -> None:
    state, (first, second) = populated
    result = CliRunner().invoke(cli, ["runs", "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "RUN                   STARTED (UTC)     FILE                              CAMPAIGN"
        "             MODE    OUTCOME     ADDED  UPDATED  REMOVED  SKIPPED  REJECTED  FAILED",
        f"{second}  2026-11-29 14:32  nightly-export-from-the-crm-sys…  Retention campaign…"
        "  append  unfinished      1        0        0        0         0       0",
        f"{first}  2026-11-28 14:30  leads.csv                         Hot leads"
        "            append  finished        3        0        0        1         0       0",
    ]


def test_cli_runs_json_and_limit_and_env_state_dir(
    populated: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, (_first, second) = populated
    monkeypatch.setenv("LEAD_IMPORTER_STATE_DIR", str(state))
    result = CliRunner().invoke(cli, ["runs", "--json", "--limit", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["state_dir"] == str(state)
    (run,) = data["runs"]
    assert run["run_id"] == second and run["outcome"] is None
    assert run["counts"] == {"added": 1, "sent": 2}
    assert run["key"]["campaign_key"] == OTHER_KEY.campaign_key


def test_cli_runs_on_an_empty_state_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["runs", "--state-dir", str(tmp_path / "none")])
    assert result.exit_code == 0
    assert result.output == f"No runs recorded in {tmp_path / 'none'}.\n"
    assert not (tmp_path / "none").exists()


def test_cli_runs_show(populated: tuple[Path, list[str]]) -> None:
    state, (first, second) = populated
    result = CliRunner().invoke(cli, ["runs", "show", "20261129", "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"Run           {second}" in lines
    assert "Outcome       unfinished" in lines
    assert "  sent        2" in lines
    assert any(line.startswith("Unanswered    1 chunk(s), 2 row(s) sent") for line in lines)
    shown = CliRunner().invoke(cli, ["runs", "--state-dir", str(state), "show", first, "--json"])
    data = json.loads(shown.output)
    assert data["report_paths"] == {"csv": "reports/leads.csv"}
    assert data["unknown_chunks"] == []
    missing = CliRunner().invoke(cli, ["runs", "show", "zzz", "--state-dir", str(state)])
    assert missing.exit_code == 2
    assert "no run 'zzz'" in missing.stderr


def test_cli_runs_report_regenerates_the_files(
    populated: tuple[Path, list[str]], tmp_path: Path
) -> None:
    state, (first, _second) = populated
    out = tmp_path / "again"
    result = CliRunner().invoke(cli, ["runs", "report", first, "--state-dir", str(state),
                                      "--report-dir", str(out), "--report-format", "csv,json"])
    assert result.exit_code == 0, result.output
    csv_path = next(out.glob("leads.*.report.csv"))
    assert f"Wrote {csv_path}" in result.output
    rows = read_report_csv(csv_path)
    assert [(r["row"], r["status"], r["phone"]) for r in rows] == [
        ("2", "added", PHONES[0]), ("3", "added", PHONES[1]), ("4", "added", PHONES[2]),
        ("5", "invalid_phone", PHONES[3])]
    assert rows[0]["campaign"] == "Hot leads" and rows[0]["CustomerName"] == "ישראל 0"
    summary = json.loads(next(out.glob("leads.*.summary.json")).read_text(encoding="utf-8"))
    assert summary["run_id"] == first
    assert summary["counts"]["added"] == 3


def test_cli_history(populated: tuple[Path, list[str]]) -> None:
    state, (first, second) = populated
    result = CliRunner().invoke(cli, ["history", "050-234-5670", "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "WHEN (UTC)           PHONE          ACTION  CAMPAIGN                  FILE"
        "                                     ROW  RUN",
        "2026-11-29 14:32:05  +972502345670  added   Retention campaign north  "
        f"nightly-export-from-the-crm-system.xlsx  2    {second}",
        "2026-11-28 14:30:05  +972502345670  added   Hot leads                 leads.csv"
        f"                                2    {first}",
    ]
    as_json = CliRunner().invoke(cli, ["history", "+972 50-234-5671", "--json",
                                       "--state-dir", str(state)])
    data = json.loads(as_json.output)
    assert data["phone"] == PHONES[1]
    assert [e["run_id"] for e in data["imports"]] == [first]
    never = CliRunner().invoke(cli, ["history", "050-234-5679", "--state-dir", str(state)])
    assert never.output == (
        f"+972502345679 was never imported by lead-importer (journal: {state}).\n")
    bad = CliRunner().invoke(cli, ["history", "abc", "--state-dir", str(state)])
    assert bad.exit_code == 2 and "not a phone number" in bad.output


def test_cli_runs_prune(populated: tuple[Path, list[str]]) -> None:
    state, _ids = populated
    result = CliRunner().invoke(cli, ["runs", "prune", "--older-than", "3650",
                                      "--state-dir", str(state)])
    assert result.exit_code == 0
    assert result.output == (
        "Dropped the rows of 0 finished run(s) older than 3650 day(s).\n"
        "The import history (what dedupe checks) was kept.\n"
    )


def test_cli_runs_report_of_a_pruned_run_says_so(
    populated: tuple[Path, list[str]], tmp_path: Path, clock: FakeClock
) -> None:
    state, (first, _second) = populated
    with Journal.open(state, clock=clock) as j:
        clock.advance(days=400)
        assert j.prune(30) == 1
    result = CliRunner().invoke(cli, ["runs", "report", first, "--state-dir", str(state),
                                      "--report-dir", str(tmp_path / "again")])
    assert result.exit_code == 2
    assert "pruned" in result.stderr and "runs show" in result.stderr
    assert not (tmp_path / "again").exists()


def test_cli_report_format_is_checked_the_same_by_every_command(
    populated: tuple[Path, list[str]], tmp_path: Path
) -> None:
    state, (first, _second) = populated
    rerun = CliRunner().invoke(cli, ["runs", "report", first, "--state-dir", str(state),
                                     "--report-format", "csv,pdf"])
    imported = CliRunner().invoke(cli, ["import", str(tmp_path / "any.csv"),
                                        "--report-format", "csv,pdf"])
    message = "choose from csv, xlsx, json (comma-separated), not 'csv,pdf'"
    for result in (rerun, imported):
        assert result.exit_code == 2
        assert "--report-format" in result.stderr and message in result.stderr
    assert not (tmp_path / "reports").exists()


def test_cli_history_refuses_an_unknown_region(populated: tuple[Path, list[str]]) -> None:
    state, _runs = populated
    result = CliRunner().invoke(
        cli, ["history", "050-234-5670", "--region", "ZZ", "--state-dir", str(state)]
    )
    assert result.exit_code == 2  # it was 70, "unexpected internal error"
    assert "'ZZ' is not a country code" in result.output
