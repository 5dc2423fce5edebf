"""Streaming one file through classify → push → report, in windows, in input order.

A *window* is the rows read since the previous chunk was cut.  When a window
holds ``chunk_size`` rows to send, it is recorded in the journal ("planned",
then "sent"), handed to a worker thread, and a new window starts.  At most
``concurrency`` windows are in flight; the oldest is settled first, so report
rows leave in input order and memory stays bounded by the windows in flight.
Journal writes happen only on the calling thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from importer.calling_hours import zones_from_cell
from importer.dedupe import DUPLICATE_PENDING_ACCOUNT, DedupeChecks
from importer.dialer.client import DialerClient
from importer.dialer.idempotent import idempotent_call
from importer.dialer.models import CallTarget, Campaign
from importer.dialer.retry import RetryPolicy
from importer.errors import ApiError, JournalError, RunInterruptedError
from importer.i18n.reasons import ReasonKind, join_reasons
from importer.journal import Journal, JournalRow
from importer.mapping import BoundMapping, MappedRow, with_custom_data
from importer.mapping.not_leads import sort_rows
from importer.mapping.scheduling import Scheduler
from importer.outcomes import PUSHED, REJECTS_STATUSES, RowResult, Status
from importer.push import API_REJECTED, ChunkPusher, Outcome, Planned
from importer.report import RejectsWriter, ReportWriter
from importer.sources import Source, open_sources
from importer.sources.model import SourceInfo, SourceOptions, SourceRow
from importer.upsert import Previous, UpdatePlan, plan_update

__all__ = [
    "DoneRow",
    "FileRun",
    "RunContext",
    "target_from_json",
    "target_to_json",
]

_WOULD_ADD = Outcome(Status.WOULD_ADD)

_Align = Callable[[tuple[str, ...]], tuple[str, ...]]

#: A row an earlier attempt of a resumed run settled: (status, reason, error_code, sheet, row).
DoneRow = tuple[str, str, int | None, str | None, int]


@dataclass(slots=True)
class RunContext:
    """What every file of one run shares."""

    client: DialerClient
    campaign: Campaign
    mode: str
    checks: DedupeChecks
    pusher: ChunkPusher
    campaign_key: str
    journal: Journal | None
    retry: RetryPolicy
    dry_run: bool
    chunk_size: int
    concurrency: int
    cancel: threading.Event
    progress: Callable[[str, int], None]
    source_phones: set[str] = field(default_factory=set)
    # --mode upsert: each pending number's details, to merge the file's values onto.
    pending_details: dict[str, Previous] = field(default_factory=dict)
    columnar: bool = False  # map rows by blocks (importer/engine/) instead of one by one


@dataclass(slots=True)
class _Window:
    results: list[tuple[int, RowResult]] = field(default_factory=list)
    planned: list[Planned] = field(default_factory=list)
    updates: list[Planned] = field(default_factory=list)
    plans: dict[int, UpdatePlan] = field(default_factory=dict)   # by seq, one per update
    # Source cells of rows that are, or may become (sent rows), rejects: by seq.
    cells: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # calling_hours.timezone_column: the zones a row's cells name, by seq (when they name any).
    zones: dict[int, tuple[str, ...]] = field(default_factory=dict)
    chunk_no: int = 0
    unknown: bool = False  # some rows' fate could not be established

    def sendable(self) -> int:
        return len(self.planned) + len(self.updates)


class FileRun:
    """Streams one file; ``run()`` writes every row to ``writer`` in input order."""

    def __init__(
        self,
        ctx: RunContext,
        path: Path,
        bind: Callable[[SourceInfo], BoundMapping],
        source_options: SourceOptions,
        *,
        run_id: str,
        ref_key: str | None,
        writer: ReportWriter,
        done_rows: dict[int, DoneRow],
        first_chunk_no: int,
        replaced: dict[int, Previous] | None = None,
        rejects: RejectsWriter | None = None,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.ctx = ctx
        # Calling hours (None: off): each chunk's rows are decided as the chunk is sent.
        self.scheduler = scheduler
        self.path = path
        # What reports, notes and errors call the file (an upload's name, say).
        self.name = source_options.name or path.name
        self.bind = bind
        self.source_options = source_options
        self.run_id = run_id
        self.ref_key = ref_key
        self.writer = writer
        self.done_rows = done_rows
        self.next_chunk_no = first_chunk_no
        # A resumed upsert names its changes against the details recorded before its first
        # attempt (which may have been applied already), by seq.
        self.replaced = replaced or {}
        self.rejects = rejects
        self.processed = 0
        self.pushed = 0  # calls this run added or updated, recorded or not (for a stop message)
        self._in_flight: list[tuple[_Window, Future[dict[int, Outcome]]]] = []

    def run(self) -> None:
        """Read, classify, push and report every row; raises RunInterruptedError on cancel."""
        try:
            stopped = self._stream(self._new_window())
        except BaseException:
            self.pushed += self._unsettled_pushes()
            raise
        # A signal that came after the last row was read stops nothing: the run is complete.
        if stopped:
            raise RunInterruptedError(
                f"{self.name}: interrupted after {self.processed} row(s); their state is "
                "recorded. Run the same command again to finish."
            )

    def _stream(self, window: _Window) -> bool:
        """Read, dispatch and settle every row; True when a cancel stopped the reading."""
        ctx = self.ctx
        seq = 0
        stopped = False  # the reading stopped before the end of the file
        with ThreadPoolExecutor(
            max_workers=max(1, ctx.concurrency), thread_name_prefix="push"
        ) as pool:
            try:
                for source in open_sources(self.path, self.source_options):
                    with source:
                        bound = self.bind(source.info)
                        align = self._aligner(source.info.columns)
                        if self._by_blocks():
                            if not self._dry_run_blocks(source, bound, align):
                                stopped = True
                                break
                            continue
                        if ctx.columnar:
                            from importer import engine

                            rows = engine.columnar_sorted_rows(
                                engine.sheet_blocks(source, bound.width),
                                bound,
                                source.info.header_cells,
                            )
                        else:
                            rows = sort_rows(
                                source.rows(blank_rows=True),
                                bound.map_row,
                                source.info.header_cells,
                            )
                        for row, mapped, not_a_lead in rows:
                            if ctx.cancel.is_set():
                                stopped = True
                                break
                            self._classify(row, mapped, not_a_lead, seq, bound, window)
                            if self.rejects is not None:
                                self._keep_cells(window, seq, row, align)
                            seq += 1
                            if window.sendable() >= ctx.chunk_size:
                                self._dispatch(window, pool)
                                window = self._new_window()
                                # Keep `concurrency` chunks sending while the next fills.
                                while len(self._in_flight) > max(1, ctx.concurrency):
                                    self._settle_oldest()
                    if stopped:
                        break
                if window.results:
                    self._dispatch(window, pool)
                while self._in_flight:
                    self._settle_oldest()
            except RunInterruptedError:
                # A chunk was waiting for the rate limit when the run was stopped. Its window
                # stays "sent" in the journal: the re-run checks the campaign before resending.
                stopped = True
            finally:
                for _window, future in self._in_flight:
                    future.cancel()
        return stopped

    def _by_blocks(self) -> bool:
        """Whether this file's rows are classified and reported a block at a time."""
        ctx = self.ctx
        return ctx.columnar and ctx.dry_run and ctx.mode == "append" and not self.done_rows

    def _dry_run_blocks(self, source: Source, bound: BoundMapping, align: _Align) -> bool:
        """A dry run of one sheet by the columnar engine; False when cancelled."""
        ctx = self.ctx
        done_before = self.processed

        def progress(done: int) -> None:
            self.processed = done_before + done
            ctx.progress(self.name, self.processed)

        from importer import engine

        run = engine.BlockDryRun(
            ctx.checks, ctx.campaign.name, self.writer, ctx.cancel, progress, self.rejects, align,
            scheduler=self.scheduler,
        )
        blocks = engine.sheet_blocks(source, bound.width)
        return run.run_sheet(blocks, bound, source.info.header_cells)

    def _aligner(self, columns: list[str]) -> _Align:
        """Cells of this sheet in the rejects file's column order (sheets may differ)."""
        wanted = self.rejects.columns if self.rejects is not None else columns
        if wanted == columns:
            return lambda cells: cells
        where = {name: i for i, name in enumerate(wanted)}
        places = [where.get(name, -1) for name in columns]

        def align(cells: tuple[str, ...]) -> tuple[str, ...]:
            out = [""] * len(wanted)
            for place, cell in zip(places, cells, strict=False):
                if place >= 0:
                    out[place] = cell
            return tuple(out)

        return align

    @staticmethod
    def _keep_cells(window: _Window, seq: int, row: SourceRow, align: _Align) -> None:
        """Keep the cells of a row the rejects file may need; others are not held in memory."""
        # Once per row of every file: plain tests, no generator.
        planned, updates = window.planned, window.updates
        if (
            (planned and planned[-1].seq == seq)
            or (updates and updates[-1].seq == seq)
            or window.results[-1][1].status in REJECTS_STATUSES
        ):
            window.cells[seq] = align(row.cells)

    def _unsettled_pushes(self) -> int:
        """Calls accepted in chunks that were answered but not settled when the run stopped."""
        count = 0
        for _window, future in self._in_flight:
            if future.done() and not future.cancelled() and future.exception() is None:
                count += sum(o.status in PUSHED for o in future.result().values())
        return count

    def _new_window(self) -> _Window:
        window = _Window(chunk_no=self.next_chunk_no)
        self.next_chunk_no += 1
        return window

    def _classify(
        self,
        row: SourceRow,
        mapped: MappedRow,
        not_a_lead: str | None,
        seq: int,
        bound: BoundMapping,
        window: _Window,
    ) -> None:
        ctx = self.ctx
        if self.done_rows:
            self._check_resumed(seq, row)
        if not_a_lead is not None:
            # A title, header, footer or blank row: its mapped fields would only show
            # defaults and constants as if it were a lead; the reason says what it is.
            window.results.append((seq, RowResult(
                row.file, row.sheet, row.row, mapped.phone_raw, "", Status.NOT_A_LEAD,
                not_a_lead, None, ctx.campaign.name, {},
            )))
            return
        phone = mapped.phone
        e164 = (phone.e164 or "") if mapped.problem is None else ""
        reason = mapped.reason
        if row.problems:
            reason = join_reasons(reason, *row.problems)
        result = RowResult(
            row.file, row.sheet, row.row, mapped.phone_raw, e164, Status.WOULD_ADD, reason,
            None, ctx.campaign.name, mapped.fields,
        )
        window.results.append((seq, result))
        if mapped.problem is not None or mapped.target is None or not e164:
            result.status = mapped.problem or Status.MISSING_PHONE
            return
        if ctx.mode == "sync":  # only sync needs the set of every number in the source
            ctx.source_phones.add(e164)
        previous = self.done_rows.get(seq) if self.done_rows else None
        if previous is not None:
            # A resumed run: this row was settled by an earlier attempt.
            status, reason, code = previous[:3]
            ctx.checks.mark_seen(e164)
            result.status = Status(status)
            result.reason = join_reasons(result.reason, reason)
            result.error_code = code
            return
        skip, why = ctx.checks.check(e164, upsert=(ctx.mode == "upsert"))
        target = mapped.target
        ref: str | None = None
        if self.ref_key and not ctx.dry_run:  # a dry run sends nothing to reconcile
            ref = f"{self.run_id or 'dry'}-{seq}"
            target = with_custom_data(target, self.ref_key, ref)
        if skip is Status.UPDATED:
            skip, why = self._plan_update(mapped, bound, Planned(seq, e164, target, ref), window)
        if skip is None:
            window.planned.append(Planned(seq, e164, target, ref))
            if bound.zone_columns and self.scheduler is not None:
                zones = row_zones(row.cells, bound.zone_columns)
                if zones is not None:
                    window.zones[seq] = zones
        elif skip is not Status.UPDATED:
            result.status = skip
            result.reason = join_reasons(reason, why)

    def _plan_update(
        self, mapped: MappedRow, bound: BoundMapping, planned: Planned, window: _Window
    ) -> tuple[Status | None, str]:
        """Plan the UpdateCall of a pending number: the file's values merged onto its details.

        Returns UPDATED when planned; a number pending only in another campaign of the
        account (``pending_scope: account``) is a duplicate: an UpdateCall would add it here.
        """
        current = self.ctx.pending_details.get(planned.e164)
        if current is None:
            return Status.DUPLICATE_PENDING, DUPLICATE_PENDING_ACCOUNT
        empty = [
            name
            for name, value in mapped.fields.items()
            if not value and name not in bound.absent_fields
        ]
        plan = plan_update(
            planned.target,
            current,
            empty=empty,
            clear_empty=bound.mapping.upsert.clear_empty,
            ref_key=self.ref_key,
            baseline=self.replaced.get(planned.seq),
        )
        planned.target = plan.target
        window.updates.append(planned)
        window.plans[planned.seq] = plan
        return Status.UPDATED, ""

    def _check_resumed(self, seq: int, row: SourceRow) -> None:
        """Refuse to resume when the journal's rows do not line up with the file's.

        Settled rows are found again by their place in the file; if an earlier version
        numbered the rows otherwise (before blank rows were listed, say), a row would take
        another row's "added" and never be sent.
        """
        done = self.done_rows.get(seq)
        if done is None or (done[3], done[4]) == (row.sheet, row.row):
            return
        sheet = f"sheet {row.sheet!r}, " if row.sheet else ""
        raise JournalError(
            f"{self.name}: the unfinished run {self.run_id} cannot be resumed: the "
            f"journal's row {seq + 1} is the file's {sheet}row {done[4]}, but it is now read "
            f"as row {row.row} (the run was probably started by an earlier version of "
            "lead-importer). Nothing from that row on was sent. Finish the run with the version "
            "that started it, or import the file with another --state-dir: numbers already "
            "pending in the campaign are then skipped (duplicate_pending)."
        )

    def _dispatch(self, window: _Window, pool: ThreadPoolExecutor) -> None:
        """Record the window in the journal, then send its chunk (nothing for a dry run)."""
        ctx = self.ctx
        if self.scheduler is not None and window.planned:
            self._schedule(window, self.scheduler)
        targets = {p.seq: p for p in (*window.planned, *window.updates)}
        if ctx.journal is not None:
            ctx.journal.add_rows(
                self.run_id,
                (
                    JournalRow(
                        seq=seq,
                        sheet=res.sheet,
                        row=res.row,
                        phone_raw=res.phone_raw,
                        phone=res.phone,
                        status="planned" if seq in targets else res.status.value,
                        reason=res.reason,
                        error_code=res.error_code,
                        import_ref=targets[seq].ref if seq in targets else None,
                        chunk_no=window.chunk_no if seq in targets else None,
                        fields=res.fields,
                        target_json=target_to_json(targets[seq].target) if seq in targets else None,
                    )
                    for seq, res in window.results
                ),
            )
            if targets:
                ctx.journal.mark_chunk_sent(
                    self.run_id,
                    window.chunk_no,
                    sorted(targets),
                    updates=[p.seq for p in window.updates],
                    replaced=[
                        (p.seq, p.e164, window.plans[p.seq].previous.to_json())
                        for p in window.updates
                    ],
                )
        future: Future[dict[int, Outcome]]
        if ctx.dry_run or not targets:
            future = Future()
            # Outcomes are frozen: one shared instance serves every row to add.
            outcomes = {s: Outcome(Status.WOULD_UPDATE, p.reason) for s, p in window.plans.items()}
            future.set_result(
                outcomes | dict.fromkeys((p.seq for p in window.planned), _WOULD_ADD)
            )
        else:
            future = pool.submit(self._send, window)
        self._in_flight.append((window, future))

    @staticmethod
    def _schedule(window: _Window, scheduler: Scheduler) -> None:
        """Calling hours, decided now, as the chunk goes out: a long import keeps deciding."""
        now = scheduler.clock()
        results = dict(window.results)
        for planned in window.planned:
            planned.target, decision = scheduler.apply(
                planned.e164, planned.target, now, window.zones.get(planned.seq)
            )
            result = results[planned.seq]
            result.dial_after = decision.dial_after
            if decision.reason:
                result.reason = join_reasons(result.reason, decision.reason)

    def _send(self, window: _Window) -> dict[int, Outcome]:
        ctx = self.ctx
        outcomes: dict[int, Outcome] = {}
        if window.planned:
            chunk = ctx.pusher.push(window.planned)
            outcomes.update(chunk.outcomes)
            window.unknown = chunk.unknown
        for planned in window.updates:
            reason = window.plans[planned.seq].reason
            outcomes[planned.seq] = update_one(
                ctx.client, ctx.campaign.code, planned, ctx.retry, reason
            )
        return outcomes

    def _settle_oldest(self) -> None:
        window, future = self._in_flight.pop(0)
        outcomes = future.result()
        added: list[tuple[str, int, str]] = []
        for seq, result in window.results:
            outcome = outcomes.get(seq)
            if outcome is not None:
                result.status = outcome.status
                if outcome.reason:
                    result.reason = join_reasons(result.reason, outcome.reason)
                result.error_code = outcome.error_code
                if outcome.status in PUSHED:
                    added.append((result.phone, result.row, outcome.status.value))
        self.pushed += len(added)
        # The journal first: if the report then cannot be written (a full disk), the
        # re-run knows these rows from the journal instead of asking the campaign.
        self._record(window, outcomes, added)
        for _seq, result in window.results:
            self.writer.write(result)
        if self.rejects is not None:
            for seq, result in window.results:
                cells = window.cells.get(seq)
                if cells is not None and result.status in REJECTS_STATUSES:
                    self.rejects.write(cells, result.reason, result.row)
        self.processed += len(window.results)
        self.ctx.progress(self.name, self.processed)

    def _record(
        self, window: _Window, outcomes: dict[int, Outcome], added: list[tuple[str, int, str]]
    ) -> None:
        journal = self.ctx.journal
        if journal is None or not outcomes:
            return
        updates = [
            (seq, o.status.value, o.reason, o.error_code)
            for seq, o in outcomes.items()
            if not (window.unknown and o.status is Status.FAILED)
        ]
        if window.unknown:
            # Leave the chunk "sent": a re-run reconciles it before resending anything.
            journal.update_rows(self.run_id, updates)
        else:
            journal.mark_chunk_done(self.run_id, window.chunk_no, updates)
        if added:
            journal.record_history(
                self.ctx.campaign_key,
                self.ctx.campaign.name,
                added,
                run_id=self.run_id,
                source_file=self.name,
            )


def row_zones(cells: tuple[str, ...], columns: list[int]) -> tuple[str, ...] | None:
    """The zones the first of ``columns`` that names any gives (None: the number's)."""
    for column in columns:
        if column < len(cells):
            zones = zones_from_cell(cells[column])
            if zones is not None:
                return zones
    return None


def target_to_json(target: CallTarget) -> str:
    """The target as JSON without its campaign code, for the journal."""
    body = target.to_json("")
    body.pop("Campaign", None)
    return json.dumps(body, ensure_ascii=False)


def target_from_json(text: str | None) -> CallTarget:
    """Rebuild a target stored by ``target_to_json``."""
    data = json.loads(text or "{}")
    return CallTarget(
        target=str(data.get("Target", "")),
        customer_name=data.get("CustomerName"),
        caller_id=data.get("CallerID"),
        priority=data.get("Priority"),
        custom_data=data.get("CustomData"),
        originate_time=data.get("OriginateTime"),
        is_date_local=data.get("IsDateLocal"),
        ignore_dnc_status=data.get("IgnoreDncStatus"),
    )


NOT_UPDATED = ReasonKind("not_updated", "not updated after retries: {error}")
NOT_REMOVED = ReasonKind("not_removed", "not removed: {description}")
NOT_REMOVED_RETRIES = ReasonKind("not_removed_after_retries", "not removed after retries: {error}")
SYNC_REMOVED = ReasonKind("sync_removed", "pending in the campaign but not in the source")()


def update_one(
    client: DialerClient, code: str, planned: Planned, policy: RetryPolicy, reason: str
) -> Outcome:
    """UpdateCall for one pending number; safe to retry (it only sets fields).

    ``reason`` (what the update changes) is the report's reason when it succeeds.
    """
    try:
        ok, error = idempotent_call(
            lambda: client.update_call(code, planned.target),
            policy,
            paused=client.limiter.thread_waited,
        )
    except ApiError as exc:
        return Outcome(Status.REJECTED, API_REJECTED(description=exc.description), exc.code)
    if ok:
        return Outcome(Status.UPDATED, reason)
    return Outcome(Status.FAILED, NOT_UPDATED(error=error))


def remove_one(client: DialerClient, code: str, phone: str, policy: RetryPolicy) -> Outcome:
    """RemoveCall (removes every occurrence; answers OK when absent, so safe to retry)."""
    try:
        ok, error = idempotent_call(
            lambda: client.remove_call(code, phone), policy, paused=client.limiter.thread_waited
        )
    except ApiError as exc:
        return Outcome(Status.FAILED, NOT_REMOVED(description=exc.description), exc.code)
    if ok:
        return Outcome(Status.REMOVED, SYNC_REMOVED)
    return Outcome(Status.FAILED, NOT_REMOVED_RETRIES(error=error))
