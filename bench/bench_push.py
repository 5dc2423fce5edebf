"""Benchmark 4: pushing leads into the emulator with 20 ms latency, against a per-row loop.

    python bench/bench_push.py [--quick] [--rows N] [--sample N]

* ours: ``lead-importer import FILE`` (a real run: journal on, chunks of 3000,
  2 chunks in flight) of a 100k-row CSV (--quick: 20k) into a fresh emulator that
  delays every answer by 20 ms (``--latency-ms 20``);
* baseline: what a simple script does - one ``DialerClient.add_call`` per lead, in a
  loop - timed over the first N targets (400; --quick: 150) in another fresh emulator
  and extrapolated to the number of targets our run added.

Target (issue 8): ours >= 100x faster than the per-row loop.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from importer.mapping.binder import bind

if TYPE_CHECKING:
    from importer.dialer.models import CallTarget

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
LATENCY_MS = 20


def targets(path: Path, count: int) -> list[CallTarget]:
    """The first ``count`` sendable CallTargets of the file, mapped by our mapping."""
    from importer.mapping import load_mapping
    from importer.sources import open_sources

    mapping = load_mapping(MAPPING)
    out: list[CallTarget] = []
    seen: set[str] = set()
    for source in open_sources(path, mapping.source_options()):
        with source:
            bound = bind(mapping, source.info)
            for row in source.rows():
                mapped = bound.map_row(row)
                if mapped.target is not None and mapped.target.target not in seen:
                    seen.add(mapped.target.target)
                    out.append(mapped.target)
                    if len(out) == count:
                        return out
    return out


def per_row_loop(path: Path, count: int, work: Path) -> tuple[float, int]:
    """Seconds per AddCall in a plain loop, and how many were sent."""
    from importer.campaigns import resolve_campaign
    from importer.config import Settings
    from importer.dialer.client import DialerClient

    sample = targets(path, count)
    emulator = start_emulator("--latency-ms", str(LATENCY_MS), db=work / "loop.db")
    try:
        settings = Settings(api_url=emulator.base_url, account_code="demo")
        client = DialerClient(settings)
        try:
            campaign = resolve_campaign(client, "Hot leads", "demo")
            start = time.perf_counter()
            for target in sample:
                client.add_call(campaign.code, target)
            seconds = time.perf_counter() - start
        finally:
            client.close()
    finally:
        emulator.stop()
    return seconds / len(sample), len(sample)


def ours(path: Path, work: Path) -> tuple[float, dict[str, int]]:
    """Wall seconds of our import (journal on) and its status counts."""
    emulator = start_emulator("--latency-ms", str(LATENCY_MS), db=work / "ours.db")
    try:
        measured = run_measured(
            [sys.executable, "-m", "importer", "import", str(path), "--mapping", str(MAPPING),
             "--campaign", "Hot leads", "--report-format", "csv,json", "--chunk-size", "3000",
             "--concurrency", "2", "--report-dir", str(work / "reports"),
             "--state-dir", str(work / "state"), "--no-progress", "--json"],
            env=emulator_env(emulator.base_url),
        )
    finally:
        emulator.stop()
    counts = json.loads(measured.stdout)["counts"]
    return measured.seconds, {k: v for k, v in counts.items() if v}


def main() -> None:
    """Print the table and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k rows, 150-call sample")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--sample", type=int, default=None)
    args = parser.parse_args()
    rows = args.rows or (20_000 if args.quick else 100_000)
    sample = args.sample or (150 if args.quick else 400)

    print(f"Benchmark 4: push {rows:,} rows into the emulator at --latency-ms {LATENCY_MS}")
    print_machine()
    path = make_leads_csv(rows)
    work = Path(tempfile.mkdtemp(prefix="bench-push-"))
    try:
        seconds, counts = ours(path, work)
        per_call, sent = per_row_loop(path, sample, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    added = counts.get("added", 0)
    loop_total = per_call * added
    ratio = loop_total / seconds
    print("statuses: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(f"\n  {'method':<48}{'seconds':>10}{'targets/s':>11}")
    print(f"  {f'per-row AddCall loop ({sent} calls timed)':<48}{per_call * sent:10.2f}"
          f"{1 / per_call:11,.0f}")
    print(f"  {f'  extrapolated to {added:,} targets':<48}{loop_total:10.0f}")
    print(f"  {f'ours: lead-importer import ({rows:,} rows)':<48}{seconds:10.2f}"
          f"{added / seconds:11,.0f}")
    print()
    print(verdict(ratio >= 100, f"ours is {ratio:.0f}x faster than a per-row AddCall loop "
                                "(target >= 100x)"))


if __name__ == "__main__":
    main()
