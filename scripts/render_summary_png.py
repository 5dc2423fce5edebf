#!/usr/bin/env python3
"""Render the Summary sheet of a Hebrew XLSX report to docs/screenshots/summary-he.png.

    python scripts/render_summary_png.py [--sample sample_data/crm_export_he.csv] [--out PNG]

A real dry run of the sample file against the emulator (in this process, on 127.0.0.1)
writes the report in Hebrew; LibreOffice (headless) turns the workbook into a PDF and
poppler's ``pdftoppm`` the Summary sheet's page into a PNG.  Needs Debian's
``libreoffice-calc`` and ``poppler-utils`` (``apt-get install -y libreoffice-calc
poppler-utils``).  Not part of CI: run it after changing the report's layout or wording,
look at the picture, and commit it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from importer.config import Settings  # noqa: E402
from importer.emulator.server import EmulatorServer, FaultConfig  # noqa: E402
from importer.pipeline import ImportOptions, run_import  # noqa: E402


def hebrew_report(sample: Path, work: Path) -> Path:
    """Dry-run ``sample`` into the emulator's "Hot leads" with Hebrew reports; the XLSX."""
    server = EmulatorServer(db_path=work / "emulator.db", host="127.0.0.1", port=0,
                            faults=FaultConfig(), seed=0)
    server.start()
    try:
        server.seed_demo()
        options = ImportOptions(
            campaign="Hot leads", report_dir=work / "reports", report_formats=frozenset({"xlsx"}),
            dry_run=True, use_journal=False, language="he",
        )
        settings = Settings(api_url=server.base_url, account_code="demo", state_dir=work / "state",
                            lock_dir=work / "locks")
        result = run_import([sample], options, settings)
    finally:
        server.stop()
    return result.files[0].reports["xlsx"]


def to_png(xlsx: Path, out: Path, work: Path, resolution: int) -> None:
    """The workbook's first page (the Summary sheet) as a PNG."""
    office = shutil.which("libreoffice") or shutil.which("soffice")
    pdftoppm = shutil.which("pdftoppm")
    if office is None or pdftoppm is None:
        sys.exit("needs LibreOffice and pdftoppm: apt-get install -y libreoffice-calc "
                 "poppler-utils")
    profile = (work / "lo-profile").as_uri()   # a fresh profile: no first-run dialogs, no locks
    subprocess.run([office, f"-env:UserInstallation={profile}", "--headless", "--convert-to",
                    "pdf", "--outdir", str(work), str(xlsx)], check=True, capture_output=True,
                   timeout=300)
    pdf = work / (xlsx.stem + ".pdf")
    stem = work / "summary"
    subprocess.run([pdftoppm, "-png", "-r", str(resolution), "-f", "1", "-l", "1",
                    "-singlefile", str(pdf), str(stem)], check=True, timeout=120)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(stem.with_suffix(".png"), out)


def main() -> int:
    """Build the report, render it, say where the picture is."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=ROOT / "sample_data" / "crm_export_he.csv")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "docs" / "screenshots" / "summary-he.png")
    parser.add_argument("--resolution", type=int, default=110)
    parser.add_argument("--keep-xlsx", type=Path, default=None,
                        help="Also copy the Hebrew workbook here.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="summary-png-") as tmp:
        work = Path(tmp)
        xlsx = hebrew_report(args.sample.resolve(), work)
        if args.keep_xlsx is not None:
            shutil.copyfile(xlsx, args.keep_xlsx)
        to_png(xlsx, args.out, work, args.resolution)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
