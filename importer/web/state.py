"""Everything one running web workspace holds: its stores, its job runner, its limits."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from importer.errors import ConfigError
from importer.journal import Journal, RunRecord
from importer.web.auth import LoginLimiter, Sessions
from importer.web.config import WebConfig
from importer.web.jobs import JobRunner
from importer.web.store import JobRecord, WebStore
from importer.web.uploads import UploadStore, private_dir
from importer.web.users import UserStore

__all__ = ["LANGUAGES", "WebState"]

log = logging.getLogger("importer.web")

LANGUAGES = ("he", "en")
LANG_COOKIE = "li_lang"


class WebState:
    """The app's stores and runner (``app.state.web``)."""

    def __init__(
        self, config: WebConfig, language_scope: Callable[[str | None], Any] | None = None
    ) -> None:
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
            lock_timeout=config.lock_timeout, language_scope=language_scope,
        )
        self.languages = LANGUAGES
        # Set by the pages module: renders the sign-in page with an error.
        self.login_page: Callable[[Request, str, int, str], Response] = _plain_login

    def close(self) -> None:
        """Stop the jobs (they finish their chunks in flight) and close the database."""
        self.runner.shutdown()
        self.store.close()

    def language_of(self, request: Request) -> str:
        """``?lang=``, the language cookie, the user's choice, the config, the environment."""
        wanted = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        if wanted in self.languages:
            return str(wanted)
        signed_in = self.sessions.of(request)
        user = self.users.get(signed_in.user) if signed_in else None
        if user is not None and user.language in self.languages:
            return str(user.language)
        if self.config.language in self.languages:
            return str(self.config.language)
        env = os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
        return "he" if env.lower().startswith("he") else "en"

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


def _plain_login(request: Request, error: str, status: int, next_page: str) -> Response:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse(error, status_code=status)


__all__ += ["LANG_COOKIE"]
