"""Benchmark 1: a dry run of a big CSV with both engines, against the floor and a naive script.

    python bench/bench_import.py [--quick] [--rows N] [--rounds N] [--threads 1,2]
                                 [--no-alternatives]

Generates (cached in bench/.cache/) a Hebrew CRM export of 1M rows (--quick: 100k)
with mixed-format Israeli phones, 10% duplicates and 3% invalid numbers, and twice
that many rows for the memory check.  Every program runs in a fresh child process
(wall time and peak RSS measured around the process), in rounds: each round runs every
program once, in the same order, so a slow spell of the shared machine hits them all
alike (``--rounds``, default 3; the table shows the min and the median):

* ours, columnar: ``lead-importer import FILE --engine columnar --mapping
  mappings/hebrew-crm.yaml --campaign "Hot leads" --dry-run --report-format csv,json``
  against the emulator (the dry run still reads the campaign's pending calls), once per
  thread count of ``--threads``;
* ours, columnar, pandas importable: the same with the most threads, in a process where
  pyarrow can import pandas (see AS_INSTALLED: every other run of ours is as a pip install
  of lead-importer runs it, without pandas, which it does not depend on);
* ours, row: the same with ``--engine row`` (the reference engine);
* minimal: the least per-row CPython program writing the same report (see MINIMAL);
* floor: pandas reads the file and our fast path normalises its distinct phone cells -
  what no importer can beat; once per thread count (Arrow's reader is multi-threaded);
* naive: pandas + a ``phonenumbers`` parse/validate/format loop per row +
  ``drop_duplicates`` + ``to_csv`` of a report - what people write first.

How pandas reads the file moves both baselines (pandas 3 with pyarrow installed reads
``dtype=str`` as Arrow-backed strings).  The table uses one definition, TABLE_READING:
the fastest reasonable pandas reading, so the floor is a true floor; the other readings
are measured once, in round 1, and shown above the table with the floor's own read_csv
time (``--no-alternatives`` skips them).

Thread count: a child gets OMP_NUM_THREADS (Arrow's CPU pool is sized from it when
pyarrow loads; ARROW_NUM_THREADS means nothing to Arrow), ARROW_IO_THREADS (its I/O pool)
and LEAD_IMPORTER_THREADS (our engine calls pyarrow.set_cpu_count and
set_io_thread_count with it).  A probe child checks ``pyarrow.cpu_count()`` and
``io_thread_count()`` under that environment, and the floor reports its own.

The CSV reports of the two engines (every run, both sizes) must have the same md5;
a difference prints MISMATCH and the script exits 1 after the table.

Targets (issues 8 and 19): columnar <= 1.5x the floor, >= 4x faster than naive, peak
RSS <= 300 MB and flat when the file doubles.  Every figure is from this run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PHONE_COLUMN,
    ROOT,
    Measured,
    emulator_env,
    make_leads_csv,
    print_machine,
    python_snippet,
    run_measured,
    start_emulator,
    verdict,
)

MAPPING = ROOT / "mappings" / "hebrew-crm.yaml"

# How the floor and the naive script read the file.  With pyarrow installed (a runtime
# dependency since issue 19) pandas 3 turns ``dtype=str`` into Arrow-backed strings,
# which costs the C parser a conversion; ``engine="pyarrow"`` reads with Arrow's own
# multi-threaded reader - the same reader the columnar engine uses - and is the fastest.
READINGS = {
    "arrow": 'read_csv(engine="pyarrow", dtype=str): Arrow\'s reader, Arrow-backed str',
    "c-str": "read_csv(dtype=str): C parser, Arrow-backed str (pandas 3 + pyarrow default)",
    "c-object": "read_csv(dtype=object): C parser, Python str objects (pandas 2 behaviour)",
}
# The fastest reasonable reading: a floor that a faster pandas call beats is no floor, and
# a naive script given a slow reader would flatter us.  Both baselines use it.
TABLE_READING = "arrow"

# Prepended to FLOOR and NAIVE: the one place where a reading is turned into arguments.
READ_CSV = """
import pandas as pd

def read_csv(path, how):
    kwargs = {"keep_default_na": False}
    if how == "arrow":
        kwargs.update(engine="pyarrow", dtype=str)
    elif how == "c-str":
        kwargs.update(dtype=str)
    elif how == "c-object":
        kwargs.update(dtype=object)
    else:
        raise SystemExit(f"unknown reading {how!r}")
    return pd.read_csv(path, **kwargs)
"""

FLOOR = READ_CSV + """
import sys, time
from pathlib import Path
import pyarrow
from importer.mapping import load_mapping
from importer.phones import PhoneNormalizer
started = time.perf_counter()
df = read_csv(sys.argv[1], sys.argv[4])
print("read-seconds", time.perf_counter() - started)
normalizer = PhoneNormalizer(load_mapping(Path(sys.argv[3])).phone_policy())
ok = 0
for raw in df[sys.argv[2]].unique():
    ok += normalizer.normalize_uncached(raw.strip()).ok
print("rows", len(df), "usable distinct", ok)
print("pyarrow-threads", pyarrow.cpu_count(), pyarrow.io_thread_count())
"""

NAIVE = READ_CSV + """
import sys
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
df = read_csv(sys.argv[1], sys.argv[4])

def e164(raw):
    try:
        number = phonenumbers.parse(raw, "IL")
    except NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)

df["phone"] = [e164(raw) for raw in df[sys.argv[2]]]
df["status"] = "would_add"
df.loc[df["phone"] == "", "status"] = "invalid_phone"
dup = (df["phone"] != "") & df.duplicated("phone")
df.loc[dup, "status"] = "duplicate_in_batch"
to_send = df[df["phone"] != ""].drop_duplicates("phone")
df.to_csv(sys.argv[3], index=False, encoding="utf-8-sig")
print("rows", len(df), "to send", len(to_send))
"""

# The least a pure-Python importer must do to produce our per-row report: the csv
# module, the mapping hard-coded for this file (no mapping engine, no notes, no
# journal, no redaction, no ragged-row checks), phones through the same normaliser and
# cache, batch dedupe, the 17 report columns written with csv.writer, the collector
# off, 20k rows at a time column by column.  It shows how much of the gap to the floor
# is left for the mapping engine and the safety checks, and how much is CPython
# reading and writing a million rows at all.
MINIMAL = """
import csv, gc, itertools, sys
from pathlib import Path
from importer.mapping import load_mapping
from importer.phones import PhoneNormalizer
gc.disable()
normalize = PhoneNormalizer(load_mapping(Path(sys.argv[3])).phone_policy(),
                            cache_size=65_536).normalize
score = {"\u05d7\u05dd": "10", "\u05e4\u05d5\u05e9\u05e8": "5", "\u05e7\u05e8": "1"}
seen = set()
name = Path(sys.argv[1]).name
rows = 0
with open(sys.argv[1], encoding="utf-8", newline="") as f, \
        open(sys.argv[4], "w", encoding="utf-8", newline="") as out:
    reader, writer = csv.reader(f), csv.writer(out)
    header = next(reader)
    col = {h: i for i, h in enumerate(header)}
    writer.writerow(["source_file", "sheet", "row", "phone_raw", "phone", "status", "reason",
                     "error_code", "campaign", "CustomerName", "Priority", "var_LeadID",
                     "var_Source", "var_City", "var_Notes", "var_LeadTime", "var_Email"])
    phone_at = col[sys.argv[2]]
    while block := list(itertools.islice(reader, 20_000)):
        cols = list(zip(*block))
        names = [f"{a.strip()} {b.strip()}".strip() for a, b in zip(cols[1], cols[2])]
        priority = [score.get(s.strip(), "1") for s in cols[7]]
        lines = []
        for i, raw in enumerate(cols[phone_at]):
            result = normalize(raw.strip())
            e164 = result.e164
            if e164 is None:
                status, e164 = result.problem, ""
            elif (key := int(e164[1:])) in seen:
                status = "duplicate_in_batch"
            else:
                seen.add(key)
                status = "would_add"
            lines.append((name, "", rows + i + 2, raw, e164, status, "", "", "Hot leads",
                          names[i], priority[i], cols[0][i], cols[6][i], cols[5][i],
                          cols[9][i], cols[8][i], cols[4][i]))
        writer.writerows(lines)
        rows += len(block)
print("rows", rows)
"""


THREAD_VARS = ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "ARROW_IO_THREADS", "LEAD_IMPORTER_THREADS")
PROBE = "import pyarrow; print(pyarrow.cpu_count(), pyarrow.io_thread_count())"


def threads_env(env: dict[str, str], threads: int) -> dict[str, str]:
    """``env`` for a child that may use ``threads`` threads (see the module docstring)."""
    out = {k: v for k, v in env.items() if k not in THREAD_VARS}
    n = str(threads)
    # Arrow sizes its CPU pool from OMP_NUM_THREADS (capped by OMP_THREAD_LIMIT, dropped
    # above) once, when pyarrow loads; ARROW_IO_THREADS sizes its I/O pool.
    out.update(OMP_NUM_THREADS=n, ARROW_IO_THREADS=n, LEAD_IMPORTER_THREADS=n)
    return out


def probe_threads(env: dict[str, str]) -> tuple[int, int]:
    """``pyarrow.cpu_count()`` and ``io_thread_count()`` as a child with ``env`` sees them."""
    proc = subprocess.run(python_snippet(PROBE), env=env, capture_output=True, text=True,
                          check=True)
    cpu, io = proc.stdout.split()
    return int(cpu), int(io)


@dataclass(frozen=True, slots=True)
class Program:
    """One line of the table: a key, a label and how to run it on a file."""

    key: str
    label: str
    run: Callable[[Path], Measured]


@dataclass(slots=True)
class Reports:
    """The md5 of every CSV report of ours, and the status counts of the last run."""

    md5: dict[tuple[str, str], set[str]]   # (file name, program key) -> digests seen
    counts: dict[str, int]

    def add(self, file: str, key: str, digest: str, counts: dict[str, int]) -> None:
        """Remember one run's report digest."""
        self.md5.setdefault((file, key), set()).add(digest)
        self.counts = counts


def md5_of(path: Path) -> str:
    """The md5 of a (possibly large) file, read in pieces."""
    digest = hashlib.md5()
    with path.open("rb") as fh:
        while piece := fh.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


# Our CLI as a pip install of lead-importer runs it: pandas is not one of its dependencies
# (this benchmark's environment has it for the floor and the naive script only), and pyarrow
# imports pandas, when it can, on its first conversion of Python values (~0.25 s and ~30 MB
# here).  The launcher makes ``import pandas`` fail in our process, as it does where
# lead-importer is installed alone; the "pandas importable" program measures the other case.
AS_INSTALLED = """
import runpy, sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
sys.argv[0] = "lead-importer"
runpy.run_module("importer", run_name="__main__", alter_sys=True)
"""


def run_ours(
    path: Path, env: dict[str, str], engine: str, *, pandas: bool = False
) -> tuple[Measured, dict[str, int], str]:
    """Our CLI dry run (as installed, or with pandas importable); the measurement, the
    status counts and the CSV report's md5."""
    report_dir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    launcher = ["-m", "importer"] if pandas else ["-c", AS_INSTALLED]
    try:
        measured = run_measured(
            [sys.executable, *launcher, "import", str(path), "--engine", engine,
             "--mapping", str(MAPPING), "--campaign", "Hot leads", "--dry-run",
             "--report-format", "csv,json", "--report-dir", str(report_dir), "--no-progress",
             "--json"],
            env=env,
        )
        summary = json.loads(measured.stdout)
        digest = md5_of(Path(summary["files"][0]["reports"]["csv"]))
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
    counts = {k: v for k, v in summary["counts"].items() if v}
    return measured, counts, digest


def ours_program(
    key: str, label: str, engine: str, env: dict[str, str], reports: Reports,
    *, pandas: bool = False,
) -> Program:
    """Our dry run with one engine; every run's report digest goes into ``reports``."""

    def run(path: Path) -> Measured:
        measured, counts, digest = run_ours(path, env, engine, pandas=pandas)
        reports.add(path.name, key, digest, counts)
        return measured

    return Program(key, label, run)


def run_floor(path: Path, env: dict[str, str], reading: str) -> Measured:
    """pandas.read_csv + normalising the distinct phones."""
    return run_measured(
        python_snippet(FLOOR, str(path), PHONE_COLUMN, str(MAPPING), reading), env=env
    )


def floor_program(key: str, label: str, env: dict[str, str], reading: str,
                  threads: int) -> Program:
    """The floor; it fails loudly if pyarrow did not get ``threads`` threads."""

    def run(path: Path) -> Measured:
        measured = run_floor(path, env, reading)
        seen = measured.stdout.split("pyarrow-threads", 1)[1].split()
        if (int(seen[0]), int(seen[1])) != (threads, threads):
            raise SystemExit(f"the floor ran with pyarrow threads {seen}, not {threads}")
        return measured

    return Program(key, label, run)


def run_naive(path: Path, env: dict[str, str], reading: str) -> Measured:
    """pandas + phonenumbers per row + drop_duplicates + to_csv."""
    out = Path(tempfile.mkdtemp(prefix="bench-naive-"))
    try:
        return run_measured(
            python_snippet(NAIVE, str(path), PHONE_COLUMN, str(out / "report.csv"), reading),
            env=env,
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


CORES = """
import sys, time, multiprocessing as mp
from pathlib import Path
import pandas as pd
from importer.mapping import load_mapping
from importer.phones import PhoneNormalizer
POLICY = load_mapping(Path(sys.argv[3])).phone_policy()

def normalise(raws):
    normalizer = PhoneNormalizer(POLICY)
    out = []
    for raw in raws:
        r = normalizer.normalize_uncached(raw)
        out.append((r.e164, r.number_type, r.problem, r.reason, r.extension))
    return out

if __name__ == "__main__":
    raws = [r.strip() for r in pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False,
                                           usecols=[sys.argv[2]])[sys.argv[2]].unique()]
    t = time.perf_counter(); normalise(raws); serial = time.perf_counter() - t
    print(f"{len(raws)} {serial:.3f}", end="")
    chunks = [raws[i:i + 5000] for i in range(0, len(raws), 5000)]
    for n in range(2, mp.cpu_count() + 1):
        with mp.get_context("fork").Pool(n) as pool:
            pool.map(abs, range(n))  # workers started before the clock runs
            t = time.perf_counter()
            sum(len(part) for part in pool.imap(normalise, chunks))
            print(f" {n}:{time.perf_counter() - t:.3f}", end="")
    print()
"""


def run_minimal(path: Path, env: dict[str, str]) -> Measured:
    """The least per-row work that writes the same report (see MINIMAL)."""
    out = Path(tempfile.mkdtemp(prefix="bench-minimal-"))
    try:
        return run_measured(
            python_snippet(MINIMAL, str(path), PHONE_COLUMN, str(MAPPING), str(out / "r.csv")),
            env=env,
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


def cores_experiment(path: Path, env: dict[str, str]) -> None:
    """Distinct-phone normalisation (the part of the work that parallelises) on 1..n cores."""
    import subprocess

    proc = subprocess.run(
        python_snippet(CORES, str(path), PHONE_COLUMN, str(MAPPING)), env=env, check=False,
        capture_output=True, text=True,
    )
    if proc.returncode:
        print(f"\nscaling with cores: the experiment failed:\n{proc.stderr[-2000:]}")
        return
    out = proc.stdout.split()
    distinct, serial = int(out[0]), float(out[1])
    print(f"\nscaling with cores: normalising the {distinct:,} distinct phone cells "
          "(results sent back as tuples)")
    print(f"  1 process: {serial:.2f} s ({distinct / serial:,.0f}/s)")
    for item in out[2:]:
        n, seconds = item.split(":")
        print(f"  {n} processes: {float(seconds):.2f} s ({distinct / float(seconds):,.0f}/s, "
              f"{serial / float(seconds):.2f}x)")


def median(runs: list[Measured]) -> float:
    """The median wall time (seconds) of some runs."""
    return statistics.median(m.seconds for m in runs)


def parse_threads(text: str) -> list[int]:
    """``1,2`` -> [1, 2] (sorted, no repeats, each >= 1)."""
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of thread counts: {text!r}") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1: {text!r}")
    return values


def programs_for(threads: list[int], env: dict[str, str], reports: Reports) -> list[Program]:
    """Every program of a round, in the order they run (columnar, row, minimal, floor, naive)."""
    top = max(threads)
    env_top = threads_env(env, top)
    progs = [
        ours_program(f"columnar@{t}", f"ours --engine columnar, {t} thread(s)", "columnar",
                     threads_env(env, t), reports)
        for t in threads
    ]
    progs.append(ours_program(f"columnar+pd@{top}",
                              f"ours columnar, {top} thread(s), pandas importable",
                              "columnar", env_top, reports, pandas=True))
    progs.append(ours_program("row", "ours --engine row", "row", env_top, reports))
    progs.append(Program("minimal", "minimal: csv module, fixed mapping",
                         lambda p: run_minimal(p, env_top)))
    progs += [
        floor_program(f"floor@{t}", f"floor: {TABLE_READING} reading, {t} thread(s)",
                      threads_env(env, t), TABLE_READING, t)
        for t in threads
    ]
    progs.append(Program("naive", f"naive: {TABLE_READING} reading, {top} thread(s)",
                         lambda p: run_naive(p, env_top, TABLE_READING)))
    return progs


def alternatives_for(threads: list[int], env: dict[str, str]) -> list[Program]:
    """Floor and naive under the readings the table does not use (run in round 1 only)."""
    top = max(threads)
    env_top = threads_env(env, top)
    progs = []
    for reading in READINGS:
        if reading != TABLE_READING:
            progs.append(floor_program(f"floor:{reading}", f"floor, {reading}", env_top,
                                       reading, top))
            progs.append(Program(f"naive:{reading}", f"naive, {reading}",
                                 lambda p, r=reading: run_naive(p, env_top, r)))
    return progs


def run_rounds(
    programs: list[Program], once: list[Program], path: Path, rounds: int
) -> dict[str, list[Measured]]:
    """Every program once per round, in the same order each round; ``once`` in round 1."""
    times: dict[str, list[Measured]] = {p.key: [] for p in programs + once}
    for i in range(rounds):
        for p in programs + (once if i == 0 else []):
            times[p.key].append(p.run(path))
        print(f"  round {i + 1}/{rounds}: "
              + ", ".join(f"{k} {v[i].seconds:.1f}s" for k, v in times.items() if len(v) > i),
              flush=True)
    return times


def read_seconds(m: Measured) -> float:
    """The floor's own timing of its read_csv call."""
    return float(m.stdout.split("read-seconds", 1)[1].split()[0])


def print_readings(times: dict[str, list[Measured]], top: int) -> None:
    """Both baselines under every reading (round 1), so readers see what the choice moves."""
    print(f"\nhow pandas reads the file moves the baselines (round 1, one run each, {top} "
          "thread(s); wall s and ratio to the table's reading):")
    firsts = {"floor": times[f"floor@{top}"][0], "naive": times["naive"][0]}
    for name, first in firsts.items():
        parts = [f"{TABLE_READING} {first.seconds:.2f}"]
        for reading in READINGS:
            if (alt := times.get(f"{name}:{reading}")) is not None:
                sec = alt[0].seconds
                parts.append(f"{reading} {sec:.2f} ({sec / first.seconds:.2f}x)")
        print(f"  {name:<9}" + " | ".join(parts))
    reads = {TABLE_READING: read_seconds(firsts["floor"])}
    reads |= {r: read_seconds(times[f"floor:{r}"][0]) for r in READINGS if f"floor:{r}" in times}
    print("  read_csv " + " | ".join(
        f"{r} {sec:.2f} ({sec / reads[TABLE_READING]:.2f}x)" for r, sec in reads.items()))
    for reading, text in READINGS.items():
        print(f"  {reading:<9}{text}")
    print(f"  the table uses: {TABLE_READING} ({READINGS[TABLE_READING]}) for floor and naive")


def print_table(
    programs: list[Program], times: dict[str, list[Measured]], rows: int, top: int
) -> None:
    """min/median seconds, peak RSS and the ratios of every program of the table."""
    naive = median(times["naive"])
    print(f"\n  {'program (' + format(rows, ',') + ' rows)':<44}{'min s':>7}{'median':>8}"
          f"{'rows/s':>10}{'peak MiB':>9}{'x floor':>9}{'naive/it':>9}")
    for p in programs:
        if ":" in p.key:
            continue
        runs = times[p.key]
        floor_key = f"floor@{p.key.split('@')[1]}" if "@" in p.key else f"floor@{top}"
        vs_floor = median(runs) / median(times[floor_key])
        vs_naive = f"{naive / median(runs):8.2f}x" if not p.key.startswith(("floor", "naive")) \
            else f"{'':9}"
        print(f"  {p.label:<44}{min(m.seconds for m in runs):7.2f}{median(runs):8.2f}"
              f"{rows / median(runs):10,.0f}{max(m.peak_mib for m in runs):9.0f}"
              f"{vs_floor:8.2f}x{vs_naive}")
    print("  (min and median of the rounds; peak = the highest of the rounds; x floor against "
          "the floor with the same thread count)")


def print_memory(times: dict[str, list[Measured]], big: dict[str, Measured], rows: int) -> float:
    """Peak RSS at rows and 2 x rows; returns the columnar engine's 2x/1x ratio."""
    print(f"\npeak RSS when the file doubles ({rows:,} -> {2 * rows:,} rows):")
    ratio = 0.0
    for key, m in big.items():
        small = statistics.median(r.peak_mib for r in times[key])
        print(f"  {key:<12}{small:7.0f} -> {m.peak_mib:5.0f} MiB  ({m.peak_mib / small:.2f}x; "
              f"{m.seconds:.2f} s at {2 * rows:,} rows)")
        if key.startswith("columnar"):
            ratio = m.peak_mib / small
    return ratio


def check_reports(reports: Reports) -> bool:
    """Print every engine's report md5 per size; True when they are all one."""
    print("\nCSV report md5 (every run of each engine; the engines must agree byte for byte):")
    ok = True
    for file in dict.fromkeys(f for f, _ in reports.md5):
        found = {key: digests for (f, key), digests in reports.md5.items() if f == file}
        distinct = set().union(*found.values())
        line = "  ".join(f"{key} {'/'.join(sorted(d))}" for key, d in found.items())
        print(f"  {file}  {line}  {'identical' if len(distinct) == 1 else ''}")
        if len(distinct) != 1:
            ok = False
            print(f"MISMATCH: the CSV reports of {file} differ: "
                  + "; ".join(f"{key} {sorted(d)}" for key, d in found.items()))
    return ok


def print_threads(times: dict[str, list[Measured]], threads: list[int]) -> None:
    """What more threads give the columnar engine and the floor."""
    print("\nscaling with threads (median s; speed-up over 1 thread; x the floor at the same "
          "count):")
    first = threads[0]
    for t in threads:
        col, flo = median(times[f"columnar@{t}"]), median(times[f"floor@{t}"])
        col1, flo1 = median(times[f"columnar@{first}"]), median(times[f"floor@{first}"])
        print(f"  {t} thread(s): columnar {col:.2f} s ({col1 / col:.2f}x), floor {flo:.2f} s "
              f"({flo1 / flo:.2f}x), columnar {col / flo:.2f}x the floor")


def print_verdicts(
    times: dict[str, list[Measured]], big: dict[str, Measured], top: int, flat: float,
    identical: bool,
) -> None:
    """The issue's targets for the columnar engine at the highest thread count."""
    key = f"columnar@{top}"
    col = median(times[key])
    vs_floor = col / median(times[f"floor@{top}"])
    vs_naive = median(times["naive"]) / col
    peak = max([m.peak_mib for m in times[key]] + [big[key].peak_mib])
    peak_mb = peak * 2**20 / 1e6
    print()
    print(verdict(vs_floor <= 1.5, f"columnar ({top} thread(s)) is {vs_floor:.2f}x the floor "
                                   "(median; target <= 1.5x)"))
    print(verdict(vs_naive >= 4, f"columnar is {vs_naive:.2f}x faster than the naive script "
                                 "(median; target >= 4x)"))
    print(verdict(peak_mb <= 300, f"columnar peak RSS {peak:.0f} MiB = {peak_mb:.0f} MB at "
                                  "either size (target <= 300 MB)"))
    print(verdict(flat <= 1.10, f"columnar peak RSS x{flat:.2f} when the file doubles "
                                "(target: flat, <= 1.10)"))
    print(verdict(identical, "columnar and row CSV reports byte-identical at both sizes"))


def main() -> None:
    """Run the rounds, print the table, the verdicts and the checks."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k/200k rows instead of 1M/2M")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--threads", type=parse_threads, default=[1, 2],
                        help="Arrow thread counts for the columnar engine (default 1,2)")
    parser.add_argument("--no-alternatives", action="store_true",
                        help="skip the baselines under the readings the table does not use "
                             "(measured once, in round 1)")
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    threads: list[int] = args.threads
    top = max(threads)

    import pandas as pd

    print(f"Benchmark 1: dry run of a {rows:,}-row CSV (mixed phones, 10% duplicates, "
          f"3% invalid), both engines, {args.rounds} interleaved rounds")
    print_machine()
    probe = pd.read_csv(__import__("io").StringIO("a\nx\n"), dtype=str)["a"].dtype
    print(f"pandas {pd.__version__}: read_csv(dtype=str) gives {probe!r}, storage "
          f"{getattr(probe, 'storage', 'object')!r}")
    print(f"baselines read with {TABLE_READING}: {READINGS[TABLE_READING]}")
    for t in threads:
        seen = probe_threads(threads_env(dict(os.environ), t))
        print(f"threads {t}: OMP_NUM_THREADS=ARROW_IO_THREADS=LEAD_IMPORTER_THREADS={t} -> "
              f"pyarrow.cpu_count()={seen[0]}, io_thread_count()={seen[1]}")
        if seen != (t, t):
            raise SystemExit(f"pyarrow did not take {t} threads from the environment: {seen}")
    print("generating / reusing files in bench/.cache ...", flush=True)
    small, big_file = make_leads_csv(rows), make_leads_csv(2 * rows)

    reports = Reports({}, {})
    work = Path(tempfile.mkdtemp(prefix="bench-emulator-"))
    emulator = start_emulator(db=work / "emulator.db")
    try:
        env = emulator_env(emulator.base_url)
        programs = programs_for(threads, env, reports)
        once = [] if args.no_alternatives else alternatives_for(threads, env)
        times = run_rounds(programs, once, small, args.rounds)
        counts = reports.counts
        by_key = {p.key: p for p in programs}
        big = {key: by_key[key].run(big_file) for key in (f"columnar@{top}", "row")}
    finally:
        emulator.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nfile: {small.name} ({small.stat().st_size / 2**20:.0f} MiB); statuses: "
          + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if not args.no_alternatives:
        print_readings(times, top)
    print_table(programs, times, rows, top)
    flat = print_memory(times, big, rows)
    identical = check_reports(reports)
    print_threads(times, threads)
    print_verdicts(times, big, top, flat, identical)
    minimal = median(times["minimal"])
    print(f"\nthe minimal per-row program is {minimal / median(times[f'floor@{top}']):.2f}x the "
          f"floor and {median(times['naive']) / minimal:.1f}x faster than the naive script; "
          f"the row engine is {median(times['row']) / minimal:.2f}x the minimal program")
    cores_experiment(small, dict(os.environ, PYTHONPATH=str(ROOT)))
    if not identical:
        print("\nMISMATCH: the engines' CSV reports differ (see above)")
        sys.exit(1)


if __name__ == "__main__":
    main()
