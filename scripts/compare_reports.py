#!/usr/bin/env python3
"""Dry-run every sample file with every shipped mapping, here and at a git ref; compare reports.

    .venv/bin/python scripts/compare_reports.py [--base REF]

REF (default: the merge base of HEAD and main) is exported with ``git archive``
into a temporary directory; both trees import ``sample_data/*`` with each
``mappings/*.yaml`` and with the automatic mapping (``--dry-run``, one demo
emulator process, a fresh state directory per run) through the CLI in a child
process whose ``importer`` is that tree's. Compared per pair: exit code, the
report's rows (every column), the summary's counts. Prints the differences
and exits 1 when there are any. Pairs whose mapping does not fit the file are
compared too (their error message and exit code).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SUFFIXES = {".csv", ".xlsx", ".xls", ".tsv", ".txt"}


def collect(tree: Path, out: Path, api_url: str) -> None:
    """In a child process: run every (mapping, sample) pair with ``tree``'s importer."""
    sys.path.insert(0, str(tree))
    os.chdir(tree)
    from click.testing import CliRunner

    import importer
    from importer.cli import cli
    from importer.report import read_report_csv

    if not Path(importer.__file__).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"imported {importer.__file__}, not the tree {tree}")
    results: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="compare-reports-"))
    samples = sorted(p for p in (tree / "sample_data").iterdir() if p.suffix in SAMPLE_SUFFIXES)
    mappings: list[Path | None] = [None, *sorted((tree / "mappings").glob("*.yaml"))]
    for mapping in mappings:
        for sample in samples:
            key = f"{mapping.name if mapping else '(automatic)'} + {sample.name}"
            run_dir = work / key.replace(" ", "_")
            chosen = ["--mapping", str(mapping)] if mapping else []
            args = [
                "import", str(sample), *chosen, "--campaign", "Hot leads",
                "--dry-run", "--no-progress", "--json", "--report-format", "csv",
                "--report-dir", str(run_dir / "reports"), "--state-dir", str(run_dir / "state"),
            ]
            env = {"VOICENTER_API_URL": api_url, "VOICENTER_ACCOUNT_CODE": "demo"}
            result = CliRunner().invoke(cli, args, env=env)
            reports = sorted((run_dir / "reports").glob("*.report.csv"))
            rows = [read_report_csv(p) for p in reports]
            counts: Any = None
            try:
                counts = json.loads(result.stdout).get("counts")
            except ValueError:
                counts = None
            # Paths and times differ between the trees; the words around them do not.
            message = re.sub(r"/\S+", "<path>", result.stderr)
            results[key] = {
                "exit": result.exit_code, "rows": rows, "counts": counts, "stderr": message,
            }
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


def _git(*args: str) -> bytes:
    git = shutil.which("git")
    if git is None:
        raise SystemExit("git is not on PATH")
    return subprocess.run([git, *args], cwd=ROOT, check=True, capture_output=True).stdout


def _export(ref: str, target: Path) -> None:
    blob = _git("archive", "--format=tar", ref)
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(target, filter="data")


def _start_emulator(work: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "importer", "emulator", "--demo", "--port", "0",
         "--db", str(work / "emulator.db")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"VOICENTER_API_URL=['\"]?([^'\"\s]+)", line)
        if match:
            return proc, match.group(1)
    proc.wait()
    raise SystemExit("the emulator did not start")


def _run_collector(tree: Path, out: Path, api_url: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONIOENCODING="utf-8")
    command = [sys.executable, str(Path(__file__).resolve()), "--collect", str(tree),
               "--out", str(out), "--api-url", api_url]
    subprocess.run(command, env=env, check=True)
    loaded: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return loaded


def _differences(base: dict[str, Any], head: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(base) | set(head)):
        a, b = base.get(key), head.get(key)
        if a is None or b is None:
            out.append(f"{key}: only in {'head' if a is None else 'base'}")
            continue
        for part in ("exit", "counts", "stderr"):
            if a[part] != b[part]:
                out.append(f"{key}: {part} {a[part]!r} -> {b[part]!r}")
        for rows_a, rows_b in zip(a["rows"], b["rows"], strict=False):
            for row_a, row_b in zip(rows_a, rows_b, strict=False):
                if row_a != row_b:
                    changed = {k: (row_a.get(k), row_b.get(k)) for k in row_a | row_b
                               if row_a.get(k) != row_b.get(k)}
                    out.append(f"{key}: row {row_a.get('row')}: {changed}")
            if len(rows_a) != len(rows_b):
                out.append(f"{key}: {len(rows_a)} rows -> {len(rows_b)} rows")
        if len(a["rows"]) != len(b["rows"]):
            out.append(f"{key}: {len(a['rows'])} reports -> {len(b['rows'])} reports")
    return out


def main() -> int:
    """Compare the dry-run reports of the work tree with those of a git ref."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="git ref to compare with (default: merge base with main)")
    parser.add_argument("--collect", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.collect is not None:
        collect(args.collect, args.out, args.api_url)
        return 0
    base = args.base or _git("merge-base", "HEAD", "main").decode().strip()
    with tempfile.TemporaryDirectory(prefix="compare-reports-") as tmp:
        work = Path(tmp)
        _export(base, work / "base")
        proc, url = _start_emulator(work)
        try:
            before = _run_collector(work / "base", work / "base.json", url)
            after = _run_collector(ROOT, work / "head.json", url)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    differences = _differences(before, after)
    rows = sum(len(r) for v in after.values() for r in v["rows"])
    print(f"compared {len(after)} (mapping, sample) pairs, {rows} report rows, base {base[:12]}")
    for line in differences:
        print(line)
    print("identical" if not differences else f"{len(differences)} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
