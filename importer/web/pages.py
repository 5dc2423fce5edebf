"""The pages (filled in once the message catalogue is in)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from importer.web.state import WebState

__all__ = ["install_pages", "page_routes"]


def page_routes() -> list[Route]:
    """Every page route."""
    return []


def install_pages(app: Starlette, state: WebState) -> None:
    """Give the app its page renderers."""
