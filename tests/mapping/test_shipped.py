"""Every mapping in mappings/ loads, binds to its sample file and maps it as expected; and
``suggest`` on each sample file writes a mapping that imports it with zero edits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from importer.mapping import (
    BoundMapping,
    MappedRow,
    Mapping,
    load_mapping,
    parse_mapping,
    suggest_mapping,
)
from importer.mapping.binder import bind
from importer.sources import open_source
from tests.mapping._helpers import NOW

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"
SAMPLES = ROOT / "sample_data"

# mapping file -> (sample file, expected counts, what the suggestion must recognise)
SHIPPED: dict[str, tuple[str, dict[str, int], str]] = {
    "facebook-lead-ads.yaml": (
        "facebook_leads.csv",
        {"usable": 19, "invalid_phone": 1},
        "Facebook Lead Ads",
    ),
    "google-ads-lead-form.yaml": (
        "google_ads_leads.csv",
        {"usable": 12, "missing_phone": 1, "invalid_phone": 1},
        "Google Ads lead form",
    ),
    "hebrew-crm.yaml": (
        "crm_export_he.csv",
        {"usable": 22, "missing_phone": 1, "invalid_phone": 1},
        "Hebrew CRM export",
    ),
    "generic-english.yaml": (
        "generic_leads_en.csv",
        {"usable": 13, "missing_phone": 1, "type_rejected": 1},
        "Generic lead list",
    ),
    "handmade-excel.yaml": (
        "handmade_leads.xlsx",
        {"usable": 15, "invalid_phone": 2},
        "Hebrew CRM export",
    ),
    "voicenter-pending.yaml": (
        "voicenter_pending_export.csv",
        {"usable": 12},
        "Voicenter pending calls export",
    ),
}


def _map_file(mapping: Mapping, sample: Path) -> tuple[BoundMapping, list[MappedRow]]:
    with open_source(sample, mapping.source_options()) as source:
        bound = bind(mapping, source.info, clock=lambda: NOW)
        return bound, [bound.map_row(r) for r in source.rows()]


def _counts(rows: list[MappedRow]) -> dict[str, int]:
    return dict(Counter(r.problem.value if r.problem else "usable" for r in rows))


def test_every_shipped_mapping_has_a_test() -> None:
    assert sorted(p.name for p in MAPPINGS.glob("*.y*ml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_mapping_imports_its_sample(name: str) -> None:
    sample, expected, _ = SHIPPED[name]
    mapping = load_mapping(MAPPINGS / name)
    bound, rows = _map_file(mapping, SAMPLES / sample)
    assert _counts(rows) == expected
    for mapped in rows:
        assert (mapped.target is not None) == (mapped.problem is None)
        assert list(mapped.fields) == bound.field_names
        if mapped.problem is not None:
            assert mapped.reason, f"row {mapped.row.row} has no reason"
            continue
        assert mapped.target is not None
        assert mapped.target.target.startswith("972")
        assert mapped.target.target == mapped.phone.e164.removeprefix("+")  # type: ignore[union-attr]
        if "CustomerName" in bound.field_names:
            assert mapped.target.customer_name, f"{sample} row {mapped.row.row}: no name"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_suggest_writes_a_mapping_that_imports_the_sample_like_the_shipped_one(name: str) -> None:
    sample, expected, recognised = SHIPPED[name]
    text = suggest_mapping(SAMPLES / sample)
    suggested = parse_mapping(text, "suggested.yaml")  # zero edits
    assert suggested.name == recognised
    _, got = _map_file(suggested, SAMPLES / sample)
    _, want = _map_file(load_mapping(MAPPINGS / name), SAMPLES / sample)
    assert _counts(got) == expected
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g.row.row, g.problem, g.phone.e164) == (w.row.row, w.problem, w.phone.e164)
        if g.target is None or w.target is None:
            continue
        assert g.target.target == w.target.target
        assert g.target.customer_name == w.target.customer_name
        assert g.target.priority == w.target.priority
        assert g.target.caller_id == w.target.caller_id
        assert g.target.originate_time == w.target.originate_time
        shared = set(g.target.custom_data or {}) & set(w.target.custom_data or {})
        for key in shared:
            assert (g.target.custom_data or {})[key] == (w.target.custom_data or {})[key]


def test_facebook_rows_carry_the_lead_id_and_source() -> None:
    _, rows = _map_file(
        load_mapping(MAPPINGS / "facebook-lead-ads.yaml"), SAMPLES / "facebook_leads.csv"
    )
    first = rows[0].target
    assert first is not None and first.custom_data is not None
    assert first.custom_data["var_Source"] == "facebook"
    assert first.custom_data["var_LeadID"] == rows[0].row.cells[0]


def test_pending_export_round_trips_custom_data_and_times() -> None:
    sample = SAMPLES / "voicenter_pending_export.csv"
    bound, rows = _map_file(load_mapping(MAPPINGS / "voicenter-pending.yaml"), sample)
    header = bound.headers
    for mapped in rows:
        cells = dict(zip(header, mapped.row.cells, strict=False))
        target = mapped.target
        assert target is not None
        assert target.target == cells["Phone"]
        assert target.customer_name == cells["CustomerName"]
        assert str(target.priority) == cells["Priority"]
        assert (target.caller_id or "") == cells["CallerID"]
        assert (target.custom_data or {}) == {
            k: v for k, v in cells.items() if k.startswith("var_") and v
        }
        if cells["OriginateTime"]:
            assert target.originate_time == int(cells["OriginateTime"])
            assert target.is_date_local is False
        else:
            assert target.originate_time is None and target.is_date_local is None
