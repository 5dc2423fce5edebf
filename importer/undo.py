"""``runs undo``: take an import back, exactly, from what the journal knows it did.

A run's journal says which rows it **added** (and with which import reference),
which pending calls it **updated** (and what the update replaced: the ``replaced``
table) and, for ``--mode sync``, which calls it **removed** (``sync_removed``).  An
undo reads the campaign's pending calls once, then per number:

* added, and its own call still pending: RemoveCall -> ``removed``;
* no longer pending (dialled): left alone -> ``already_dialled``;
* pending because of another run (a call with another import reference, or the
  import history shows a later run added it): kept -> ``kept_added_later``;
* updated: UpdateCall with the details it replaced -> ``restored`` (kept when a
  later run changed it again);
* removed by sync: added back -> ``restored``;
* a write refused or unanswered after retries -> ``failed`` (a re-run retries it).

Numbers that were pending before the run (``duplicate_pending``) were never added
by it, so they are never looked at.  Every number is an item in the journal
(``undo_items``), marked "sending" before its request and "done" with its status
after, so a killed undo is finished by running it again, and a finished one is
never repeated.  Removed and restored numbers leave the import history's
``history_days`` window (their line becomes "undone"): they may be imported again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from importer.campaigns import resolve_campaign
from importer.config import Settings
from importer.dialer.client import DialerClient
from importer.dialer.models import CallTarget, Campaign, PendingCall
from importer.dialer.retry import RetryPolicy
from importer.errors import (
    EXIT_OK,
    EXIT_ROWS_FAILED,
    ConfigError,
    LockError,
    RunInterruptedError,
)
from importer.file_run import remove_one, update_one
from importer.i18n import N_, Lang
from importer.journal import Journal, RunRecord, UndoItem, UndoRecord, sha256_file
from importer.locking import CampaignLock
from importer.outcomes import Note, RowResult, Status, Summary
from importer.phones import pending_key
from importer.push import ChunkPusher, Planned
from importer.redact import register_secret
from importer.report import REPORT_FORMATS, ReportWriter
from importer.upsert import Previous

__all__ = ["UndoOptions", "UndoResult", "find_run_of_file", "undo_run"]

log = logging.getLogger(__name__)

#: Requests recorded "sending" together: a kill leaves at most this many in doubt.
BATCH = 50

Decision = tuple[Status, str]


@dataclass(frozen=True, slots=True)
class UndoOptions:
    """What one ``runs undo`` needs besides the API settings."""

    run_id: str
    campaign: str | None = None      # name or code; default: the run's campaign, by name
    dry_run: bool = False
    report_dir: Path = Path("reports")
    report_formats: frozenset[str] = REPORT_FORMATS
    state_dir: Path | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lock_timeout: float = 10.0
    language: Lang = "en"            # what people read in the undo's reports


@dataclass(slots=True)
class UndoResult:
    """What an undo did (or, dry, would do)."""

    run: RunRecord
    undo_id: str
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    reports: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    exit_code: int = EXIT_OK
    already_undone: bool = False     # finished earlier: nothing was changed now
    resumed: bool = False            # an earlier attempt was interrupted


def find_run_of_file(journal: Journal, path: Path) -> RunRecord:
    """The latest real run that imported a file with these bytes (drop folders' done/)."""
    run_id = journal.run_of_file(sha256_file(path))
    if run_id is None:
        raise ConfigError(
            f"{path.name}: no import of this file is recorded in the journal {journal.path} "
            "(was it imported with another state directory, or as a dry run?)"
        ).with_hint("")
    return journal.get_run(run_id)


def undo_run(
    options: UndoOptions, settings: Settings, *, cancel: threading.Event | None = None
) -> UndoResult:
    """Undo one run (see the module docstring); raises ImporterError when it cannot proceed."""
    state_dir = options.state_dir or settings.resolved_state_dir()
    if not Journal.path_for(state_dir).exists():
        raise ConfigError(f"no runs are recorded in {state_dir}; nothing to undo").with_hint(
            "Pass the --state-dir (or --config) the import used."
        )
    with Journal.open(state_dir) as journal:
        return _Undo(journal, options, settings, cancel or threading.Event()).run()


class _Undo:
    """One undo's state."""

    def __init__(
        self,
        journal: Journal,
        options: UndoOptions,
        settings: Settings,
        cancel: threading.Event,
    ) -> None:
        self.journal = journal
        self.options = options
        self.settings = settings
        self.cancel = cancel
        self.run_record = journal.get_run(options.run_id)
        self.pending: dict[str, list[PendingCall]] = {}
        self.later: dict[str, str] = {}
        self.removed_now: set[str] = set()

    # ------------------------------------------------------------------ checks

    def run(self) -> UndoResult:
        """Check, then undo (or preview) with the campaign locked."""
        run = self.run_record
        if run.dry_run:
            raise ConfigError(
                f"run {run.run_id} was a dry run: it changed nothing, so there is nothing to undo"
            ).with_hint("")
        done = self.journal.undo_of(run.run_id)
        if done is not None and done.outcome == "finished":
            return self._already(done)
        if sum(run.counts.values()) and not self.journal.status_counts(run.run_id):
            raise ConfigError(
                f"run {run.run_id}'s rows were pruned from the journal (`runs prune`), so it "
                "cannot be undone: which calls it added is no longer known"
            ).with_hint("")
        client = DialerClient(self.settings, retry=self.options.retry, cancel=self.cancel)
        try:
            campaign = self._campaign(client)
            if self.options.dry_run:
                return self._execute(client, campaign, None)
            with self._locked(campaign):
                undo = self.journal.start_undo(run.run_id)
                if undo.outcome == "incomplete":
                    self.journal.retry_failed_undo_items(undo.undo_id)
                return self._execute(client, campaign, undo)
        finally:
            client.close()

    def _already(self, done: UndoRecord) -> UndoResult:
        note = (
            f"Run {done.run_id} was already undone ({done.undo_id}, finished "
            f"{done.finished_at}): nothing was changed now."
        )
        return UndoResult(
            run=self.run_record,
            undo_id=done.undo_id,
            dry_run=self.options.dry_run,
            counts=dict(done.counts),
            reports={k: Path(v) for k, v in done.report_paths.items()},
            notes=[note],
            already_undone=True,
        )

    def _campaign(self, client: DialerClient) -> Campaign:
        """The run's campaign, found by name (or ``--campaign``) and checked by fingerprint."""
        run = self.run_record
        wanted = self.options.campaign or run.campaign_name
        campaign = resolve_campaign(client, wanted, self.settings.account_code)
        register_secret(campaign.code)
        if self.journal.campaign_key(campaign.code) != run.key.campaign_key:
            raise ConfigError(
                f"campaign {campaign.name!r} is not the campaign run {run.run_id} imported "
                f"into (a campaign named {run.campaign_name!r} then): pass the right one "
                "with --campaign (its name, or its code)"
            )
        return campaign

    @contextmanager
    def _locked(self, campaign: Campaign) -> Iterator[None]:
        """Hold the campaign like an import does: nothing adds to it while we read and undo."""
        lock = CampaignLock(
            campaign.code,
            self.settings.lock_dir,
            self.options.lock_timeout,
            campaign_name=campaign.name,
            purpose=f"undoing run {self.run_record.run_id}",
        )
        try:
            lock.acquire(timeout=0)
        except LockError:
            if self.options.lock_timeout <= 0:
                raise
            log.warning("another import into campaign %r is running; waiting up to %g s",
                        campaign.name, self.options.lock_timeout)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    # ------------------------------------------------------------------ the undo

    def _execute(
        self, client: DialerClient, campaign: Campaign, undo: UndoRecord | None
    ) -> UndoResult:
        run = self.run_record
        dry = undo is None
        calls = client.get_campaign_pending_calls(campaign.code).calls
        for call in calls:
            self.pending.setdefault(pending_key(call.phone), []).append(call)
        self.later = self.journal.changed_later(run.run_id)
        undo_id = undo.undo_id if undo is not None else f"undo-{run.run_id}"
        summary = Summary(
            source_file=run.source_file,
            campaign=campaign.name,
            mode="undo",
            dry_run=dry,
            started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            run_id=run.run_id,
            notes=[self._headline(undo_id, dry)],
        )
        resumed = undo is not None and (undo.outcome is not None or self._has_done(undo))
        if resumed:
            summary.notes.append(
                Note(N_("An earlier attempt was interrupted; this one finished it.")))
        summary.notes.extend(self._sync_notes())
        writer = self._writer(summary)
        pusher = ChunkPusher(client, campaign.code, policy=self.options.retry, ref_key=None)
        worker = _Worker(self, client, campaign, pusher, undo)
        with writer:
            if undo is not None:
                self.journal.set_undo_reports(
                    undo.undo_id, {k: str(p.absolute()) for k, p in writer.paths.items()}
                )
            try:
                for page in self._pages(undo):
                    if self.cancel.is_set():
                        raise RunInterruptedError(
                            f"the undo of run {run.run_id} was interrupted; its progress is "
                            "recorded: run the same command again to finish it"
                        )
                    for item, status, reason in worker.settle(page):
                        writer.write(self._row(item, status, reason, campaign))
            except RunInterruptedError:
                if undo is not None:
                    self.journal.finish_undo(undo.undo_id, "interrupted", dict(writer.counts), {})
                raise
            summary.counts = dict(writer.counts)
            summary.total_rows = writer.total
            failed = summary.counts.get(Status.FAILED.value, 0)
            summary.exit_code = EXIT_ROWS_FAILED if failed else EXIT_OK
            if not writer.total:
                summary.notes.append(
                    Note(N_("The run added, updated or removed no call: nothing to undo.")))
            reports = writer.close(summary)
        if undo is not None:
            self.journal.finish_undo(
                undo.undo_id,
                "incomplete" if failed else "finished",
                summary.counts,
                {k: str(p) for k, p in reports.items()},
            )
        return UndoResult(
            run=run,
            undo_id=undo_id,
            dry_run=dry,
            counts={k: v for k, v in summary.counts.items() if v},
            reports=reports,
            notes=summary.notes,
            exit_code=summary.exit_code,
            resumed=resumed,
        )

    def _has_done(self, undo: UndoRecord | None) -> bool:
        if undo is None:
            return False
        return any(item.state != "planned" for item in self.journal.undo_items(undo.undo_id))

    def _headline(self, undo_id: str, dry: bool) -> str:
        run = self.run_record
        what = "What undoing" if dry else f"Undo {undo_id} of"
        tail = " would do (dry run: nothing was changed)" if dry else ""
        return f"{what} run {run.run_id} ({run.source_file}, {run.mode}, {run.started_at}){tail}."

    def _sync_notes(self) -> list[str]:
        """A sync run recorded before removals were journalled cannot have them added back."""
        run = self.run_record
        removed = run.counts.get(Status.REMOVED.value, 0)
        if run.mode != "sync" or not removed or self.journal.sync_removals(run.run_id):
            return []
        return [
            f"This sync run removed {removed} call(s) before lead-importer recorded removals; "
            "they are not added back. Its backup CSV (named in the run's summary) holds them: "
            "import it with mappings/voicenter-pending.yaml to add them back."
        ]

    def _pages(self, undo: UndoRecord | None) -> Iterator[list[UndoItem]]:
        after = -1
        while True:
            page = (
                self.journal.undo_candidates(self.run_record.run_id, after)
                if undo is None
                else self.journal.undo_items(undo.undo_id, after)
            )
            if not page:
                return
            yield page
            after = page[-1].item

    def _writer(self, summary: Summary) -> ReportWriter:
        run = self.run_record
        name = Path(run.source_file)
        return ReportWriter(
            self.options.report_dir,
            f"{name.stem}-undo-{run.run_id}{name.suffix}",
            formats=self.options.report_formats,
            field_names=self.journal.field_names(run.run_id),
            summary=summary,
            language=self.options.language,
        )

    def _row(self, item: UndoItem, status: str, reason: str, campaign: Campaign) -> RowResult:
        return RowResult(
            source_file=self.run_record.source_file,
            sheet=item.sheet,
            row=item.row,
            phone_raw=item.phone_raw,
            phone=item.phone,
            status=Status(status),
            reason=reason,
            campaign=campaign.name,
            fields=dict(item.fields),
        )

    # ------------------------------------------------------------------ deciding

    def decide(self, item: UndoItem) -> Decision | None:
        """The item's status when no request is needed; None when one must be sent."""
        calls = self.pending.get(item.phone, [])
        if item.kind == "readd":
            if not calls:
                return None
            if item.state == "sending":
                return Status.RESTORED, "added back by the interrupted attempt of this undo"
            return Status.KEPT_ADDED_LATER, "pending again already: not added a second time"
        if item.kind == "restore":
            if not calls:
                return Status.ALREADY_DIALLED, "no longer pending: nothing to restore"
            if item.phone in self.later:
                return (
                    Status.KEPT_ADDED_LATER,
                    f"changed again by run {self.later[item.phone]}: its details are kept",
                )
            return None
        return self._decide_removal(item, calls)

    def _decide_removal(self, item: UndoItem, calls: list[PendingCall]) -> Decision | None:
        if item.phone in self.removed_now:
            return Status.REMOVED, "removed with an earlier row of the same number"
        ours, others = self._split(item, calls)
        if not calls:
            if item.state == "sending":
                return Status.REMOVED, "removed by the interrupted attempt of this undo"
            return Status.ALREADY_DIALLED, "no longer pending (dialled since the import)"
        if others:
            later = self.later.get(item.phone)
            reason = (
                f"pending again: run {later} added or updated it later"
                if later
                else "another pending call of this number was not added by this run"
            )
            if ours:
                reason += "; RemoveCall would remove both, so both are kept"
            return Status.KEPT_ADDED_LATER, reason
        return None

    def _split(
        self, item: UndoItem, calls: list[PendingCall]
    ) -> tuple[list[PendingCall], list[PendingCall]]:
        """The pending calls of the number this run added, and the others."""
        if item.import_ref:
            ours = [c for c in calls if _carries(c, item.import_ref)]
            return ours, [c for c in calls if not _carries(c, item.import_ref)]
        # No reference was sent: the import history is all there is to tell them apart.
        if item.phone in self.later:
            return [], calls
        return calls, []


class _Worker:
    """Sends an undo's requests, recording each batch before and after."""

    def __init__(
        self,
        undo: _Undo,
        client: DialerClient,
        campaign: Campaign,
        pusher: ChunkPusher,
        record: UndoRecord | None,
    ) -> None:
        self.undo = undo
        self.client = client
        self.campaign = campaign
        self.pusher = pusher
        self.record = record

    def settle(self, page: list[UndoItem]) -> list[tuple[UndoItem, str, str]]:
        """Every item of a page with its final status and reason, in order."""
        final: dict[int, tuple[str, str]] = {}
        to_send: list[UndoItem] = []
        for item in page:
            if item.state == "done":
                final[item.item] = (item.status, item.reason)
                continue
            decided = self.undo.decide(item)
            if decided is None:
                to_send.append(item)
                if item.kind == "remove":
                    self.undo.removed_now.add(item.phone)
            else:
                final[item.item] = (decided[0].value, decided[1])
        journal = self.undo.journal
        if self.record is not None:
            decided_now = [
                (it, *final[it.item]) for it in page if it.state != "done" and it.item in final
            ]
            self._record(decided_now)
        for start in range(0, len(to_send), BATCH):
            batch = to_send[start : start + BATCH]
            if self.record is not None:
                journal.mark_undo_sending(self.record.undo_id, [it.item for it in batch])
            outcomes = self._send(batch)
            final.update({it.item: outcomes[it.item] for it in batch})
            if self.record is not None:
                self._record([(it, *outcomes[it.item]) for it in batch])
        return [(item, *final[item.item]) for item in page]

    def _record(self, results: list[tuple[UndoItem, str, str]]) -> None:
        if not results or self.record is None:
            return
        run = self.undo.run_record
        self.undo.journal.mark_undo_done(
            self.record,
            (run.key.campaign_key, run.campaign_name),
            run.source_file,
            results,
        )

    def _send(self, batch: list[UndoItem]) -> dict[int, tuple[str, str]]:
        if self.record is None:
            return {it.item: _preview(it) for it in batch}
        out: dict[int, tuple[str, str]] = {}
        readds = [it for it in batch if it.kind == "readd"]
        for item in batch:
            if item.kind == "remove":
                out[item.item] = self._remove(item)
            elif item.kind == "restore":
                out[item.item] = self._restore(item)
        if readds:
            out.update(self._readd(readds))
        return out

    def _remove(self, item: UndoItem) -> tuple[str, str]:
        calls = self.undo.pending.get(item.phone, [])
        phone = calls[0].phone if calls else item.phone.lstrip("+")
        outcome = remove_one(self.client, self.campaign.code, phone, self.undo.options.retry)
        if outcome.status is Status.REMOVED:
            return Status.REMOVED.value, "removed: this run had added it"
        return Status.FAILED.value, outcome.reason

    def _restore(self, item: UndoItem) -> tuple[str, str]:
        calls = self.undo.pending.get(item.phone, [])
        previous = Previous.from_json(item.detail_json or "{}")
        target = _target(calls[0].phone, previous, update=True)
        planned = Planned(item.item, item.phone, target, None)
        outcome = update_one(
            self.client, self.campaign.code, planned, self.undo.options.retry, ""
        )
        if outcome.status is Status.UPDATED:
            return Status.RESTORED.value, "the details the upsert replaced are back"
        return Status.FAILED.value, f"not restored: {outcome.reason}"

    def _readd(self, items: list[UndoItem]) -> dict[int, tuple[str, str]]:
        planned = [
            Planned(
                it.item,
                it.phone,
                _target(it.phone_raw, Previous.from_json(it.detail_json or "{}"), update=False),
                None,
            )
            for it in items
        ]
        result = self.pusher.push(planned)
        out: dict[int, tuple[str, str]] = {}
        for it in items:
            outcome = result.outcomes.get(it.item)
            if outcome is not None and outcome.status is Status.ADDED:
                out[it.item] = (Status.RESTORED.value, "added back: the sync run had removed it")
            else:
                why = outcome.reason if outcome is not None else "no answer"
                out[it.item] = (Status.FAILED.value, f"not added back: {why}")
        return out


def _preview(item: UndoItem) -> tuple[str, str]:
    """A dry run's status for an item that would need a request."""
    if item.kind == "remove":
        return Status.REMOVED.value, "dry run: would be removed"
    if item.kind == "restore":
        return Status.RESTORED.value, "dry run: the details the upsert replaced would be restored"
    return Status.RESTORED.value, "dry run: would be added back (the sync run removed it)"


def _carries(call: PendingCall, ref: str) -> bool:
    """Whether a pending call carries the import reference ``ref`` in its CustomData."""
    return any(str(value) == ref for value in (call.custom_data or {}).values())


def _target(phone: str, previous: Previous, *, update: bool) -> CallTarget:
    """The call's earlier details as a target: an UpdateCall restores them, an add recreates."""
    custom: dict[str, Any] | None = dict(previous.custom_data or {})
    if not update and not custom:
        custom = None
    return CallTarget(
        target=phone,
        # An update sends the old name even when empty: the upsert may have set one.
        customer_name=previous.customer_name if update else previous.customer_name or None,
        caller_id=previous.caller_id or None,
        priority=previous.priority,
        custom_data=custom,
        originate_time=previous.originate_time,
        is_date_local=previous.is_date_local,
    )
