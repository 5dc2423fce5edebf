"""How the web workspace answers a mistake: JSON ``{error, hint}`` with a 4xx status.

Library errors (``importer.errors``) keep their one hierarchy; this module only
says which HTTP status each one gets.  ``HttpProblem`` is Starlette's
``HTTPException`` with a hint, for what only the web layer checks (a session,
a CSRF token, a size limit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from importer.errors import (
    CampaignDisabledError,
    ConfigError,
    DialerError,
    ImporterError,
    LockError,
    SourceError,
)
from importer.redact import redact

__all__ = ["HttpProblem", "error_texts", "problem_response", "status_of"]


class HttpProblem(HTTPException):
    """An HTTP error answered as ``{error, hint}``."""

    def __init__(
        self, status: int, error: str, hint: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        """``error``: what is wrong; ``hint``: how to fix it (plain words)."""
        super().__init__(status, error, dict(headers) if headers else None)
        self.hint = hint


def error_texts(
    exc: ImporterError, rename: Callable[[str], str] | None = None
) -> tuple[str, str]:
    """A library error's message and hint in the current language, codes masked; ``rename``
    puts the names people know in place of the server's (an upload's stored file names)."""
    same: Callable[[str], str] = rename or (lambda text: text)
    return redact(same(exc.shown())), redact(same(exc.shown_hint()))


def status_of(exc: ImporterError) -> int:
    """The HTTP status for a library error: 4xx for what the user can fix."""
    if isinstance(exc, LockError | CampaignDisabledError):
        return 409
    if isinstance(exc, DialerError):
        return 503
    if isinstance(exc, SourceError | ConfigError):
        return 422
    return 503  # journal, disk, interrupted: the server's side; trying again later may work


def problem_response(
    status: int, error: str, hint: str = "", headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The JSON answer for a problem (codes masked)."""
    return JSONResponse(
        {"error": redact(error), "hint": redact(hint)}, status_code=status,
        headers=dict(headers) if headers else None,
    )
