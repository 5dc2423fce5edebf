"""Benchmark 5: importing into a rate-limited Dialer API, against the limit's ceiling.

    python bench/bench_ratelimit.py [--quick] [--rows N] [--chunk-size N] [--rate-limit R]

``lead-importer import FILE --concurrency 8`` (journal on) into a fresh emulator that
answers HTTP 429 with ``Retry-After`` beyond R AddCallsBulk requests per second
(``--rate-limit R --fault-methods AddCallsBulk``; its token bucket holds R requests).
No importer can add more than R requests x chunk size targets per second, so:

* ratio = targets added per second (wall time of the whole command, start-up and
  reading included) / (R x chunk size);
* failed = rows that ended ``failed`` (issue 18: 3,800 of 17,400 before the shared
  rate limiter; the target is none).

For scale, the same import into an emulator without a limit is timed too: its time
(start-up, reading, the emulator's own work) is in the wall time above, so on short
runs the ratio stays well below 1 however well the limit is followed.

The default file is the 20,000-row CRM export of benchmark 4 (~17,400 targets), in
chunks of 250 at 2 requests/s (--quick: 5,000 rows in chunks of 125); ~70 requests
(--quick: ~35), so the bucket's first burst of R requests weighs little.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    emulator_env,
    make_leads_csv,
    print_machine,
    run_measured,
    start_emulator,
    verdict,
)

MAPPING = ROOT / "mappings" / "hebrew-crm.yaml"
CONCURRENCY = 8


def run(
    path: Path, work: Path, chunk: int, rate: float | None
) -> tuple[float, dict[str, int], list[str]]:
    """Wall seconds of the import, its status counts and its summary notes."""
    limit = ["--rate-limit", f"{rate:g}", "--fault-methods", "AddCallsBulk"] if rate else []
    for old in ("reports", "state"):
        shutil.rmtree(work / old, ignore_errors=True)
    emulator = start_emulator(*limit, db=work / "emulator.db")
    try:
        measured = run_measured(
            [sys.executable, "-m", "importer", "import", str(path), "--mapping", str(MAPPING),
             "--campaign", "Hot leads", "--report-format", "csv,json",
             "--chunk-size", str(chunk), "--concurrency", str(CONCURRENCY),
             "--report-dir", str(work / "reports"), "--state-dir", str(work / "state"),
             "--no-progress", "--json"],
            env=emulator_env(emulator.base_url),
        )
    finally:
        emulator.stop()
    summary = json.loads(measured.stdout)
    counts = {k: v for k, v in summary["counts"].items() if v}
    notes = [note for entry in summary["files"] for note in entry["notes"]]
    return measured.seconds, counts, notes


def main() -> None:
    """Print the measurement, the ratio to the ceiling and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows in chunks of 125")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--rate-limit", type=float, default=2.0, help="requests/s (default 2)")
    args = parser.parse_args()
    rows = args.rows or (5_000 if args.quick else 20_000)
    chunk = args.chunk_size or (125 if args.quick else 250)
    rate = args.rate_limit
    ceiling = rate * chunk

    print(f"Benchmark 5: import {rows:,} rows at --concurrency {CONCURRENCY}, chunks of "
          f"{chunk}, into the emulator limited to {rate:g} AddCallsBulk/s")
    print_machine()
    path = make_leads_csv(rows)
    work = Path(tempfile.mkdtemp(prefix="bench-ratelimit-"))
    try:
        seconds, counts, notes = run(path, work, chunk, rate)
        unlimited, _counts, _notes = run(path, work, chunk, None)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    added = counts.get("added", 0)
    failed = counts.get("failed", 0)
    achieved = added / seconds
    ratio = achieved / ceiling
    print("statuses: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    for note in notes:
        if "HTTP 429" in note:
            print(f"note: {note}")
    print(f"\n  {'':<40}{'seconds':>10}{'rows/s':>10}")
    print(f"  {f'ceiling: {rate:g} requests/s x {chunk} rows':<40}{added / ceiling:10.1f}"
          f"{ceiling:10,.0f}")
    print(f"  {f'ours ({added:,} rows added)':<40}{seconds:10.1f}{achieved:10,.0f}")
    print(f"  {'the same import without a rate limit':<40}{unlimited:10.1f}"
          f"{added / unlimited:10,.0f}")
    print(f"\n  ratio to the ceiling: {ratio:.2f}; failed rows: {failed:,}")
    print()
    print(verdict(failed == 0, f"{failed:,} failed rows (target 0) at {ratio:.2f}x the rate "
                               f"limit's ceiling of {ceiling:,.0f} rows/s"))


if __name__ == "__main__":
    main()
