"""Account and campaign codes never leave the request bodies.

A whole working day with a non-demo account whose codes are long random
strings, every command run as a real child process (so redaction cannot lean
on codes registered by an earlier command in the same process): imports that
succeed, fail rows under injected faults, resume, name the campaign by its
code on the command line, hit an unknown or disabled campaign or a bad
mapping; the drop folder with a DEBUG log in text and JSON; the run journal,
history and every API command.  Then every byte the importer wrote or printed
is searched for the codes, and the emulator's request log is checked: POST
only, codes in bodies, never in a URL.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import secrets
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

import importer.redact as redact_module
from importer.cli import cli
from importer.config import Settings
from importer.dialer.retry import RetryPolicy
from importer.emulator.server import EmulatorServer, FaultConfig
from importer.errors import ImporterError
from importer.pipeline import ImportOptions, run_import
from tests.hardening._run import Completed, child_env, is_write, run_importer, valid_mobiles

MAPPING = """\
name: secret leads
phone:
  columns: [phone]
fields:
  CustomerName: {column: name}
custom_data:
  var_Note: {column: note, optional: true}
dedupe:
  history_days: 30
"""


@dataclass
class Account:
    """A non-demo account on the emulator, and everything the day produced."""

    server: EmulatorServer
    code: str
    campaigns: dict[str, str]
    root: Path
    env: dict[str, str]
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (what, text)

    @property
    def secrets(self) -> list[str]:
        """Every code that must stay hidden."""
        return [self.code, *self.campaigns.values()]

    def run(self, *args: str, expect: int | None = 0) -> Completed:
        """Run ``python -m importer ARGS``; keep its stdout and stderr for the search."""
        result = run_importer(list(args), self.env, cwd=self.root)
        label = " ".join(a for a in args if a not in self.secrets)
        self.outputs.append((f"stdout of `{label}`", result.stdout))
        self.outputs.append((f"stderr of `{label}`", result.stderr))
        assert not result.timed_out, label
        assert "Traceback" not in result.stderr, result.stderr[-2000:]
        if expect is not None:
            assert result.returncode == expect, (label, result.returncode, result.stderr[-2000:])
        return result

    def cli(self, *args: str, expect: int = 0) -> str:
        """Run a command in this process, as a fresh process would: no code registered yet.

        Cheaper than a child process for the read-only commands (the machine's
        interpreter start-up dominates them).
        """
        saved = redact_module._secrets, redact_module._ordered
        redact_module._secrets, redact_module._ordered = set(), ()
        try:
            result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        finally:
            redact_module._secrets, redact_module._ordered = saved
        label = " ".join(a for a in args if a not in self.secrets)
        self.outputs.append((f"stdout of `{label}`", result.stdout))
        self.outputs.append((f"stderr of `{label}`", result.stderr))
        assert result.exit_code == expect, (label, result.exit_code, result.output[-2000:])
        return result.stdout


def _write_leads(path: Path, phones: list[str], note: str = "") -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "phone", "note"])
        for i, phone in enumerate(phones):
            out.writerow([f"Lead {i}", phone, note])
    return path


@pytest.fixture
def account(emulator: EmulatorServer, tmp_path: Path) -> Account:
    """An account and three campaigns with long random codes (one disabled)."""
    code = "acct" + secrets.token_hex(16)
    campaigns = {
        "Hot leads": emulator.add_campaign(code, "Hot leads"),
        "Paused leads": emulator.add_campaign(code, "Paused leads", enabled=False),
        "Callbacks": emulator.add_campaign(code, "Callbacks", is_dynamic=True),
    }
    assert all(len(c) >= 16 for c in campaigns.values())
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    env = child_env(emulator.base_url, account_code=code, LEAD_IMPORTER_STATE_DIR=str(
        tmp_path / "state"
    ))
    return Account(emulator, code, campaigns, tmp_path, env)


def _import(acct: Account, path: Path, *extra: str, expect: int | None = 0) -> Completed:
    return acct.run(
        "import",
        str(path),
        "--mapping",
        str(acct.root / "mapping.yaml"),
        "--report-dir",
        str(acct.root / "reports"),
        "--no-progress",
        *extra,
        expect=expect,
    )


def _files_below(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every file the importer wrote, with zip members (xlsx) opened up."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith("emulator.db") or "inputs" in path.parts:
            continue  # the emulator's own state, and what the test wrote on purpose
        data = path.read_bytes()
        yield str(path.relative_to(root)), data
        if data.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for member in zf.namelist():
                    yield f"{path.relative_to(root)}!{member}", zf.read(member)


def _leaks(acct: Account) -> list[str]:
    found: list[str] = []
    needles = [(s, s.encode(), s.encode("utf-16-le")) for s in acct.secrets]
    for what, text in acct.outputs:
        found += [f"{what}: {s[:4]}…" for s, _, _ in needles if s in text]
    for what, data in _files_below(acct.root):
        found += [
            f"{what}: {s[:4]}…" for s, b8, b16 in needles if b8 in data or b16 in data
        ]
    return found


def test_a_full_day_never_shows_a_code(account: Account) -> None:
    acct = account
    server = acct.server
    hot = acct.campaigns["Hot leads"]
    root = acct.root
    phones = valid_mobiles(150)

    # 1. A clean import by campaign name, JSON summary on stdout.
    first = _write_leads(root / "monday.csv", phones[:40])
    result = _import(acct, first, "--campaign", "Hot leads", "--json")
    summary = json.loads(result.stdout)
    assert summary["counts"]["added"] == 40
    run_id = summary["run_id"]

    # 2. Faults on the writes: 500s, answers lost after the write, 429s. Some rows may fail.
    server.set_faults(
        FaultConfig(fail_rate=0.3, ambiguous_rate=0.3, rate_limit=40.0, methods=["AddCallsBulk"])
    )
    second = _write_leads(root / "tuesday.csv", phones[40:100], note="call after 5")
    _import(acct, second, "--campaign", "Hot leads", "--chunk-size", "5", expect=None)
    assert any(e.fault for e in server.request_log), "no fault was injected"
    server.set_faults(FaultConfig())
    # The same command again resumes or reports "already imported": either way it finishes.
    _import(acct, second, "--campaign", "Hot leads", "--chunk-size", "5")

    # 3. The campaign given by its code: the code is in argv, and nowhere else.
    third = _write_leads(root / "wednesday.csv", phones[100:120])
    _import(acct, third, "--campaign", hot, "--json")

    # 4. Failures: unknown campaign, disabled campaign (by name and by code), bad mapping.
    err = _import(acct, third, "--campaign", "Hot leeds", expect=2).stderr
    assert "Hot leads" in err  # the names are offered, the codes are not
    _import(acct, third, "--campaign", secrets.token_hex(16), expect=2)  # a code of no campaign
    _import(acct, third, "--campaign", "Paused leads", "--again", expect=3)
    _import(acct, third, "--campaign", acct.campaigns["Paused leads"], "--again", expect=3)
    broken = root / "inputs" / "broken.yaml"  # a mapping may name the campaign by code
    broken.parent.mkdir()
    broken.write_text(
        MAPPING.replace("[phone]", "[phone_nmbr]") + f"campaign: {hot}\n", encoding="utf-8"
    )
    acct.run("import", str(third), "--mapping", str(broken), expect=2)
    acct.run("mapping", "check", str(broken), str(third), expect=2)

    # 5. The drop folder, with a DEBUG log as text and as JSON lines.
    acct.run("inbox", "init", str(root / "drop"), "--campaign", "Hot leads")
    config = root / "drop" / "inbox.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("settle_seconds: 10", "settle_seconds: 0"),
        encoding="utf-8",
    )
    for fmt in ("text", "json"):
        day = "thursday" if fmt == "text" else "friday"
        chunk = phones[120:135] if fmt == "text" else phones[135:150]
        _write_leads(root / "drop" / "inbox" / f"{day}.csv", chunk)
        acct.run(
            "inbox", "run", "--config", str(root / "drop" / "inbox.yaml"), "--once",
            "--log-file", str(root / "logs" / f"inbox.{fmt}.log"), "--log-format", fmt, "-v",
        )
    json_log = [
        json.loads(line)
        for line in (root / "logs" / "inbox.json.log").read_text(encoding="utf-8").splitlines()
    ]
    assert {"debug", "info"} <= {entry["level"] for entry in json_log}
    assert "DEBUG" in (root / "logs" / "inbox.text.log").read_text(encoding="utf-8")
    assert list((root / "state").glob("*.sqlite*")) or list((root / "state").glob("*.db*"))

    # 6. Journal, history and every API command.
    acct.cli("runs")
    acct.cli("runs", "--json")
    acct.cli("runs", "show", run_id)
    acct.cli("runs", "show", run_id, "--json")
    acct.cli("history", phones[0])
    acct.cli("history", phones[45], "--json")
    acct.cli("campaigns")
    acct.cli("campaigns", "--json")
    for name in ("Hot leads", hot):
        acct.cli("pending", name)
        acct.cli("details", name, "--json")
    acct.cli("pending", "Hot leads", "--output", str(root / "exports" / "pending.csv"))
    acct.cli("members", "Callbacks")
    acct.cli("details", "Nope", expect=2)

    leaks = _leaks(acct)
    assert leaks == [], "\n".join(leaks)
    with_codes = acct.cli("campaigns", "--show-codes")
    assert hot in with_codes, "--show-codes is the one place codes are shown"

    for entry in server.request_log:
        assert entry.http_method == "POST", (entry.http_method, entry.method)
        for code in acct.secrets:
            assert code not in entry.path and code not in entry.query
    bodies = "".join(e.body for e in server.request_log)
    assert hot in bodies and acct.code in bodies  # they did travel, in the bodies
    assert any(is_write(e.method) for e in server.request_log)


def test_exception_texts_and_raw_log_records_hold_no_code(
    account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    """Library level: what a program embedding the importer sees, before any log filter."""
    acct = account
    hot = acct.campaigns["Hot leads"]
    settings = Settings(
        api_url=acct.server.base_url, account_code=acct.code, state_dir=acct.root / "state"
    )
    path = _write_leads(acct.root / "leads.csv", valid_mobiles(20))
    fast = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05, max_retry_after=0.1)
    options = ImportOptions(
        mapping_path=acct.root / "mapping.yaml",
        report_dir=acct.root / "reports",
        chunk_size=4,
        retry=fast,
    )
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    acct.server.set_faults(FaultConfig(fail_rate=0.5, ambiguous_rate=0.3, rate_limit=50.0))
    for campaign in ("Hot leads", hot, "No such campaign", "Paused leads", hot[:-2] + "zz"):
        try:
            result = run_import([path], _with(options, campaign), settings)
        except ImporterError as exc:
            texts += [str(exc), repr(exc), repr(exc.args)]
        else:
            texts += [json.dumps([str(o.summary.notes) for o in result.files])]
    acct.server.set_faults(FaultConfig())
    texts += [record.getMessage() for record in caplog.records]
    texts += [logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info]
    leaked = [t[:200] for t in texts for s in acct.secrets if s in t]
    assert leaked == []


def _with(options: ImportOptions, campaign: str) -> ImportOptions:
    from dataclasses import replace

    return replace(options, campaign=campaign, again=True)


def test_codes_are_masked_not_dropped(account: Account) -> None:
    """Masked forms (``abc…xyz``) still let an admin tell campaigns apart."""
    listing = account.cli("campaigns")
    for code in account.campaigns.values():
        assert re.search(re.escape(code[:3]) + "…" + re.escape(code[-3:]), listing), listing


def test_json_log_extras_are_redacted_too(tmp_path: Path) -> None:
    """Structured ``extra=`` fields bypass the message filter; the JSON formatter masks them."""
    from importer.logs import JsonFormatter
    from importer.redact import register_secret

    code = "camp" + secrets.token_hex(12)
    register_secret(code)
    record = logging.LogRecord("importer", logging.INFO, __file__, 1, "sent to %s", (code,), None)
    record.location = f"/srv/inbox/{code}/leads.csv"
    line = JsonFormatter().format(record)
    assert code not in line
    assert json.loads(line)["location"] == f"/srv/inbox/{code[:3]}…{code[-3:]}/leads.csv"
