"""inbox.yaml: validation (every problem at once), path resolution, `inbox init`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from importer.errors import ConfigError
from importer.inbox import FOLDERS, init_inbox
from importer.inbox.config import AUTO, load_inbox_config, missing_environment, parse_inbox_config
from importer.logs import JsonFormatter, configure_logging
from importer.redact import register_secret

REPO = Path(__file__).resolve().parents[2]


def problems_of(text: str, base: Path) -> str:
    with pytest.raises(ConfigError) as info:
        parse_inbox_config(yaml.safe_load(text), base_dir=base, source="inbox.yaml")
    return str(info.value)


def test_the_shipped_example_is_valid(tmp_path: Path) -> None:
    text = (REPO / "examples" / "inbox.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    config = parse_inbox_config(data, base_dir=REPO / "examples")
    assert [i.name for i in config.inboxes]
    for inbox in config.inboxes:
        assert inbox.path.is_absolute()


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    message = problems_of(
        """
settle_secnds: 3
poll_seconds: 0
inboxes:
  - name: Facebook
    mapping: nope.yaml
    mode: apend
    report_formats: csv,pdf
    notify:
      email: {host: smtp.x, from: a@b.c, to: bob, password: hunter2, prot: 3}
      webhook: {url: ftp://x}
  - path: other
""",
        tmp_path,
    )
    assert message.startswith("inbox.yaml: the inbox configuration has 10 problem(s):")
    for expected in [
        "top level: unknown key 'settle_secnds' — did you mean 'settle_seconds'?",
        "poll_seconds: Input should be greater than 0 (got 0)",
        f"inboxes[1] (Facebook).mapping: mapping file not found: {tmp_path / 'nope.yaml'}",
        "inboxes[1] (Facebook).mode: Input should be 'append', 'upsert' or 'sync' (got 'apend')",
        "report_formats[2]: Input should be 'csv', 'xlsx' or 'json' (got 'pdf')",
        "notify.email.to: not an e-mail address: bob",
        "notify.email: unknown key 'password' — never put a password or token in this file: "
        "remove 'password'",
        "notify.email: unknown key 'prot' — did you mean 'port'?",
        "notify.webhook.url: must start with http:// or https://",
        "inboxes[2].name: is required",
    ]:
        assert expected in message
    assert "hunter2" not in message


def test_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "fb.yaml").write_text("name: fb\n")
    config_path = tmp_path / "conf" / "inbox.yaml"
    config_path.parent.mkdir()
    config_path.write_text(
        "inboxes:\n"
        "  - name: FB\n"
        "    path: ../leads\n"
        "    mapping: ../maps/fb.yaml\n"
        "    reports: ../out\n"
        "  - name: Other\n"
        "    path: other\n",
        encoding="utf-8",
    )
    monkeypatch.chdir("/")
    config = load_inbox_config(config_path)
    fb, other = config.inboxes
    base = config_path.parent.resolve()
    assert fb.path == base / "../leads"
    assert fb.mapping_path == base / "../maps/fb.yaml"
    assert fb.reports_dir == base / "../out"
    assert other.mapping == AUTO and other.mapping_path is None
    assert other.reports_dir == base / "other" / "reports"
    assert config.settle_seconds == 10


def test_duplicate_inboxes_are_refused(tmp_path: Path) -> None:
    message = problems_of("inboxes:\n  - {name: A, path: x}\n  - {name: A, path: ./x}\n", tmp_path)
    assert "inbox names must be unique: A" in message
    assert "two inboxes share the folder" in message


def test_a_repeated_key_is_refused_naming_its_line(tmp_path: Path) -> None:
    """A key written twice used to keep its second value silently; now the run stops."""
    from click.testing import CliRunner

    from importer.cli import cli

    config = tmp_path / "inbox.yaml"
    config.write_text(
        "poll_seconds: 5\n"
        "inboxes:\n"
        "  - name: FB\n"
        "    campaign: Hot leads\n"
        "    dry_run: true\n"
        "    campaign: Callbacks\n"
        "poll_seconds: 1\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_inbox_config(config)
    assert str(info.value) == (
        f"{config}: the inbox configuration has 2 problem(s):\n"
        "  - line 6: key 'campaign' appears twice (the second one would silently win)\n"
        "  - line 7: key 'poll_seconds' appears twice (the second one would silently win)"
    )
    result = CliRunner().invoke(cli, ["inbox", "run", "--config", str(config), "--once"])
    assert result.exit_code == 2, result.output
    assert "line 6: key 'campaign' appears twice" in result.output
    assert "Traceback" not in result.output


def test_yes_no_and_leading_zeros_are_read_like_mappings(tmp_path: Path) -> None:
    """YAML 1.1 read `no` as false and 0123 as the number 83; names and campaigns stay text."""
    config = tmp_path / "inbox.yaml"
    config.write_text(
        "inboxes:\n"
        "  - name: No\n"
        "    path: a\n"
        "    campaign: 0123\n"
        "    dry_run: yes\n"
        "  - name: 2024\n"
        "    path: b\n"
        "    campaign: off\n"
        "    dry_run: no\n",
        encoding="utf-8",
    )
    first, second = load_inbox_config(config).inboxes
    assert (first.name, first.campaign, first.dry_run) == ("No", "0123", True)
    assert (second.name, second.campaign, second.dry_run) == ("2024", "off", False)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "inbox.yaml"
    bad.write_text("inboxes: [\n  - name: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 2, column 3: not valid YAML"):
        load_inbox_config(bad)
    with pytest.raises(ConfigError, match="inbox init"):
        load_inbox_config(tmp_path / "nothing.yaml")
    with pytest.raises(ConfigError, match="inboxes"):
        parse_inbox_config(["a"], base_dir=tmp_path)


def test_missing_environment_variables_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOPE_PASSWORD", raising=False)
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    config = parse_inbox_config(
        yaml.safe_load(
            """
inboxes:
  - name: A
    notify:
      email: {host: h, from: a@b.c, to: d@e.f, username: u, password_env: NOPE_PASSWORD}
      webhook: {url: "https://h/x", headers: {Authorization: "Bearer ${NOPE_TOKEN}"}}
"""
        ),
        base_dir=tmp_path,
    )
    assert missing_environment(config) == [
        "A: e-mail password variable NOPE_PASSWORD",
        "A: webhook header variable NOPE_TOKEN",
    ]
    with pytest.raises(ConfigError, match="NAME of an environment variable"):
        parse_inbox_config(
            {
                "inboxes": [
                    {
                        "name": "A",
                        "notify": {
                            "email": {
                                "host": "h",
                                "from": "a@b.c",
                                "to": "d@e.f",
                                "password_env": "hunter 2!",
                            }
                        },
                    }
                ]
            },
            base_dir=tmp_path,
        )


# --- inbox init ---------------------------------------------------------------------


def test_init_creates_a_ready_to_run_inbox(tmp_path: Path) -> None:
    config_path = init_inbox(tmp_path / "leads", campaign="Hot leads")
    assert config_path == tmp_path / "leads" / "inbox.yaml"
    for name in FOLDERS:
        assert (tmp_path / "leads" / name).is_dir()
    config = load_inbox_config(config_path)
    [inbox] = config.inboxes
    assert inbox.name == "leads"
    assert inbox.campaign == "Hot leads"
    assert inbox.mapping == AUTO
    assert inbox.path == (tmp_path / "leads").resolve()
    assert "# " in config_path.read_text(encoding="utf-8")  # commented for humans


def test_init_with_a_mapping_and_hebrew_names(tmp_path: Path) -> None:
    mapping = tmp_path / "maps" / "fb.yaml"
    mapping.parent.mkdir()
    mapping.write_text("name: fb\n")
    inside = tmp_path / "לידים" / "m.yaml"
    config_path = init_inbox(tmp_path / "לידים", campaign="קמפיין: חם", mapping=str(mapping))
    [inbox] = load_inbox_config(config_path).inboxes
    assert inbox.name == "לידים"
    assert inbox.campaign == "קמפיין: חם"
    assert inbox.mapping_path == mapping.resolve()
    inside.write_text("name: m\n")
    config_path2 = init_inbox(tmp_path / "לידים" / "sub", mapping=str(inside))
    text = config_path2.read_text(encoding="utf-8")
    assert str(inside.resolve()) in text
    [inbox2] = load_inbox_config(config_path2).inboxes
    assert inbox2.campaign is None


def test_init_never_overwrites(tmp_path: Path) -> None:
    config_path = init_inbox(tmp_path, campaign="A")
    config_path.write_text(config_path.read_text() + "# mine\n")
    with pytest.raises(ConfigError, match="already exists; nothing was changed"):
        init_inbox(tmp_path, campaign="B")
    assert config_path.read_text().endswith("# mine\n")


def test_init_refuses_a_missing_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping file not found"):
        init_inbox(tmp_path / "x", mapping=str(tmp_path / "nope.yaml"))
    assert not (tmp_path / "x").exists()


# --- logs -------------------------------------------------------------------------------


@contextmanager
def _own_logging() -> Iterator[None]:
    """Let a test configure the root logger, then put the test runner's handlers back."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        yield
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            if handler not in saved[0]:
                handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def test_json_log_lines_are_redacted(tmp_path: Path) -> None:
    register_secret("ACCOUNTCODE12345")
    log_file = tmp_path / "logs" / "inbox.log"
    with _own_logging():
        configure_logging(log_format="json", log_file=log_file)
        logging.getLogger("importer.inbox").info(
            "file %s for ACCOUNTCODE12345", "לידים.csv", extra={"inbox": "FB"}
        )
    [line] = log_file.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["level"] == "info"
    assert record["logger"] == "importer.inbox"
    assert record["inbox"] == "FB"  # fields passed with extra= are kept
    assert record["message"].startswith("file לידים.csv for ")
    assert "ACCOUNTCODE12345" not in line
    assert record["time"].endswith("+00:00")


def test_json_formatter_includes_exceptions() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, "f", 1, "failed", None, sys.exc_info())
    data = json.loads(JsonFormatter().format(record))
    assert "ValueError: bad" in data["exception"]


def test_init_command_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from importer.cli import cli

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["inbox", "init", "leads", "--campaign", "Hot leads"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Created leads/inbox.yaml and the folders:\n"
        "  leads/inbox\n"
        "  leads/processing\n"
        "  leads/done\n"
        "  leads/failed\n"
        "  leads/reports\n"
        "Staff save files into the inbox folder. Check the settings, then run:\n"
        "  lead-importer inbox run --config leads/inbox.yaml --once\n"
    )
    again = CliRunner().invoke(cli, ["inbox", "init", "leads"])
    assert again.exit_code == 2
    assert "already exists; nothing was changed" in again.output


def test_with_a_log_file_stderr_stays_plain_text_and_quiet_about_retries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cron mails stderr: a retry that works is INFO (file only); warnings stay readable text."""
    from importer.dialer.retry import RetryPolicy, build_retrying

    log_file = tmp_path / "inbox.log"
    with _own_logging():
        configure_logging(log_format="json", log_file=log_file)
        calls = []

        def flaky() -> str:
            calls.append(1)
            if len(calls) == 1:
                raise ConnectionError("connection reset")
            return "ok"

        retrying = build_retrying(
            RetryPolicy(initial_wait=0.0, max_wait=0.0),
            retryable=lambda exc: isinstance(exc, ConnectionError),
        )
        assert retrying(flaky) == "ok"
        logging.getLogger("importer.pipeline").warning("2 row(s) were rejected")
    err = capsys.readouterr().err
    assert "retrying" not in err
    assert "2 row(s) were rejected" in err and not err.lstrip().startswith("{")
    logged = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert any("retrying" in r["message"] for r in logged)


def test_inbox_init_writes_hostile_names_as_data(tmp_path: Path) -> None:
    """A folder or campaign name with line breaks stays one value in inbox.yaml (#18)."""
    from importer.inbox.config import render_inbox_yaml

    name = "leads\nmode: sync\n- name: evil"
    campaign = 'Hot "leads"\u2028sync_confirm: true'
    text = render_inbox_yaml(
        name=name, campaign=campaign, mapping="auto", config_path="/srv/a b\nc/inbox.yaml"
    )
    data = yaml.safe_load(text)
    (inbox,) = data["inboxes"]
    assert (inbox["name"], inbox["campaign"], inbox["mapping"]) == (name, campaign, "auto")
    assert "mode" not in inbox and "sync_confirm" not in inbox
    assert all(line.startswith(("#", " ", "-")) or ":" in line or not line
               for line in text.splitlines())
