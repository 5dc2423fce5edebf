"""The Quick-start demo: a real import of sample_data/ into the local emulator.

Run through ``python3 scripts/dev.py demo`` (which prepares .venv).  It starts
``lead-importer emulator --demo`` as a separate process, exactly as a user
would, imports each sample file with its shipped mapping into the demo
campaign "Hot leads", runs one file again to show that nothing is sent twice,
and lists what the campaign now holds.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = [
    ("crm_export_he.csv", "hebrew-crm.yaml"),
    ("facebook_leads.csv", "facebook-lead-ads.yaml"),
    ("handmade_leads.xlsx", "handmade-excel.yaml"),
]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "importer", *args]


def _start_emulator(work: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        _cli("emulator", "--demo", "--port", "0", "--db", str(work / "emulator.db")),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"VOICENTER_API_URL=['\"]?([^'\"\s]+)", line)
        if match:
            return proc, match.group(1)
    proc.wait()
    raise SystemExit("the emulator did not start")


def _run(title: str, args: list[str], env: dict[str, str]) -> int:
    print(f"\n$ lead-importer {shlex.join(args)}", flush=True)
    print(f"  ({title})", flush=True)
    return subprocess.run(_cli(*args), env=env, cwd=ROOT, check=False).returncode


def _print_next_steps(work: Path, url: str) -> None:
    """How to look at what the demo did: its emulator's state is kept in the work folder."""
    port = 8765
    again = urlsplit(url)._replace(netloc=f"127.0.0.1:{port}").geturl()
    tool = str(Path(sys.executable).parent / "lead-importer")
    env = {
        "VOICENTER_API_URL": again,
        "VOICENTER_ACCOUNT_CODE": "demo",
        "LEAD_IMPORTER_STATE_DIR": str(work / "state"),
    }
    exports = "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    print("\nThe demo's emulator has stopped; its campaigns are kept in", work / "emulator.db")
    print("To look at what the demo did, start it again in another terminal:")
    print("  " + shlex.join([tool, "emulator", "--demo", "--port", str(port),
                            "--db", str(work / "emulator.db")]))
    print("then, here:")
    print("  " + exports)
    for args in (["runs"], ["pending", "Hot leads"], ["history", "0500240184"]):
        print("  " + shlex.join([tool, *args]))


def main() -> int:
    """Run the demo in the work directory given as the first argument."""
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    proc, url = _start_emulator(work)
    env = dict(os.environ)
    env.update(
        VOICENTER_API_URL=url,
        VOICENTER_ACCOUNT_CODE="demo",
        LEAD_IMPORTER_STATE_DIR=str(work / "state"),
        PYTHONIOENCODING="utf-8",
    )
    env.pop("VOICENTER_CAMPAIGN", None)
    print(f"Emulator with the demo account is running at {url}")
    worst = 0
    try:
        reports = work / "reports"
        def import_args(sample: str, mapping: str) -> list[str]:
            return [
                "import", f"sample_data/{sample}", "--mapping", f"mappings/{mapping}",
                "--campaign", "Hot leads", "--report-dir", str(reports), "--no-progress",
            ]

        for sample, mapping in SAMPLES:
            title = f"import {sample} with mappings/{mapping}"
            code = _run(title, import_args(sample, mapping), env)
            worst = max(worst, code)
        code = _run(
            "the same file again: already imported, nothing is sent", import_args(*SAMPLES[0]), env
        )
        worst = max(worst, code)
        _run("what the campaign holds now", ["campaigns"], env)
        print(f"\nReports (CSV, XLSX with a Summary sheet, JSON) are in {reports}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    _print_next_steps(work, url)
    # Exit 1 only means some rows were rejected (see the reports); worse is a failure.
    return 0 if worst <= 1 else worst


if __name__ == "__main__":
    sys.exit(main())
