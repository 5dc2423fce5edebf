"""Phone normalisation speed: plain phonenumbers against PhoneNormalizer.

    python bench/bench_phones.py [--quick] [--rows N] [--duplicates 0.3]

Builds a realistic mixed column (mostly Israeli mobiles in the usual spellings,
landlines, VoIP, numbers Excel stored as numbers, some international, messy
and broken cells) and times, on one core, in this process:

- baseline: phonenumbers.parse + is_valid_number + number_type + format_number(E164)
- ours, no cache: PhoneNormalizer.normalize_uncached (cleaning, fast path, policy)
- ours, cache: PhoneNormalizer.normalize on the column with duplicates

and prints numbers/second and the ratio to the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from importer.phone_fastpath import FastPath
from importer.phones import PhoneNormalizer


def _valid_nsns(rng: random.Random, first: str, length: int, count: int) -> list[str]:
    """Valid Israeli national numbers starting with ``first`` (checked by phonenumbers)."""
    out: list[str] = []
    while len(out) < count:
        nsn = first + "".join(rng.choice("0123456789") for _ in range(length - len(first)))
        if phonenumbers.is_valid_number(phonenumbers.parse("+972" + nsn)):
            out.append(nsn)
    return out


def build_column(rows: int, duplicates: float, seed: int = 1) -> list[tuple[str, bool]]:
    """(raw, numeric) cells; ``duplicates`` of them repeat an earlier cell."""
    rng = random.Random(seed)
    mobiles = _valid_nsns(rng, "5", 9, max(rows // 2, 1000))
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
                [f"טל: 0{m}", f"\u200e0{m[:2]}-{m[2:]}\u200f", f"0{m} / 03-6234567",
                 f"0{m} ext. 12", f"0{m}.0", f"(0{m[:2]}) {m[2:5]} {m[5:]}"]
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


def _rate(fn: Callable[[], object], n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30k rows, one repeat")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--duplicates", type=float, default=0.3)
    args = parser.parse_args()
    rows = 30_000 if args.quick else args.rows
    repeat = 1 if args.quick else 3

    t0 = time.perf_counter()
    FastPath("IL")
    PhoneNormalizer()
    startup = time.perf_counter() - t0
    column = build_column(rows, args.duplicates)
    unique = len(set(column))

    def run_baseline() -> None:
        for raw, _numeric in column:
            baseline(raw)

    def run_uncached() -> None:
        normalizer = PhoneNormalizer()
        for raw, numeric in column:
            normalizer.normalize_uncached(raw, numeric=numeric)

    def run_cached() -> None:
        normalizer = PhoneNormalizer()  # a fresh, empty cache each repeat
        for raw, numeric in column:
            normalizer.normalize(raw, numeric=numeric)

    base = _rate(run_baseline, rows, repeat)
    uncached = _rate(run_uncached, rows, repeat)
    cached = _rate(run_cached, rows, repeat)
    probe = PhoneNormalizer()
    ok = sum(1 for raw, numeric in column if probe.normalize_uncached(raw, numeric=numeric).ok)
    plain = [(raw, numeric) for raw, numeric in column if raw.startswith("05") and not numeric]

    def run_plain() -> None:
        normalizer = PhoneNormalizer()
        for raw, numeric in plain:
            normalizer.normalize_uncached(raw, numeric=numeric)

    def run_plain_baseline() -> None:
        for raw, _numeric in plain:
            baseline(raw)

    fast_only = _rate(run_plain, len(plain), repeat)
    base_plain = _rate(run_plain_baseline, len(plain), repeat)

    print(f"phonenumbers {phonenumbers.__version__}, Python {sys.version.split()[0]}, one core")
    print(
        f"{rows:,} cells, {unique:,} distinct ({1 - unique / rows:.0%} repeats), "
        f"{ok / rows:.0%} usable, fast path answered {probe.fast_hits / rows:.0%} of cells; "
        f"start-up {startup * 1000:.0f} ms"
    )
    print()
    print(f"{'method':<38}{'numbers/s':>12}{'vs baseline':>13}")
    print("-" * 63)
    for name, rate, against in (
        ("phonenumbers parse+valid+type+E164", base, base),
        ("PhoneNormalizer, no cache", uncached, base),
        ("PhoneNormalizer, cache", cached, base),
        ("-- only the 05X... text cells: --", None, None),
        ("phonenumbers parse+valid+type+E164", base_plain, base_plain),
        ("PhoneNormalizer, no cache", fast_only, base_plain),
    ):
        if rate is None or against is None:
            print(name)
            continue
        print(f"{name:<38}{rate:>12,.0f}{rate / against:>12.1f}x")


if __name__ == "__main__":
    main()
