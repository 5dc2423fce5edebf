"""lead-importer: spreadsheets of sales leads into Voicenter dialer campaigns.

The public API, importable from the package itself (loaded on first use, so
``import importer`` stays cheap for the CLI)::

    from importer import run_import, ImportOptions, load_settings
    result = run_import([Path("leads.csv")], ImportOptions(campaign="Hot leads"), load_settings())
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CallTarget",
    "DialerClient",
    "ImportOptions",
    "ImportResult",
    "ImporterError",
    "PhoneNormalizer",
    "PhonePolicy",
    "RowResult",
    "Settings",
    "SourceOptions",
    "Status",
    "Summary",
    "load_mapping",
    "load_settings",
    "open_source",
    "run_import",
    "suggest_mapping",
]
__version__ = "0.1.0"

_WHERE = {
    "CallTarget": "importer.dialer.models",
    "DialerClient": "importer.dialer.client",
    "ImportOptions": "importer.pipeline",
    "ImportResult": "importer.pipeline",
    "ImporterError": "importer.errors",
    "PhoneNormalizer": "importer.phones",
    "PhonePolicy": "importer.phones",
    "RowResult": "importer.outcomes",
    "Settings": "importer.config",
    "SourceOptions": "importer.sources.model",
    "Status": "importer.outcomes",
    "Summary": "importer.outcomes",
    "load_mapping": "importer.mapping",
    "load_settings": "importer.config",
    "open_source": "importer.sources",
    "run_import": "importer.pipeline",
    "suggest_mapping": "importer.mapping",
}


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'importer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
