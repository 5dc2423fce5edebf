"""Report files are readable by whoever may read the report folder (POSIX permissions).

The staff who share a drop folder open the reports with their own accounts:
every report (CSV, XLSX and JSON alike) gets the folder's permission bits
without the execute bits, and the umask of the importer still applies.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

import pytest

from importer.emulator.server import EmulatorServer
from tests.hardening._run import run_importer, valid_mobiles

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


@pytest.mark.parametrize(
    ("folder_mode", "umask", "expected"),
    [
        (0o755, 0o022, 0o644),
        (0o2770, 0o007, 0o660),   # a group share (setgid folder)
        (0o775, 0o002, 0o664),
        (0o777, 0o077, 0o600),   # the umask still applies
        (0o700, 0o022, 0o600),   # a private folder keeps its reports private
    ],
    ids=lambda mode: f"{mode:o}",
)
def test_every_report_gets_the_folders_mode_without_execute_bits(
    folder_mode: int,
    umask: int,
    expected: int,
    emulator: EmulatorServer,
    env: dict[str, str],
    workdir: Path,
) -> None:
    source = workdir / "leads.csv"
    out = io.StringIO()
    csv.writer(out).writerows(
        [["name", "phone"], *([f"Lead {i}", p] for i, p in enumerate(valid_mobiles(5)))]
    )
    source.write_text(out.getvalue(), encoding="utf-8")
    reports = workdir / "reports"
    reports.mkdir()
    reports.chmod(folder_mode)
    result = run_importer(
        [
            "import", str(source), "--mapping", str(workdir / "mapping.yaml"),
            "--campaign", "Hot leads", "--report-dir", str(reports),
            "--state-dir", str(workdir / "state"), "--no-progress",
        ],
        env,
        umask=umask,
    )
    assert result.returncode == 0, result.stderr
    modes = {p.name.split(".", 2)[-1]: stat.S_IMODE(p.stat().st_mode) for p in reports.iterdir()}
    assert modes == {
        "report.csv": expected,
        "report.xlsx": expected,
        "summary.json": expected,
    }, {k: oct(v) for k, v in modes.items()}
