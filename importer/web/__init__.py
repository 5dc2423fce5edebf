"""The web workspace: upload, check the columns, preview, import, undo — in a browser.

Built on the library (the same pipeline, mapping suggestion and binding, locks,
journal, undo and report writers as the command line); ``lead-importer serve``
runs it.  Never imported by the library.
"""

from __future__ import annotations

from importer.web.app import create_app
from importer.web.config import WebConfig

__all__ = ["WebConfig", "create_app"]
