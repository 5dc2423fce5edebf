"""Background jobs: imports, previews (dry runs) and undos, each in its own thread.

A job calls the library exactly as the command line does (``run_import``,
``undo_run``) with its own report folder; its state, progress and result are
kept in ``web.db``, so a restarted server still shows finished jobs.  Jobs it
left queued or running are marked ``interrupted`` at start; resuming one runs
the same import again, which the journal resumes where it stopped.  Stopping
the server asks running jobs to stop after the chunks in flight, as Ctrl-C does
for the command line.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from importer.config import Settings
from importer.errors import ConfigError, ImporterError, RunInterruptedError
from importer.i18n import _, current_language
from importer.outcomes import shown_note
from importer.pipeline import ImportOptions, ImportResult, ProgressEvent, run_import
from importer.redact import redact
from importer.undo import UndoOptions, UndoResult, undo_run
from importer.web.problems import error_texts
from importer.web.store import ACTIVE, JobRecord, UploadRecord, WebStore, utc_now
from importer.web.uploads import UploadStore, private_dir, write_private

__all__ = ["ACTIVE", "ImportRequest", "JobRunner"]

log = logging.getLogger(__name__)

Mode = Literal["append", "upsert", "sync"]
_SAVE_EVERY = 1.0  # seconds between progress writes to web.db


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """What ``POST /api/uploads/{id}/jobs`` asks for."""

    campaign: str
    dry_run: bool
    mode: Mode = "append"
    mapping_yaml: str = ""
    mapping_name: str = ""
    confirm_sync: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The request as stored with the job."""
        return {
            "campaign": self.campaign, "dry_run": self.dry_run, "mode": self.mode,
            "mapping_yaml": self.mapping_yaml, "mapping_name": self.mapping_name,
            "confirm_sync": self.confirm_sync,
        }


def _error(exc: ImporterError, names: dict[str, str]) -> dict[str, str]:
    """An error as the API shows it: in the job's language, redacted; ``names`` puts the
    browser's names in place of our paths (the library names files by their display name,
    but a few errors quote a whole path)."""

    def rename(text: str) -> str:
        for stored, name in names.items():
            text = text.replace(stored, name)
        return text

    error, hint = error_texts(exc, rename)
    return {"error": error, "hint": hint}


class JobRunner:
    """Starts jobs in threads and keeps their live state."""

    def __init__(
        self,
        store: WebStore,
        uploads: UploadStore,
        settings: Settings,
        data_dir: Path,
        *,
        lock_timeout: float = 30.0,
        language_scope: Callable[[str | None], Any] | None = None,
    ) -> None:
        """``language_scope(lang)``: a context manager setting a thread's language."""
        self.store = store
        self.uploads = uploads
        self.settings = settings
        self.reports_root = private_dir(data_dir / "reports")
        self.jobs_root = private_dir(data_dir / "jobs")
        self.lock_timeout = lock_timeout
        self.language_scope = language_scope
        self._lock = threading.Lock()
        self._live: dict[str, JobRecord] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}
        self.interrupted_at_start = store.interrupt_active()

    # ------------------------------------------------------------------ queries

    def get(self, job_id: str) -> JobRecord | None:
        """A job's current state: live while it runs, else as stored."""
        with self._lock:
            live = self._live.get(job_id)
            if live is not None:
                return replace(live, result=dict(live.result))
        return self.store.job(job_id)

    def busy_uploads(self) -> set[str]:
        """Uploads a running job reads."""
        with self._lock:
            return {j.upload_id for j in self._live.values() if j.upload_id}

    def campaign_busy(self, campaign: str) -> bool:
        """Whether a real import or undo into this campaign (by name) runs here now."""
        wanted = campaign.strip().casefold()
        with self._lock:
            return any(
                not j.request.get("dry_run") and j.request.get("campaign", "").strip().casefold()
                == wanted
                for j in self._live.values()
            )

    def report_dir(self, job_id: str) -> Path:
        """Where a job's reports are written."""
        return self.reports_root / job_id

    # ------------------------------------------------------------------ starting

    def start_import(
        self, user: str, upload: UploadRecord, request: ImportRequest, language: str | None
    ) -> JobRecord:
        """Queue an import (or preview) of an upload's files and start its thread."""
        total = sum(int(f.info.get("row_count", 0)) for f in upload.files)
        job = self._new("import", user, upload.upload_id, request.as_dict(), language, total)
        self._start(job, lambda: self._run_import(job, upload, request))
        return job

    def start_undo(
        self, user: str, run_id: str, campaign: str, dry_run: bool, language: str | None
    ) -> JobRecord:
        """Queue the undo of a run and start its thread."""
        request = {"run_id": run_id, "campaign": campaign, "dry_run": dry_run}
        job = self._new("undo", user, None, request, language, None)
        job.run_id = run_id
        self.store.save_job(job)
        self._start(job, lambda: self._run_undo(job, run_id, dry_run))
        return job

    def resume(self, user: str, job: JobRecord) -> JobRecord:
        """Run an interrupted job again: the library resumes its run from the journal."""
        if job.kind == "undo":
            return self.start_undo(
                user, str(job.request["run_id"]), str(job.request.get("campaign", "")),
                bool(job.request.get("dry_run")), job.language,
            )
        upload = self.store.upload(job.upload_id or "")
        if upload is None:
            raise ConfigError(_(
                "the files of this import were removed from the server (uploads are kept for a "
                "limited time)"
            )).with_hint(_("Upload the same file again and import it: rows already added are "
                           "skipped."))
        request = ImportRequest(**job.request)
        return self.start_import(user, upload, request, job.language)

    def _new(
        self,
        kind: str,
        user: str,
        upload_id: str | None,
        request: dict[str, Any],
        language: str | None,
        total: int | None,
    ) -> JobRecord:
        job = JobRecord(
            job_id=secrets.token_hex(8),
            kind=kind,
            user=user,
            upload_id=upload_id,
            request=request,
            state="queued",
            rows_total=total,
            created_at=utc_now(),
            language=language,
        )
        self.store.add_job(job)
        return job

    def _start(self, job: JobRecord, work: Callable[[], None]) -> None:
        cancel = threading.Event()
        with self._lock:
            self._live[job.job_id] = job
            self._cancel[job.job_id] = cancel
        thread = threading.Thread(
            target=self._thread, args=(job, work), name=f"job-{job.job_id}", daemon=True
        )
        with self._lock:
            self._threads[job.job_id] = thread
        thread.start()

    def _thread(self, job: JobRecord, work: Callable[[], None]) -> None:
        """Run a job with its user's language; whatever happens, record how it ended."""
        try:
            if self.language_scope is not None:
                with self.language_scope(job.language):
                    work()
            else:
                work()
        except Exception:  # never lose a job to a bug: say so, keep the server up
            log.exception("job %s failed unexpectedly", job.job_id)
            self._finish(job, "failed", error={
                "error": _("Something went wrong inside the importer."),
                "hint": _("Tell whoever runs the server; the server's log has the details."),
            })
        finally:
            with self._lock:
                self._live.pop(job.job_id, None)
                self._cancel.pop(job.job_id, None)
                self._threads.pop(job.job_id, None)

    def _finish(
        self, job: JobRecord, state: str, *, error: dict[str, str] | None = None
    ) -> None:
        with self._lock:
            job.state = state
            job.error = error
            job.finished_at = utc_now()
        self.store.save_job(job)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Ask every job to stop after its chunks in flight; wait for them."""
        with self._lock:
            events = list(self._cancel.values())
            threads = list(self._threads.values())
        for event in events:
            event.set()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------ imports

    def _run_import(self, job: JobRecord, upload: UploadRecord, request: ImportRequest) -> None:
        names = {str(f.stored): f.name for f in upload.files}
        folder = private_dir(self.jobs_root / job.job_id)
        mapping = write_private(folder / "mapping.yaml", request.mapping_yaml)
        options = ImportOptions(
            campaign=request.campaign,
            mapping_path=mapping,
            report_dir=private_dir(self.report_dir(job.job_id)),
            mode=request.mode,
            dry_run=request.dry_run,
            yes=request.confirm_sync,
            lock_timeout=self.lock_timeout,
            language=current_language(),  # the thread's: the page's that started the job
            # Reports, their file names, notes, errors and the journal name the browser's names.
            display_names={f.stored: f.name for f in upload.files},
        )
        with self._lock:
            job.state = "running"
        self.store.save_job(job)
        log.info("%s: job %s started (%s)", job.user, job.job_id,
                 "preview" if request.dry_run else "import")
        progress = _Progress(self, job, upload)
        try:
            result = run_import(
                [f.stored for f in upload.files], options, self.settings,
                progress=progress, cancel=self._cancel.get(job.job_id),
            )
        except RunInterruptedError as exc:
            self._finish(job, "interrupted", error=_error(exc, names))
            return
        except ImporterError as exc:
            log.info("%s: job %s failed: %s", job.user, job.job_id, redact(str(exc)))
            self._finish(job, "failed", error=_error(exc, names))
            return
        with self._lock:
            job.result = self._import_result(result, upload, job.job_id)
            job.run_id = result.run_id or None
            job.rows_done = sum(f.summary.total_rows for f in result.files)
        self._finish(job, "done")
        log.info("%s: job %s done: %s", job.user, job.job_id, _counts_text(job.result["counts"]))

    def _import_result(
        self, result: ImportResult, upload: UploadRecord, job_id: str
    ) -> dict[str, Any]:
        root = self.report_dir(job_id)
        files: list[dict[str, Any]] = []
        totals: dict[str, int] = {}
        for outcome in result.files:
            summary = outcome.summary
            reports = {
                fmt: str(path.relative_to(root))
                for fmt, path in outcome.reports.items()
                if path.is_relative_to(root)
            }
            files.append({
                "name": summary.source_file,
                "run_id": summary.run_id,
                "counts": dict(summary.counts),
                "total_rows": summary.total_rows,
                "notes": [redact(shown_note(n)) for n in summary.notes],
                "already_imported": summary.already_imported,
                "exit_code": outcome.exit_code,
                "reports": reports,
            })
            if not summary.already_imported:
                for status, count in summary.counts.items():
                    totals[status] = totals.get(status, 0) + count
        return {
            "kind": "import",
            "files": files,
            "counts": totals,
            "exit_code": result.exit_code,
            "run_ids": [f["run_id"] for f in files if f["run_id"]],
        }

    def progress(self, job: JobRecord, rows_done: int) -> None:
        """Called from the import's progress callback."""
        with self._lock:
            job.rows_done = rows_done
            if job.rows_total is not None and rows_done > job.rows_total:
                job.rows_total = rows_done

    # ------------------------------------------------------------------ undo

    def _run_names(self, run_id: str) -> Callable[[str], str]:
        """For a run imported before the library took display names: its stored file name ->
        the browser's name (newer runs record the browser's name themselves)."""
        job = self.store.jobs_of_runs([run_id]).get(run_id)
        pairs = [
            (str(f["_stored_stem"]), _stem(str(f["name"])))
            for f in (job.result.get("files", []) if job else [])
            if f.get("run_id") == run_id and f.get("_stored_stem")
        ]
        return _renamer(pairs)

    def _run_undo(self, job: JobRecord, run_id: str, dry_run: bool) -> None:
        options = UndoOptions(
            run_id=run_id,
            dry_run=dry_run,
            report_dir=private_dir(self.report_dir(job.job_id)),
            lock_timeout=self.lock_timeout,
            language=current_language(),
        )
        with self._lock:
            job.state = "running"
        self.store.save_job(job)
        log.info("%s: job %s: undo of run %s started", job.user, job.job_id, run_id)
        try:
            result = undo_run(options, self.settings, cancel=self._cancel.get(job.job_id))
        except RunInterruptedError as exc:
            self._finish(job, "interrupted", error=_error(exc, {}))
            return
        except ImporterError as exc:
            self._finish(job, "failed", error=_error(exc, {}))
            return
        with self._lock:
            job.result = self._undo_result(result, job.job_id)
        self._finish(job, "done")
        log.info("%s: job %s: undo of run %s done: %s", job.user, job.job_id, run_id,
                 _counts_text(job.result["counts"]))

    def _undo_result(self, result: UndoResult, job_id: str) -> dict[str, Any]:
        root = self.report_dir(job_id)
        rename = self._run_names(result.run.run_id)
        reports = {
            fmt: str(path.relative_to(root))
            for fmt, path in result.reports.items()
            if path.is_relative_to(root)
        }
        return {
            "kind": "undo",
            "undo_id": result.undo_id,
            "counts": dict(result.counts),
            "already_undone": result.already_undone,
            "exit_code": result.exit_code,
            "notes": [rename(redact(shown_note(n))) for n in result.notes],
            "files": [{
                "name": rename(result.run.source_file),
                "_stored_stem": _stem(result.run.source_file),
                "run_id": result.run.run_id,
                "counts": dict(result.counts),
                "reports": reports,
            }],
        }


def _stem(name: str) -> str:
    """A file name without its extension."""
    return name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name


def _renamer(pairs: list[tuple[str, str]]) -> Callable[[str], str]:
    """Our random file names (with and without extension) in a text -> the browser's names."""
    swaps: list[tuple[str, str]] = []
    for stored, name in pairs:
        swaps += [(stored, name), (_stem(stored), _stem(name))]

    def rename(text: str) -> str:
        for old, new in swaps:
            text = text.replace(old, new)
        return text

    return rename


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "nothing"


class _Progress:
    """The pipeline's progress events, as rows done over the whole upload."""

    def __init__(self, runner: JobRunner, job: JobRecord, upload: UploadRecord) -> None:
        self.runner = runner
        self.job = job
        self.done_before = 0
        self.file = ""
        self.current = 0
        self.saved = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage != "push":
            return
        if event.file != self.file:
            self.done_before += self.current
            self.file, self.current = event.file, 0
        self.current = event.done
        self.runner.progress(self.job, self.done_before + self.current)
        now = time.monotonic()
        if now - self.saved >= _SAVE_EVERY:
            self.saved = now
            self.runner.store.save_job(self.job)

