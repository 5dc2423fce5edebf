"""The web workspace's user-facing text goes through ``_`` (replaced by importer.i18n)."""

from __future__ import annotations

from typing import Any

__all__ = ["_"]


def _(msgid: str, **params: Any) -> str:
    """The English message with its ``{params}`` filled in."""
    return msgid.format(**params) if params else msgid
