"""run_import(): sources → mapping → phones → dedupe → push → report. Never prints.

A run goes in three phases:

1. **Check** every file and the mapping before anything is sent: the mapping
   loads, each file opens, its columns bind.  Bad input raises (exit 2) with
   nothing pushed.
2. **Resolve** the campaign (by name or code), take its lock (``CampaignLock``:
   one import into a campaign at a time on this machine, whatever the state
   directory) and only then read what dedupe needs: the pending calls,
   suppression lists, import history.  So a second import sees what the first
   added.  A dry run adds nothing and takes no lock.
3. **Stream** each file in windows: rows are mapped and classified, the rows to
   send fill a chunk, the chunk goes out (a few in flight at once) and the
   window's rows are written to the report in input order once their chunk is
   settled.  Every window is recorded in the journal before and after its chunk
   is sent, so a killed run resumes without loss or duplicates.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Mapping as NameMap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, get_args

from importer.calling_hours import DEFAULT_ZONE, CallingHours, CallingHoursSection
from importer.campaigns import backup_file_name, resolve_campaign, write_pending_csv
from importer.config import Settings
from importer.dedupe import DedupeChecks, PendingIndex, load_suppression
from importer.dialer.client import DialerClient
from importer.dialer.models import Campaign, PendingCall
from importer.dialer.ratelimit import LimiterStats
from importer.dialer.retry import RetryPolicy
from importer.errors import (
    EXIT_OK,
    EXIT_ROWS_FAILED,
    CampaignDisabledError,
    ConfigError,
    ImporterError,
    LockError,
    MappingError,
    RunInterruptedError,
    StorageError,
)
from importer.file_run import DoneRow, FileRun, RunContext, remove_one, target_from_json
from importer.gc_tuning import relaxed_gc
from importer.headers import rejects_columns
from importer.i18n import N_, Lang
from importer.i18n.reasons import ReasonKind
from importer.journal import Journal, RunKey, RunRecord
from importer.journal.models import sha256_file, sha256_text
from importer.locking import CampaignLock, StateLock
from importer.mapping import Mapping, load_mapping, parse_mapping, suggest_mapping
from importer.mapping.binder import bind
from importer.mapping.scheduling import Scheduler, fixed_clock
from importer.outcomes import (
    DONE_STATUSES,
    PLANNED,
    SENT,
    UPDATING,
    Note,
    RowResult,
    Status,
    Summary,
)
from importer.phones import PhoneNormalizer, pending_key
from importer.plain_text import escape_controls
from importer.push import ChunkPusher, Outcome, Planned
from importer.redact import register_secret
from importer.report import (
    REPORT_FORMATS,
    RejectsWriter,
    ReportWriter,
    looks_rtl,
    rejects_base,
    rejects_base_of,
    remove_unfinished,
)
from importer.sources import open_sources, require_phone_sheet
from importer.sources.model import SourceInfo, SourceOptions
from importer.upsert import Previous, previous_by_phone

__all__ = ["FileOutcome", "ImportOptions", "ImportResult", "ProgressEvent", "run_import"]

log = logging.getLogger(__name__)

Mode = Literal["append", "upsert", "sync"]
#: How rows are mapped: see importer/engine/ and docs/decisions.md ("columnar engine").
Engine = Literal["auto", "columnar", "row"]
ENGINES: tuple[str, ...] = get_args(Engine)
# Larger AddCallsBulk requests lose their per-item results (see the spec's notes).
MAX_CHUNK = 3000
#: ``--engine auto`` maps files from this size on with the columnar engine.
AUTO_COLUMNAR_BYTES = 1 << 20
PHONE_CACHE_SIZE = 65_536


WOULD_SYNC_REMOVE = ReasonKind(
    "sync_would_remove", "dry run: would be removed (not in the source)"
)()

@dataclass(frozen=True, slots=True)
class ImportOptions:
    """Everything one import run needs besides the files and the API settings."""

    campaign: str | None = None  # name or code; None = mapping's, then settings'
    mapping_path: Path | None = None  # None = suggest a mapping from each file
    report_dir: Path = Path("reports")
    report_formats: frozenset[str] = REPORT_FORMATS
    mode: Mode | None = None  # None = the mapping's mode, else append
    dry_run: bool = False
    chunk_size: int = 3000
    engine: Engine = "auto"
    concurrency: int = 2
    allow_disabled: bool = False
    start_campaign: bool = False
    yes: bool = False  # confirm sync removals
    force: bool = False  # allow sync to remove a large share
    again: bool = False  # re-import a file already imported
    use_journal: bool = True
    state_dir: Path | None = None  # None = settings' state dir
    source_options: SourceOptions = field(default_factory=SourceOptions)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    xlsx_row_limit: int = 100_000
    lock_timeout: float = 10.0  # seconds to wait for another import into the campaign / file
    suppression: tuple[Path, ...] = ()  # do-not-call lists besides the mapping's and config's
    calling_hours_off: bool = False  # --calling-hours off: dial at once, whatever the mapping says
    # Calling hours when the mapping has none (inbox.yaml's); None: the settings'.
    calling_hours: CallingHoursSection | None = None
    now: datetime | None = None  # --now: decide calling hours as if it were then
    language: Lang = "en"  # what people read in the reports (machine columns stay English)
    # What people call a file (an upload's name in the browser), by the path given: reports,
    # their file names, notes, errors, progress and the journal's run name it so. The file's
    # own name when absent.
    display_names: NameMap[Path, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """A progress tick for the CLI's progress bar."""

    file: str
    stage: str  # "read", "push", "sync"
    done: int
    total: int | None


@dataclass(slots=True)
class FileOutcome:
    """What happened to one input file."""

    path: Path
    summary: Summary
    reports: dict[str, Path] = field(default_factory=dict)
    exit_code: int = EXIT_OK
    # SHA-256 of the file as its run began (the journal's run key): a caller that
    # hashes the file again afterwards learns whether it changed while it was read.
    sha256: str = ""


@dataclass(slots=True)
class ImportResult:
    """The outcome of a run over one or more files."""

    files: list[FileOutcome] = field(default_factory=list)
    run_id: str = ""
    exit_code: int = EXIT_OK  # or EXIT_ROWS_FAILED when rows were rejected or failed
    backups: list[Path] = field(default_factory=list)


@dataclass(slots=True)
class _Prepared:
    path: Path
    name: str  # what people call the file (ImportOptions.display_names, else its own name)
    mapping: Mapping
    mapping_text: str
    suggested: bool
    columns: list[str]
    field_names: list[str]
    normalizer: PhoneNormalizer  # built from this mapping's phone policy
    # What reading and binding noticed (sheets not read, rows above the header, repeated or
    # missing optional columns): shown with the file's summary, never only in `inspect`.
    notes: list[str]
    sha256: Callable[[], str]  # the file's SHA-256 (computed on a thread since prepare)


def _purpose(prepared: list[_Prepared]) -> str:
    """What a run holding a campaign lock is doing, for the runs that wait for it."""
    names = [item.name for item in prepared]
    more = f" and {len(names) - 1} more file(s)" if len(names) > 1 else ""
    return f"importing {escape_controls(names[0])}{more}"


def _sha256_later(path: Path) -> Callable[[], str]:
    """The file's SHA-256 on a thread while it is opened and checked (hashlib lets go of the
    GIL): a function that waits for it (and raises what reading the file raised)."""
    pool = ThreadPoolExecutor(1, "sha256")
    digest = pool.submit(sha256_file, path)
    pool.shutdown(wait=False)  # the thread ends with its one job
    return digest.result


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ref_of(call: PendingCall, ref_key: str | None) -> str | None:
    """The import reference a pending call carries in its CustomData, if any."""
    value = (call.custom_data or {}).get(ref_key) if ref_key else None
    return None if value is None else str(value)


def _normalizer(mapping: Mapping) -> PhoneNormalizer:
    # Exact repeats of a raw cell are a few percent of real files; a bounded cache keeps
    # memory flat on a million rows (each entry costs ~200 bytes).
    return PhoneNormalizer(mapping.phone_policy(), cache_size=PHONE_CACHE_SIZE)


class _Importer:
    """One run's state; see the module docstring for the phases."""

    def __init__(
        self,
        paths: Sequence[Path],
        options: ImportOptions,
        settings: Settings,
        progress: Callable[[ProgressEvent], None] | None,
        cancel: threading.Event | None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.options = options
        self.settings = settings
        self.progress = progress or (lambda _e: None)
        self.cancel = cancel or threading.Event()
        self.result = ImportResult()
        self.journal: Journal | None = None
        self.state_dir: Path | None = None
        self._file_run: FileRun | None = None  # the file being streamed, for a stop message

    # ---------------------------------------------------------------- phase 1

    def prepare(self) -> list[_Prepared]:
        """Load the mapping and check that every file opens and binds."""
        try:
            return self._prepare()
        except MappingError as exc:
            if self.options.mapping_path is None:  # then every mapping was made automatically
                exc.hint = MappingError.AUTOMATIC_HINT
            raise

    def _prepare(self) -> list[_Prepared]:
        if not self.paths:
            raise ConfigError(N_("no input files given")).with_hint("")  # the message says it all
        missing = [str(p) for p in self.paths if not p.exists()]
        if missing:
            raise ConfigError(N_("file(s) not found: {files}"),
                              files=", ".join(missing)).with_hint("")
        base_mapping: Mapping | None = None
        base_text = ""
        if self.options.mapping_path is not None:
            # load_mapping reports unreadable, non-UTF-8 and invalid files; once it has
            # succeeded the bytes are known to be text, and they fingerprint the run.
            base_mapping = load_mapping(self.options.mapping_path)
            base_text = self.options.mapping_path.read_bytes().decode("utf-8-sig")
        prepared: list[_Prepared] = []
        base_normalizer = _normalizer(base_mapping) if base_mapping else None
        for path in self.paths:
            if path.is_dir():
                raise ConfigError(f"{path} is a folder; name the files to import").with_hint("")
            name = self._display_name(path)
            digest = _sha256_later(path)
            mapping, text, suggested = base_mapping, base_text, False
            if mapping is None:
                text = suggest_mapping(path, replace(self.options.source_options, name=name))
                mapping = parse_mapping(text, source_name=f"mapping suggested for {name}")
                suggested = True
            normalizer = base_normalizer or _normalizer(mapping)
            source_options = self._source_options(mapping, name)
            columns: list[str] = []
            field_names: list[str] = []
            read: list[tuple[SourceInfo, list[str]]] = []
            for source in open_sources(path, source_options):
                with source:
                    # Before binding: "no phone column" would hide that no sheet holds phones.
                    require_phone_sheet(source.info)
                    bound = bind(mapping, source.info, normalizer=normalizer)
                    columns.extend(source.info.columns)
                    field_names.extend(f for f in bound.field_names if f not in field_names)
                    read.append((source.info, bound.notes))
            # Collected after the loop: a sheet skipped later is noted on one read before it.
            notes: list[str] = []
            seen_notes: set[str] = set()
            for info, bound_notes in read:
                for note in [*info.warnings, *bound_notes]:
                    if note not in seen_notes:  # workbook-wide notes come with every sheet
                        seen_notes.add(note)
                        notes.append(Note(N_("sheet {sheet}: {note}"), sheet=repr(info.sheet),
                                          note=note) if info.sheet else note)
            prepared.append(
                _Prepared(path, name, mapping, text, suggested, columns, field_names, normalizer,
                          notes, digest)
            )
        return prepared

    def _display_name(self, path: Path) -> str:
        """What people call the file: its display name if given, else its own name."""
        return self.options.display_names.get(path) or path.name

    def _source_options(self, mapping: Mapping, name: str) -> SourceOptions:
        """Flags win over the mapping's ``source:`` section; ``name`` is the file's."""
        from_mapping = mapping.source_options()
        flags = self.options.source_options
        default = SourceOptions()
        merged = {}
        for option in ("encoding", "delimiter", "sheet", "header_row"):
            flag_value = getattr(flags, option)
            merged[option] = (
                flag_value
                if flag_value != getattr(default, option)
                else getattr(from_mapping, option)
            )
        merged["all_sheets"] = flags.all_sheets or from_mapping.all_sheets
        return replace(flags, **merged, name=name)

    # ---------------------------------------------------------------- phase 2

    def resolve_campaign(self, client: DialerClient, prepared: list[_Prepared]) -> Campaign:
        """Find the campaign by name or code and check it may be used."""
        wanted = (
            self.options.campaign
            or next((p.mapping.campaign for p in prepared if p.mapping.campaign), None)
            or self.settings.campaign
        )
        if not wanted:
            raise ConfigError(
                "no campaign given: use --campaign NAME, a `campaign:` line in the mapping, "
                "or VOICENTER_CAMPAIGN"
            )
        campaign = resolve_campaign(client, wanted, self.settings.account_code)
        register_secret(campaign.code)
        log.info("campaign %r (%s)", campaign.name, campaign.status_name)
        if not campaign.enabled:
            if self.options.start_campaign and not self.options.dry_run:
                client.start_campaign(campaign.code)
                log.warning("campaign %r was disabled; started it", campaign.name)
            elif not self.options.allow_disabled:
                raise CampaignDisabledError(
                    f"campaign {campaign.name!r} is disabled; enable it, or run with "
                    "--start-campaign to start it, or --allow-disabled to import anyway"
                )
        return campaign

    def _pending(
        self, client: DialerClient, campaign: Campaign, scope: str, ref_key: str | None
    ) -> list[tuple[str, str | None]]:
        """(phone, import ref) of every pending call: of the campaign, or of the whole account."""
        if scope == "account" and not self.settings.account_code:
            raise ConfigError(
                N_("dedupe.pending_scope: account checks every campaign of the account, which "
                   "needs the account code (set VOICENTER_ACCOUNT_CODE)")
            )
        if scope == "account":
            numbers: list[tuple[str, str | None]] = []
            for other in client.get_campaign_list(self.settings.account_code):
                register_secret(other.code)
                numbers.extend(client.get_pending_numbers(other.code, ref_key))
            return numbers
        return client.get_pending_numbers(campaign.code, ref_key)

    def _pending_numbers(
        self,
        client: DialerClient,
        campaign: Campaign,
        scope: str,
        ref_key: str | None,
        calls: list[PendingCall] | None,
    ) -> list[tuple[str, str | None]]:
        """The pending numbers for dedupe: from ``calls`` when this campaign's were read whole."""
        if calls is not None and scope == "campaign":
            return [(call.phone, _ref_of(call, ref_key)) for call in calls]
        return self._pending(client, campaign, scope, ref_key)

    # ---------------------------------------------------------------- phase 3

    def run(self) -> ImportResult:
        """Run all phases."""
        prepared = self.prepare()
        # Reads (campaign list, pending calls, reconciliation) follow the run's retry policy too.
        # Stopping the run also ends a wait for the rate limit (the client's limiter sees it).
        client = DialerClient(self.settings, retry=self.options.retry, cancel=self.cancel)
        try:
            campaign = self.resolve_campaign(client, prepared)
            first = prepared[0]
            # Only a person chooses a mode that removes or replaces calls: a mapping written
            # automatically (from a file's name, headers and cells) never decides it.
            mapping_mode = None if first.suggested else first.mapping.mode
            mode = self.options.mode or mapping_mode or "append"
            if mode == "sync" and not self.options.dry_run:  # a dry run removes nothing
                self._check_sync_confirmed(first)
            use_journal = self.options.use_journal and not self.options.dry_run
            with self._campaign_lock(campaign, prepared):
                if use_journal:
                    state_dir = self.options.state_dir or self.settings.resolved_state_dir()
                    self.state_dir = state_dir
                    with Journal.open(state_dir) as journal:
                        self.journal = journal
                        return self._run_files(client, campaign, prepared, mode)
                return self._run_files(client, campaign, prepared, mode)
        finally:
            client.close()

    @contextlib.contextmanager
    def _campaign_lock(self, campaign: Campaign, prepared: list[_Prepared]) -> Iterator[None]:
        """Hold the campaign for the whole run, so no other import adds between our reads.

        A dry run adds nothing, so it cannot double a number: it takes no lock, and
        neither waits for a running import nor holds one up (its preview may then
        show as new numbers that the running import is adding).
        """
        if self.options.dry_run:
            yield
            return
        lock = CampaignLock(
            campaign.code,
            self.settings.lock_dir,
            self.options.lock_timeout,
            campaign_name=campaign.name,
            purpose=_purpose(prepared),
        )
        try:
            lock.acquire(timeout=0)
        except LockError:
            if self.options.lock_timeout <= 0:
                raise
            owner = lock.owner()
            log.warning(
                "another import into campaign %r is running (%s); waiting up to %g s for it",
                campaign.name,
                owner.describe() if owner else "holder unknown",
                self.options.lock_timeout,
            )
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def _check_sync_confirmed(self, item: _Prepared) -> None:
        confirmed_in_mapping = item.mapping.sync_confirm and not item.suggested
        if not (self.options.yes or confirmed_in_mapping):
            raise ConfigError(
                "--mode sync removes pending calls that are not in the source: confirm with "
                "--yes (or `sync_confirm: true` in the mapping)"
            )

    def _run_files(
        self, client: DialerClient, campaign: Campaign, prepared: list[_Prepared], mode: str
    ) -> ImportResult:
        first = prepared[0].mapping
        ref_key = first.dedupe.import_ref
        # Upsert merges onto each call's details and sync measures what it would remove:
        # both read this campaign's calls whole, once, and dedupe uses the same read.
        calls = (
            client.get_campaign_pending_calls(campaign.code).calls
            if mode in {"upsert", "sync"}
            else None
        )
        refusable = mode == "sync" and not (self.options.dry_run or self.options.force)
        if calls is not None and refusable:
            self._refuse_large_sync(calls, prepared)
        numbers: list[tuple[str, str | None]] = []
        if first.dedupe.pending or calls is not None:
            scope = first.dedupe.pending_scope
            numbers = self._pending_numbers(client, campaign, scope, ref_key, calls)
        details = previous_by_phone(calls) if mode == "upsert" and calls is not None else {}
        pending = PendingIndex.from_numbers(numbers)
        normalizer = prepared[0].normalizer
        checks = DedupeChecks(
            batch=first.dedupe.batch,
            pending=pending if (first.dedupe.pending or mode == "upsert") else None,
            suppressed=load_suppression(
                [*first.suppression_paths(), *self.settings.suppression, *self.options.suppression],
                normalizer,
            ),
        )
        # The journal's salted fingerprint: history and run keys never hold the code itself.
        ckey = self.journal.campaign_key(campaign.code) if self.journal is not None else ""
        if first.dedupe.history_days and self.journal is not None:
            checks.history = self.journal.recently_added(ckey, first.dedupe.history_days)
        elif first.dedupe.history_days and self.options.dry_run and self.options.use_journal:
            # A dry run records nothing, but its preview must skip what a real run would.
            checks.history = self._history_for_preview(campaign.code, first.dedupe.history_days)
        ctx = RunContext(
            client=client,
            campaign=campaign,
            mode=mode,
            checks=checks,
            pusher=ChunkPusher(client, campaign.code, policy=self.options.retry, ref_key=ref_key),
            campaign_key=ckey,
            journal=self.journal,
            retry=self.options.retry,
            dry_run=self.options.dry_run,
            chunk_size=max(1, min(self.options.chunk_size, MAX_CHUNK)),
            concurrency=max(1, self.options.concurrency),
            cancel=self.cancel,
            progress=lambda name, done: self.progress(ProgressEvent(name, "push", done, None)),
            pending_details=details,
        )
        for index, item in enumerate(prepared):
            sync_after = mode == "sync" and index == len(prepared) - 1
            outcome = self._run_file(ctx, item, sync_after=sync_after)
            self.result.files.append(outcome)
            self.result.exit_code = max(self.result.exit_code, outcome.exit_code)
        return self.result

    def _refuse_large_sync(self, calls: list[PendingCall], prepared: list[_Prepared]) -> None:
        """Refuse a sync that would remove too much before anything is added (exit 2)."""
        pending = {pending_key(call.phone) for call in calls}
        if not pending:
            return
        source: set[str] = set()
        for item in prepared:
            source |= self._source_numbers(item)
        stale = len(pending - source)
        limit = self._sync_limit(prepared[-1])
        share = stale / len(pending)
        if share > limit:
            raise ConfigError(
                f"--mode sync would remove {stale} of {len(pending)} pending number(s) "
                f"({share:.0%}, more than the allowed {limit:.0%}); nothing was sent or "
                "removed. Check the source file, or pass --force"
            )

    def _source_numbers(self, item: _Prepared) -> set[str]:
        """Every usable number of a file, as sync will count it (a read-only first pass)."""
        numbers: set[str] = set()
        for source in open_sources(item.path, self._source_options(item.mapping, item.name)):
            with source:
                bound = bind(item.mapping, source.info, normalizer=item.normalizer)
                for row in source.rows():
                    mapped = bound.map_row(row)
                    if mapped.problem is None and mapped.target is not None and mapped.phone.e164:
                        numbers.add(mapped.phone.e164)
        return numbers

    @staticmethod
    def _sync_limit(item: _Prepared) -> float:
        """The share of pending calls a sync may remove without --force."""
        limit = item.mapping.sync_max_remove_share
        if item.suggested:  # only a mapping a person wrote may raise the share
            limit = min(limit, Mapping.model_fields["sync_max_remove_share"].default)
        return limit

    def _history_for_preview(self, code: str, days: int) -> set[str]:
        """The import history a real run would check, read from an existing journal."""
        state_dir = self.options.state_dir or self.settings.resolved_state_dir()
        if not Journal.path_for(state_dir).exists():
            return set()
        with Journal.open(state_dir) as journal:
            return journal.recently_added(journal.campaign_key(code), days)

    def _run_file(self, ctx: RunContext, item: _Prepared, *, sync_after: bool) -> FileOutcome:
        summary = Summary(
            source_file=item.name,
            campaign=ctx.campaign.name,
            mode=ctx.mode,
            dry_run=self.options.dry_run,
            started_at=_now(),
        )
        summary.notes.extend(item.notes)
        if item.suggested:
            summary.notes.append(Note(N_(
                "No mapping was given: the columns were mapped automatically "
                "(see `lead-importer mapping suggest`)."
            )))
        self._file_run = None
        digest = item.sha256()
        try:
            outcome = self._run_file_keyed(ctx, item, digest, summary, sync_after=sync_after)
        except StorageError as exc:
            raise self._storage_stop(exc, ctx, item) from None
        outcome.sha256 = digest
        return outcome

    def _run_file_keyed(
        self, ctx: RunContext, item: _Prepared, digest: str, summary: Summary, *, sync_after: bool
    ) -> FileOutcome:
        """Run the file under its journal key and lock (when there is a journal)."""
        if self.journal is None:
            return self._run_file_locked(ctx, item, None, summary, sync_after=sync_after)
        key = RunKey(
            file_sha256=digest,
            mapping_sha256=sha256_text(item.mapping_text),
            campaign_key=ctx.campaign_key,
            mode=ctx.mode,
        )
        assert self.state_dir is not None
        # One importer per file+mapping+campaign at a time; other files may run in parallel.
        with StateLock(
            self.state_dir,
            name=key.lock_name,
            timeout=self.options.lock_timeout,
            purpose=f"importing {item.name}",
        ):
            return self._run_file_locked(ctx, item, key, summary, sync_after=sync_after)

    def _storage_stop(self, exc: StorageError, ctx: RunContext, item: _Prepared) -> StorageError:
        """The one message for a run stopped by a full disk: what was sent, where, what next."""
        pushed = self._file_run.pushed if self._file_run is not None else 0
        name, campaign = item.name, ctx.campaign.name
        if self.options.dry_run:
            sent = "nothing was sent (dry run)"
        elif pushed:
            sent = f"this run had added {pushed:,} call(s) from {name} to campaign {campaign!r}"
        else:
            sent = f"this run had not added any call from {name} to campaign {campaign!r} yet"
        earlier = [o for o in self.result.files if not o.summary.already_imported]
        before = ", ".join(o.summary.source_file for o in earlier)
        before = f" The file(s) before it were imported completely: {before}." if before else ""
        where = exc.folder if exc.folder is not None else "the reports and the state directory"
        pushed += sum(
            o.summary.counts.get(s, 0) for o in earlier for s in (Status.ADDED, Status.UPDATED)
        )
        return StorageError(
            f"{exc}. The import stopped: {sent}.{before} Free space on the disk that holds "
            f"{where}, then run the same command again{self._rerun_promise(ctx)}",
            folder=exc.folder,
            pushed=pushed,
        )

    def _rerun_promise(self, ctx: RunContext) -> str:
        """What running the same command again does about the rows already sent."""
        if self.options.dry_run:
            return "."
        if self.journal is not None:
            return ": it continues where this run stopped and sends no number twice."
        if ctx.checks.pending is not None:
            return ": the numbers already pending in the campaign are skipped."
        return (
            " with only the rows not yet added: without the run journal and the pending-calls "
            "check, the added ones would be sent again."
        )

    def _run_file_locked(
        self,
        ctx: RunContext,
        item: _Prepared,
        key: RunKey | None,
        summary: Summary,
        *,
        sync_after: bool,
    ) -> FileOutcome:
        mapping = item.mapping
        run_id = ""
        done_rows: dict[int, DoneRow] = {}
        replaced: dict[int, Previous] = {}
        first_chunk = 0
        if self.journal is not None and key is not None:
            # The latest run decides: an unfinished one (even an --again run that was
            # killed) is resumed before an older finished one can say "already imported".
            unfinished = self.journal.find_unfinished(key)
            finished = None if unfinished or self.options.again else self.journal.find_finished(key)
            if finished is not None:
                return self._already_imported(item, finished, summary)
            if unfinished is not None:
                run_id = unfinished.run_id
                summary.notes.append(Note(N_("Resumed unfinished run {run_id}."),
                                          run_id=run_id))
                self._remove_leftovers(unfinished)
                done_rows = self._resume_state(run_id, ctx.pusher)
                replaced = {
                    r.seq: Previous.from_json(r.previous_json)
                    for r in self.journal.replaced(run_id)
                }
                first_chunk = self.journal.max_chunk_no(run_id) + 1
            else:
                run_id = self.journal.create_run(
                    key,
                    source_file=item.name,
                    source_path=str(item.path.resolve()),
                    campaign_name=ctx.campaign.name,
                    mapping_name=mapping.name or "",
                    dry_run=self.options.dry_run,
                ).run_id
                self._link_rejects(item, run_id, summary)
            summary.run_id = run_id
            self.result.run_id = self.result.run_id or run_id
        writer = self._writer(item, summary)
        ctx.columnar = self._columnar(item.path)
        rejects = RejectsWriter(
            self.options.report_dir,
            rejects_base(writer.paths),
            _rejects_columns(item.columns),
            self.options.report_formats,
            language=writer.language,
            reason_texts=writer.reason_texts,
        )
        file_run = self._file_run = FileRun(
            ctx,
            item.path,
            lambda info: bind(mapping, info, normalizer=item.normalizer),
            self._source_options(mapping, item.name),
            run_id=run_id,
            ref_key=mapping.dedupe.import_ref,
            writer=writer,
            done_rows=done_rows,
            first_chunk_no=first_chunk,
            replaced=replaced,
            rejects=rejects,
            scheduler=self._scheduler(mapping),
        )
        limited_before = ctx.client.limiter.stats()
        try:
            with writer:
                if self.journal is not None:
                    # Known from the start, so a re-run can clean up after a killed one.
                    self.journal.set_report_paths(
                        run_id, {fmt: str(p.absolute()) for fmt, p in writer.paths.items()}
                    )
                try:
                    file_run.run()
                    if sync_after:
                        self._sync_remove(ctx, writer, item, summary, run_id)
                except RunInterruptedError as exc:
                    summary.notes.extend(
                        _rate_limit_notes(limited_before, ctx.client.limiter.stats())
                    )
                    summary.notes.append(
                        Note(N_("Interrupted: the rest of the file was not processed.")))
                    self._close_rejects(rejects, run_id, summary)
                    self._close_report(writer, summary, exit_code=exc.exit_code)
                    if self.journal is not None:
                        self.journal.finish_run(run_id, "interrupted", dict(writer.counts))
                    raise
                summary.notes.extend(_rate_limit_notes(limited_before, ctx.client.limiter.stats()))
                self._close_rejects(rejects, run_id, summary)
                reports = self._close_report(writer, summary) | rejects.paths
        except StorageError:
            self._record_stop(run_id, writer)
            raise
        finally:
            rejects.abandon()
        if self.journal is not None:
            failed = summary.counts.get(Status.FAILED.value, 0)
            self.journal.finish_run(
                run_id,
                "incomplete" if failed else "finished",
                summary.counts,
                {k: str(v) for k, v in reports.items()},
            )
        counts = ", ".join(f"{n} {status}" for status, n in summary.counts.items() if n)
        log.info(
            "%s into %r: %d row(s): %s; run %s",
            item.name,
            ctx.campaign.name,
            summary.total_rows,
            counts or "nothing",
            run_id or "-",
        )
        return FileOutcome(item.path, summary, reports, summary.exit_code or EXIT_OK)

    def _scheduler(self, mapping: Mapping) -> Scheduler | None:
        """Calling hours for this mapping's rows: --calling-hours off, the mapping's section,
        the inbox's, then the settings' (default on)."""
        if self.options.calling_hours_off:
            return None
        section = mapping.calling_hours or self.options.calling_hours or self.settings.calling_hours
        policy = CallingHours.from_section(section)
        if policy is None:
            return None
        spec = mapping.fields.OriginateTime
        return Scheduler(
            policy,
            is_date_local=mapping.options.is_date_local,
            zone=spec.timezone if spec is not None else DEFAULT_ZONE,
            clock=fixed_clock(self.options.now or self.settings.now),
        )

    def _columnar(self, path: Path) -> bool:
        """Whether this file is mapped by the columnar engine (``--engine``; auto: files of
        a megabyte or more, where it pays for loading pyarrow)."""
        engine = self.options.engine
        if engine != "auto":
            return engine == "columnar"
        try:
            return path.stat().st_size >= AUTO_COLUMNAR_BYTES
        except OSError:
            return False
    def _close_rejects(self, rejects: RejectsWriter, run_id: str, summary: Summary) -> None:
        """Finish the rejects file, name it in the summary and record it in the journal."""
        paths = rejects.close()
        if not paths:
            return
        summary.reports.update({key: str(path) for key, path in paths.items()})
        summary.notes.append(Note(
            N_("{rows} row(s) to fix are in {file}: correct them (in Excel, say) and import "
               "that file again with the same mapping."),
            rows=f"{rejects.rows:,}", file=paths["rejects"].name,
        ))
        if self.journal is not None and run_id:
            for path in paths.values():
                self.journal.record_rejects_file(
                    run_id, rejects.base, str(path.absolute()), rejects.rows
                )

    def _link_rejects(self, item: _Prepared, run_id: str, summary: Summary) -> None:
        """A rejects file of an earlier run imported again: link the two runs."""
        base = rejects_base_of(item.name)
        if self.journal is None or base is None or rejects_columns(item.columns) is None:
            return
        origin = self.journal.rejects_origin(base)
        if origin is not None:
            self.journal.link_rejects(run_id, origin)
            summary.notes.append(Note(N_("This is the rejects file of run {run_id}."),
                                      run_id=origin))

    def _record_stop(self, run_id: str, writer: ReportWriter) -> None:
        """Mark the run interrupted if the journal still can be written (it is resumed anyway)."""
        if self.journal is None:
            return
        try:
            self.journal.finish_run(run_id, "interrupted", dict(writer.counts))
        except ImporterError:
            log.debug("could not mark run %s interrupted", run_id, exc_info=True)

    @staticmethod
    def _remove_leftovers(run: RunRecord) -> None:
        """Empty reports and temporary files of a stopped or killed attempt at this run."""
        removed = remove_unfinished(Path(p) for p in run.report_paths.values())
        if removed:
            log.info(
                "removed %d empty or unfinished report file(s) left by the stopped attempt at "
                "run %s",
                len(removed),
                run.run_id,
            )

    def _writer(self, item: _Prepared, summary: Summary) -> ReportWriter:
        return ReportWriter(
            self.options.report_dir,
            item.name,
            formats=self.options.report_formats,
            field_names=item.field_names,
            started_at=datetime.now(UTC),
            rtl=looks_rtl(item.columns),
            xlsx_row_limit=self.options.xlsx_row_limit,
            summary=summary,
            language=self.options.language,
        )

    @staticmethod
    def _close_report(
        writer: ReportWriter, summary: Summary, *, exit_code: int | None = None
    ) -> dict[str, Path]:
        """Fill the summary from the writer's counts and close the report files."""
        summary.counts = dict(writer.counts)
        summary.total_rows = writer.total
        summary.finished_at = _now()
        failed = summary.counts.get(Status.FAILED.value, 0)
        rejected = summary.counts.get(Status.REJECTED.value, 0)
        if exit_code is None:
            exit_code = EXIT_ROWS_FAILED if failed or rejected else EXIT_OK
        summary.exit_code = exit_code
        return writer.close(summary)

    def _already_imported(
        self, item: _Prepared, finished: RunRecord, summary: Summary
    ) -> FileOutcome:
        """Nothing to send: rewrite the report of the run that imported this file."""
        assert self.journal is not None
        summary.run_id = finished.run_id
        summary.already_imported = True
        summary.notes.append(Note(
            N_("Already imported by run {run_id} on {finished_at}; nothing was sent. Use "
               "--again to import it again."),
            run_id=finished.run_id, finished_at=finished.finished_at,
        ))
        writer = self._writer(item, summary)
        with writer:
            for row in self.journal.regenerate_report_rows(finished.run_id):
                writer.write(row)
            reports = self._close_report(writer, summary, exit_code=EXIT_OK)
        return FileOutcome(item.path, summary, reports, 0)

    def _resume_state(self, run_id: str, pusher: ChunkPusher) -> dict[int, DoneRow]:
        """Settle chunks whose outcome is unknown, then return the rows already settled."""
        assert self.journal is not None
        for chunk in self.journal.unknown_chunks(run_id):
            in_chunk = self.journal.rows_in_chunk(run_id, chunk.chunk_no)
            # An UpdateCall cannot be confirmed by reading the campaign (the number was
            # pending already) and is safe to repeat: plan it again, it is re-checked.
            again = [(r.seq, PLANNED, "", None) for r in in_chunk if r.status == UPDATING]
            rows = [
                r
                for r in in_chunk
                if r.status in {SENT, PLANNED, "failed"} and r.target_json
            ]
            planned = [
                Planned(r.seq, r.phone, target_from_json(r.target_json), r.import_ref) for r in rows
            ]
            arrived = pusher.reconcile_unknown(planned) if planned else {}
            self.journal.mark_chunk_done(
                run_id,
                chunk.chunk_no,
                [
                    (
                        r.seq,
                        Status.ADDED.value,
                        "confirmed in the campaign when the run resumed",
                        None,
                    )
                    if arrived.get(r.seq)
                    else (r.seq, PLANNED, "", None)
                    for r in rows
                ]
                + again,
            )
        return {
            r.seq: (r.status, r.reason, r.error_code, r.sheet, r.row)
            for r in self.journal.rows_with_status(run_id, sorted(DONE_STATUSES))
        }

    # ---------------------------------------------------------------- sync

    def _sync_remove(
        self,
        ctx: RunContext,
        writer: ReportWriter,
        item: _Prepared,
        summary: Summary,
        run_id: str,
    ) -> None:
        """--mode sync: remove pending numbers that no source row holds (after a backup)."""
        fresh = ctx.client.get_campaign_pending_calls(ctx.campaign.code)
        by_phone: dict[str, PendingCall] = {}
        for call in fresh.calls:  # the first call of each number stands for all of them
            by_phone.setdefault(pending_key(call.phone), call)
        stale = [phone for phone in by_phone if phone not in ctx.source_phones]
        if not stale:
            return
        total = max(1, len(by_phone))
        share = len(stale) / total
        limit = self._sync_limit(item)
        if share > limit and not self.options.force:
            refusal = (
                f"--mode sync would remove {len(stale)} of {total} pending number(s) "
                f"({share:.0%}, more than the allowed {limit:.0%}); check the source file, "
                "or pass --force"
            )
            if not self.options.dry_run:
                # Checked before anything was sent; calls added to the campaign while this
                # run pushed can still tip the share. The rows are in, so say so, remove none.
                summary.notes.append(f"Nothing was removed: {refusal}.")
                log.warning("%s: nothing was removed: %s", item.name, refusal)
                return
            # A dry run is how the user checks what sync would do: show the removals.
            summary.notes.append(f"A real run would refuse: {refusal} (and --yes).")
        if not self.options.dry_run:
            folder = self.options.report_dir
            try:
                backup = write_pending_csv(fresh, folder / backup_file_name(ctx.campaign.name))
            except OSError as exc:
                full = "the disk is full: " if StorageError.no_room(exc) else ""
                raise StorageError(
                    f"{full}cannot save the pending calls to {folder} before removing any "
                    f"({exc.strerror or exc})",
                    folder=folder,
                ) from None
            self.result.backups.append(backup)
            summary.notes.append(f"Pending calls were saved to {backup} before removing.")
        journal = self.journal if run_id and not self.options.dry_run else None
        if journal is not None:
            # Before any RemoveCall: `runs undo` adds these calls back from here.
            journal.record_sync_removals(
                run_id,
                [
                    (phone, by_phone[phone].phone, Previous.from_call(by_phone[phone]).to_json())
                    for phone in stale
                ],
            )
        for done, phone in enumerate(stale, start=1):
            first = by_phone[phone]
            if self.options.dry_run:
                outcome = Outcome(Status.REMOVED, WOULD_SYNC_REMOVE)
            else:
                outcome = remove_one(ctx.client, ctx.campaign.code, first.phone, self.options.retry)
            if journal is not None:
                removed = outcome.status is Status.REMOVED
                journal.mark_sync_removed(run_id, phone, "removed" if removed else "failed")
            writer.write(
                RowResult(
                    source_file=item.name,
                    sheet=None,
                    row=0,
                    phone_raw=first.phone,
                    phone=phone,
                    status=outcome.status,
                    reason=outcome.reason,
                    error_code=outcome.error_code,
                    campaign=ctx.campaign.name,
                    fields={"CustomerName": first.customer_name},
                )
            )
            self.progress(ProgressEvent(item.name, "sync", done, len(stale)))


def _rejects_columns(columns: list[str]) -> list[str]:
    """Every sheet's columns, each once; a rejects file's own reason/source_row dropped."""
    unique = list(dict.fromkeys(columns))
    ours = rejects_columns(unique)
    return [c for i, c in enumerate(unique) if ours is None or i not in ours]


def _rate_limit_notes(before: LimiterStats, after: LimiterStats) -> list[str]:
    """A note for the summary when the Dialer API's rate limit slowed this file down."""
    refused = after.refused - before.refused
    if not refused:
        return []
    waited = after.waited - before.waited
    return [
        f"The Dialer API limited the request rate (HTTP 429): {refused:,} request(s) were "
        f"refused; the importer paused {waited:,.1f} s in all and sent fewer at a time."
    ]


def run_import(
    paths: Sequence[Path],
    options: ImportOptions,
    settings: Settings,
    *,
    progress: Callable[[ProgressEvent], None] | None = None,
    cancel: threading.Event | None = None,
) -> ImportResult:
    """Import every file into the campaign; raises ImporterError when the run cannot proceed."""
    with relaxed_gc():
        return _Importer(paths, options, settings, progress, cancel).run()
