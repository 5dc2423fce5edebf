"""A dry run of an append import, a block at a time: classify and report whole columns.

What ``FileRun`` does row by row for a dry run (importer/file_run.py ``_classify`` and
``_settle_oldest``), done here on columns with the same rules in the same order:

* a row the not-a-lead sorter names (blank, repeated header, title, footer) is
  ``not_a_lead`` with that reason, no phone and no fields;
* a row without a usable number keeps its phone problem (``missing_phone`` when none);
* a usable number is ``suppressed``, then ``duplicate_in_batch`` (the run-wide set of
  numbers seen, first occurrence wins), ``duplicate_pending``, ``duplicate_history``,
  else ``would_add``;
* reasons: the mapping's notes, then the reader's ragged-row notes, then why a
  duplicate was skipped.

Only dry runs of ``--mode append`` come here: upserts and syncs need each row's
details, and real imports record every row in the journal as they send it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from importer.dedupe import (
    DUPLICATE_HISTORY,
    DUPLICATE_IN_BATCH,
    DUPLICATE_PENDING,
    SUPPRESSED,
    DedupeChecks,
)
from importer.engine.blocks import Block
from importer.engine.helper import helper_scope
from importer.engine.mapper import BlockMapper, MappedBlock
from importer.engine.reasons import ReasonColumn
from importer.engine.threads import available_threads
from importer.i18n.reasons import join_reasons
from importer.mapping import BoundMapping
from importer.mapping.not_leads import LeadSorter
from importer.mapping.scheduling import Scheduler
from importer.outcomes import REJECTS_STATUSES, Status
from importer.report import RejectsWriter, ReportWriter
from importer.report.block import ReportBlock, report_lines
from importer.report.writer import ReasonTexts

__all__ = ["BlockDryRun"]

_STATUSES = list(Status)
_CODE = {s: i for i, s in enumerate(_STATUSES)}
_NAMES = pa.array([s.value for s in _STATUSES], type=pa.string())
# A phone result's problem -> status code (None: no number, as for a missing phone).
_PROBLEM_CODE: dict[Status | None, int] = {s: i for s, i in _CODE.items()}
_PROBLEM_CODE[None] = _CODE[Status.MISSING_PHONE]
_REJECT_CODES = np.array([_CODE[s] for s in _STATUSES if s in REJECTS_STATUSES], dtype=np.int8)
# Why a usable number is skipped, by the index _dedupe gives it.
_SKIPPED: list[str] = ["", SUPPRESSED, DUPLICATE_IN_BATCH, DUPLICATE_PENDING, DUPLICATE_HISTORY]


@dataclass(slots=True)
class _Pending:
    """A mapped block whose rows are not all out yet, and the not-a-lead reasons found."""

    number: int
    mapped: MappedBlock
    reasons: dict[int, str] = field(default_factory=dict)
    done: int = 0  # rows before this one are out


class _LeadWalk:
    """The not-a-lead sorter over blocks: only rows without a usable number (and the rows
    after a held one) are looked at; a block goes out once every row in it is decided."""

    def __init__(self, header_cells: Sequence[str]) -> None:
        self.sorter: LeadSorter[tuple[int, int]] = LeadSorter(header_cells)
        self.pending: list[_Pending] = []
        self.count = 0

    def feed(self, mapped: MappedBlock) -> Iterator[tuple[_Pending, int, int]]:
        """Sort one block; yield (block, start, stop) for every run of decided rows."""
        item = _Pending(self.count, mapped)
        self.count += 1
        self.pending.append(item)
        sorter = self.sorter
        n = len(mapped)
        todo = np.flatnonzero(~mapped.usable).tolist()
        rows = dict(zip(todo, mapped.block.source_rows_at(todo), strict=True))
        at = 0      # the next of ``todo`` to look at
        pos = 0     # rows before this one are settled or handed to the sorter
        while True:
            if sorter.held:
                if pos >= n:
                    break
                index = pos
            else:
                while at < len(todo) and todo[at] < pos:
                    at += 1
                if at >= len(todo):
                    break
                index = todo[at]
            problem = mapped.phone.at(index)[2]
            row = rows[index] if index in rows else mapped.block.source_row(index)
            self._record(sorter.see(row, problem, (item.number, index)))
            pos = index + 1
        yield from self._ready()

    def finish(self) -> Iterator[tuple[_Pending, int, int]]:
        """The end of the sheet: every held row is decided."""
        self._record(self.sorter.finish())
        yield from self._ready()

    def _record(self, decided: Iterable[tuple[object, tuple[int, int], str | None]]) -> None:
        for _row, (number, index), reason in decided:
            if reason is not None:
                # Blocks are numbered in order and only the ones not yet out are pending.
                self.pending[number - self.pending[0].number].reasons[index] = reason

    def _ready(self) -> Iterator[tuple[_Pending, int, int]]:
        held = self.sorter.held
        stop_at = held[0][1] if held else None
        while self.pending:
            item = self.pending[0]
            n = len(item.mapped)
            if stop_at is not None and item.number == stop_at[0]:
                if stop_at[1] > item.done:
                    yield item, item.done, stop_at[1]
                    item.done = stop_at[1]
                return
            if item.done < n:
                yield item, item.done, n
            self.pending.pop(0)


class BlockDryRun:
    """Classifies and reports the blocks of one file's sheets (a dry run, ``--mode append``)."""

    def __init__(
        self,
        checks: DedupeChecks,
        campaign: str,
        writer: ReportWriter,
        cancel: threading.Event,
        progress: Callable[[int], None],
        rejects: RejectsWriter | None = None,
        align: Callable[[tuple[str, ...]], tuple[str, ...]] | None = None,
        *,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.checks = checks
        self.scheduler = scheduler
        self.progress = progress
        self.rejects = rejects
        self.align = align or (lambda cells: cells)
        self.campaign = campaign
        self.writer = writer
        self.cancel = cancel
        self.processed = 0
        self._sets: dict[str, pa.Array] = {}
        self._lines: ThreadPoolExecutor | None = None

    def run_sheet(
        self, blocks: Iterable[Block], bound: BoundMapping, header_cells: Sequence[str]
    ) -> bool:
        """Report every row of one sheet; False when a cancel stopped it between blocks."""
        walk = _LeadWalk(header_cells)
        with helper_scope() as held, ThreadPoolExecutor(1, "report-lines") as lines:
            # The report's CSV lines are made on a thread while the next block is mapped:
            # Arrow's writer and numpy let go of the GIL for most of that work.
            self._lines = lines if available_threads() >= 2 else None
            try:
                mapped_blocks = BlockMapper(bound).map_blocks(blocks, held)
                with contextlib.closing(mapped_blocks):
                    for mapped in mapped_blocks:
                        if self.cancel.is_set():
                            return False
                        for item, start, stop in walk.feed(mapped):
                            self._report(item, start, stop)
                        self.progress(self.processed)
                for item, start, stop in walk.finish():
                    self._report(item, start, stop)
                self.writer.write_waiting_lines()
            finally:
                self._lines = None
        return True

    def _lines_later(self, texts: list[pa.Array | str]) -> Callable[[], bytes]:
        assert self._lines is not None
        return self._lines.submit(report_lines, texts).result

    # --- classifying ---------------------------------------------------------------------

    def _report(self, item: _Pending, start: int, stop: int) -> None:
        mapped = item.mapped
        block = mapped.block
        n = stop - start
        usable = mapped.usable[start:stop]
        not_lead = np.zeros(n, dtype=np.bool_)
        not_lead_reason: dict[int, str] = {}
        for index, why_not in item.reasons.items():
            if start <= index < stop:
                not_lead[index - start] = True
                not_lead_reason[index - start] = why_not
        problems = np.fromiter(
            map(_PROBLEM_CODE.__getitem__, mapped.phone.part(2)), dtype=np.int8
        )[mapped.phone.codes[start:stop]]
        status = np.where(usable, _CODE[Status.WOULD_ADD], problems).astype(np.int8)
        texts = self.writer.reason_texts
        reason = _with_row_problems(
            mapped.reasons(texts).slice(start, stop), block, start, stop, texts
        )
        phone = mapped.e164()[start:stop]
        check = usable & ~not_lead
        why = self._dedupe(phone, check, status)
        reason = reason.then(ReasonColumn.spread(_SKIPPED, why, texts))
        dial_after: pa.Array | str = ""
        if self.scheduler is not None:
            sent = (status == _CODE[Status.WOULD_ADD]) & ~not_lead
            reason, dial_after = _schedule(
                self.scheduler, mapped, start, sent, phone, reason, texts
            )
        if not_lead.any():
            status[not_lead] = _CODE[Status.NOT_A_LEAD]
            mask = pa.array(not_lead)
            reason = reason.replaced(
                not_lead, [not_lead_reason[i] for i in sorted(not_lead_reason)], texts
            )
            phone = pc.if_else(mask, "", phone)
        fields = {
            name: (pc.if_else(pa.array(not_lead), "", text) if not_lead.any() else text)
            for name, text in ((n, t[start:stop]) for n, t in mapped.field_texts())
        }
        self._write_rejects(block, start, status, reason)
        self.writer.write_block(
            ReportBlock(
                source_file=block.file,
                sheet=block.sheet,
                rows=block.rows[start:stop],
                phone_raw=mapped.phone_raw()[start:stop],
                phone=phone,
                status=_NAMES.take(pa.array(status)),
                reason=reason.shown,
                reason_code=reason.code,
                campaign=self.campaign,
                fields=fields,
                dial_after=dial_after,
            ),
            lines_later=self._lines_later if self._lines is not None else None,
        )
        self.processed += n

    def _write_rejects(
        self, block: Block, start: int, status: npt.NDArray[np.int8], reason: ReasonColumn
    ) -> None:
        """Rows to fix go to the rejects file with their cells as read (FileRun does the same
        row by row)."""
        if self.rejects is None:
            return
        chosen = np.flatnonzero(np.isin(status, _REJECT_CODES))
        if not len(chosen):
            return
        picked = pa.array(chosen + start)
        # The aligner moves cells: aligning the column numbers says where each column goes.
        places = self.align(tuple(str(i) for i in range(len(block.columns))))
        columns: list[pa.Array | str] = [
            block.columns[int(place)].take(picked) if place else "" for place in places
        ]
        rows = pc.cast(pa.array(block.rows[chosen + start]), pa.string())
        picked_reasons = reason.take(pa.array(chosen))
        self.rejects.write_columns(columns, picked_reasons.shown, picked_reasons.code, rows)

    def _dedupe(
        self, phone: pa.Array, check: npt.NDArray[np.bool_], status: npt.NDArray[np.int8]
    ) -> npt.NDArray[np.int64]:
        """Settle the usable rows' statuses in ``status``; return why each was skipped (an
        index into _SKIPPED, 0 for not skipped)."""
        why = np.zeros(len(status), dtype=np.int64)
        rows = np.flatnonzero(check)
        if not len(rows):
            return why
        checks = self.checks
        numbers = phone.take(pa.array(rows))
        if checks.suppressed:
            hit = self._in("suppressed", numbers, checks.suppressed)
            status[rows[hit]] = _CODE[Status.SUPPRESSED]
            why[rows[hit]] = 1
            rows, numbers = rows[~hit], numbers.filter(pa.array(~hit))
        keys = pc.cast(pc.utf8_slice_codeunits(numbers, 1), pa.int64()).to_numpy()
        new = np.zeros(len(rows), dtype=np.bool_)
        distinct, first = _first_rows(keys)
        # A number's first row here is new only if no earlier block (or file) of the run had
        # it; the block's distinct numbers go into the run-wide set at once, sorted.
        new[first[checks.seen.add_many(distinct)]] = True
        if checks.batch:
            repeat = ~new
            status[rows[repeat]] = _CODE[Status.DUPLICATE_IN_BATCH]
            why[rows[repeat]] = 2
            rows, numbers = rows[new], numbers.filter(pa.array(new))
        if checks.pending is not None and len(checks.pending):
            hit = self._in("pending", numbers, checks.pending.phones)
            status[rows[hit]] = _CODE[Status.DUPLICATE_PENDING]
            why[rows[hit]] = 3
            rows, numbers = rows[~hit], numbers.filter(pa.array(~hit))
        if checks.history:
            hit = self._in("history", numbers, checks.history)
            status[rows[hit]] = _CODE[Status.DUPLICATE_HISTORY]
            why[rows[hit]] = 4
        return why

    def _in(self, name: str, numbers: pa.Array, values: set[str]) -> npt.NDArray[np.bool_]:
        value_set = self._sets.get(name)
        if value_set is None:
            value_set = self._sets[name] = pa.array(sorted(values), type=pa.string())
        hit: npt.NDArray[np.bool_] = (
            pc.is_in(numbers, value_set=value_set).to_numpy(zero_copy_only=False)
        )
        return hit


def _first_rows(
    keys: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The distinct keys, sorted, and the index of each one's first occurrence: one
    unstable sort (a stable one, as ``np.unique(return_index=True)`` makes, is ~3x slower);
    the first of equal keys is the smallest index among them."""
    order = np.argsort(keys)
    if not len(order):
        return keys, order
    ordered = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[starts], np.minimum.reduceat(order, starts)


def _schedule(
    scheduler: Scheduler,
    mapped: MappedBlock,
    start: int,
    sent: npt.NDArray[np.bool_],
    phone: pa.Array,
    reason: ReasonColumn,
    texts: ReasonTexts,
) -> tuple[ReasonColumn, pa.Array | str]:
    """Calling hours for the rows that would be sent: the scheduler's decision once per
    distinct (number prefix, OriginateTime), spread back over the rows; (reason, dial_after)."""
    rows = np.flatnonzero(sent)
    if not len(rows):
        return reason, ""
    from importer.calling_hours import prefix_length, zones_for_e164

    now = scheduler.clock()
    numbers = phone.take(pa.array(rows))
    # Zones by the digits that decide them (engine/distinct.py's idea, on number prefixes).
    heads = pc.utf8_slice_codeunits(numbers, 1, 4).dictionary_encode()
    depths = np.array([prefix_length(h) for h in heads.dictionary.to_pylist()], dtype=np.int64)
    row_depth = depths[heads.indices.to_numpy(zero_copy_only=False)]
    zone_ids: dict[tuple[str, ...], int] = {}
    zone_codes = np.zeros(len(rows), dtype=np.int64)
    for depth in np.unique(row_depth).tolist():
        chosen = np.flatnonzero(row_depth == depth)
        prefixes = pc.utf8_slice_codeunits(numbers.take(pa.array(chosen)), 0, 1 + depth)
        encoded = prefixes.dictionary_encode()
        ids = np.array([zone_ids.setdefault(zones_for_e164(p), len(zone_ids))
                        for p in encoded.dictionary.to_pylist()], dtype=np.int64)
        zone_codes[chosen] = ids[encoded.indices.to_numpy(zero_copy_only=False)]
    for column in reversed(mapped.bound.zone_columns):
        # The first column naming a zone wins: later columns are laid down first.
        _zones_from_column(mapped.block.columns[column].take(pa.array(rows + start)),
                           zone_ids, zone_codes)
    zones = list(zone_ids)
    step = next((out for s, out in mapped.steps if s.role == "originate"), None)
    if step is None:
        values: list[int | None] = [None]
        originate_codes = np.zeros(len(rows), dtype=np.int64)
    else:
        # The value sent (an epoch or None), as MappedBlock.target reads it.
        values = [out[1] if isinstance(out[1], int) else None for out in step.results.outputs]
        originate_codes = step.results.codes[rows + start]
    keys = zone_codes * len(values) + originate_codes
    distinct, inverse = np.unique(keys, return_inverse=True)
    decisions = [
        scheduler.decide(zones[int(k) // len(values)], values[int(k) % len(values)], now)
        for k in distinct
    ]
    # Every row points at its decision; rows not sent point at the blank one after the last.
    pick = np.full(len(sent), len(decisions), dtype=np.int64)
    pick[rows] = inverse
    picked = pa.array(pick)
    when = pa.array([*(d.dial_after for d in decisions), ""], type=pa.string()).take(picked)
    if not any(d.reason for d in decisions):
        return reason, when
    why = ReasonColumn.spread([*(d.reason for d in decisions), ""], picked, texts)
    return reason.then(why), when


def _zones_from_column(
    cells: pa.Array, zone_ids: dict[tuple[str, ...], int], zone_codes: npt.NDArray[np.int64]
) -> None:
    """Rows whose time-zone cell names a zone take that zone (calling_hours.timezone_column)."""
    from importer.calling_hours import zones_from_cell

    encoded = cells.dictionary_encode()
    ids = np.array([
        -1 if (zones := zones_from_cell(text)) is None
        else zone_ids.setdefault(zones, len(zone_ids))
        for text in encoded.dictionary.to_pylist()
    ], dtype=np.int64)
    chosen = ids[encoded.indices.to_numpy(zero_copy_only=False)]
    named = chosen >= 0
    zone_codes[named] = chosen[named]


def _with_row_problems(
    reason: ReasonColumn, block: Block, start: int, stop: int, texts: ReasonTexts
) -> ReasonColumn:
    """The reader's notes (ragged rows) after the mapping's, as ``_classify`` adds them."""
    touched = sorted(i for i in block.problems if start <= i < stop)
    if not touched:
        return reason
    mask = np.zeros(stop - start, dtype=np.bool_)
    mask[[i - start for i in touched]] = True
    problems = [join_reasons(*block.problems[i]) for i in touched]
    return reason.then(ReasonColumn.empty(stop - start).replaced(mask, problems, texts))
