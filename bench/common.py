"""Shared helpers for the benchmarks: realistic lead files, timed child runs, the machine.

* ``make_leads_csv(rows)``: a Hebrew CRM export (the shape ``mappings/hebrew-crm.yaml``
  reads) with mixed-format Israeli phones, 10% duplicate numbers and 3% invalid ones;
  every "valid" number is checked against phonenumbers' allocated blocks.  Files are
  cached under ``bench/.cache/`` (git-ignored).
* ``run_measured(cmd)``: wall time and peak RSS of a command run as a child process.
  The peak comes from ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` read by a tiny
  wrapper process: Linux copies the *forking* process's high-water mark into the
  child's figure at exec, so a big parent (pandas loaded, say) would inflate it.
* ``start_emulator(...)``: the Dialer API emulator as a child process.
* ``machine()``: the facts that make a results table meaningful.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importer.emulator.server import EmulatorProcess

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CACHE = BENCH / ".cache"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PHONE_COLUMN = "טלפון נייד"
HEADER = [
    "מזהה", "שם פרטי", "שם משפחה", PHONE_COLUMN, "אימייל", "עיר", "מקור", "סטטוס",
    "תאריך יצירה", "הערות",
]
FIRST = ["נועה", "יוסי", "מיכל", "אבי", "שירה", "דניאל", "רונית", "עומר", "תמר", "איתי",
         "Avi", "Shira", "Omer", "מוחמד", "נור", "Olga", "דוד", "שרה", "יעל", "משה"]
LAST = ["כהן", "לוי", "מזרחי", "פרץ", "ביטון", "אברהם", "פרידמן", "שפירא", "Peretz",
        "Friedman", "חדאד", "אגבאריה", "Ivanov", "גולן", "אוחיון", ""]
CITY = ["תל אביב-יפו", "ירושלים", "חיפה", "באר שבע", "נתניה", "חולון", "ראשון לציון",
        "אשדוד", "Beer Sheva", "נצרת", ""]
SOURCE = ["facebook", "google", "אתר", "המלצה", "טיקטוק", "instagram"]
STATUS = ["חם", "פושר", "קר", "", "חם ", "HOT"]   # "HOT" is not in the map: default + note
NOTES = ["לחזור אחרי 17:00, מעוניין", "ביקש הצעת מחיר", "לא ענה פעמיים", "=HYPERLINK(\"x\")"]

DUPLICATE_SHARE = 0.10
INVALID_SHARE = 0.03
INVALID_CELLS = [
    "050-1234567",      # looks like a mobile, not allocated
    "054-1234567",
    "057-3123456",      # 057 is not a mobile prefix
    "052-12345",        # too short
    "0521234567890",    # too long
    "אין",
    "לא רלוונטי",
    "9.72521E+11",      # Excel scientific notation: digits are lost
    "12345",
    "-",
]


def cache_dir() -> Path:
    """Create bench/.cache (ignored by git whatever the root .gitignore says)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return CACHE


# --------------------------------------------------------------------------- phones

def _valid_prefixes(first_digits: str, nsn_len: int, rng: random.Random) -> list[str]:
    """5-digit NSN prefixes under which phonenumbers accepts every number we draw.

    Israeli validity is decided by the first 3-5 digits of the national number (the
    055 blocks need all five); a prefix is kept only when several random completions
    are all valid, and a sample of the drawn numbers is checked again (``_check``).
    """
    import phonenumbers

    keep: list[str] = []
    for head in first_digits:
        for rest in range(10_000):
            prefix = f"{head}{rest:04d}"
            tries = [prefix + "".join(rng.choice("0123456789") for _ in range(nsn_len - 5))
                     for _ in range(4)]
            if all(phonenumbers.is_valid_number(phonenumbers.parse("+972" + t)) for t in tries):
                keep.append(prefix)
    return keep


def _check(nsns: Sequence[str], sample: int, rng: random.Random) -> None:
    import phonenumbers

    picked = rng.sample(list(nsns), min(sample, len(nsns)))
    bad = [n for n in picked if not phonenumbers.is_valid_number(phonenumbers.parse("+972" + n))]
    if bad:
        raise AssertionError(f"generated numbers that phonenumbers rejects: {bad[:5]}")


def render_phone(nsn: str, rng: random.Random) -> str:
    """One Israeli number (national significant number) as people type it."""
    local = "0" + nsn
    if nsn[0] != "5":   # a landline: 0X-XXXXXXX mostly
        r = rng.random()
        if r < 0.7:
            return f"{local[:2]}-{local[2:]}"
        if r < 0.9:
            return local
        return f"+972 {nsn[0]} {nsn[1:4]} {nsn[4:]}"
    r = rng.random()
    if r < 0.28:
        return local                                        # 0521234567
    if r < 0.50:
        return f"{local[:3]}-{local[3:]}"                    # 052-1234567
    if r < 0.58:
        return f"{local[:3]}-{local[3:6]}-{local[6:]}"       # 052-123-4567
    if r < 0.66:
        return f"+972 {nsn[:2]}-{nsn[2:5]}-{nsn[5:]}"        # +972 52-123-4567
    if r < 0.72:
        return f"+972{nsn}"
    if r < 0.78:
        return f"972{nsn}"                                  # 972521234567
    if r < 0.84:
        return f"({local[:3]}) {local[3:6]}-{local[6:]}"     # (052) 123-4567
    if r < 0.89:
        return f"{local[:3]}.{local[3:6]}.{local[6:]}"       # 052.123.4567
    if r < 0.93:
        return f"p:+972{nsn}"                               # Facebook export
    if r < 0.97:
        return nsn                                          # Excel dropped the zero
    return f"+972-{nsn[:2]}-{nsn[2:]}"


@dataclass(frozen=True, slots=True)
class PhonePool:
    """Drawers of valid Israeli mobile and landline national numbers."""

    mobile: list[str]
    landline: list[str]

    def draw(self, rng: random.Random) -> str:
        if rng.random() < 0.9:
            prefix = rng.choice(self.mobile)
            return prefix + f"{rng.randrange(10_000):04d}"
        prefix = rng.choice(self.landline)
        return prefix + f"{rng.randrange(1000):03d}"


def phone_pool(seed: int = 7) -> PhonePool:
    """Valid prefixes (cached in bench/.cache/prefixes.json: finding them takes seconds)."""
    path = cache_dir() / "prefixes.json"
    if path.exists():
        data = json.loads(path.read_text())
        return PhonePool(data["mobile"], data["landline"])
    rng = random.Random(seed)
    pool = PhonePool(_valid_prefixes("5", 9, rng), _valid_prefixes("23489", 8, rng))
    path.write_text(json.dumps({"mobile": pool.mobile, "landline": pool.landline}))
    return pool


# --------------------------------------------------------------------------- files

def make_leads_csv(rows: int, seed: int = 1) -> Path:
    """A UTF-8 CSV Hebrew CRM export of ``rows`` leads (cached)."""
    path = cache_dir() / f"crm_leads_{rows}.csv"
    if path.exists():
        return path
    import csv

    rng = random.Random(seed)
    pool = phone_pool()
    seen: list[str] = []   # national numbers used so far, for duplicates
    drawn: set[str] = set()
    tmp = path.with_suffix(".tmp")
    start = dt.datetime(2026, 1, 1, 8, 0)
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(rows):
            r = rng.random()
            if r < INVALID_SHARE:
                phone = rng.choice(INVALID_CELLS)
            elif r < INVALID_SHARE + DUPLICATE_SHARE and seen:
                # The same person again, often typed differently.
                phone = render_phone(rng.choice(seen), rng)
            else:
                nsn = pool.draw(rng)
                while nsn in drawn:
                    nsn = pool.draw(rng)
                drawn.add(nsn)
                seen.append(nsn)
                phone = render_phone(nsn, rng)
            created = start + dt.timedelta(minutes=7 * i)
            out.writerow([
                100000 + i,
                rng.choice(FIRST),
                rng.choice(LAST),
                phone,
                f"lead{i}@example.co.il" if rng.random() < 0.7 else "",
                rng.choice(CITY),
                rng.choice(SOURCE),
                rng.choice(STATUS),
                created.strftime("%d/%m/%Y %H:%M"),
                rng.choice(NOTES) if rng.random() < 0.15 else "",
            ])
    _check(seen, 20_000, rng)
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------- measuring

@dataclass(frozen=True, slots=True)
class Measured:
    """Wall-clock seconds and peak RSS (MiB) of one child process."""

    seconds: float
    peak_mib: float
    stdout: str


def run_measured(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Measured:
    """Run ``cmd`` under the small wrapper below; raise with its output if it fails."""
    wrapper = [sys.executable, str(Path(__file__).resolve()), "--wrap", *cmd]
    proc = subprocess.run(
        wrapper, env=env, cwd=cwd, capture_output=True, text=True, encoding="utf-8",
        check=False,
    )
    lines = proc.stdout.rstrip("\n").split("\n")
    if proc.returncode != 0 or not lines or not lines[-1].startswith("@@measured "):
        raise RuntimeError(
            f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
            f"{proc.stderr[-3000:]}"
        )
    _, seconds, peak_kib, code = lines[-1].split()
    if int(code) not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {code}:\n{proc.stdout[-3000:]}"
                           f"\n{proc.stderr[-3000:]}")
    return Measured(float(seconds), int(peak_kib) / 1024, "\n".join(lines[:-1]))


def _wrap(cmd: list[str]) -> int:
    start = time.perf_counter()
    child = subprocess.run(cmd, check=False)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    sys.stdout.flush()
    print(f"\n@@measured {seconds:.4f} {peak_kib} {child.returncode}", flush=True)
    return 0


def python_snippet(code: str, *args: str) -> list[str]:
    """A command running ``code`` in a fresh interpreter (``sys.argv[1:]`` = args)."""
    return [sys.executable, "-c", code, *args]


# --------------------------------------------------------------------------- emulator

def start_emulator(*args: str, db: Path) -> EmulatorProcess:
    """Start ``python -m importer emulator --demo`` (``.base_url``, ``.stop()``)."""
    from importer.emulator.server import start_emulator_process

    db.unlink(missing_ok=True)
    return start_emulator_process(["--demo", "--db", str(db), *args])


#: Every benchmark runs at the same moment for calling hours: a Wednesday night in Israel, when
#: the nightly cron job runs and every lead gets a dial_after and a reason (the heavier case).
#: Without it the report - and the time it takes - would depend on the hour of the run.
BENCH_NOW = "2026-07-01T22:30:00+03:00"
_STATE: list[Path] = []


def emulator_env(base_url: str) -> dict[str, str]:
    """The environment the importer needs to talk to the emulator.

    The runs keep their journal and locks in a folder of this benchmark's own (a journal
    written by another build of the importer is not this run's business) and decide calling
    hours at BENCH_NOW.
    """
    if not _STATE:
        _STATE.append(Path(tempfile.mkdtemp(prefix="lead-importer-bench-")))
    env = dict(os.environ)
    env.update(VOICENTER_API_URL=base_url, VOICENTER_ACCOUNT_CODE="demo",
               LEAD_IMPORTER_STATE_DIR=str(_STATE[0] / "state"),
               LEAD_IMPORTER_LOCK_DIR=str(_STATE[0] / "locks"),
               LEAD_IMPORTER_NOW=BENCH_NOW)
    env.pop("VOICENTER_CAMPAIGN", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# --------------------------------------------------------------------------- machine

def machine() -> dict[str, str]:
    """nproc, CPU model, Python and library versions, date."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = {
        "date": dt.date.today().isoformat(),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }
    from importlib.metadata import PackageNotFoundError, version

    for name in ("phonenumbers", "pandas", "pyarrow", "python-calamine", "openpyxl"):
        try:
            facts[name.replace("-", "_")] = version(name)
        except PackageNotFoundError:
            facts[name.replace("-", "_")] = "not installed"
    return facts


def print_machine() -> None:
    """One line with the machine facts."""
    m = machine()
    print(f"machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}, {m['os']}, {m['date']}; "
          f"pandas {m['pandas']}, pyarrow {m['pyarrow']}")


def verdict(ok: bool, text: str) -> str:
    """The one-line verdict each benchmark ends with."""
    return f"VERDICT: {'OK' if ok else 'MISSED'} - {text}"


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--wrap":
    sys.exit(_wrap(sys.argv[2:]))
