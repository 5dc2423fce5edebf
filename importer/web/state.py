"""Everything one running web workspace holds: its stores, its job runner, its limits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from importer.errors import ConfigError
from importer.i18n import LANGUAGES, Lang, resolve_language, use_language
from importer.journal import Journal, RunRecord
from importer.web.auth import LoginLimiter, Sessions
from importer.web.config import WebConfig
from importer.web.jobs import JobRunner
from importer.web.store import JobRecord, WebStore
from importer.web.uploads import UploadStore, private_dir
from importer.web.users import UserStore

__all__ = ["LANG_COOKIE", "WebState"]

log = logging.getLogger("importer.web")

LANG_COOKIE = "li_lang"


class WebState:
    """The app's stores and runner (``app.state.web``)."""

    def __init__(self, config: WebConfig) -> None:
        """Open the data folder (private), the database and the users file."""
        self.config = config
        self.data_dir = private_dir(config.data_dir)
        self.store = WebStore(self.data_dir / "web.db")
        (self.data_dir / "web.db").chmod(0o600)
        self.users = UserStore(config.users_file)
        self.sessions = Sessions(self.store, config.session_idle)
        self.limiter = LoginLimiter()
        self.uploads = UploadStore(self.data_dir / "uploads", self.store, config.keep_uploads_days)
        self.mappings_dir = private_dir(self.data_dir / "mappings")
        self.runner = JobRunner(
            self.store, self.uploads, config.settings, self.data_dir,
            lock_timeout=config.lock_timeout, language_scope=_job_language,
        )
        self.languages: tuple[str, ...] = LANGUAGES
        # Set by the pages module: renders the sign-in page with an error.
        self.login_page: Callable[[Request, str, int, str, str], Response] = _plain_login

    def close(self) -> None:
        """Stop the jobs (they finish their chunks in flight) and close the database."""
        self.runner.shutdown()
        self.store.close()

    def language_of(self, request: Request) -> Lang:
        """``?lang=``, the language cookie, the user's choice, ``serve --lang`` or the config's."""
        signed_in = self.sessions.of(request)
        user = self.users.get(signed_in.user) if signed_in else None
        choices = [
            request.query_params.get("lang"),
            request.cookies.get(LANG_COOKIE),
            user.language if user else None,
            self.config.language,
        ]
        return resolve_language(*[c for c in choices if c in self.languages])

    # ------------------------------------------------------------------ runs

    def _journal_path(self) -> Path:
        return Journal.path_for(self.config.settings.resolved_state_dir())

    def run_record(self, run_id: str) -> RunRecord | None:
        """A run of the journal, or None."""
        if not self._journal_path().exists():
            return None
        with Journal.open(self.config.settings.resolved_state_dir()) as journal:
            try:
                return journal.get_run(run_id)
            except ConfigError:
                return None

    def runs(self, limit: int) -> list[dict[str, Any]]:
        """Recent runs (newest first) with who started them here, their reports, their undo."""
        if not self._journal_path().exists():
            return []
        with Journal.open(self.config.settings.resolved_state_dir()) as journal:
            records = journal.list_runs(limit)
            jobs = self.store.jobs_of_runs([r.run_id for r in records])
            return [self._run_json(journal, r, jobs.get(r.run_id)) for r in records]

    def _run_json(self, journal: Journal, run: RunRecord, job: JobRecord | None) -> dict[str, Any]:
        undo = journal.undo_of(run.run_id)
        name, reports, index = run.source_file, {}, None
        if job is None:
            # A job stopped before it finished knows no run id: the run names our file.
            found = self.store.import_of_file(run.source_path)
            if found is not None:
                name, job = found
        if job is not None:
            for i, f in enumerate(job.result.get("files", [])):
                if f.get("run_id") == run.run_id:
                    name, index = f["name"], i
                    reports = {
                        fmt: f"/api/jobs/{job.job_id}/reports/{i}/{fmt}"
                        for fmt in f.get("reports", {})
                    }
        undo_jobs = self.store.undo_jobs_of(run.run_id)
        return {
            "run_id": run.run_id,
            "source_file": name,
            "campaign": run.campaign_name,
            "mode": run.mode,
            "dry_run": run.dry_run,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "outcome": run.outcome or "unfinished",
            "counts": dict(run.counts) or journal.status_counts(run.run_id),
            "by": job.user if job else None,
            "job_id": job.job_id if job else None,
            "file_index": index,
            "reports": reports,
            "resumable": job is not None and job.state == "interrupted",
            "undo": None if undo is None else {
                "undo_id": undo.undo_id, "outcome": undo.outcome or "unfinished",
                "counts": dict(undo.counts), "finished_at": undo.finished_at,
                "job_id": undo_jobs[0].job_id if undo_jobs else None,
            },
        }


def _plain_login(
    request: Request, error: str, status: int, next_page: str, username: str
) -> Response:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse(error, status_code=status)




def _job_language(lang: str | None) -> AbstractContextManager[Lang]:
    """A job thread's language: the one of the request that started it."""
    return use_language(resolve_language(lang if lang in LANGUAGES else None))
