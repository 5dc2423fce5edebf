"""Benchmark the source readers: speed against raw readers, and peak memory.

    python bench/bench_read.py [--quick]

Generates (and caches under bench/.cache/) a realistic 200k-row XLSX and a 1M-row CSV
(--quick: 20k / 100k), then prints:

* XLSX: our reader (open_source + rows) vs raw python-calamine ``iter_rows`` (the
  baseline; target ratio <= 1.5) vs openpyxl read-only;
* CSV: our reader vs the csv module over the same file (baseline) and pandas;
* peak RSS of a child process reading each file with our reader (os.wait4's
  ru_maxrss), and how it changes when the CSV doubles in size (flat = streaming).

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
sys.path.insert(0, str(ROOT.parent))

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


def read_calamine(path: Path) -> int:
    import python_calamine as pc

    n = 0
    with path.open("rb") as fh:
        wb = pc.CalamineWorkbook.from_filelike(fh)
        for _ in wb.get_sheet_by_index(0).iter_rows():
            n += 1
    return n - 1


def read_openpyxl(path: Path) -> int:
    import openpyxl

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
    ours, n = timed("ours", xlsx, repeat)
    print(f"  {'lead-importer open_source':<28}{ours:9.2f}{n:11,}{ours / base:8.2f}"
          f"   target <= 1.5: {'OK' if ours / base <= 1.5 else 'MISSED'}")
    opx, n = timed("openpyxl", xlsx, 1)
    print(f"  {'openpyxl read-only':<28}{opx:9.2f}{n:11,}{opx / base:8.2f}"
          f"   (ours is {opx / ours:.1f}x faster)")

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
    print(f"  {f'ours, XLSX {xlsx_rows:,} rows':<40}{rss_x:8.0f}")
    print(f"  {f'raw calamine, XLSX {xlsx_rows:,} rows':<40}{raw_x:8.0f}"
          "   (calamine decodes a whole sheet at once: memory grows with the sheet)")


if __name__ == "__main__":
    main()
