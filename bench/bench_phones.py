"""Phone normalisation speed: plain phonenumbers against PhoneNormalizer (issue 4).

    python bench/bench_phones.py [--quick] [--rows N]

Three inputs, each timed on one core, in this process, against plain
phonenumbers on the very same cells (parse + is_valid_number + number_type +
format_number(E164)):

1. "common forms": the phone column of a realistic lead file, the mix
   bench/common.py writes for bench_import.py (Israeli mobiles and landlines in
   the spellings people type: 0521234567, 052-1234567, +972 52-123-4567,
   972521234567, (052) 123-4567, 052.123.4567, p:+972..., a lost leading zero
   stored as a number), 10% duplicates and 3% junk (050-1234567, אין, 12345...).
   This is the input the issue's target applies to.
2. "fast path only": the cells of 1 that the fast path answers, without the
   cache: the pure cost of one new number.
3. "messy": a harder column (unallocated 05X numbers, international numbers,
   labels, extensions, several numbers in a cell, bidi marks), 10% duplicates,
   to show what the slow path costs.

"no cache" is PhoneNormalizer.normalize_uncached; "cache" is .normalize with a
fresh, empty cache for every repeat. Times are CPU time of this process (best
of the repeats), so other programs on a shared machine disturb them less.
Everything (baseline included) runs under ``relaxed_gc()``, the cycle-collector
settings ``run_import`` uses: with CPython's defaults a growing cache of results
is rescanned by the collector over and over (~20% of the cached run).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import phonenumbers
from common import DUPLICATE_SHARE, INVALID_CELLS, INVALID_SHARE, phone_pool, render_phone
from phonenumbers import NumberParseException, PhoneNumberFormat

from importer.gc_tuning import relaxed_gc
from importer.phones import PhoneNormalizer
from importer.phones.fastpath import FastPath

TARGET = 500_000  # numbers/s on one core, issue 4
Cells = Sequence[tuple[str, bool]]


def build_common(rows: int, seed: int = 1) -> list[tuple[str, bool]]:
    """The phone column of a realistic lead file (bench/common.py's mix).

    Digit-only cells that do not start with 0 are marked as number cells, as an
    XLSX reader reports them.
    """
    rng = random.Random(seed)
    pool = phone_pool()
    seen: list[str] = []
    column: list[tuple[str, bool]] = []
    for _ in range(rows):
        r = rng.random()
        if r < INVALID_SHARE:
            raw = rng.choice(INVALID_CELLS)
        elif r < INVALID_SHARE + DUPLICATE_SHARE and column:
            raw = rng.choice(column)[0]  # the same cell again
        else:
            nsn = pool.draw(rng)
            seen.append(nsn)
            raw = render_phone(nsn, rng)
        column.append((raw, raw.isdigit() and not raw.startswith("0")))
    return column


def _valid_nsns(rng: random.Random, first: str, length: int, count: int) -> list[str]:
    """Valid Israeli national numbers starting with ``first`` (checked by phonenumbers)."""
    out: list[str] = []
    while len(out) < count:
        nsn = first + "".join(rng.choice("0123456789") for _ in range(length - len(first)))
        if phonenumbers.is_valid_number(phonenumbers.parse("+972" + nsn)):
            out.append(nsn)
    return out


def build_messy(rows: int, duplicates: float = 0.1, seed: int = 1) -> list[tuple[str, bool]]:
    """A harder column: many spellings, junk, international and broken cells."""
    rng = random.Random(seed)
    mobiles = _valid_nsns(rng, "5", 9, max(rows // 4, 1000))
    landlines = [n for d in "23489" for n in _valid_nsns(rng, d, 8, max(rows // 40, 100))]
    voip = _valid_nsns(rng, "7", 9, max(rows // 20, 100))

    def one() -> tuple[str, bool]:
        r = rng.random()
        m = rng.choice(mobiles)
        if r < 0.25:
            return "0" + m, False
        if r < 0.45:
            return f"0{m[:2]}-{m[2:]}", False
        if r < 0.52:
            return f"0{m[:2]}-{m[2:5]}-{m[5:]}", False
        if r < 0.58:
            return f"+972{m}", False
        if r < 0.62:
            return f"972{m}", False
        if r < 0.66:
            return f"+972-{m[:2]}-{m[2:5]}-{m[5:]}", False
        if r < 0.74:
            return m, True  # Excel dropped the leading zero
        if r < 0.82:
            n = rng.choice(landlines)
            return f"0{n[0]}-{n[1:]}", False
        if r < 0.85:
            n = rng.choice(voip)
            return "0" + n, False
        if r < 0.87:
            return rng.choice(["+1 212-555-0123", "+44 20 7946 0958", "+33 1 23 45 67 89"]), False
        if r < 0.92:
            return rng.choice(
                [
                    f"טל: 0{m}",
                    f"\u200e0{m[:2]}-{m[2:]}\u200f",
                    f"0{m} / 03-6234567",
                    f"0{m} ext. 12",
                    f"0{m}.0",
                    f"(0{m[:2]}) {m[2:5]} {m[5:]}",
                ]
            ), False
        if r < 0.96:
            return "0" + rng.choice(mobiles)[:-1] + rng.choice("0123456789") * 2, False
        return rng.choice(["", "-", "N/A", "12345", "9.72501E+11", "call me", "050-1234567"]), False

    column: list[tuple[str, bool]] = []
    for _ in range(rows):
        if column and rng.random() < duplicates:
            column.append(rng.choice(column))
        else:
            column.append(one())
    return column


def baseline(raw: str) -> tuple[str, int] | None:
    """What a plain phonenumbers importer does per cell."""
    try:
        num = phonenumbers.parse(raw, "IL")
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, PhoneNumberFormat.E164), phonenumbers.number_type(num)


def _rate(make: Callable[[], Callable[[], object]], n: int, repeat: int) -> float:
    """Best numbers/s over ``repeat`` runs of ``make()``; setting up is not timed."""
    best = float("inf")
    for _ in range(repeat):
        run = make()
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return n / max(best, 1e-9)


def measure(column: Cells, repeat: int) -> tuple[float, float, float]:
    """(baseline, ours without cache, ours with a fresh cache) in numbers/s."""

    def run_baseline() -> None:
        for raw, _numeric in column:
            baseline(raw)

    def uncached() -> Callable[[], None]:
        normalize = PhoneNormalizer().normalize_uncached

        def run() -> None:
            for raw, numeric in column:
                normalize(raw, numeric=numeric)

        return run

    def cached() -> Callable[[], None]:
        normalize = PhoneNormalizer().normalize  # a fresh, empty cache each repeat

        def run() -> None:
            for raw, numeric in column:
                normalize(raw, numeric=numeric)

        return run

    n = len(column)
    return (
        _rate(lambda: run_baseline, n, repeat),
        _rate(uncached, n, repeat),
        _rate(cached, n, repeat),
    )


def describe(name: str, column: Cells) -> str:
    """Size, repeats, usable and fast-path shares of a column."""
    probe = PhoneNormalizer()
    ok = sum(1 for raw, numeric in column if probe.normalize_uncached(raw, numeric=numeric).ok)
    rows, unique = len(column), len(set(column))
    return (
        f"{name}: {rows:,} cells, {unique:,} distinct ({1 - unique / rows:.0%} repeats), "
        f"{ok / rows:.0%} usable, fast path answers {probe.fast_hits / rows:.0%}"
    )


_PLAIN_CELL = re.compile(r"[0-9 +\-.()]+")


def fast_cells(column: Cells) -> list[tuple[str, bool]]:
    """The cells the hot path answers: digits and separators only, and the fast path said ok."""
    probe = PhoneNormalizer()
    out = []
    for raw, numeric in column:
        before = probe.fast_hits
        probe.normalize_uncached(raw, numeric=numeric)
        if probe.fast_hits > before and _PLAIN_CELL.fullmatch(raw):
            out.append((raw, numeric))
    return out


def main() -> None:
    """Print the tables and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30k rows, two repeats")
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    rows = 30_000 if args.quick else args.rows
    repeat = 2 if args.quick else 3

    t0 = time.perf_counter()
    FastPath("IL")
    PhoneNormalizer().normalize("0502345678")
    startup = time.perf_counter() - t0
    common = build_common(rows)
    fast = fast_cells(common)
    messy = build_messy(rows)

    print(f"phonenumbers {phonenumbers.__version__}, Python {sys.version.split()[0]}, one core")
    print(f"start-up (fast-path tables) {startup * 1000:.0f} ms")
    print(describe("common forms", common))
    print(describe("messy", messy))
    print()
    print(f"{'input / method':<44}{'numbers/s':>12}{'vs baseline':>13}")
    print("-" * 69)
    results: dict[str, tuple[float, float, float]] = {}
    for name, column in (("common forms", common), ("fast path only", fast), ("messy", messy)):
        with relaxed_gc():  # as the importer runs it
            base, uncached, cached = results[name] = measure(column, repeat)
        print(f"{name} ({len(column):,} cells)")
        print(f"  {'phonenumbers parse+valid+type+E164':<42}{base:>12,.0f}{1:>12.1f}x")
        print(f"  {'PhoneNormalizer, no cache':<42}{uncached:>12,.0f}{uncached / base:>12.1f}x")
        if name != "fast path only":
            print(f"  {'PhoneNormalizer, cache':<42}{cached:>12,.0f}{cached / base:>12.1f}x")
    print()
    _base, _uncached, cached = results["common forms"]
    verdict = "met" if cached >= TARGET else "NOT met"
    print(
        f"VERDICT phones: common forms with the cache {cached:,.0f} numbers/s "
        f"(target >= {TARGET:,}/s on one core): {verdict}; fast path alone, no cache "
        f"{results['fast path only'][1]:,.0f}/s "
        f"({results['fast path only'][1] / results['fast path only'][0]:.0f}x phonenumbers)"
    )


if __name__ == "__main__":
    main()
