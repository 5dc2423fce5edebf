"""Drop-folder processing: files saved into ``inbox/`` are imported, once or continuously.

Layout of one inbox (``path`` in ``inbox.yaml``)::

    inbox/        staff save files here
    processing/   a file being imported (claimed by an atomic rename)
    done/         imported; the reports say what happened to every row
    failed/       could not be imported; ``<name>.error.txt`` says why and how to fix it
    reports/      the CSV/XLSX/JSON reports (configurable)
    lead-importer-inbox.lock   (held while a run works on this inbox)

Rules that keep a crash or an overlapping run from losing or doubling a file:

* a file is claimed by ``os.replace`` into ``processing/`` (same filesystem:
  atomic), only by the holder of the inbox lock;
* the holder first finishes what a crashed run left in ``processing/``
  (the import journal makes re-running a file safe);
* nothing is ever overwritten: a name already taken gets a timestamp suffix;
* a file whose import failed because the dialer could not be used (exit 3)
  stays in ``processing/`` and is retried by the next run;
* a file that changed while it was imported (a writer that paused longer than
  ``settle_seconds``) goes back to ``inbox/`` and is imported whole once it
  has settled; what the partial read sent is then skipped as already pending.
* set-up problems (configuration, account, campaign, an unreachable dialer) are
  looked for before an inbox's first file is touched (``importer.inbox_check``):
  the files stay where they are, and the notice goes out once a day at most.

Polling (not file-system events) is deliberate: events miss writes made by
other machines on SMB/NFS shares.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Literal

from importer.config import Settings
from importer.errors import (
    EXIT_API_UNUSABLE,
    EXIT_BAD_INPUT,
    EXIT_ROWS_FAILED,
    ConfigError,
    ImporterError,
    LockError,
    StorageError,
)
from importer.i18n import (
    N_,
    Lang,
    _,
    current_language,
    language_from_environment,
    resolve_language,
    use_language,
)
from importer.inbox.config import AUTO, Inbox, InboxConfig, load_inbox_config, render_inbox_yaml
from importer.inbox.notify import FileNotice, Notice, SetupNotice, send_notifications
from importer.locking import StateLock
from importer.outcomes import shown_note, status_name
from importer.redact import redact

if TYPE_CHECKING:
    from importer.inbox.check import Check
    from importer.pipeline import FileOutcome, ImportOptions, ImportResult

__all__ = [
    "FOLDERS",
    "LOCK_NAME",
    "SETUP_STATE_NAME",
    "InboxRunner",
    "OnceResult",
    "ProcessedFile",
    "SettleTracker",
    "SetupProblem",
    "explain_error",
    "ignore_reason",
    "import_options",
    "init_inbox",
    "install_stop_signals",
    "nothing_added",
    "unique_target",
]

log = logging.getLogger(__name__)

FOLDERS = ("inbox", "processing", "done", "failed", "reports")
LOCK_NAME = "lead-importer-inbox"       # lock file: <inbox root>/lead-importer-inbox.lock
IGNORED_SUFFIXES = (
    ".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".swp", ".opdownload",
)
DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods", ".htm", ".html")
IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini", "icon\r"})

SETUP_STATE_NAME = "lead-importer-setup.json"   # <inbox root>/: the last set-up notice sent
SETUP_NOTICE_EVERY = 24 * 3600.0        # a lasting set-up problem is told again after a day

ImportFn = Callable[..., "ImportResult"]
PreflightFn = Callable[[Inbox], "list[Check]"]
Outcome = Literal["done", "failed", "retry", "changed"]


# --- what to pick up ----------------------------------------------------------


def ignore_reason(name: str, st: os.stat_result) -> str | None:
    """Why a directory entry is not a dropped file (None if it is one)."""
    lowered = name.lower()
    if stat.S_ISLNK(st.st_mode):
        return "symbolic link"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if name.startswith("~$"):
        return "Office lock file"
    if name.startswith("."):
        return "hidden file"
    if lowered.endswith(IGNORED_SUFFIXES) or name.endswith("~"):
        return "temporary or partly downloaded file"
    if lowered in IGNORED_NAMES:
        return "system file"
    hidden_flag = getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0)
    if hidden_flag and getattr(st, "st_file_attributes", 0) & hidden_flag:
        return "hidden file"
    return None


@dataclass(slots=True)
class _Seen:
    signature: tuple[int, int]
    since: float                 # monotonic time this signature was first seen
    first_seen: float            # monotonic time the file was first seen at all


class SettleTracker:
    """Decides when a file has stopped changing and may be claimed.

    A file is settled when its size and mtime have not changed for
    ``settle_seconds`` of our own observation, or when its mtime is already
    older than that window (files that were in the folder before we looked).
    Observation guards against clock skew between this machine and a file server.
    """

    def __init__(
        self,
        settle_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settle_seconds = settle_seconds
        self._clock = clock
        self._wall = wall_clock
        self._seen: dict[str, _Seen] = {}

    def settled(self, key: str, st: os.stat_result) -> bool:
        """Record this observation and say whether the file may be claimed now."""
        now = self._clock()
        signature = (st.st_size, st.st_mtime_ns)
        seen = self._seen.get(key)
        if seen is None:
            seen = self._seen[key] = _Seen(signature, now, now)
            changed_while_watched = False
        elif seen.signature != signature:
            seen.signature, seen.since = signature, now
            changed_while_watched = True
        else:
            changed_while_watched = seen.since > seen.first_seen
        if now - seen.since >= self.settle_seconds:
            return True
        age = self._wall() - st.st_mtime
        return not changed_while_watched and age >= self.settle_seconds and st.st_size > 0

    def waited(self, key: str) -> float:
        """Seconds since the file was first seen (0 if never)."""
        seen = self._seen.get(key)
        return 0.0 if seen is None else self._clock() - seen.first_seen

    def forget(self, key: str) -> None:
        """Drop what we know about a file (claimed, or gone)."""
        self._seen.pop(key, None)

    def keep_only(self, keys: set[str]) -> None:
        """Forget files that are no longer in the folder."""
        for key in list(self._seen):
            if key not in keys:
                del self._seen[key]


# --- moving files without ever overwriting ------------------------------------


def unique_target(folder: Path, name: str, *, extra_suffixes: Sequence[str] = ()) -> Path:
    """``folder/name``, or a timestamped variant if that name (or a sidecar) is taken."""

    def free(candidate: str) -> bool:
        return not any(
            os.path.lexists(folder / f"{candidate}{suffix}") for suffix in ("", *extra_suffixes)
        )

    if free(name):
        return folder / name
    path = Path(name)
    stem, suffix = path.stem, path.suffix
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = f"{stem}.{stamp}{suffix}"
    counter = 2
    while not free(candidate):
        candidate = f"{stem}.{stamp}-{counter}{suffix}"
        counter += 1
    return folder / candidate


def _move(src: Path, folder: Path, *, extra_suffixes: Sequence[str] = ()) -> Path:
    target = unique_target(folder, src.name, extra_suffixes=extra_suffixes)
    src.replace(target)
    return target


def _signature(path: Path) -> tuple[int, int] | None:
    """(size, mtime) of a file, None if it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _changed_while_read(path: Path, before: tuple[int, int] | None, sha256: str = "") -> bool:
    """Whether ``path`` differs from when it was claimed (``before``) and was hashed (``sha256``).

    Size and modification time catch a writer that went on appending; the hash,
    taken by the import before it read the file, catches a rewrite that kept
    both (coarse timestamps on some network shares).
    """
    from importer.journal.models import sha256_file

    after = _signature(path)
    if before is None or after is None:
        return False
    if after != before:
        return True
    try:
        return bool(sha256) and sha256_file(path) != sha256
    except OSError:
        return False


# --- explaining failures to people --------------------------------------------


_ASK_IT = N_("Ask IT to look at the log of the lead-importer service.")
_BUG = N_(
    "This is probably a bug in lead-importer, not a problem with your file. Please send this "
    "note and the file to IT."
)


def explain_error(exc: BaseException, inbox: Inbox) -> tuple[str, str]:
    """(what is wrong, how to fix it) for a failed file: the error's message and its hint.

    The hint is the error's own (``ImporterError.hint``), the same the CLI prints;
    the note around it names the inbox and the folder to drop the file into again.
    """
    if not isinstance(exc, ImporterError):
        error = f"{type(exc).__name__}: {redact(str(exc))}"
        what = _("lead-importer hit an unexpected internal error ({error}).", error=error)
        return what, _(_BUG)
    return redact(exc.shown()), redact(exc.shown_hint()) or _(_ASK_IT)


def _note_head(
    headline: str, inbox: Inbox, original: str, location: Path, when: datetime
) -> list[str]:
    """The first lines of a failure note: what, where and when, then the problem's heading."""
    return [
        headline,
        "",
        _("File:      {file}", file=original),
        _("Inbox:     {inbox}", inbox=inbox.name),
        _("When:      {when} UTC", when=when.strftime("%Y-%m-%d %H:%M:%S")),
        _("Moved to:  {location}", location=location),
        "",
        _("What is wrong"),
        "-------------",
    ]


def _error_text(
    exc: BaseException, inbox: Inbox, original: str, location: Path, when: datetime
) -> str:
    what, how = explain_error(exc, inbox)
    nothing_sent = isinstance(exc, ImporterError) and exc.exit_code == EXIT_BAD_INPUT
    lines = [
        *_note_head(_("lead-importer could not import this file."), inbox, original, location,
                    when),
        what,
        "",
        _("How to fix it"),
        "-------------",
        how,
        "",
        _("The corrected file goes into: {folder}", folder=inbox.folder("inbox")),
    ]
    if nothing_sent:
        lines.append(_("Nothing from this file was sent to the dialer."))
    lines.append(_("(This note and the file stay here for reference; you may delete them.)"))
    return "\n".join(lines) + "\n"


# Rows that could be added: sent, updated, would be in a dry run, or already there (pending,
# imported before, on a do-not-call list). `failed` rows were good but not delivered: dropping
# the file again retries them, so they do not make a file fail either.
ADDABLE_STATUSES = frozenset({
    "added", "updated", "would_add", "would_update",
    "duplicate_in_batch", "duplicate_pending", "duplicate_history", "suppressed", "failed",
})
# What to do about rows that could not be added, in the order the note lists them.
_ROW_FIXES: dict[str, tuple[str, str]] = {
    "missing_phone": (
        N_("no phone number"),
        N_("the phone cell of these rows is empty. Check that the phone numbers are in the "
           "column lead-importer read (the report's phone_raw column shows what it found)."),
    ),
    "invalid_phone": (
        N_("not a valid phone number"),
        N_("the report's reason column says why for each row (too short, letters, a number "
           "Excel turned into 9.72E+11, ...). Correct the numbers; write numbers abroad with "
           "their country code (+44...); in Excel, format the phone column as Text first."),
    ),
    "type_rejected": (
        N_("a valid number of a type this inbox does not call"),
        N_("for example toll-free or premium numbers. If they should be called, ask IT to "
           "allow that type in the mapping (phone.allow_types)."),
    ),
    "rejected": (
        N_("refused by the dialer"),
        N_("the report's error_code and reason columns give the dialer's reason."),
    ),
}

_OTHER_ROWS = {
    "not_a_lead": N_("Also {count} {status} (blank rows, titles, repeated headers or totals: "
                     "not leads)."),
    "removed": N_("Also {count} {status} (pending calls not in the file, removed by "
                  "`mode: sync`)."),
}


def nothing_added(counts: dict[str, int]) -> bool:
    """True when no row of a file could be added (every lead row was unusable, or none was a lead).

    Rows already pending or imported before count as added: a file whose leads are all in
    the campaign already is a success with nothing to do.
    """
    return not any(counts.get(status, 0) for status in ADDABLE_STATUSES)


def _rows_explained(counts: dict[str, int], inbox: Inbox) -> tuple[str, str]:
    """(what is wrong, how to fix it) for a file none of whose rows could be added."""
    bad = {s: n for s, n in counts.items() if n and s not in ADDABLE_STATUSES}
    unusable = sum(n for s, n in bad.items() if s in _ROW_FIXES)
    parts = [_("{count} {status} ({meaning})").format(
                 count=bad[s], status=status_name(s), meaning=_(_ROW_FIXES[s][0]))
             for s in _ROW_FIXES if bad.get(s)]
    if unusable:
        what = _("No row of this file could be added: of its {count} lead row(s), {parts}.").format(
            count=unusable, parts=", ".join(parts))
    else:
        what = _("No row of this file could be added: it holds no lead rows.")
    for status, n in sorted(bad.items()):
        if status not in _ROW_FIXES:
            also = _OTHER_ROWS.get(status, N_("Also {count} {status}."))
            what += " " + _(also).format(count=n, status=status_name(status))
    fixes = [f"- {status_name(s)}: {_(_ROW_FIXES[s][1])}" for s in _ROW_FIXES if bad.get(s)]
    if bad.get("missing_phone"):
        fixes[0] += " " + (
            _("Title the phone column for example 'Phone', 'Mobile' or 'טלפון'.")
            if inbox.mapping_path is None
            else _("The mapping {mapping} names the phone columns it reads.",
                   mapping=inbox.mapping_path)
        )
    if not fixes:
        fixes = ["- " + _("Check that the file holds the leads under a row of column titles, "
                          "one lead per row, and that you exported the right report or sheet.")]
    how = "\n".join([*fixes, _("Then save the corrected file and drop it again.")])
    return what, how


def _rows_error_text(
    inbox: Inbox, original: str, location: Path, summary_counts: dict[str, int],
    reports: dict[str, Path], when: datetime, *, already: bool,
) -> str:
    what, how = _rows_explained(summary_counts, inbox)
    headline = _("lead-importer could not import this file: none of its rows could be added.")
    lines = [*_note_head(headline, inbox, original, location, when), what]
    if already:
        lines.append(_("(This same file was imported before; these are that import's "
                       "counts.)"))
    lines += ["", _("How to fix it"), "-------------", how]
    if reports:
        lines += ["", _("The report lists every row and why it could not be added:")]
        lines += [f"  {path}" for path in reports.values()]
    lines += [
        "",
        _("The corrected file goes into: {folder}", folder=inbox.folder("inbox")),
        _("No lead from this file was added to the dialer."),
        _("(This note and the file stay here for reference; you may delete them.)"),
    ]
    return "\n".join(lines) + "\n"


# --- one processed file --------------------------------------------------------


@dataclass(slots=True)
class ProcessedFile:
    """What happened to one file of an inbox."""

    inbox: str
    name: str                            # as dropped
    outcome: Outcome
    exit_code: int
    location: Path                       # where the file is now
    message: str
    notice: FileNotice
    error_file: Path | None = None
    reports: dict[str, Path] = field(default_factory=dict)


@dataclass(slots=True)
class SetupProblem:
    """A set-up problem that kept an inbox's files where they were."""

    inbox: str
    checks: list[Check]                  # the failing checks
    waiting: list[str]                   # files left in inbox/ (and processing/)
    exit_code: int                       # 2 configuration, 3 dialer or account
    notified: bool                       # told now (False: already told within a day)


@dataclass(slots=True)
class OnceResult:
    """The outcome of ``InboxRunner.run_once``."""

    files: list[ProcessedFile] = field(default_factory=list)
    locked: list[str] = field(default_factory=list)        # inboxes another run was holding
    still_changing: list[str] = field(default_factory=list)   # files left for a later run
    folder_errors: list[str] = field(default_factory=list)
    setup_problems: list[SetupProblem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The worst exit code of the files and set-up problems (2 if a folder was unreadable)."""
        codes = [f.exit_code for f in self.files] + [p.exit_code for p in self.setup_problems]
        if self.folder_errors:
            codes.append(EXIT_BAD_INPUT)
        return max(codes, default=0)


def inbox_language(inbox: Inbox, settings: Settings, flag: Lang | None = None) -> Lang:
    """The language of an inbox's reports, notes and notifications.

    ``--lang``, then the mapping's ``report.language``, inbox.yaml's ``language:``, the
    config's, then the environment's ($LC_MESSAGES, $LANG), else English.
    """
    from importer.mapping.schema import mapping_language

    return flag or resolve_language(
        mapping_language(inbox.mapping_path), inbox.language, settings.language
    )


def import_options(inbox: Inbox, language: Lang = "en") -> ImportOptions:
    """The ImportOptions an inbox's settings translate to."""
    # imported here so `inbox init` and the folder logic work without the import stack
    from importer.pipeline import ImportOptions

    return ImportOptions(
        campaign=inbox.campaign,
        mapping_path=inbox.mapping_path,
        report_dir=inbox.reports_dir,
        report_formats=frozenset(inbox.report_formats),
        mode=inbox.mode,
        dry_run=inbox.dry_run,
        yes=inbox.mode == "sync",        # writing `mode: sync` in inbox.yaml is the confirmation
        calling_hours=inbox.calling_hours,
        language=language,
    )


# --- the runner ----------------------------------------------------------------


@dataclass(slots=True)
class _SetupState:
    failing: list[Check]
    until: float                          # monotonic time the result is trusted until
    told: bool = False                    # recorded in a result (once per check)


class InboxRunner:
    """Processes the inboxes of one configuration, once (cron) or continuously (watch).

    ``preflight_fn`` checks an inbox's set-up before its first file is touched
    (default: ``importer.inbox.check.preflight``); an ``import_fn`` given without
    one replaces the whole import stack, that check included.
    """

    def __init__(
        self,
        config: InboxConfig,
        settings: Settings,
        *,
        import_fn: ImportFn | None = None,
        preflight_fn: PreflightFn | None = None,
        stop: threading.Event | None = None,
        cancel: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        language: Lang | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.language = language                  # --lang: beats every inbox's own
        if preflight_fn is None and import_fn is None:
            preflight_fn = self._preflight
        # An import_fn given without a preflight_fn replaces the whole import stack, the
        # set-up check that belongs to it included (tests of the folder mechanics).
        self.preflight_fn: PreflightFn | None = preflight_fn
        if import_fn is None:
            from importer.pipeline import run_import

            import_fn = run_import
        self.import_fn: ImportFn = import_fn
        self.stop = stop or threading.Event()       # finish the current file, then stop
        self.cancel = cancel or threading.Event()   # stop inside the current file (resumable)
        self._clock = clock
        self._trackers = {
            i.name: SettleTracker(config.settle_seconds, clock=clock) for i in config.inboxes
        }
        self._paused_until: dict[str, float] = {}
        self._explained: set[tuple[str, str]] = set()
        self._setup: dict[str, _SetupState] = {}     # inbox name -> its last set-up check
        self._setup_ttl = math.inf                   # run_once: one check per inbox per run

    # folders and locking

    def prepare(self) -> None:
        """Check every inbox root exists and create its missing working folders."""
        problems = []
        for inbox in self.config.inboxes:
            if not inbox.path.is_dir():
                problems.append(
                    f"inbox {inbox.name!r}: folder {inbox.path} does not exist (create it with "
                    "`lead-importer inbox init FOLDER`, or fix `path` in inbox.yaml)"
                )
                continue
            try:
                for name in ("inbox", "processing", "done", "failed"):
                    inbox.folder(name).mkdir(exist_ok=True)
                inbox.reports_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                problems.append(f"inbox {inbox.name!r}: cannot create its folders ({exc})")
        if problems:
            raise ConfigError("\n".join(problems))

    @contextlib.contextmanager
    def _locked(self, inbox: Inbox) -> Iterator[bool]:
        lock = StateLock(inbox.path, name=LOCK_NAME, timeout=0, purpose="inbox run")
        try:
            lock.acquire()
        except LockError:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    # scanning

    def _candidates(self, inbox: Inbox) -> tuple[list[Path], list[Path]]:
        """(settled files, files still changing) in ``inbox/``, oldest first."""
        tracker = self._trackers[inbox.name]
        ready: list[tuple[float, Path]] = []
        changing: list[Path] = []
        present: set[str] = set()
        with os.scandir(inbox.folder("inbox")) as entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue                     # vanished between listing and stat
                reason = ignore_reason(entry.name, st)
                if reason is not None:
                    self._explain_hidden(inbox, entry.name, reason)
                    continue
                present.add(entry.name)
                if tracker.settled(entry.name, st):
                    ready.append((st.st_mtime, Path(entry.path)))
                else:
                    changing.append(Path(entry.path))
        tracker.keep_only(present)
        ready.sort()
        return [p for _, p in ready], changing

    def _explain_hidden(self, inbox: Inbox, name: str, reason: str) -> None:
        """Say once why a data file whose name starts with '.' stays in the inbox."""
        lowered = name.lower()
        if (
            reason != "hidden file"
            or not lowered.endswith(DATA_SUFFIXES)
            or name.startswith(("._", ".~"))  # macOS resource forks, LibreOffice locks
            or (inbox.name, name) in self._explained
        ):
            return
        self._explained.add((inbox.name, name))
        log.warning(
            "inbox %r: %s is not imported: a name starting with '.' marks a hidden or "
            "temporary file; rename it (without the leading '.') to import it",
            inbox.name,
            name,
        )

    def _leftovers(self, inbox: Inbox) -> list[Path]:
        found = []
        with os.scandir(inbox.folder("processing")) as entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if ignore_reason(entry.name, st) is None:
                    found.append((st.st_mtime, Path(entry.path)))
        return [p for _, p in sorted(found)]

    # one pass over one inbox

    def _pass(self, inbox: Inbox, result: OnceResult) -> list[Path]:
        """Process what is ready in one inbox; returns the files still changing.

        Its notes, reports and notifications are in the inbox's language.
        """
        with use_language(inbox_language(inbox, self.settings, self.language)):
            return self._pass_files(inbox, result)

    def _pass_files(self, inbox: Inbox, result: OnceResult) -> list[Path]:
        paused = self._paused_until.get(inbox.name)
        if paused is not None and self._clock() < paused:
            return []
        with self._locked(inbox) as got_lock:
            if not got_lock:
                log.info(
                    "inbox %r: another lead-importer run is working on it; leaving it to that run",
                    inbox.name,
                )
                result.locked.append(inbox.name)
                return []
            for path in self._leftovers(inbox):
                if self.stop.is_set():
                    return []
                if not self._set_up(inbox, result):
                    return []
                log.info("inbox %r: resuming %s left in processing/", inbox.name, path.name)
                processed = self._process(inbox, path, path.name, resumed=True)
                result.files.append(processed)
                if processed.outcome == "retry":
                    return []
            ready, changing = self._candidates(inbox)
            tracker = self._trackers[inbox.name]
            for path in ready:
                if self.stop.is_set():
                    break
                if not self._set_up(inbox, result):
                    return []                    # the files stay in inbox/
                claimed = self._claim(inbox, path)
                tracker.forget(path.name)
                if claimed is None:
                    continue
                processed = self._process(inbox, claimed, path.name, resumed=False)
                result.files.append(processed)
                if processed.outcome == "retry":
                    break                        # the dialer is not usable: stop this inbox
            return changing

    # the set-up, checked before an inbox's first file is touched

    def _preflight(self, inbox: Inbox) -> list[Check]:
        from importer.inbox.check import preflight

        return preflight(inbox, self.settings)

    def _set_up(self, inbox: Inbox, result: OnceResult) -> bool:
        """Whether the inbox's files may be imported; checked once per run (watch: per TTL)."""
        if self.preflight_fn is None:
            return True
        state = self._setup.get(inbox.name)
        now = self._clock()
        if state is None or now >= state.until:
            try:
                checks = [c for c in self.preflight_fn(inbox) if c.level == "fail"]
            except Exception:                    # a bug in the check must not hold files back
                log.exception("inbox %r: the set-up check failed; importing without it",
                              inbox.name)
                checks = []
            state = self._setup[inbox.name] = _SetupState(checks, now + self._setup_ttl)
            if not checks:
                self._setup_fixed(inbox)
        if not state.failing:
            return True
        if not state.told:
            state.told = True
            result.setup_problems.append(self._setup_problem(inbox, state.failing))
        return False

    def _waiting(self, inbox: Inbox) -> list[str]:
        names: list[str] = []
        for folder in ("processing", "inbox"):
            with contextlib.suppress(OSError), os.scandir(inbox.folder(folder)) as entries:
                for entry in entries:
                    with contextlib.suppress(OSError):
                        if ignore_reason(entry.name, entry.stat(follow_symlinks=False)) is None:
                            names.append(entry.name)
        return sorted(names)

    def _setup_problem(self, inbox: Inbox, checks: list[Check]) -> SetupProblem:
        waiting = self._waiting(inbox)
        code = max(c.exit_code for c in checks)
        notice = SetupNotice(
            language=current_language(),
            inbox=inbox.name,
            exit_code=code,
            problems=[(c.subject, c.found, c.fix) for c in checks],
            waiting=waiting,
            location=str(inbox.folder("inbox")),
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        fingerprint = hashlib.sha256(
            json.dumps(sorted([c.where, c.key, c.exit_code] for c in checks)).encode()
        ).hexdigest()
        told_at = self._setup_told_at(inbox, fingerprint)
        problems = " | ".join(f"{c.subject}: {c.found} Fix: {c.fix}" for c in checks)
        extra = {"inbox": inbox.name, "outcome": "setup", "exit_code": code,
                 "waiting": len(waiting)}
        if told_at is None:
            log.error("inbox %r: set-up problem; %d file(s) left where they are, nothing "
                      "imported: %s", inbox.name, len(waiting), problems, extra=extra)
            if not self._notify(inbox, notice):
                self._remember_setup_notice(inbox, fingerprint)
        else:
            # Once a day is enough: cron mails every warning it sees on stderr.
            log.info("inbox %r: the set-up problem told at %s lasts; %d file(s) wait: %s",
                     inbox.name, told_at, len(waiting), problems, extra=extra)
        if self._setup_ttl != math.inf and self.config.retry_after_seconds:
            self._paused_until[inbox.name] = self._clock() + self.config.retry_after_seconds
        return SetupProblem(inbox.name, checks, waiting, code, notified=told_at is None)

    def _setup_told_at(self, inbox: Inbox, fingerprint: str) -> str | None:
        """When this same problem was last told (None: tell it now)."""
        try:
            data = json.loads((inbox.path / SETUP_STATE_NAME).read_text(encoding="utf-8"))
            told = datetime.fromisoformat(data["told_at"])
            same = data["problem"] == fingerprint
        except (OSError, ValueError, KeyError, TypeError):
            return None
        age = (datetime.now(UTC) - told).total_seconds()
        return told.isoformat(timespec="seconds") if same and 0 <= age < SETUP_NOTICE_EVERY \
            else None

    def _remember_setup_notice(self, inbox: Inbox, fingerprint: str) -> None:
        state = {"problem": fingerprint, "told_at": datetime.now(UTC).isoformat()}
        path = inbox.path / SETUP_STATE_NAME
        temp = path.with_name(f".{SETUP_STATE_NAME}.{os.getpid()}.tmp")
        try:
            temp.write_text(json.dumps(state), encoding="utf-8")
            temp.replace(path)
        except OSError as exc:
            log.warning("inbox %r: cannot record that the set-up problem was told (%s); it "
                        "will be told again at the next run", inbox.name, exc)

    def _setup_fixed(self, inbox: Inbox) -> None:
        path = inbox.path / SETUP_STATE_NAME
        with contextlib.suppress(OSError):
            if path.exists():
                path.unlink()
                log.info("inbox %r: the set-up problem is fixed", inbox.name)

    def _claim(self, inbox: Inbox, path: Path) -> Path | None:
        try:
            target = unique_target(inbox.folder("processing"), path.name)
            path.replace(target)
        except FileNotFoundError:
            return None                          # someone took or removed it meanwhile
        except OSError as exc:
            # typically Windows: the file is still open in the program writing it
            log.info("inbox %r: %s cannot be moved yet (%s); will retry", inbox.name,
                     path.name, exc.strerror)
            return None
        log.info("inbox %r: picked up %s", inbox.name, path.name)
        return target

    def _process(self, inbox: Inbox, path: Path, original: str, *, resumed: bool) -> ProcessedFile:
        started = datetime.now(UTC)
        before = _signature(path)
        try:
            result = self.import_fn(
                [path], import_options(inbox, current_language()), self.settings,
                progress=None, cancel=self.cancel,
            )
        except ImporterError as exc:
            if self.cancel.is_set() or exc.exit_code >= EXIT_API_UNUSABLE:
                return self._retry(inbox, path, original, exc, resumed=resumed)
            if _changed_while_read(path, before):  # a half-written file reads as damaged
                return self._put_back(inbox, path, original, None)
            return self._failed(inbox, path, original, exc, started)
        except Exception as exc:
            log.error("inbox %r: unexpected error while importing %s: %s: %s", inbox.name,
                      original, type(exc).__name__, exc)
            log.debug("traceback of the unexpected error", exc_info=True)
            return self._failed(inbox, path, original, exc, started)
        return self._imported(inbox, path, original, result, before, started, resumed=resumed)

    def _imported(
        self,
        inbox: Inbox,
        path: Path,
        original: str,
        result: ImportResult,
        before: tuple[int, int] | None,
        started: datetime,
        *,
        resumed: bool,
    ) -> ProcessedFile:
        if self.cancel.is_set():
            return self._retry(inbox, path, original, None, resumed=True)
        outcome = result.files[0] if result.files else None
        code = max(result.exit_code, outcome.exit_code if outcome else 0)
        if code >= EXIT_API_UNUSABLE:
            return self._retry(inbox, path, original, None, resumed=resumed)
        if _changed_while_read(path, before, outcome.sha256 if outcome else ""):
            return self._put_back(inbox, path, original, result)
        if code == EXIT_BAD_INPUT:
            notes = "; ".join(outcome.summary.notes) if outcome else ""
            return self._failed(
                inbox, path, original, ImporterError(notes or "the file could not be imported"),
                started,
            )
        return self._done(inbox, path, original, result, code)

    def _put_back(
        self, inbox: Inbox, path: Path, original: str, result: ImportResult | None
    ) -> ProcessedFile:
        """The file changed while it was imported: back to inbox/, to be imported whole."""
        try:
            location = _move(path, inbox.folder("inbox"))
            where = _("back in {folder}", folder=inbox.folder("inbox"))
        except OSError as exc:
            log.error("inbox %r: cannot move %s back to inbox/ (%s)", inbox.name, original, exc)
            location, where = path, _("still in processing/ (it could not be moved back)")
        outcome = result.files[0] if result is not None and result.files else None
        counts = outcome.summary.counts if outcome else {}
        sent = counts.get("added", 0) + counts.get("updated", 0)
        message = _(
            "The file changed while it was being imported (it was still being written), so "
            "the import may have read only part of it. It is {where} and is imported whole "
            "once it has stopped changing for {seconds} s."
        ).format(where=where, seconds=f"{self.config.settle_seconds:g}")
        if sent:
            message += " " + _(
                "{count} call(s) from the part that was read were added already; importing "
                "the whole file skips the numbers already pending in the campaign."
            ).format(count=f"{sent:,}")
        notice = FileNotice(
            language=current_language(),
            inbox=inbox.name, file=original, outcome="changed", exit_code=0,
            location=str(location), message=message, campaign=inbox.campaign or "",
            dry_run=inbox.dry_run, run_id=result.run_id if result is not None else "",
            reports=dict(outcome.reports) if outcome else {},
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        # No notification: the one about the whole file follows when it is imported.
        log.warning("inbox %r: %s: %s", inbox.name, original, message, extra=_extra(notice))
        return ProcessedFile(
            inbox=inbox.name, name=original, outcome="changed", exit_code=0, location=location,
            message=message, notice=notice, reports=dict(notice.reports),
        )

    def _done(
        self, inbox: Inbox, path: Path, original: str, result: ImportResult, code: int
    ) -> ProcessedFile:
        outcome = result.files[0] if result.files else None
        if outcome is not None and nothing_added(outcome.summary.counts):
            return self._nothing_added(inbox, path, original, result, outcome)
        try:
            location = _move(path, inbox.folder("done"))
        except OSError as exc:
            log.error("inbox %r: imported %s but cannot move it to done/ (%s); it stays in "
                      "processing/ and the next run will find it already imported",
                      inbox.name, original, exc)
            location = path
        summary = outcome.summary if outcome else None
        reports = dict(outcome.reports) if outcome else {}
        already = summary is not None and summary.already_imported
        if already:
            message = _(
                "Already imported earlier: nothing was sent now. The report is that earlier "
                "run's. To send the file again anyway, run `lead-importer import FILE --again`."
            )
        elif code == 0:
            message = _("Imported. The report lists every row and what happened to it.")
        else:
            message = _(
                "Imported, but the dialer refused some rows or they could not be "
                "delivered; the report lists them (status rejected or failed). Dropping the "
                "same file again retries only those rows."
            )
        notes = summary.notes if summary is not None else []
        if already:  # the import's own note tells the user to pass --again, an import flag
            notes = [n for n in notes if not n.startswith("Already imported by run")]
        if notes:
            message += "\n" + "\n".join(redact(shown_note(n)) for n in notes)
        notice = FileNotice(
            language=current_language(),
            inbox=inbox.name,
            file=original,
            outcome="done",
            exit_code=code,
            location=str(location),
            message=message,
            campaign=summary.campaign if summary else (inbox.campaign or ""),
            dry_run=inbox.dry_run,
            run_id=result.run_id,
            total_rows=summary.total_rows if summary else 0,
            counts=dict(summary.counts) if summary else {},
            reports=reports,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            already_imported=already,
        )
        log.info("inbox %r: %s -> %s (%s)", inbox.name, original, _rel(inbox, location),
                 notice.headline(), extra=_extra(notice))
        self._notify(inbox, notice)
        return ProcessedFile(
            inbox=inbox.name, name=original, outcome="done", exit_code=code, location=location,
            message=notice.headline(), notice=notice, reports=reports,
        )

    def _nothing_added(
        self, inbox: Inbox, path: Path, original: str, result: ImportResult,
        outcome: FileOutcome,
    ) -> ProcessedFile:
        """No row could be added: failed/ with the reports and a note (exit 1, rows' fault)."""
        summary, reports = outcome.summary, dict(outcome.reports)
        location, error_file = self._to_failed(
            inbox, path, original,
            lambda location: redact(_rows_error_text(
                inbox, original, location, summary.counts, reports, datetime.now(UTC),
                already=summary.already_imported,
            )),
        )
        what, _how = _rows_explained(summary.counts, inbox)
        notice = FileNotice(
            language=current_language(),
            inbox=inbox.name, file=original, outcome="failed", exit_code=EXIT_ROWS_FAILED,
            location=str(location),
            message=_("{what} See {note} and the report.").format(what=what,
                                                                  note=error_file.name),
            campaign=summary.campaign or inbox.campaign or "", dry_run=inbox.dry_run,
            run_id=result.run_id, total_rows=summary.total_rows, counts=dict(summary.counts),
            reports=reports, error_file=error_file,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            already_imported=summary.already_imported,
        )
        log.warning("inbox %r: %s -> %s: %s", inbox.name, original, _rel(inbox, location), what,
                    extra=_extra(notice))
        self._notify(inbox, notice)
        return ProcessedFile(
            inbox=inbox.name, name=original, outcome="failed", exit_code=EXIT_ROWS_FAILED,
            location=location, message=what, notice=notice, error_file=error_file,
            reports=reports,
        )

    @staticmethod
    def _to_failed(
        inbox: Inbox, path: Path, original: str, note: Callable[[Path], str]
    ) -> tuple[Path, Path]:
        """Move a file to failed/ and write its ``.error.txt`` note: (new place, note file)."""
        failed_dir = inbox.folder("failed")
        try:
            location = _move(path, failed_dir, extra_suffixes=(".error.txt",))
        except OSError as exc:
            log.error("inbox %r: cannot move %s to failed/ (%s)", inbox.name, original, exc)
            location = path
        error_file = location.with_name(location.name + ".error.txt")
        if location.parent != failed_dir:
            error_file = failed_dir / unique_target(failed_dir, original + ".error.txt").name
        try:
            with error_file.open("x", encoding="utf-8-sig") as fh:
                fh.write(note(location))
        except OSError as exc:
            log.error("inbox %r: cannot write %s (%s)", inbox.name, error_file, exc)
        return location, error_file

    def _failed(
        self, inbox: Inbox, path: Path, original: str, exc: BaseException, started: datetime
    ) -> ProcessedFile:
        code = exc.exit_code if isinstance(exc, ImporterError) else EXIT_BAD_INPUT
        location, error_file = self._to_failed(
            inbox, path, original,
            lambda location: _error_text(exc, inbox, original, location, started).replace(
                str(path), original
            ),
        )
        what, _how = explain_error(exc, inbox)
        what = what.replace(str(path), original)
        notice = FileNotice(
            language=current_language(),
            inbox=inbox.name,
            file=original,
            outcome="failed",
            exit_code=code,
            location=str(location),
            message=what,
            campaign=inbox.campaign or "",
            dry_run=inbox.dry_run,
            error_file=error_file,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        log.warning("inbox %r: %s -> %s: %s", inbox.name, original, _rel(inbox, location), what,
                    extra=_extra(notice))
        self._notify(inbox, notice)
        return ProcessedFile(
            inbox=inbox.name, name=original, outcome="failed", exit_code=code, location=location,
            message=what, notice=notice, error_file=error_file,
        )

    def _retry(
        self,
        inbox: Inbox,
        path: Path,
        original: str,
        exc: ImporterError | None,
        *,
        resumed: bool,
    ) -> ProcessedFile:
        if self.cancel.is_set():
            message = _("Interrupted; the import continues where it stopped at the next run.")
        else:
            reason = (redact(exc.shown()).replace(str(path), original) if exc
                      else _("API unusable"))
            message = _(
                "The dialer could not be used ({reason}). The file stays in processing/ and "
                "is retried automatically by the next run; nothing needs to be done with it."
            ).format(reason=reason)
            if isinstance(exc, LockError):
                message = _(
                    "Busy: {reason} The file stays in processing/ and is retried by the next "
                    "run."
                ).format(reason=reason)
            elif isinstance(exc, StorageError):
                message = _(
                    "{reason} The file stays in processing/ and the next run retries it; "
                    "nothing needs to be done with the file itself."
                ).format(reason=reason)
            if self.config.retry_after_seconds:
                self._paused_until[inbox.name] = self._clock() + self.config.retry_after_seconds
        notice = FileNotice(
            language=current_language(),
            inbox=inbox.name, file=original, outcome="retry", exit_code=EXIT_API_UNUSABLE,
            location=str(path), message=message, campaign=inbox.campaign or "",
            dry_run=inbox.dry_run, finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        log.warning("inbox %r: %s: %s", inbox.name, original, message, extra=_extra(notice))
        # tell people once per file, not at every retry of an outage
        if not resumed and not self.cancel.is_set():
            self._notify(inbox, notice)
        return ProcessedFile(
            inbox=inbox.name, name=original, outcome="retry", exit_code=EXIT_API_UNUSABLE,
            location=path, message=message, notice=notice,
        )

    def _notify(self, inbox: Inbox, notice: Notice) -> list[str]:
        """Send the inbox's notifications; the channels that failed."""
        try:
            return send_notifications(inbox.notify, notice)
        except Exception:                        # a notification must never stop the inbox
            log.exception("inbox %r: notification about %s failed", inbox.name, notice.about)
            return ["notify"]

    # the two ways to run

    def _sweep(self, result: OnceResult) -> list[tuple[Inbox, Path]]:
        changing: list[tuple[Inbox, Path]] = []
        for inbox in self.config.inboxes:
            if self.stop.is_set():
                break
            try:
                changing.extend((inbox, p) for p in self._pass(inbox, result))
            except (OSError, ImporterError) as exc:
                message = _("inbox {inbox}: cannot use the folder {folder} ({error})").format(
                    inbox=repr(inbox.name), folder=inbox.path, error=exc)
                log.error("%s", message)
                result.folder_errors.append(message)
        return changing

    def run_once(self) -> OnceResult:
        """Process what is in the inboxes now and return (for cron and timers).

        Files still being written get one settle window (plus a poll) to finish;
        a file that keeps changing is left for a later run.
        """
        self.prepare()
        self._setup, self._setup_ttl = {}, math.inf   # the set-up is checked afresh per run
        # observe afresh, as a new cron process would
        self._trackers = {
            i.name: SettleTracker(self.config.settle_seconds, clock=self._clock)
            for i in self.config.inboxes
        }
        result = OnceResult()
        announced: set[Path] = set()
        patience = self.config.settle_seconds + 2 * self.config.poll_seconds
        while True:
            changing = self._sweep(result)
            waiting = [
                (inbox, p) for inbox, p in changing
                if self._trackers[inbox.name].waited(p.name) < patience
            ]
            if not waiting or self.stop.is_set():
                break
            for inbox, path in waiting:
                if path not in announced:
                    announced.add(path)
                    log.info("inbox %r: waiting for %s to stay unchanged for %gs", inbox.name,
                             path.name, self.config.settle_seconds)
            self.stop.wait(self.config.poll_seconds)
        for inbox, path in changing:
            log.info("inbox %r: %s is still being written; a later run will pick it up",
                     inbox.name, path.name)
            result.still_changing.append(str(path))
        return result

    def watch(self, on_file: Callable[[ProcessedFile], None] | None = None) -> OnceResult:
        """Poll the inboxes until ``stop`` is set; a bad file never stops the loop."""
        self.prepare()
        # a watcher checks the set-up again after retry_after_seconds (the fix may be made)
        self._setup_ttl = self.config.retry_after_seconds
        total = OnceResult()
        log.info("watching %d inbox(es) every %gs", len(self.config.inboxes),
                 self.config.poll_seconds)
        while not self.stop.is_set():
            result = OnceResult()
            try:
                self._sweep(result)
            except Exception:                    # never let one pass kill the watcher
                log.exception("unexpected error while scanning the inboxes; continuing")
            for processed in result.files:
                if on_file is not None:
                    on_file(processed)
            total.files.extend(result.files)
            self.stop.wait(self.config.poll_seconds)
        log.info("stopped watching")
        return total


def _extra(notice: FileNotice) -> dict[str, object]:
    """Structured fields for JSON logs."""
    return {
        "inbox": notice.inbox,
        "file": notice.file,
        "outcome": notice.outcome,
        "exit_code": notice.exit_code,
        "location": notice.location,
    }


def _rel(inbox: Inbox, path: Path) -> str:
    try:
        return str(path.relative_to(inbox.path))
    except ValueError:
        return str(path)


def install_stop_signals(stop: threading.Event, cancel: threading.Event) -> None:
    """SIGTERM/SIGINT: finish the current file and stop; a second one interrupts it."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("second stop signal: interrupting the current file (it will resume)")
            cancel.set()
        else:
            log.info("stop signal received: finishing the current file, then stopping")
            stop.set()

    signal.signal(signal.SIGINT, handler)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, handler)
    if hasattr(signal, "SIGBREAK"):              # Windows console Ctrl+Break
        signal.signal(signal.SIGBREAK, handler)



_HEBREW_LETTERS = re.compile(r"[\u05d0-\u05ea]")


def _folder_language(campaign: str | None, environ: Mapping[str, str] | None) -> Lang | None:
    """Hebrew for a Hebrew campaign name or a Hebrew system locale; None otherwise."""
    if campaign and _HEBREW_LETTERS.search(campaign):
        return "he"
    env = os.environ if environ is None else environ
    return "he" if language_from_environment(env) == "he" else None


def init_inbox(
    directory: Path, *, campaign: str | None = None, mapping: str = AUTO,
    language: Lang | None = None, environ: Mapping[str, str] | None = None,
) -> Path:
    """Create ``directory/inbox.yaml`` and the working folders; never overwrites a config.

    The folder's ``language:`` is ``language`` when given, else Hebrew when the campaign's
    name is Hebrew or the system's locale is; otherwise the file leaves it out (English).
    """
    config_path = directory / "inbox.yaml"
    if config_path.exists():
        raise ConfigError(
            f"{config_path} already exists; nothing was changed (edit it, or choose another "
            "folder)"
        )
    mapping_value = AUTO
    if mapping.strip().lower() != AUTO:
        mapping_file = Path(mapping).expanduser()
        if not mapping_file.is_file():
            raise ConfigError(f"mapping file not found: {mapping_file}")
        mapping_file = mapping_file.resolve()
        try:
            mapping_value = mapping_file.relative_to(directory.resolve()).as_posix()
        except ValueError:
            mapping_value = str(mapping_file)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name in FOLDERS:
            (directory / name).mkdir(exist_ok=True)
        shown = str(config_path)
        if " " in shown:
            shown = f'"{shown}"'
        text = render_inbox_yaml(
            name=directory.resolve().name or "leads",
            campaign=campaign,
            mapping=mapping_value,
            config_path=shown,
            language=language or _folder_language(campaign, environ),
        )
        with config_path.open("x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise ConfigError(f"{config_path} already exists; nothing was changed") from None
    except OSError as exc:
        raise ConfigError(f"cannot create the inbox in {directory} ({exc})") from None
    load_inbox_config(config_path)               # what we wrote must load
    return config_path
