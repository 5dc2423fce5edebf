"""The web workspace as an ASGI application (Starlette), served by ``lead-importer serve``.

Pages are rendered on the server (Jinja2, autoescaped) and use the JSON API
(``importer.web.api``) from a little JavaScript in ``static/``.  Every answer
carries a Content-Security-Policy that allows scripts, styles and connections
from this site only, with no inline script or style.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from importer.i18n import _, use_language
from importer.web.api import api_routes
from importer.web.config import WebConfig
from importer.web.pages import install_pages, page_routes
from importer.web.problems import problem_response
from importer.web.state import WebState

__all__ = ["create_app"]

log = logging.getLogger("importer.web")

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # Not no-referrer: with it a browser's own sign-in form posts "Origin: null".
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
CLEANUP_EVERY = 3600.0  # seconds between removals of old uploads


class SecurityHeaders:
    """Adds the CSP and friends to every response (pure ASGI: streams stay unbuffered)."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, adding headers to each response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name for name, _v in headers}
                headers += [(k, v) for k, v in _HEADERS if k not in names]
                if scope["path"].startswith("/api/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Language:
    """Each request in its language (``?lang=``, cookie, the user's, the server's default)."""

    def __init__(self, app: ASGIApp, state: WebState) -> None:
        """Wrap ``app``."""
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request with its language set (a context variable of this task)."""
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        lang = await asyncio.to_thread(self.state.language_of, Request(scope))
        with use_language(lang):
            await self.app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/") or request.method != "GET":
        hint = getattr(exc, "hint", "")
        return problem_response(exc.status_code, str(exc.detail), hint, exc.headers)
    pages: Callable[[Request, HTTPException], Response] | None = getattr(
        request.app.state, "error_page", None
    )
    if pages is not None:
        return pages(request, exc)
    return problem_response(exc.status_code, str(exc.detail))


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500, _("Something went wrong inside the server."),
        _("Tell whoever runs the server; its log has the details."),
    )


def create_app(config: WebConfig) -> Starlette:
    """The application: API, pages, static files, and the jobs' lifecycle."""
    state = WebState(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        cleaner = asyncio.create_task(_clean_uploads(state))
        try:
            yield
        finally:
            cleaner.cancel()
            await asyncio.to_thread(state.close)

    routes: list[Route | Mount] = [
        *api_routes(),
        *page_routes(),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.state.web = state
    install_pages(app, state)
    app.add_middleware(Language, state=state)
    app.add_middleware(SecurityHeaders)
    for job_id in state.runner.interrupted_at_start:
        log.warning("job %s was running when the server stopped: marked interrupted", job_id)
    return app


async def _clean_uploads(state: WebState) -> None:
    """Remove uploads older than the configured days, now and every hour."""
    while True:
        try:
            removed = await asyncio.to_thread(
                state.uploads.remove_old, state.runner.busy_uploads()
            )
            if removed:
                log.info("removed %d upload(s) older than %g day(s)", removed,
                         state.config.keep_uploads_days)
        except OSError:
            log.warning("could not remove old uploads", exc_info=True)
        await asyncio.sleep(CLEANUP_EVERY)
