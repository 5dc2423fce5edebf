"""Mapping files: what a mapping says (schema), a mapping bound to a file's columns
(binder), suggestions from a file (suggest), dates and times (dates), column profiles
(columns) and rows that are not leads (not_leads).
"""

from __future__ import annotations

from importer.mapping.binder import (
    BoundMapping,
    MappedRow,
    Mapping,
    MappingError,
    load_mapping,
    parse_mapping,
    with_custom_data,
)
from importer.mapping.suggest import suggest_mapping

__all__ = [
    "BoundMapping",
    "MappedRow",
    "Mapping",
    "MappingError",
    "load_mapping",
    "parse_mapping",
    "suggest_mapping",
    "with_custom_data",
]
