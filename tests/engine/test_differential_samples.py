"""Both engines give the same reports for every sample and corpus file × every mapping.

Every file in sample_data/ and in the corpus (tests/engine/corpus.py), with every shipped
mapping, the differential mappings in tests/engine/mappings/ and none (the automatic
mapping), is imported with --dry-run by `--engine row` and by `--engine columnar`: the
exit codes, stdout and stderr, CSV report bytes, JSON summaries and XLSX cells must be the
same (see tests/engine/differential.py for what is normalised). A mapping that does not
bind to a file must fail the same way with both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from importer.emulator.server import EmulatorServer
from tests.engine.corpus import BIG_FILE, corpus_names
from tests.engine.differential import Outcome, assert_same, run_both

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SAMPLES = sorted(p.name for p in (ROOT / "sample_data").iterdir()
                 if p.is_file() and p.suffix != ".md")
MAPPINGS: list[Path | None] = [
    None,
    *sorted((ROOT / "mappings").glob("*.yaml")),
    *sorted((HERE / "mappings").glob("*.yaml")),
]
# The ~6 MB file costs seconds per run: it is imported with the two mappings that use the
# most rules (the XLSX writer is left out for it; every other file checks that).
BIG_MAPPINGS = [ROOT / "mappings" / "generic-english.yaml", HERE / "mappings" / "everything.yaml"]


def _mapping_id(mapping: Path | None) -> str:
    return "auto" if mapping is None else mapping.stem


def _check(row: Outcome, columnar: Outcome, label: str, formats: int) -> None:
    assert_same(row, columnar, label)
    if row.exit_code in (0, 1):  # the run got as far as its reports: all were written
        reports = [*row.csv, *row.summaries, *row.workbooks]
        # Rows to fix also get a rejects file (and workbook), compared like the reports.
        assert len([n for n in reports if ".rejects." not in n]) == formats, label
    else:
        assert row.stderr.startswith("Error: "), (label, row.stderr)


def test_the_matrix_is_not_empty() -> None:
    assert len(SAMPLES) >= 6 and len(MAPPINGS) >= 10


@pytest.mark.parametrize("mapping", MAPPINGS, ids=_mapping_id)
@pytest.mark.parametrize("name", SAMPLES)
def test_samples(
    name: str, mapping: Path | None, shared_emulator: EmulatorServer, tmp_path: Path
) -> None:
    row, columnar = run_both([ROOT / "sample_data" / name], tmp_path, shared_emulator,
                             mapping=mapping)
    _check(row, columnar, f"{name} × {_mapping_id(mapping)}", 3)


@pytest.mark.parametrize("mapping", MAPPINGS, ids=_mapping_id)
@pytest.mark.parametrize("name", [n for n in corpus_names() if n != BIG_FILE])
def test_corpus(
    name: str, mapping: Path | None, corpus: dict[str, Path],
    shared_emulator: EmulatorServer, tmp_path: Path
) -> None:
    row, columnar = run_both([corpus[name]], tmp_path, shared_emulator, mapping=mapping)
    _check(row, columnar, f"{name} × {_mapping_id(mapping)}", 3)


@pytest.mark.parametrize("mapping", [None, ROOT / "mappings" / "google-ads-lead-form.yaml",
                                     HERE / "mappings" / "everything.yaml"], ids=_mapping_id)
@pytest.mark.parametrize("name", SAMPLES)
def test_samples_with_a_helper_process(
    name: str, mapping: Path | None, shared_emulator: EmulatorServer, tmp_path: Path
) -> None:
    """The phones of every block after the first normalised in a second process: the
    same reports as the row engine's."""
    row, columnar = run_both([ROOT / "sample_data" / name], tmp_path, shared_emulator,
                             mapping=mapping, helper=True)
    _check(row, columnar, f"{name} × {_mapping_id(mapping)} (helper)", 3)


@pytest.mark.parametrize("mapping", BIG_MAPPINGS, ids=_mapping_id)
def test_big_file_read_in_pieces(
    mapping: Path, corpus: dict[str, Path], shared_emulator: EmulatorServer, tmp_path: Path
) -> None:
    path = corpus[BIG_FILE]
    assert path.stat().st_size > 5_000_000  # several of the columnar reader's pieces
    row, columnar = run_both([path], tmp_path, shared_emulator, mapping=mapping,
                             formats="csv,json")
    _check(row, columnar, f"{BIG_FILE} × {_mapping_id(mapping)}", 2)
    assert row.exit_code == 0
