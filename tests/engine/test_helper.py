"""The helper process (importer/engine/helper.py): its answers are the rule's, and a child
that dies or fails costs time, never a result."""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest

from importer.emulator.server import EmulatorServer
from importer.engine import helper, mapper
from importer.engine.helper import Helper, PhoneOut, PhoneOuts
from importer.i18n.reasons import KINDS, Reason
from importer.phones import PhoneNormalizer, PhonePolicy
from tests.engine.differential import assert_same, run_both

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    "fork" not in __import__("multiprocessing").get_all_start_methods(),
    reason="the helper forks (Linux)",
)

NORMALIZER = PhoneNormalizer(PhonePolicy())
TEXTS = [
    "052-1234567",          # a clean mobile: rebuilt from the columns
    " 0521234568 ",         # stripped
    "521234569",            # a lost leading zero: a note
    "03-6123456 ext. 12",   # an extension
    "050-1234567",          # not an allocated block: a problem with a reason
    "",                     # missing
    "hello",                # words
    "+44 20 7946 0958",     # abroad
]


def rule(text: str) -> PhoneOut:
    """A phone cell rule shaped like BoundMapping.phone_cell_rule's."""
    raw = text.strip()
    result = NORMALIZER.normalize_uncached(raw)
    if text == "boom":
        raise ValueError("the rule failed")
    sent = result.e164 or "" if result.ok else ""
    return raw, result, result.problem, result.reason, sent


def _same(got: list[PhoneOut], want: list[PhoneOut]) -> None:
    assert got == want
    for (_, result, _, note, _), (_, expected, _, expected_note, _) in zip(got, want, strict=True):
        for mine, theirs in ((result.reason, expected.reason), (note, expected_note)):
            if isinstance(theirs, Reason):
                assert isinstance(mine, Reason) and mine.notes == theirs.notes
                assert all(kind is KINDS[kind.code] for kind, _ in mine.notes)


def _rows(worker: Helper, cells: list[str]) -> list[PhoneOut]:
    """Each row's result as the helper answers (row -> distinct index -> result)."""
    ids, outs = worker.phones(pa.array(cells, type=pa.string()))()
    assert len(ids) == len(cells)
    return [outs[int(i)] for i in ids]


def test_the_answers_are_the_rules() -> None:
    cells = TEXTS + TEXTS[:3]  # repeated cells: one distinct result each
    want = [rule(t) for t in cells]
    worker = Helper(rule)
    try:
        ids, answer = worker.phones(pa.array(cells, type=pa.string()))()
        assert isinstance(answer, PhoneOuts)  # it came from the child
        assert len(answer) == len(TEXTS)
        _same([answer[int(i)] for i in ids], want)
        distinct = [rule(t) for t in TEXTS]
        parts = answer.parts()
        for index in (0, 2, 3, 4):
            assert list(parts[index]) == [w[index] for w in distinct]
        assert list(parts[1]) == [w[1] for w in distinct]
        assert answer.arrays()[4].to_pylist() == [w[4] for w in distinct]
        # the next block goes to the child too
        assert worker.alive
        _same(_rows(worker, TEXTS[::-1]), [rule(t) for t in TEXTS[::-1]])
    finally:
        worker.close()


def test_a_child_that_dies_costs_time_not_results() -> None:
    worker = Helper(rule)
    try:
        os.kill(worker._process.pid, signal.SIGKILL)
        worker._process.join(timeout=10)
        _same(_rows(worker, TEXTS), [rule(t) for t in TEXTS])
        assert not worker.alive
        _same(_rows(worker, TEXTS), [rule(t) for t in TEXTS])
    finally:
        worker.close()


def test_a_rule_that_raises_raises_here() -> None:
    worker = Helper(rule)
    try:
        answer = worker.phones(pa.array(["052-1234567", "boom"]))
        with pytest.raises(ValueError, match="the rule failed"):
            answer()
    finally:
        worker.close()


def test_closing_with_an_answer_unread_lets_the_child_go() -> None:
    worker = Helper(rule)
    pid = worker._process.pid
    worker.phones(pa.array([f"052{i:07d}" for i in range(20_000)]))
    worker.close()
    assert not worker.alive
    assert not os.path.exists(f"/proc/{pid}")  # stopped and reaped


def test_the_child_leaves_signals_to_the_parent() -> None:
    """Ctrl-C and SIGTERM sent to the process group are the parent's to handle (it stops the
    run after the chunks in flight and says so once); the child goes when told."""
    worker = Helper(rule)
    try:
        worker.phones(pa.array(TEXTS))()  # the child is past its set-up
        status = Path(f"/proc/{worker._process.pid}/status").read_text()
        ignored = int(next(line for line in status.splitlines()
                           if line.startswith("SigIgn:")).split()[1], 16)
        assert ignored & (1 << (signal.SIGINT - 1)) and ignored & (1 << (signal.SIGTERM - 1))
    finally:
        worker.close()


def test_a_reason_keeps_its_kind_across_a_pipe() -> None:
    result = rule("521234569")[1]
    reason = result.reason
    assert isinstance(reason, Reason) and reason.notes
    copy = pickle.loads(pickle.dumps(reason))
    assert copy == reason and copy.notes == reason.notes
    assert copy.notes[0][0] is reason.notes[0][0]
    assert pickle.loads(pickle.dumps(result)) == result


def test_one_thread_means_no_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAD_IMPORTER_THREADS", "1")
    assert not helper.wanted()
    monkeypatch.setenv("LEAD_IMPORTER_THREADS", "2")
    assert helper.wanted()


def test_a_dry_run_hands_its_phones_to_the_helper(
    shared_emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The differential tests' ``helper=True`` runs really use it (and every block after
    the first goes to it)."""
    asked: list[int] = []

    class Counted(Helper):
        def phones(
            self, column: pa.Array
        ) -> Callable[[], tuple[npt.NDArray[np.int64], Sequence[PhoneOut]]]:
            asked.append(len(column))
            return super().phones(column)

    monkeypatch.setattr(mapper, "Helper", Counted)
    source = ROOT / "sample_data" / "google_ads_leads.csv"  # one phone column
    row, columnar = run_both([source], tmp_path, shared_emulator, mapping=None, helper=True)
    assert_same(row, columnar, "google_ads_leads.csv with a helper")
    assert len(asked) >= 3
