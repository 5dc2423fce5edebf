"""lead-importer: spreadsheets of sales leads into Voicenter dialer campaigns."""

from __future__ import annotations

from importer.errors import ImporterError

__all__ = ["ImporterError"]
__version__ = "0.1.0"
