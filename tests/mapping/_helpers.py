"""Small builders for mapping tests: a SourceInfo and SourceRows without reading a file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from importer.mapping import BoundMapping, MappedRow, parse_mapping
from importer.mapping.binder import bind as bind_mapping
from importer.sources.model import SourceInfo, SourceRow

# Valid numbers per phonenumbers (checked by tests/mapping/test_helpers_numbers.py).
MOBILE = "052-3456789"
MOBILE_E164 = "+972523456789"
MOBILE_2 = "054-2591604"
MOBILE_2_E164 = "+972542591604"
LANDLINE = "03-6123456"
LANDLINE_E164 = "+97236123456"
VOIP = "072-2776772"
VOIP_DIGITS = "972722776772"
TOLL_FREE = "1-800-500-500"

# A fixed "now" (2026-06-01 00:00 UTC) so "in the past" never depends on the test date.
NOW = 1_780_272_000.0


def info(*columns: str, name: str = "leads.csv") -> SourceInfo:
    """A SourceInfo for a CSV with these headers."""
    return SourceInfo(path=Path(name), format="csv", columns=list(columns))


def row(*cells: str, n: int = 2, numeric: Iterable[int] = ()) -> SourceRow:
    """A data row (row 2 by default, under the header)."""
    return SourceRow(
        file="leads.csv", sheet=None, row=n, cells=tuple(cells), numeric=frozenset(numeric)
    )


def bind(yaml_text: str, *columns: str) -> BoundMapping:
    """Parse a mapping and bind it to these headers, with the fixed clock."""
    return bind_mapping(parse_mapping(yaml_text, "test.yaml"), info(*columns), clock=lambda: NOW)


def map_one(yaml_text: str, columns: tuple[str, ...], cells: tuple[str, ...]) -> MappedRow:
    """Map a single row."""
    return bind(yaml_text, *columns).map_row(row(*cells))
