"""Run one import with each engine and compare what they left behind.

``run_engine`` runs ``lead-importer import`` in-process (click's CliRunner) with
``--engine ENGINE`` in a folder of its own and returns an ``Outcome``: exit code,
stdout and stderr, every report file (CSV bytes, JSON summary, XLSX cell values) and,
for real imports, the write requests the emulator received. ``assert_same`` compares two
outcomes and names the first difference.

What may differ between two runs of the same import is normalised, and nothing else:
the run's folder (report and state paths), the timestamp in report file names, the
run id (and the per-row import reference built from it), start/finish times, and the
campaign code (each engine may import into its own emulator).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from importer.cli import cli
from importer.emulator.server import EmulatorServer
from importer.i18n import LANGUAGES, translate

__all__ = [
    "ENGINES",
    "WRITE_METHODS",
    "Outcome",
    "Workbook",
    "assert_same",
    "cli_env",
    "run_both",
    "run_engine",
]

ENGINES = ("row", "columnar")
WRITE_METHODS = frozenset({"addcallsbulk", "addcall", "updatecall", "removecall",
                           "clearcampaigncalls"})

_STAMP = re.compile(r"\d{8}T\d{6}Z(?:-\d+)?")  # report file names: leads.20261203T165205Z-2
_RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}")  # run ids: 20261203-165228-5f0f
_RUN_ID_BYTES = re.compile(_RUN_ID.pattern.encode())
_INSERTED = re.compile(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_TIME_KEYS = frozenset({"started_at", "finished_at", "run_id"})
# In every language the reports are written in (the Summary sheet's labels are translated).
_SUMMARY_TIME_LABELS = frozenset(
    translate(lang, label)
    for lang in LANGUAGES for label in ("Started (UTC)", "Finished (UTC)", "Run ID")
)


@dataclass(frozen=True)
class Workbook:
    """An XLSX report: its sheets' XML (normalised), and how to read its cell values."""

    path: Path
    folder: Path
    ids: bool
    sheets_xml: dict[str, bytes]  # sheet name -> the sheet's XML part, normalised

    def values(self) -> dict[str, list[list[Any]]]:
        """Every sheet's cell values, read with openpyxl (see _read_workbook)."""
        return _read_workbook(self.path, self.folder, ids=self.ids)


@dataclass(frozen=True)
class Outcome:
    """What one engine's run left behind, normalised so two engines' runs compare equal."""

    engine: str
    exit_code: int
    stdout: str
    stderr: str
    csv: dict[str, bytes] = field(default_factory=dict)  # report name -> bytes
    summaries: dict[str, Any] = field(default_factory=dict)  # summary name -> JSON
    workbooks: dict[str, Workbook] = field(default_factory=dict)
    pushes: list[tuple[str, Any]] = field(default_factory=list)  # (method, body)


def cli_env(server: EmulatorServer, lock_dir: Path) -> dict[str, str | None]:
    """The environment of an in-process run against ``server`` (nothing inherited decides)."""
    return {
        "VOICENTER_API_URL": server.base_url,
        "VOICENTER_ACCOUNT_CODE": "demo",
        "VOICENTER_CAMPAIGN": None,
        "LEAD_IMPORTER_LOCK_DIR": str(lock_dir),
    }


def _normalise_text(text: str, folder: Path | None, *, ids: bool = True) -> str:
    if folder is not None:
        text = text.replace(str(folder), "<RUN-FOLDER>")
    text = _STAMP.sub("<STAMP>", text)
    if ids:
        text = _RUN_ID.sub("<RUN-ID>", text)
        text = _ISO_TIME.sub("<TIME>", text)
    return text


def _normalise_json(value: Any, folder: Path | None, codes: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: ("<" + k + ">" if k in _TIME_KEYS and v else
                    _normalise_json(v, folder, codes)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_json(v, folder, codes) for v in value]
    if isinstance(value, str):
        for code, name in codes.items():
            value = value.replace(code, name)
        return _normalise_text(value, folder)
    return value


def _read_workbook(path: Path, folder: Path, *, ids: bool) -> dict[str, list[list[Any]]]:
    """Every sheet's cell values; on the Summary sheet, times and report names normalised."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        sheets: dict[str, list[list[Any]]] = {}
        for index, sheet in enumerate(book.worksheets):
            summary_sheet = index == 0   # "Summary", or its name in the report's language
            rows = [list(row) for row in sheet.iter_rows(values_only=True)]
            for row in rows:
                for i, value in enumerate(row):
                    if not isinstance(value, str):
                        continue
                    if summary_sheet and i == 1 and row[0] in _SUMMARY_TIME_LABELS:
                        row[i] = "<TIME>"
                    elif summary_sheet or ids:
                        row[i] = _normalise_text(value, folder, ids=ids)
            sheets[sheet.title] = rows
        return sheets
    finally:
        book.close()


_RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_PACKAGE = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _sheets_xml(path: Path, folder: Path, *, ids: bool) -> dict[str, bytes]:
    """Each sheet's XML part by sheet name; the Summary sheet (times, run id, report names)
    normalised like the JSON summary, the others only as their cell values would be.

    Equal parts mean equal cell values, which spares reading most reports with openpyxl
    (a third of this suite's time); different parts are then compared by their values.
    """
    from defusedxml import ElementTree

    with zipfile.ZipFile(path) as package:
        book = ElementTree.fromstring(package.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(package.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{_PACKAGE}Relationship")}
        out: dict[str, bytes] = {}
        for sheet in book.iter(f"{_MAIN}sheet"):
            target = str(targets[sheet.get(_RELS)]).lstrip("/").removeprefix("xl/")
            text = package.read(f"xl/{target}").decode("utf-8")
            name = str(sheet.get("name"))
            if name == "Summary" or ids:
                text = _normalise_text(text, folder)
            out[name] = text.encode("utf-8")
        return out


def _normalise_bytes(data: bytes, *, ids: bool) -> bytes:
    return _RUN_ID_BYTES.sub(b"<RUN-ID>", data) if ids else data


def _reports(folder: Path, reports: Path, *, ids: bool) -> tuple[
    dict[str, bytes], dict[str, Any], dict[str, Workbook]
]:
    csv_files: dict[str, bytes] = {}
    summaries: dict[str, Any] = {}
    workbooks: dict[str, Workbook] = {}
    names = [_STAMP.sub("<STAMP>", p.name) for p in reports.iterdir()] if reports.is_dir() else []
    assert len(set(names)) == len(names), f"two reports by one name in {reports}: {names}"
    for path in sorted(reports.iterdir()) if reports.is_dir() else []:
        name = _STAMP.sub("<STAMP>", path.name)
        if ".pending-backup." in path.name:
            # a sync's backup of what was pending: CallInserted is each emulator's own clock
            data = _INSERTED.sub(b"<INSERTED>", path.read_bytes())
            csv_files[name] = _normalise_bytes(data, ids=ids)
        elif path.name.endswith(".csv"):
            csv_files[name] = _normalise_bytes(path.read_bytes(), ids=ids)
        elif path.name.endswith(".json"):
            summaries[name] = _normalise_json(json.loads(path.read_text("utf-8")), folder, {})
        elif path.name.endswith(".xlsx"):
            workbooks[name] = Workbook(path, folder, ids, _sheets_xml(path, folder, ids=ids))
        else:
            csv_files[name] = path.read_bytes()  # anything else a run leaves: compare as is
    return csv_files, summaries, workbooks


def _pushes(server: EmulatorServer, since: int, codes: Mapping[str, str]) -> list[tuple[str, Any]]:
    """The write requests the emulator received after the first ``since`` requests."""
    out: list[tuple[str, Any]] = []
    for request in server.request_log[since:]:
        if request.method.lower() not in WRITE_METHODS:
            continue
        body: Any = request.body
        with contextlib.suppress(ValueError):  # a body that is not JSON is compared as text
            body = json.loads(body)
        out.append((request.method, _normalise_json(body, None, codes)))
    return out


def run_engine(
    engine: str,
    paths: Sequence[Path],
    folder: Path,
    server: EmulatorServer,
    *,
    mapping: Path | None,
    campaign: str = "Hot leads",
    dry_run: bool = True,
    formats: str = "csv,xlsx,json",
    extra: Iterable[str] = (),
    reports: str = "reports",
    helper: bool = False,
) -> Outcome:
    """Import ``paths`` with ``--engine ENGINE``; state goes in ``folder/state``, reports in
    ``folder/REPORTS`` (a run that follows another in the same state gets its own)."""
    folder.mkdir(parents=True, exist_ok=True)
    args = ["import", *map(str, paths), "--campaign", campaign, "--engine", engine,
            "--report-format", formats, "--report-dir", str(folder / reports),
            "--state-dir", str(folder / "state"), "--concurrency", "1", "--no-progress",
            *extra]
    if mapping is not None:
        args += ["--mapping", str(mapping)]
    if dry_run:
        args.append("--dry-run")
    since = len(server.request_log)
    with (small_pieces() if engine == "columnar" else contextlib.nullcontext(),
          with_helper() if helper and engine == "columnar" else contextlib.nullcontext()):
        result = CliRunner().invoke(cli, args, env=cli_env(server, folder / "locks"),
                                    catch_exceptions=False)
    codes = {c.code: f"<CODE {c.name}>" for c in server.store.campaigns_of("demo")}
    ids = not dry_run
    csv_files, summaries, workbooks = _reports(folder, folder / reports, ids=ids)
    return Outcome(
        engine=engine,
        exit_code=result.exit_code,
        stdout=_normalise_text(result.stdout, folder),
        stderr=_normalise_text(result.stderr, folder),
        csv=csv_files,
        summaries=summaries,
        workbooks=workbooks,
        pushes=_pushes(server, since, codes),
    )


@contextlib.contextmanager
def small_pieces(piece: int = 700, first: int = 200) -> Iterator[None]:
    """Make the columnar engine's CSV reader cut every text file, however small, into
    pieces of a few hundred bytes: the corpus's awkward lines then fall in pieces of every
    kind (Arrow's, the csv module's, the rest of a file after bad quotes)."""
    from importer.engine import csv_reader

    saved = (csv_reader.PIECE_BYTES, csv_reader._FIRST_PIECE_BYTES, csv_reader._MIN_FAST_BYTES)
    csv_reader.PIECE_BYTES, csv_reader._FIRST_PIECE_BYTES, csv_reader._MIN_FAST_BYTES = (
        piece, first, 0,
    )
    try:
        yield
    finally:
        csv_reader.PIECE_BYTES, csv_reader._FIRST_PIECE_BYTES, csv_reader._MIN_FAST_BYTES = saved


@contextlib.contextmanager
def with_helper() -> Iterator[None]:
    """Make the columnar engine hand the phones of every block after the first, however
    small, to a helper process (importer/engine/helper.py), and make its report lines on a
    thread (two threads allowed), on any machine."""
    from importer.engine import helper
    from importer.engine.threads import THREADS_ENV

    saved = (helper.MIN_ROWS, helper.wanted)
    threads = os.environ.get(THREADS_ENV)
    helper.MIN_ROWS, helper.wanted = 0, lambda: True
    os.environ[THREADS_ENV] = "2"
    try:
        yield
    finally:
        helper.MIN_ROWS, helper.wanted = saved
        if threads is None:
            os.environ.pop(THREADS_ENV, None)
        else:
            os.environ[THREADS_ENV] = threads


def run_both(
    paths: Sequence[Path],
    work: Path,
    servers: Mapping[str, EmulatorServer] | EmulatorServer,
    **kwargs: Any,
) -> tuple[Outcome, Outcome]:
    """The same import with each engine, in ``work/row`` and ``work/columnar``."""
    outcomes = []
    for engine in ENGINES:
        server = servers if isinstance(servers, EmulatorServer) else servers[engine]
        outcomes.append(run_engine(engine, paths, work / engine, server, **kwargs))
    return outcomes[0], outcomes[1]


# --- comparing ------------------------------------------------------------------------------


def _first_difference(a: Sequence[Any], b: Sequence[Any]) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"first difference at item {i}:\n  row:      {x!r}\n  columnar: {y!r}"
    return f"lengths differ: row has {len(a)}, columnar has {len(b)}"


def _text_diff(a: str, b: str) -> str:
    return "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), "row", "columnar",
                                          lineterm="", n=1))


def assert_same(row: Outcome, columnar: Outcome, label: str = "") -> None:
    """Fail, naming the first difference, unless both engines left the same things."""
    where = f"{label}: " if label else ""
    assert row.exit_code == columnar.exit_code, (
        f"{where}exit codes differ: row {row.exit_code}, columnar {columnar.exit_code}\n"
        f"row stderr:\n{row.stderr}\ncolumnar stderr:\n{columnar.stderr}")
    assert row.stdout == columnar.stdout, f"{where}stdout differs:\n" + _text_diff(
        row.stdout, columnar.stdout)
    assert row.stderr == columnar.stderr, f"{where}stderr differs:\n" + _text_diff(
        row.stderr, columnar.stderr)
    assert sorted(row.csv) == sorted(columnar.csv), f"{where}report files differ: " + str(
        (sorted(row.csv), sorted(columnar.csv)))
    for name, data in row.csv.items():
        other = columnar.csv[name]
        if data != other:
            lines_a, lines_b = data.split(b"\n"), other.split(b"\n")
            raise AssertionError(f"{where}{name}: bytes differ; "
                                 + _first_difference(lines_a, lines_b))
    assert sorted(row.summaries) == sorted(columnar.summaries), f"{where}summaries differ"
    for name, summary in row.summaries.items():
        assert summary == columnar.summaries[name], f"{where}{name} differs:\n" + _text_diff(
            json.dumps(summary, indent=1, ensure_ascii=False, sort_keys=True),
            json.dumps(columnar.summaries[name], indent=1, ensure_ascii=False, sort_keys=True))
    assert sorted(row.workbooks) == sorted(columnar.workbooks), f"{where}workbooks differ"
    for name, workbook in row.workbooks.items():
        if workbook.sheets_xml == columnar.workbooks[name].sheets_xml:
            continue  # the same XML: the same cells
        book, other_book = workbook.values(), columnar.workbooks[name].values()
        assert list(book) == list(other_book), f"{where}{name}: sheets {list(book)} vs " \
            f"{list(other_book)}"
        for sheet, rows in book.items():
            if rows != other_book[sheet]:
                raise AssertionError(f"{where}{name}, sheet {sheet!r}: "
                                     + _first_difference(rows, other_book[sheet]))
    if row.pushes != columnar.pushes:
        raise AssertionError(f"{where}pushes differ: " + _first_difference(
            _push_items(row.pushes), _push_items(columnar.pushes)))


def _push_items(pushes: Sequence[tuple[str, Any]]) -> list[tuple[int, str, int, Any]]:
    """(request number, method, item number, item): an AddCallsBulk body item by item."""
    out: list[tuple[int, str, int, Any]] = []
    for n, (method, body) in enumerate(pushes):
        items = body if isinstance(body, list) else [body]
        out.extend((n, method, i, item) for i, item in enumerate(items))
    return out
