"""Keep account and campaign codes out of messages, logs and reports.

Codes are registered once (by the client, the config loader, the pipeline);
``redact`` then replaces every registered code in any text with its masked
form, and ``RedactingFilter`` does the same for every log record.
"""

from __future__ import annotations

import logging
import threading

__all__ = [
    "RedactingFilter",
    "install_log_redaction",
    "mask",
    "redact",
    "register_secret",
    "registered_secrets",
]

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()           # longest first, rebuilt only on registration
# Real codes are long; very short ones (the demo account "demo") would mangle ordinary words.
_MIN_SECRET_LEN = 8


def mask(code: str | None) -> str:
    """Return ``abc…xyz`` for a code; short codes are fully hidden."""
    if not code:
        return "<none>"
    if len(code) <= 8:
        return "…" if len(code) < 4 else f"{code[0]}…{code[-1]}"
    return f"{code[:3]}…{code[-3:]}"


def register_secret(code: str | None) -> None:
    """Remember a code so ``redact`` hides it wherever it appears."""
    global _ordered  # noqa: PLW0603 - a module-level registry is the point
    if code and len(code) >= _MIN_SECRET_LEN and code not in _secrets:
        with _lock:
            _secrets.add(code)
            _ordered = tuple(sorted(_secrets, key=len, reverse=True))


def registered_secrets() -> tuple[str, ...]:
    """The registered codes, longest first (for redacting whole columns at once)."""
    return _ordered


def redact(text: str) -> str:
    """Replace every registered code in ``text`` by its masked form."""
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, mask(secret))
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks registered codes in the final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the record's message once, redacted, and drop the args."""
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach a ``RedactingFilter`` to every handler of ``logger`` (root by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
