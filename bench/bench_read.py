"""Benchmark the source readers: speed against raw readers, and peak memory.

    python bench/bench_read.py [--quick]

Generates (and caches under bench/.cache/) a realistic 200k-row XLSX and a 1M-row CSV
(--quick: 20k / 100k), then prints:

* XLSX: our reader (open_source + rows) through calamine vs raw python-calamine
  ``iter_rows`` (the baseline; target ratio <= 1.5), our streaming reader, and
  openpyxl read-only;
* CSV: our reader vs the csv module over the same file (baseline) and pandas;
* peak RSS of a child process reading each file with our reader (its own VmHWM),
  and how it changes when the CSV doubles in size (flat = streaming);
* XLSX streaming (``stream_above_bytes``): peak RSS of our reader on 200k- and
  400k-row workbooks (--quick: 20k / 40k) read through calamine (decodes the sheet)
  and streamed, for Excel-style files (text in sharedStrings.xml) and files with
  inline strings (openpyxl's and many exporters'); the calamine memory per byte of
  worksheet XML (what ``stream_above_bytes`` is sized from); streaming speed.

Every figure is measured in this run; nothing is compared with stored numbers.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
sys.path.insert(0, str(ROOT.parent))

from importer.sources import SourceOptions  # noqa: E402 - after the path is set

FIRST = ["נועה", "יוסי", "מיכל", "Avi", "Shira", "דניאל", "רונית", "Omer", "תמר", "Itay"]
LAST = ["כהן", "לוי", "מזרחי", "Peretz", "Biton", "אברהם", "Friedman", "שפירא"]
CITY = ["תל אביב-יפו", "ירושלים", "חיפה", "Beer Sheva", "נתניה", "Holon"]
SOURCE = ["facebook", "google", "אתר", "המלצה"]


def _row(i: int, rng: random.Random) -> list[object]:
    phone = 500000000 + rng.randrange(60_000_000)
    return [
        rng.choice(FIRST),
        rng.choice(LAST),
        phone if i % 2 else f"0{phone}",  # half stored as numbers (lost leading zero)
        f"lead{i}@example.co.il",
        rng.choice(CITY),
        rng.choice(SOURCE),
        dt.date(2026, 1, 1) + dt.timedelta(days=i % 330),
        "לחזור אחרי 17:00, מעוניין" if i % 7 == 0 else "",
    ]


HEADER = ["שם פרטי", "שם משפחה", "טלפון", "אימייל", "עיר", "מקור", "תאריך", "הערות"]


def _cache_dir() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    # The generated files are hundreds of MB: keep them out of git whatever the root
    # .gitignore says.
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")


def make_xlsx(rows: int) -> Path:
    """The leads written by openpyxl's write-only mode (inline strings)."""
    path = CACHE / f"leads_{rows}.xlsx"
    if path.exists():
        return path
    import openpyxl

    _cache_dir()
    rng = random.Random(rows)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Leads")
    ws.append(HEADER)
    for i in range(rows):
        ws.append(_row(i, rng))
    tmp = path.with_suffix(".tmp")
    wb.save(tmp)
    tmp.replace(path)
    return path


_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _col(i: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]


def make_raw_xlsx(rows: int, shared: bool) -> Path:
    """The leads of ``make_xlsx`` written straight as XML (seconds, not minutes).

    ``shared``: text in sharedStrings.xml as Excel writes it; else inline strings.
    """
    from xml.sax.saxutils import escape

    path = CACHE / f"leads_{rows}_{'sst' if shared else 'inline'}.xlsx"
    if path.exists():
        return path
    _cache_dir()
    rng = random.Random(rows)
    index: dict[str, int] = {}
    epoch = dt.date(1899, 12, 30)

    def text(ref: str, value: str) -> str:
        if shared:
            n = index.setdefault(value, len(index))
            return f'<c r="{ref}" t="s"><v>{n}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'

    def cell(ref: str, value: object) -> str:
        if isinstance(value, dt.date):
            return f'<c r="{ref}" s="1"><v>{(value - epoch).days}</v></c>'
        if isinstance(value, int):
            return f'<c r="{ref}"><v>{value}</v></c>'
        return text(ref, str(value)) if value != "" else ""

    tmp = path.with_suffix(".tmp")
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            out.write(f'{head}<worksheet xmlns="{_MAIN_NS}"><sheetData>'.encode())
            for r, values in enumerate(
                [list(HEADER)] + [_row(i, rng) for i in range(rows)], start=1
            ):
                body = "".join(cell(f"{_col(c)}{r}", v) for c, v in enumerate(values))
                out.write(f'<row r="{r}">{body}</row>'.encode())
            out.write(b"</sheetData></worksheet>")
        if shared:
            with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
                out.write(f'{head}<sst xmlns="{_MAIN_NS}" uniqueCount="{len(index)}">'.encode())
                for value in index:
                    out.write(f"<si><t>{escape(value)}</t></si>".encode())
                out.write(b"</sst>")
        sst_rel = (f'<Relationship Id="rId3" Type="{_REL_NS}/sharedStrings" '
                   'Target="sharedStrings.xml"/>' if shared else "")
        zf.writestr("[Content_Types].xml", head + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.styles+xml"/>'
            + ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
               'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>' if shared
               else "")
            + "</Types>"))
        zf.writestr("_rels/.rels", head + (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"))
        zf.writestr("xl/workbook.xml", head + (
            f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><sheets>'
            '<sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>'))
        zf.writestr("xl/_rels/workbook.xml.rels", head + (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/>{sst_rel}'
            "</Relationships>"))
        zf.writestr("xl/styles.xml", head + (
            f'<styleSheet xmlns="{_MAIN_NS}"><cellXfs count="2"><xf numFmtId="0"/>'
            '<xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>'))
    tmp.replace(path)
    return path


def sheet_xml_mib(path: Path) -> float:
    """Uncompressed size of the workbook's first worksheet XML."""
    with zipfile.ZipFile(path) as zf:
        return zf.getinfo("xl/worksheets/sheet1.xml").file_size / 2**20


def make_csv(rows: int) -> Path:
    path = CACHE / f"leads_{rows}.csv"
    if path.exists():
        return path
    _cache_dir()
    rng = random.Random(rows)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(_row(i, rng))
    tmp.replace(path)
    return path


# --- readers ------------------------------------------------------------------------

def read_ours(path: Path) -> int:
    from importer.sources import open_source

    n = 0
    with open_source(path) as src:
        for _ in src.rows():
            n += 1
    return n


def read_streamed(path: Path) -> int:
    from importer.sources import SourceOptions, open_source

    n = 0
    with open_source(path, SourceOptions(stream_above_bytes=0)) as src:
        for _ in src.rows():
            n += 1
    return n


def read_decoded(path: Path) -> int:
    from importer.sources import SourceOptions, open_source

    n = 0
    with open_source(path, SourceOptions(stream_above_bytes=1 << 62)) as src:
        for _ in src.rows():
            n += 1
    return n


def read_calamine(path: Path) -> int:
    import python_calamine as pc

    n = 0
    with path.open("rb") as fh:
        wb = pc.CalamineWorkbook.from_filelike(fh)
        for _ in wb.get_sheet_by_index(0).iter_rows():
            n += 1
    return n - 1


def read_openpyxl(path: Path) -> int:
    import warnings

    import openpyxl

    warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    n = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    return n - 1


def read_csv_module(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def read_pandas(path: Path) -> int:
    import pandas as pd

    return len(pd.read_csv(path, dtype=str, keep_default_na=False))


READERS = {
    "ours": read_ours,
    "streamed": read_streamed,
    "decoded": read_decoded,
    "calamine": read_calamine,
    "openpyxl": read_openpyxl,
    "csv": read_csv_module,
    "pandas": read_pandas,
}


def timed(reader: str, path: Path, repeat: int) -> tuple[float, int]:
    """Best of ``repeat`` wall-clock runs."""
    best = float("inf")
    rows = 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = READERS[reader](path)
        best = min(best, time.perf_counter() - start)
    return best, rows


def _own_peak_mib() -> float:
    # VmHWM is this process's own high-water mark. ru_maxrss of a child is not usable
    # here: Linux carries the parent's peak across fork+exec into the child's figure.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mib(reader: str, path: Path | str) -> float:
    """Peak RSS of a fresh child process that reads ``path`` with ``reader``."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", reader, str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small files (CI smoke run)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        reader, path = args.child
        import importer.sources  # noqa: F401  - the import cost is part of the baseline

        if reader != "import":
            READERS[reader](Path(path))
        print(f"{_own_peak_mib():.1f}")
        return
    xlsx_rows, csv_rows = (20_000, 100_000) if args.quick else (200_000, 1_000_000)
    repeat = 3 if args.quick else 1
    print(f"generating / reusing files in {CACHE} ...", flush=True)
    xlsx = make_xlsx(xlsx_rows)
    small_csv = make_csv(csv_rows)
    big_csv = make_csv(csv_rows * 2)

    print(f"\nXLSX {xlsx_rows:,} rows x 8 ({xlsx.stat().st_size / 2**20:.1f} MiB)")
    base, n = timed("calamine", xlsx, repeat)
    print(f"  {'reader':<28}{'seconds':>9}{'rows':>11}{'ratio':>8}")
    print(f"  {'raw python-calamine (base)':<28}{base:9.2f}{n:11,}{1.0:8.2f}")
    ours, n = timed("decoded", xlsx, repeat)
    print(f"  {'ours, calamine path':<28}{ours:9.2f}{n:11,}{ours / base:8.2f}"
          f"   target <= 1.5: {'OK' if ours / base <= 1.5 else 'MISSED'}")
    streamed, n = timed("streamed", xlsx, repeat)
    print(f"  {'ours, streamed':<28}{streamed:9.2f}{n:11,}{streamed / base:8.2f}"
          "   (flat memory)")
    xml = sheet_xml_mib(xlsx)
    threshold = SourceOptions().stream_above_bytes / 2**20
    print(f"  the default path: {'streamed' if xml > threshold else 'calamine'} "
          f"(sheet XML {xml:.0f} MiB, stream_above_bytes {threshold:.0f} MiB)")
    opx, n = timed("openpyxl", xlsx, 1)
    print(f"  {'openpyxl read-only':<28}{opx:9.2f}{n:11,}{opx / base:8.2f}"
          f"   (ours streamed is {opx / streamed:.1f}x faster)")

    print(f"\nCSV {csv_rows:,} rows x 8 ({small_csv.stat().st_size / 2**20:.1f} MiB, UTF-8)")
    base, n = timed("csv", small_csv, repeat)
    print(f"  {'csv module (base)':<28}{base:9.2f}{n:11,}{1.0:8.2f}")
    ours, n = timed("ours", small_csv, repeat)
    print(f"  {'lead-importer open_source':<28}{ours:9.2f}{n:11,}{ours / base:8.2f}")
    pdt, n = timed("pandas", small_csv, repeat)
    print(f"  {'pandas read_csv(dtype=str)':<28}{pdt:9.2f}{n:11,}{pdt / base:8.2f}")

    print("\nPeak RSS of a child process (MiB)")
    idle = peak_rss_mib("import", "-")
    print(f"  {'import only':<40}{idle:8.0f}")
    rss_small = peak_rss_mib("ours", small_csv)
    rss_big = peak_rss_mib("ours", big_csv)
    print(f"  {f'ours, CSV {csv_rows:,} rows':<40}{rss_small:8.0f}")
    print(f"  {f'ours, CSV {2 * csv_rows:,} rows':<40}{rss_big:8.0f}"
          f"   growth when the file doubles: {rss_big - rss_small:+.0f} MiB "
          f"({'flat' if rss_big - rss_small < 0.1 * rss_small else 'NOT flat'})")
    pandas_rss = peak_rss_mib("pandas", small_csv)
    print(f"  {f'pandas, CSV {csv_rows:,} rows':<40}{pandas_rss:8.0f}")
    rss_x = peak_rss_mib("ours", xlsx)
    raw_x = peak_rss_mib("calamine", xlsx)
    print(f"  {f'ours (default), XLSX {xlsx_rows:,} rows':<40}{rss_x:8.0f}")
    print(f"  {f'raw calamine, XLSX {xlsx_rows:,} rows':<40}{raw_x:8.0f}"
          "   (calamine decodes a whole sheet at once: memory grows with the sheet)")
    xlsx_streaming(xlsx_rows, idle, repeat)


def xlsx_streaming(rows: int, idle: float, repeat: int) -> None:
    """Peak memory and speed of the two XLSX paths, at ``rows`` and twice that."""
    print("\nXLSX: calamine (decodes the sheet) vs streamed (stream_above_bytes), peak RSS MiB")
    print(f"  {'file':<34}{'XML MiB':>8}{'calamine':>10}{'streamed':>10}{'MiB/XML MiB':>13}")
    for shared in (True, False):
        kind = "shared strings" if shared else "inline strings"
        peaks = []
        for n in (rows, 2 * rows):
            path = make_raw_xlsx(n, shared)
            xml = sheet_xml_mib(path)
            decoded = peak_rss_mib("decoded", path)
            streamed = peak_rss_mib("streamed", path)
            peaks.append((decoded, streamed))
            # k: calamine's memory per byte of worksheet XML, what the threshold is sized by
            k = (decoded - idle) / xml
            print(f"  {f'{n:,} rows, {kind}':<34}{xml:8.0f}{decoded:10.0f}{streamed:10.0f}"
                  f"{k:13.2f}")
        (d1, s1), (d2, s2) = peaks
        verdict = "flat" if s2 - s1 < 0.1 * s1 else "NOT flat"
        if shared:
            verdict += " (what grows is the table of unique texts, which every reader holds)"
        print(f"  {'  growth when the rows double':<34}{'':8}{d2 - d1:+10.0f}{s2 - s1:+10.0f}"
              f"   streamed: {verdict}")
    path = make_raw_xlsx(rows, True)
    base, n = timed("decoded", path, repeat)
    streamed, _ = timed("streamed", path, repeat)
    opx, _ = timed("openpyxl", path, 1)
    print(f"\n  speed, {n:,} rows (shared strings): calamine path {base:.2f} s, streamed "
          f"{streamed:.2f} s ({streamed / base:.1f}x), openpyxl read-only {opx:.2f} s "
          f"({opx / base:.1f}x)")


if __name__ == "__main__":
    main()
