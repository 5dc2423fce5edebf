"""The pages: rendered on the server with Jinja2 (autoescaped), in Hebrew or English.

Each page shows what the JSON API knows (the same functions build both); the
little JavaScript in ``static/app.js`` calls the API for the actions and
reloads.  Texts go through ``_`` (``importer.i18n``) in the request's language;
the templates are extracted into the ``web`` catalogue by ``scripts/i18n.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from importer.errors import ImporterError
from importer.i18n import LANGUAGE_NAMES, N_, _, current_language, is_rtl, translate
from importer.outcomes import Status
from importer.redact import redact
from importer.report.writer import read_report_csv
from importer.web.api import _statuses, campaigns, inbox_json, job_json, state_of, upload_json
from importer.web.auth import SignedIn
from importer.web.columns import FIELDS
from importer.web.problems import HttpProblem, error_texts
from importer.web.state import LANG_COOKIE, WebState

__all__ = ["STATUS_LABELS", "install_pages", "page_routes"]

TEMPLATES = Path(__file__).parent / "templates"
PAGE_SIZE = 50

#: What each row status is called on the pages (the reports keep the codes).
STATUS_LABELS: dict[str, str] = {
    Status.ADDED: N_("Added"),
    Status.UPDATED: N_("Updated"),
    Status.WOULD_ADD: N_("Will be added"),
    Status.WOULD_UPDATE: N_("Will be updated"),
    Status.DUPLICATE_IN_BATCH: N_("Duplicate in the file"),
    Status.DUPLICATE_PENDING: N_("Already waiting in the campaign"),
    Status.DUPLICATE_HISTORY: N_("Imported recently"),
    Status.SUPPRESSED: N_("Do not call"),
    Status.MISSING_PHONE: N_("No phone number"),
    Status.INVALID_PHONE: N_("Invalid phone number"),
    Status.TYPE_REJECTED: N_("Phone type not allowed"),
    Status.REJECTED: N_("Refused by the dialer"),
    Status.FAILED: N_("Not delivered"),
    Status.REMOVED: N_("Removed"),
    Status.NOT_A_LEAD: N_("Not a lead (title, blank row)"),
    Status.ALREADY_DIALLED: N_("Already dialled"),
    Status.KEPT_ADDED_LATER: N_("Kept: added again later"),
    Status.RESTORED: N_("Restored"),
}
ROLE_LABELS: dict[str, str] = {
    "phone": N_("Phone"),
    "phone2": N_("Second phone"),
    "CustomerName": N_("Customer name"),
    "Priority": N_("Priority"),
    "OriginateTime": N_("Call-back time"),
    "CallerID": N_("Caller ID"),
    "custom": N_("Screen-pop field"),
    "ignore": N_("Ignore"),
}
STATE_LABELS: dict[str, str] = {
    "queued": N_("Waiting"),
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Failed"),
    "interrupted": N_("Interrupted"),
    "finished": N_("Finished"),
    "incomplete": N_("Incomplete"),
    "unfinished": N_("Unfinished"),
}
REPORT_LABELS: dict[str, str] = {
    "csv": N_("Report (CSV)"),
    "xlsx": N_("Report (Excel)"),
    "json": N_("Summary (JSON)"),
    "rejects": N_("Rows to fix (CSV)"),
    "rejects_xlsx": N_("Rows to fix (Excel)"),
}
FOLDER_LABELS: dict[str, str] = {
    "inbox": N_("waiting"),
    "failed": N_("could not be imported"),
    "done": N_("imported"),
}
MODE_LABELS: dict[str, str] = {
    "append": N_("Add new numbers"),
    "upsert": N_("Add, and update numbers already waiting"),
}


def _gettext(message: str, /, **params: object) -> str:
    return translate(current_language(), message, None, **params)


def _ngettext(singular: str, plural: str, n: int, /, **params: object) -> str:
    return _gettext(singular if n == 1 else plural, n=n, **params)


def _label(labels: dict[str, str], key: str) -> str:
    """A code's label in the request's language (the code itself when it has none)."""
    return _gettext(labels[key]) if key in labels else key


def make_environment() -> Environment:
    """Jinja2 with autoescaping and ``_`` in the request's language."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html",), default=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=False)  # type: ignore[attr-defined]
    env.globals.update(
        status_label=lambda s: _label(STATUS_LABELS, s),
        state_label=lambda s: _label(STATE_LABELS, s),
        role_label=lambda r: _label(ROLE_LABELS, r),
        report_label=lambda f: _label(REPORT_LABELS, f),
        mode_label=lambda m: _label(MODE_LABELS, m),
        folder_label=lambda f: _label(FOLDER_LABELS, f),
        roles=list(ROLE_LABELS),
        fields=FIELDS,
        language_names=LANGUAGE_NAMES,
    )
    return env


class Pages:
    """Renders the pages of one app."""

    def __init__(self, state: WebState) -> None:
        """Load the templates."""
        self.state = state
        self.env = make_environment()

    def render(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200,
        signed_in: SignedIn | None = None,
    ) -> HTMLResponse:
        """A page in the request's language, with the user's CSRF token for the scripts."""
        lang = current_language()
        here = request.url.path
        query = {k: v for k, v in request.query_params.items() if k != "lang"}
        html = self.env.get_template(name).render(
            lang=lang,
            rtl=is_rtl(lang),
            user=signed_in.user if signed_in else None,
            csrf=signed_in.csrf if signed_in else "",
            page=name.removesuffix(".html"),
            here=here,
            switch={other: here + "?" + urlencode({**query, "lang": other})
                    for other in self.state.languages if other != lang},
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        chosen = request.query_params.get("lang")
        if chosen in self.state.languages:
            response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, httponly=True,
                                samesite="strict", secure=request.url.scheme == "https")
        return response

    def login_page(
        self, request: Request, error: str, status: int, next_page: str, username: str
    ) -> Response:
        """The sign-in page (again), with what went wrong."""
        context = {"error": error, "next": next_page, "username": username}
        return self.render(request, "login.html", context, status)

    def error_page(self, request: Request, exc: HTTPException) -> Response:
        """A page for a missing upload, job or page."""
        hint = getattr(exc, "hint", "")
        signed_in = self.state.sessions.of(request)
        return self.render(request, "error.html", {"error": exc.detail, "hint": hint},
                           exc.status_code, signed_in)


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


async def _signed_in(request: Request) -> SignedIn | None:
    state = state_of(request)
    signed_in = await run_in_threadpool(state.sessions.of, request)
    if signed_in is None or state.users.get(signed_in.user) is None:
        return None
    if request.query_params.get("lang") in state.languages:
        await run_in_threadpool(state.users.set_language, signed_in.user,
                                request.query_params["lang"])
    return signed_in


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?next=" + quote(target, safe="/"), status_code=303)


async def login_page(request: Request) -> Response:
    """``GET /login``."""
    next_page = request.query_params.get("next", "/")
    context = {"error": "", "next": next_page, "username": ""}
    return _pages(request).render(request, "login.html", context)


async def upload_page(request: Request) -> Response:
    """``GET /``: drop or choose files."""
    signed_in = await _signed_in(request)
    if signed_in is None:
        return _to_login(request)
    state = state_of(request)
    limit_mb = state.config.max_upload_bytes / (1024 * 1024)
    inbox = await run_in_threadpool(inbox_json, state)
    return _pages(request).render(request, "upload.html", {
        "limit_mb": f"{limit_mb:g}", "max_files": state.config.max_files, "inbox": inbox,
    }, signed_in=signed_in)


def _upload_or_404(request: Request) -> Any:
    upload = state_of(request).store.upload(str(request.path_params["upload_id"]))
    if upload is None:
        raise HttpProblem(404, _("There is no such upload (uploads are kept for a limited time)."),
                          _("Upload the file again."))
    return upload


async def file_page(request: Request) -> Response:
    """``GET /uploads/{id}``: what the reader saw in each file."""
    signed_in = await _signed_in(request)
    if signed_in is None:
        return _to_login(request)
    upload = _upload_or_404(request)
    return _pages(request).render(request, "file.html", {"upload": upload_json(upload)},
                                  signed_in=signed_in)


async def columns_page(request: Request) -> Response:
    """``GET /uploads/{id}/columns``: what each column is, the campaign, preview."""
    signed_in = await _signed_in(request)
    if signed_in is None:
        return _to_login(request)
    state = state_of(request)
    upload = _upload_or_404(request)
    draft = await run_in_threadpool(state.uploads.draft, upload)
    found, campaign_error = await run_in_threadpool(_campaigns_or_error, state)
    saved = sorted(p.stem for p in state.mappings_dir.glob("*.yaml"))
    return _pages(request).render(request, "columns.html", {
        "upload": upload_json(upload),
        "columns": draft.columns,
        "problems": [redact(p) for p in draft.problems],
        "campaigns": found,
        "campaign_error": campaign_error,
        "saved": saved,
        "modes": list(MODE_LABELS),
    }, signed_in=signed_in)


def _campaigns_or_error(state: WebState) -> tuple[list[dict[str, Any]], str]:
    if not state.config.settings.account_code:
        return [], _("The server has no account code, so campaigns cannot be listed.")
    try:
        return campaigns(state), ""
    except ImporterError as exc:
        return [], error_texts(exc)[0]


async def job_page(request: Request) -> Response:
    """``GET /jobs/{id}``: progress, then counts, problem rows, reports, undo."""
    signed_in = await _signed_in(request)
    if signed_in is None:
        return _to_login(request)
    state = state_of(request)
    job = state.runner.get(str(request.path_params["job_id"]))
    if job is None:
        raise HttpProblem(404, _("There is no such job."))
    data = job_json(job)
    rows = await run_in_threadpool(_rows_page, request, state, data)
    undo = None
    if job.kind == "import" and job.run_id and not data["dry_run"]:
        run = await run_in_threadpool(state.run_record, job.run_id)
        undo_jobs = state.store.undo_jobs_of(job.run_id)
        undo = {"possible": run is not None, "job_id": undo_jobs[0].job_id if undo_jobs else None}
    upload = state.store.upload(job.upload_id) if job.upload_id else None
    return _pages(request).render(request, "job.html", {
        "job": data,
        "statuses": [s.value for s in Status if data["counts"].get(s.value)],
        "rows": rows,
        "undo": undo,
        "file_names": [f["name"] for f in upload_json(upload)["files"]] if upload else [],
    }, signed_in=signed_in)


def _rows_page(request: Request, state: WebState, job: dict[str, Any]) -> dict[str, Any] | None:
    """The rows to look at (problems by default) of one file's CSV report, paged."""
    files = job["files"]
    params = request.query_params
    index = int(params["file"]) if params.get("file", "").isdigit() else 0
    if job["state"] != "done" or index >= len(files) or "csv" not in files[index]["reports"]:
        return None
    default = "" if job["kind"] == "undo" else "problems"
    wanted_text = params.get("status", default)
    try:
        wanted = _statuses(wanted_text)
        offset = max(0, int(params.get("offset", 0)))
    except (HttpProblem, ValueError):
        wanted, offset, wanted_text = _statuses(default), 0, default
    record = state.runner.get(job["job_id"])
    assert record is not None
    path = state.runner.report_dir(record.job_id) / record.result["files"][index]["reports"]["csv"]
    rows = [r for r in read_report_csv(path) if not wanted or r.get("status") in wanted]
    page = rows[offset: offset + PAGE_SIZE]

    def link(**query: object) -> str:
        return f"/jobs/{job['job_id']}?" + urlencode({"file": index, **query})

    return {
        "rows": page, "total": len(rows), "offset": offset, "status": wanted_text,
        "links": {
            "prev": link(status=wanted_text, offset=max(0, offset - PAGE_SIZE)) if offset else "",
            "next": link(status=wanted_text, offset=offset + PAGE_SIZE)
            if offset + PAGE_SIZE < len(rows) else "",
        },
        "filters": [(value, label, link(status=value)) for value, label in _filters(job)],
        "files": [(i, f["name"], link(file=i)) for i, f in enumerate(files)]
        if len(files) > 1 else [],
        "file": index,
        "has_name": any(r.get("CustomerName") for r in page),
    }


def _filters(job: dict[str, Any]) -> list[tuple[str, str]]:
    """The row filters of a job page: its problems, all rows, each status it has."""
    first = [("", _("All rows"))] if job["kind"] == "undo" else [
        ("problems", _("Rows to fix")), ("", _("All rows"))]
    return first + [
        (s, _gettext(STATUS_LABELS[s]))
        for s, n in job["counts"].items() if n and s in STATUS_LABELS
    ]


async def runs_page(request: Request) -> Response:
    """``GET /runs``: recent runs, by whom, their reports and undo; interrupted jobs."""
    signed_in = await _signed_in(request)
    if signed_in is None:
        return _to_login(request)
    state = state_of(request)
    runs = await run_in_threadpool(state.runs, 50)
    jobs = [job_json(j) for j in state.store.jobs(50)]
    interrupted = [j for j in jobs if j["state"] == "interrupted"]
    return _pages(request).render(request, "runs.html", {
        "runs": [r for r in runs if not r["dry_run"]],
        "interrupted": interrupted,
    }, signed_in=signed_in)


def page_routes() -> list[Route]:
    """Every page route."""
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/", upload_page, methods=["GET"]),
        Route("/uploads/{upload_id}", file_page, methods=["GET"]),
        Route("/uploads/{upload_id}/columns", columns_page, methods=["GET"]),
        Route("/jobs/{job_id}", job_page, methods=["GET"]),
        Route("/runs", runs_page, methods=["GET"]),
    ]


def install_pages(app: Starlette, state: WebState) -> None:
    """Give the app its page renderer (the sign-in and error pages are used by the API)."""
    pages = Pages(state)
    app.state.pages = pages
    app.state.error_page = pages.error_page
    state.login_page = pages.login_page
