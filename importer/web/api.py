"""The JSON API (``/api/*``, ``POST /login``): the pages use it, and scripts may.

The contract is documented in the README ("Web workspace"); keep it stable.
Every handler runs as the signed-in user; every non-GET call needs the
session's ``X-CSRF-Token``.  Library errors become ``{error, hint}`` with a
4xx status (see ``problems.status_of``), never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, cast

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as FormFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive

from importer.dialer.client import DialerClient
from importer.errors import ImporterError
from importer.i18n import _, current_language
from importer.mapping import parse_mapping
from importer.outcomes import REJECTS_STATUSES, Status
from importer.redact import redact, register_secret
from importer.report.writer import read_report_csv
from importer.web.auth import SignedIn, client_address
from importer.web.columns import ROLES, Choice
from importer.web.inbox_files import find_file, recent_files
from importer.web.jobs import ImportRequest, Mode
from importer.web.problems import HttpProblem, error_texts, problem_response, status_of
from importer.web.state import WebState
from importer.web.store import FINAL, JobRecord, UploadRecord
from importer.web.uploads import MappingDraft, mapping_problems

__all__ = ["api_routes", "campaigns", "inbox_json", "job_json", "state_of", "upload_json"]

log = logging.getLogger("importer.web")

Handler = Callable[[Request, SignedIn], Awaitable[Response]]
_MAPPING_NAME = re.compile(r"^\w[\w .()-]{0,59}$")
_ROWS_LIMIT = 500


def state_of(request: Request) -> WebState:
    """The app's state (stores, runner, config)."""
    state: WebState = request.app.state.web
    return state


def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Signed in (401), CSRF for non-GET (403), library errors as {error, hint}."""

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        state = state_of(request)
        try:
            signed_in = await run_in_threadpool(state.sessions.of, request)
            if signed_in is None or state.users.get(signed_in.user) is None:
                raise HttpProblem(401, _("You are not signed in."),
                                  _("Sign in (POST /login), then send the session cookie."))
            if request.method not in ("GET", "HEAD") and not state.sessions.csrf_ok(
                request, signed_in
            ):
                raise HttpProblem(403, _("The request has no valid X-CSRF-Token header."),
                                  _("Send the csrf_token from GET /api/session as X-CSRF-Token."))
            return await handler(request, signed_in)
        except HttpProblem as exc:
            return problem_response(exc.status_code, exc.detail, exc.hint, exc.headers)
        except ImporterError as exc:
            return problem_response(status_of(exc), *error_texts(exc))

    return wrapped


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise HttpProblem(400, _("The request body is not JSON."),
                          _("Send a JSON object with Content-Type: application/json.")) from None
    if not isinstance(body, dict):
        raise HttpProblem(400, _("The request body must be a JSON object."))
    return body


def _upload(request: Request) -> UploadRecord:
    upload = state_of(request).store.upload(str(request.path_params["upload_id"]))
    if upload is None:
        raise HttpProblem(404, _("There is no such upload (uploads are kept for a limited time)."),
                          _("Upload the file again."))
    return upload


def _job(request: Request) -> JobRecord:
    job = state_of(request).runner.get(str(request.path_params["job_id"]))
    if job is None:
        raise HttpProblem(404, _("There is no such job."))
    return job


# ---------------------------------------------------------------------- session


@api
async def get_session(request: Request, user: SignedIn) -> Response:
    """``GET /api/session`` → ``{user, csrf_token, language}``."""
    found = state_of(request).users.get(user.user)
    return JSONResponse({
        "user": user.user, "csrf_token": user.csrf,
        "language": found.language if found else None,
    })


@api
async def put_session(request: Request, user: SignedIn) -> Response:
    """``PUT /api/session`` with ``{language}``: the user's language from now on."""
    body = await _json_body(request)
    language = body.get("language")
    state = state_of(request)
    if language not in state.languages:
        raise HttpProblem(422, _("Unknown language."), ", ".join(state.languages))
    await run_in_threadpool(state.users.set_language, user.user, str(language))
    return JSONResponse({"user": user.user, "language": language})


# ---------------------------------------------------------------------- uploads


def upload_json(upload: UploadRecord) -> dict[str, Any]:
    """An upload as the API shows it: what the reader saw in each file."""
    keys = ("name", "format", "encoding", "sheet", "sheets", "header_row", "columns",
            "row_count", "warnings")
    return {
        "upload_id": upload.upload_id,
        "created_at": upload.created_at,
        "user": upload.user,
        "files": [
            {k: redact_text(f.info.get(k)) if k == "warnings" else f.info.get(k) for k in keys}
            | {"name": f.name, "size": f.size}
            for f in upload.files
        ],
    }


def redact_text(value: Any) -> Any:
    """Mask codes in a text or a list of texts."""
    if isinstance(value, list):
        return [redact(str(v)) for v in value]
    return redact(str(value)) if isinstance(value, str) else value


def _counting(receive: Receive, limit: int) -> Receive:
    """A receive that stops a body larger than ``limit`` bytes with 413."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise _too_large(limit)
        return message

    return wrapped


def _too_large(limit: int) -> HttpProblem:
    mb = format(limit / (1024 * 1024), "g")
    return HttpProblem(
        413, _("The upload is larger than {mb} MB.", mb=mb),
        _("Split the file into smaller ones, or ask whoever runs the server to raise the "
          "limit (--max-upload-mb)."),
    )


@api
async def post_upload(request: Request, user: SignedIn) -> Response:
    """``POST /api/uploads`` (multipart, field ``file`` repeatable) → the upload.

    With a JSON body ``{inbox_files: [id, ...]}``: copies of drop-folder files instead.
    """
    state = state_of(request)
    if request.headers.get("content-type", "").startswith("application/json"):
        return await _upload_from_inbox(request, user)
    limit = state.config.max_upload_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + 64 * 1024:  # room for the form's framing
        raise _too_large(limit)
    limited = Request(request.scope, _counting(request.receive, limit + 64 * 1024))
    upload_id, folder = state.uploads.new_folder()
    saved: list[tuple[str, Path]] = []
    try:
        form = await limited.form(max_files=state.config.max_files, max_fields=10)
        try:
            files = [f for f in form.getlist("file") if isinstance(f, FormFile)]
            if not files:
                raise HttpProblem(422, _("No file was sent."),
                                  _("Send the file(s) in the multipart field 'file'."))
            for item in files:
                name = _browser_name(item.filename)
                target = state.uploads.stored_path(folder, name)
                await run_in_threadpool(_save, item, target)
                saved.append((name, target))
        finally:
            await form.close()
        if sum(p.stat().st_size for _n, p in saved) > limit:
            raise _too_large(limit)
        upload = await run_in_threadpool(state.uploads.add, upload_id, user.user, saved)
    except BaseException:
        state.uploads.discard(upload_id)
        raise
    log.info("%s uploaded %d file(s) (upload %s)", user.user, len(saved), upload_id)
    return JSONResponse(upload_json(upload), status_code=201)


async def _upload_from_inbox(request: Request, user: SignedIn) -> Response:
    state = state_of(request)
    ids = (await _json_body(request)).get("inbox_files")
    if not isinstance(ids, list) or not ids or len(ids) > state.config.max_files:
        raise HttpProblem(422, _("Send 'inbox_files': the ids from GET /api/inbox/files."))
    found = [find_file(state.config.inbox, str(i)) for i in ids]
    if any(f is None for f in found):
        raise HttpProblem(404, _("That file is no longer in the drop folder."),
                          _("Reload the page to see the folder's files now."))
    chosen = [f for f in found if f is not None]
    if sum(f.size for f in chosen) > state.config.max_upload_bytes:
        raise _too_large(state.config.max_upload_bytes)
    upload_id, folder = state.uploads.new_folder()
    try:
        saved = []
        for item in chosen:
            target = state.uploads.stored_path(folder, item.name)
            await run_in_threadpool(_copy_file, item.path, target)
            saved.append((_browser_name(item.name), target))
        upload = await run_in_threadpool(state.uploads.add, upload_id, user.user, saved)
    except BaseException:
        state.uploads.discard(upload_id)
        raise
    log.info("%s took %d file(s) from the drop folder (upload %s)", user.user, len(saved),
             upload_id)
    return JSONResponse(upload_json(upload), status_code=201)


def _copy_file(source: Path, target: Path) -> None:
    with source.open("rb") as src, target.open("xb") as out:
        target.chmod(0o600)
        shutil.copyfileobj(src, out, 1024 * 1024)


def inbox_json(state: WebState) -> list[dict[str, Any]]:
    """The drop folders' recent files as the API and the Upload page show them."""
    return [
        {"id": f.file_id, "inbox": f.inbox, "folder": f.folder, "name": _browser_name(f.name),
         "size": f.size,
         "modified": datetime.fromtimestamp(f.modified, UTC).isoformat(timespec="seconds")}
        for f in recent_files(state.config.inbox)
    ]


@api
async def get_inbox_files(request: Request, user: SignedIn) -> Response:
    """``GET /api/inbox/files`` → ``{files: [{id, inbox, folder, name, size, modified}]}``."""
    return JSONResponse({"files": await run_in_threadpool(inbox_json, state_of(request))})


def _browser_name(name: str | None) -> str:
    """The file's name as the browser gave it, for display only (no folders, no controls)."""
    text = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if ch.isprintable())[:200].strip()
    return text or _("file")


def _save(item: FormFile, target: Path) -> None:
    item.file.seek(0)
    with target.open("xb") as out:
        target.chmod(0o600)
        shutil.copyfileobj(item.file, out, 1024 * 1024)


@api
async def get_upload(request: Request, user: SignedIn) -> Response:
    """``GET /api/uploads/{id}``: what the reader saw in each file."""
    return JSONResponse(upload_json(_upload(request)))


@api
async def put_sheet(request: Request, user: SignedIn) -> Response:
    """``PUT /api/uploads/{id}/sheet`` with ``{sheet}``: read another sheet (null: auto)."""
    upload = _upload(request)
    body = await _json_body(request)
    sheet = body.get("sheet")
    if sheet is not None and not isinstance(sheet, str):
        raise HttpProblem(422, _("'sheet' must be a sheet's name, or null for automatic."))
    updated = await run_in_threadpool(state_of(request).uploads.choose_sheet, upload, sheet)
    log.info("%s chose another sheet for upload %s", user.user, upload.upload_id)
    return JSONResponse(upload_json(updated))


def _draft_json(draft: MappingDraft) -> dict[str, Any]:
    return {"yaml": draft.yaml, "problems": [redact(p) for p in draft.problems],
            "columns": draft.columns}


@api
async def get_mapping(request: Request, user: SignedIn) -> Response:
    """``GET /api/uploads/{id}/mapping`` → ``{yaml, problems, columns}`` (suggested first)."""
    upload = _upload(request)
    draft = await run_in_threadpool(state_of(request).uploads.draft, upload)
    return JSONResponse(_draft_json(draft))


@api
async def put_mapping(request: Request, user: SignedIn) -> Response:
    """``PUT /api/uploads/{id}/mapping`` with ``{yaml}`` or ``{columns}`` → ``{problems, ...}``."""
    upload = _upload(request)
    body = await _json_body(request)
    uploads = state_of(request).uploads
    if isinstance(body.get("yaml"), str):
        draft = await run_in_threadpool(uploads.save_yaml, upload, body["yaml"])
    elif isinstance(body.get("columns"), list):
        choices = [_choice(item) for item in body["columns"]]
        draft = await run_in_threadpool(uploads.save_choices, upload, choices)
    elif isinstance(body.get("mapping_name"), str):
        text = _saved_mapping(request, body["mapping_name"])
        draft = await run_in_threadpool(uploads.save_yaml, upload, text)
    else:
        raise HttpProblem(422, _("Send 'yaml' (the mapping's text), 'columns' or 'mapping_name'."))
    log.info("%s changed the mapping of upload %s", user.user, upload.upload_id)
    return JSONResponse(_draft_json(draft))


def _choice(item: Any) -> Choice:
    if not isinstance(item, dict) or not isinstance(item.get("column"), str):
        raise HttpProblem(422, _("Each entry of 'columns' needs 'column' and 'role'."))
    role = item.get("role")
    if role not in ROLES:
        raise HttpProblem(422, _("Unknown role: {role}.", role=str(role)[:40]),
                          ", ".join(ROLES))
    return Choice(item["column"], str(role), str(item.get("key") or ""))


# ---------------------------------------------------------------------- saved mappings


def _mapping_path(request: Request, name: str) -> Path:
    if not _MAPPING_NAME.fullmatch(name):
        raise HttpProblem(422, _("A mapping's name may hold letters, digits, spaces and . - ( ) "
                                 "(at most 60)."))
    return state_of(request).mappings_dir / f"{name}.yaml"


def _saved_mapping(request: Request, name: str) -> str:
    path = _mapping_path(request, name)
    if not path.is_file():
        raise HttpProblem(404, _("There is no saved mapping called {name}.", name=name))
    return path.read_text(encoding="utf-8")


@api
async def list_mappings(request: Request, user: SignedIn) -> Response:
    """``GET /api/mappings`` → ``{mappings: [name, ...]}``."""
    folder = state_of(request).mappings_dir
    names = sorted(p.stem for p in folder.glob("*.yaml") if _MAPPING_NAME.fullmatch(p.stem))
    return JSONResponse({"mappings": names})


@api
async def save_mapping(request: Request, user: SignedIn) -> Response:
    """``POST /api/mappings`` with ``{name, yaml}``: keep a mapping under a name."""
    body = await _json_body(request)
    name, text = body.get("name"), body.get("yaml")
    if not isinstance(name, str) or not isinstance(text, str):
        raise HttpProblem(422, _("Send 'name' and 'yaml'."))
    path = _mapping_path(request, name.strip())
    parse_mapping(text, name)  # MappingError (422) lists the problems
    await run_in_threadpool(_write_mapping, path, text)
    log.info("%s saved mapping %r", user.user, name)
    return JSONResponse({"name": name.strip(), "path": str(path)}, status_code=201)


def _write_mapping(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@api
async def get_saved_mapping(request: Request, user: SignedIn) -> Response:
    """``GET /api/mappings/{name}`` → ``{name, yaml}``."""
    name = str(request.path_params["name"])
    return JSONResponse({"name": name, "yaml": _saved_mapping(request, name)})


# ---------------------------------------------------------------------- jobs


def _report_url(job_id: str, index: int, fmt: str) -> str:
    return f"/api/jobs/{job_id}/reports/{index}/{fmt}"


def job_json(job: JobRecord) -> dict[str, Any]:
    """A job as the API shows it."""
    files = []
    for index, f in enumerate(job.result.get("files", [])):
        files.append({
            **{k: v for k, v in f.items() if k != "reports" and not k.startswith("_")},
            "reports": {fmt: _report_url(job.job_id, index, fmt) for fmt in f.get("reports", {})},
        })
    first = files[0]["reports"] if files else {}
    return {
        "job_id": job.job_id,
        "kind": job.kind,
        "state": job.state,
        "user": job.user,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "upload_id": job.upload_id,
        "campaign": job.request.get("campaign"),
        "dry_run": bool(job.request.get("dry_run")),
        "mode": job.request.get("mode"),
        "run_id": job.run_id,
        "counts": job.result.get("counts", {}),
        "progress": {"rows_done": job.rows_done, "rows_total": job.rows_total},
        "reports": first,
        "files": files,
        "notes": job.result.get("notes", []),
        "error": job.error,
    }


@api
async def post_job(request: Request, user: SignedIn) -> Response:
    """``POST /api/uploads/{id}/jobs`` → ``{job_id}``: a preview (dry run) or an import."""
    state = state_of(request)
    upload = _upload(request)
    body = await _json_body(request)
    campaign = body.get("campaign")
    if not isinstance(campaign, str) or not campaign.strip():
        raise HttpProblem(422, _("Choose the campaign (by name)."))
    mode = body.get("mode") or "append"
    if mode not in ("append", "upsert", "sync"):
        raise HttpProblem(422, _("'mode' must be append, upsert or sync."))
    dry_run = bool(body.get("dry_run", True))
    confirm = bool(body.get("confirm_sync", False))
    if mode == "sync" and not (dry_run or confirm):
        raise HttpProblem(422, _("An import in sync mode removes pending calls that are not in "
                                 "the file."), _("Preview it first, then send confirm_sync: true."))
    text = await _job_mapping(request, upload, body)
    if not dry_run and state.runner.campaign_busy(campaign):
        raise HttpProblem(409, _("Another import into this campaign is running."),
                          _("Wait until it finishes, then import again."))
    request_ = ImportRequest(
        campaign=campaign.strip(), dry_run=dry_run, mode=cast("Mode", mode), mapping_yaml=text,
        mapping_name=str(body.get("mapping_name") or ""), confirm_sync=confirm,
    )
    job = state.runner.start_import(user.user, upload, request_, current_language())
    log.info("%s started %s job %s for upload %s into campaign %r", user.user,
             "a preview" if dry_run else "an import", job.job_id, upload.upload_id,
             campaign.strip())
    return JSONResponse({"job_id": job.job_id}, status_code=202)


async def _job_mapping(request: Request, upload: UploadRecord, body: dict[str, Any]) -> str:
    """The mapping text of a job: given, saved under a name, or the upload's; it must bind."""
    if isinstance(body.get("mapping_yaml"), str) and body["mapping_yaml"].strip():
        text = str(body["mapping_yaml"])
    elif isinstance(body.get("mapping_name"), str) and body["mapping_name"].strip():
        text = _saved_mapping(request, body["mapping_name"].strip())
    else:
        text = (await run_in_threadpool(state_of(request).uploads.draft, upload)).yaml
    problems = await run_in_threadpool(mapping_problems, text, upload) if text else [
        _("There is no mapping for this file.")
    ]
    if problems:
        raise HttpProblem(422, _("The mapping does not fit the file: {problems}",
                                 problems=" ".join(redact(p) for p in problems)),
                          _("Fix the column choices on the Columns page."))
    return text


@api
async def get_job(request: Request, user: SignedIn) -> Response:
    """``GET /api/jobs/{id}``: state, counts, progress, reports, error."""
    return JSONResponse(job_json(_job(request)))


@api
async def resume_job(request: Request, user: SignedIn) -> Response:
    """``POST /api/jobs/{id}/resume``: run an interrupted job again (it continues)."""
    job = _job(request)
    if job.state != "interrupted":
        raise HttpProblem(409, _("Only an interrupted job can be resumed."))
    state = state_of(request)
    new = await run_in_threadpool(state.runner.resume, user.user, job)
    log.info("%s resumed job %s as job %s", user.user, job.job_id, new.job_id)
    return JSONResponse({"job_id": new.job_id}, status_code=202)


@api
async def job_events(request: Request, user: SignedIn) -> Response:
    """``GET /api/jobs/{id}/events``: server-sent events until the job ends."""
    job = _job(request)
    runner = state_of(request).runner

    async def events() -> AsyncIterator[str]:
        last = ""
        quiet = 0.0
        while True:
            current = runner.get(job.job_id) or job
            data = json.dumps(job_json(current), ensure_ascii=False)
            if data != last:
                last, quiet = data, 0.0
                kind = "done" if current.state in FINAL else "progress"
                yield f"event: {kind}\ndata: {data}\n\n"
                if kind == "done":
                    return
            elif quiet >= 15:
                quiet = 0.0
                yield ": still running\n\n"  # keeps proxies from closing an idle stream
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.25)
            quiet += 0.25

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _report_file(request: Request, job: JobRecord, index: int, fmt: str) -> Path:
    files = job.result.get("files", [])
    if not 0 <= index < len(files) or fmt not in files[index].get("reports", {}):
        raise HttpProblem(404, _("This job has no such report."))
    root = state_of(request).runner.report_dir(job.job_id)
    path = (root / str(files[index]["reports"][fmt])).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise HttpProblem(404, _("This job has no such report."))
    return path


@api
async def job_report(request: Request, user: SignedIn) -> Response:
    """``GET /api/jobs/{id}/reports/{file}/{fmt}``: download a report."""
    job = _job(request)
    index, fmt = int(request.path_params["index"]), str(request.path_params["fmt"])
    path = _report_file(request, job, index, fmt)
    log.info("%s downloaded the %s report of job %s", user.user, fmt, job.job_id)
    return FileResponse(path, filename=_download_name(job.result["files"][index], path))


def _download_name(entry: dict[str, Any], path: Path) -> str:
    """The report's name: ``leads.<UTC>.report.csv``, as the library named it after the
    browser's name; a job from before that named its reports after our stored file."""
    name, stored = str(entry["name"]), str(entry.get("_stored_stem", ""))
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    if stored and path.name.startswith(stored):
        return stem + path.name[len(stored):]
    return path.name


@api
async def job_rows(request: Request, user: SignedIn) -> Response:
    """``GET /api/jobs/{id}/rows?status=&offset=&limit=&file=``: the report's rows, paged."""
    job = _job(request)
    params = request.query_params
    try:
        offset = max(0, int(params.get("offset", 0)))
        limit = min(_ROWS_LIMIT, max(1, int(params.get("limit", 50))))
        index = int(params.get("file", 0))
    except ValueError:
        raise HttpProblem(422, _("offset, limit and file must be numbers.")) from None
    wanted = _statuses(params.get("status", ""))
    path = _report_file(request, job, index, "csv")
    rows = await run_in_threadpool(read_report_csv, path)
    chosen = [r for r in rows if not wanted or r.get("status") in wanted]
    page = chosen[offset: offset + limit]
    return JSONResponse({"total": len(chosen), "offset": offset, "limit": limit, "rows": page})


def _statuses(text: str) -> set[str]:
    """``status=a,b``; ``problems`` stands for every status that needs attention."""
    wanted: set[str] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part == "problems":
            wanted |= REJECTS_STATUSES   # the rows a person can fix
        elif part in {s.value for s in Status}:
            wanted.add(part)
        else:
            raise HttpProblem(422, _("Unknown status: {status}.", status=part[:40]))
    return wanted


# ---------------------------------------------------------------------- campaigns, runs


def campaigns(state: WebState) -> list[dict[str, Any]]:
    """The account's campaigns: names and status only (codes never leave the server)."""
    settings = state.config.settings
    with DialerClient(settings) as client:
        found = client.get_campaign_list(settings.account_code)
    for campaign in found:
        register_secret(campaign.code)
    return [
        {"name": c.name, "status": c.status_name, "enabled": c.enabled,
         "pending": c.total_pending_calls}
        for c in found
    ]


@api
async def get_campaigns(request: Request, user: SignedIn) -> Response:
    """``GET /api/campaigns`` → ``{campaigns: [{name, status, enabled, pending}]}``."""
    state = state_of(request)
    if not state.config.settings.account_code:
        raise HttpProblem(503, _("The server has no account code, so campaigns cannot be "
                                 "listed."), _("Set VOICENTER_ACCOUNT_CODE for the server."))
    return JSONResponse({"campaigns": await run_in_threadpool(campaigns, state)})


@api
async def get_runs(request: Request, user: SignedIn) -> Response:
    """``GET /api/runs?limit=`` → ``{runs: [...]}``: recent runs, by whom, reports, undo."""
    try:
        limit = min(200, max(1, int(request.query_params.get("limit", 50))))
    except ValueError:
        raise HttpProblem(422, _("limit must be a number.")) from None
    state = state_of(request)
    return JSONResponse({"runs": await run_in_threadpool(state.runs, limit)})


@api
async def undo(request: Request, user: SignedIn) -> Response:
    """``POST /api/runs/{run_id}/undo`` with ``{dry_run}`` → ``{job_id}``."""
    state = state_of(request)
    body = await _json_body(request) if await request.body() else {}
    run_id = str(request.path_params["run_id"])
    run = await run_in_threadpool(state.run_record, run_id)
    if run is None:
        raise HttpProblem(404, _("There is no such run."))
    dry_run = bool(body.get("dry_run", False))
    if not dry_run and state.runner.campaign_busy(run.campaign_name):
        raise HttpProblem(409, _("Another import into this campaign is running."),
                          _("Wait until it finishes, then undo."))
    job = state.runner.start_undo(user.user, run.run_id, run.campaign_name, dry_run,
                                  current_language())
    log.info("%s started job %s: %s of run %s", user.user, job.job_id,
             "undo preview" if dry_run else "undo", run.run_id)
    return JSONResponse({"job_id": job.job_id}, status_code=202)


# ---------------------------------------------------------------------- sign-in


async def login(request: Request) -> Response:
    """``POST /login`` (form ``username``, ``password``): the session cookie.

    A browser (form post) is sent on to the page it came for; a script that sends
    ``Accept: application/json`` gets ``{user, csrf_token}``.
    """
    state = state_of(request)
    wants_json = "application/json" in request.headers.get("accept", "")
    if not _same_origin(request):
        # A form on another site must not sign a browser in (to an account of its choosing).
        return problem_response(403, _("Sign in from this site's own page."))
    form = await request.form(max_files=0, max_fields=5)
    name, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    next_page = str(form.get("next", "/"))
    address = client_address(request)
    wait = state.limiter.retry_after(name, address)
    if wait:
        log.warning("sign-in refused for %r from %s: too many failed attempts", name[:64], address)
        error = _("Too many failed sign-ins. Try again in {minutes} minute(s).",
                  minutes=max(1, wait // 60))
        if wants_json:
            return problem_response(429, error, "", {"Retry-After": str(wait)})
        return state.login_page(request, error, 429, next_page, name)
    ok = await run_in_threadpool(state.users.check, name, password)
    if not ok:
        state.limiter.failed(name, address)
        log.warning("failed sign-in for %r from %s", name[:64], address)
        error = _("Wrong user name or password.")
        if wants_json:
            return problem_response(401, error)
        return state.login_page(request, error, 401, next_page, name)
    state.limiter.succeeded(name)
    token, csrf = await run_in_threadpool(state.sessions.create, name)
    log.info("%s signed in from %s", name, address)
    response: Response
    if wants_json:
        response = JSONResponse({"user": name, "csrf_token": csrf})
    else:
        from starlette.responses import RedirectResponse

        response = RedirectResponse(_safe_next(next_page), status_code=303)
    state.sessions.set_cookie(response, token, secure=request.url.scheme == "https")
    return response


def _same_origin(request: Request) -> bool:
    """No Origin header (a script), or this site's own (its scheme and host)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def _safe_next(target: str) -> str:
    """Only a path on this site (never ``//host`` or ``https://host``)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@api
async def logout(request: Request, user: SignedIn) -> Response:
    """``POST /api/logout``: end the session."""
    state = state_of(request)
    await run_in_threadpool(state.store.drop_session, user.token)
    log.info("%s signed out", user.user)
    response = JSONResponse({"user": None})
    state.sessions.clear_cookie(response, secure=request.url.scheme == "https")
    return response


def api_routes() -> list[Route]:
    """Every API route."""
    return [
        Route("/login", login, methods=["POST"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/session", get_session, methods=["GET"]),
        Route("/api/session", put_session, methods=["PUT"]),
        Route("/api/uploads", post_upload, methods=["POST"]),
        Route("/api/inbox/files", get_inbox_files, methods=["GET"]),
        Route("/api/uploads/{upload_id}", get_upload, methods=["GET"]),
        Route("/api/uploads/{upload_id}/sheet", put_sheet, methods=["PUT"]),
        Route("/api/uploads/{upload_id}/mapping", get_mapping, methods=["GET"]),
        Route("/api/uploads/{upload_id}/mapping", put_mapping, methods=["PUT"]),
        Route("/api/uploads/{upload_id}/jobs", post_job, methods=["POST"]),
        Route("/api/mappings", list_mappings, methods=["GET"]),
        Route("/api/mappings", save_mapping, methods=["POST"]),
        Route("/api/mappings/{name}", get_saved_mapping, methods=["GET"]),
        Route("/api/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/api/jobs/{job_id}/events", job_events, methods=["GET"]),
        Route("/api/jobs/{job_id}/rows", job_rows, methods=["GET"]),
        Route("/api/jobs/{job_id}/resume", resume_job, methods=["POST"]),
        Route("/api/jobs/{job_id}/reports/{index:int}/{fmt}", job_report, methods=["GET"]),
        Route("/api/campaigns", get_campaigns, methods=["GET"]),
        Route("/api/runs", get_runs, methods=["GET"]),
        Route("/api/runs/{run_id}/undo", undo, methods=["POST"]),
    ]

