"""Run every benchmark (issues 8 and 18) and collect their verdicts.

    python bench/run_all.py [--quick]

1. bench_import.py - dry run of a big CSV, both engines, vs the pandas floor and a naive script
2. bench_read.py   - XLSX/CSV readers vs raw python-calamine, openpyxl, csv
3. bench_phones.py - phone normalisation vs plain phonenumbers
4. bench_push.py   - pushing into the emulator (20 ms latency) vs a per-row AddCall loop
5. bench_ratelimit.py - importing into a rate-limited emulator vs the limit's ceiling

Each runs in its own process, one after the other (they would disturb each other's
timings).  The full output is also saved to bench/results/latest[-quick].txt.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH, machine

BENCHES = (
    "bench_import.py", "bench_read.py", "bench_phones.py", "bench_push.py", "bench_ratelimit.py"
)
# Lines that state a result against a target, whatever each script's style; MISMATCH is
# bench_import.py's word for engines whose reports differ.
MARKERS = ("VERDICT", "target <", "target >", "PhoneNormalizer", "MISMATCH")


def main() -> None:
    """Run the benchmarks, print their output as it comes, then the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (~3 minutes)")
    parser.add_argument("only", nargs="*", help="run only these scripts (e.g. bench_push.py)")
    args = parser.parse_args()
    m = machine()
    header = (
        f"lead-importer benchmarks{' (--quick)' if args.quick else ''}: {m['date']}, "
        f"{m['nproc']} cores ({m['cpu']}), Python {m['python']}, {m['os']}; phonenumbers "
        f"{m['phonenumbers']}, pandas {m['pandas']}, pyarrow {m['pyarrow']}, "
        f"python-calamine {m['python_calamine']}, openpyxl {m['openpyxl']}"
    )
    print(header, flush=True)
    log = [header, ""]
    summary: list[str] = []
    started = time.perf_counter()
    for name in args.only or BENCHES:
        cmd = [sys.executable, str(BENCH / name), *(["--quick"] if args.quick else [])]
        print(f"\n===== {name} =====", flush=True)
        log.append(f"===== {name} =====")
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                encoding="utf-8")
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            log.append(line.rstrip("\n"))
            if any(marker in line for marker in MARKERS) and "vs baseline" not in line:
                summary.append(f"{name}: {line.strip()}")
        code = proc.wait()
        took = f"({name} took {time.perf_counter() - t0:.0f} s, exit code {code})"
        print(took)
        log.append(took)
        if code:
            summary.append(f"{name}: FAILED with exit code {code}")
    print(f"\n===== summary ({time.perf_counter() - started:.0f} s) =====")
    for line in summary:
        print(line)
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    out = results / f"latest{'-quick' if args.quick else ''}.txt"
    out.write_text("\n".join([*log, "", "summary:", *summary]) + "\n", encoding="utf-8")
    print(f"\nsaved to {out.relative_to(BENCH.parent)}")


if __name__ == "__main__":
    main()
