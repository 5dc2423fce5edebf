"""Settings files (YAML or .env) read strictly: values as written, every problem named by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pydantic import ValidationError

from importer.cli import cli
from importer.config import DEFAULT_API_URL, Settings, load_settings
from importer.emulator.server import EmulatorServer
from importer.errors import ConfigError
from tests.phone_samples import e164, valid_mobiles

_ENV = (
    "VOICENTER_API_URL",
    "VOICENTER_ACCOUNT_CODE",
    "VOICENTER_CAMPAIGN",
    "VOICENTER_SETTINGS_METHOD",
    "LEAD_IMPORTER_STATE_DIR",
    "LEAD_IMPORTER_LOCK_DIR",
)


@pytest.fixture(autouse=True)
def _no_settings_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems(config: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    return str(info.value)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_codes_and_names_are_kept_as_written(emulator: EmulatorServer, tmp_path: Path) -> None:
    """`account_code: 0123` was the number 83 and the run died with exit 70 ("internal error");
    `campaign: 2024` was a number. Both are the text written, end to end."""
    code = emulator.add_campaign("0123", "2024")
    config = write(
        tmp_path / "settings.yaml",
        f"api_url: {emulator.base_url}\n"
        "account_code: 0123\n"
        "campaign: 2024\n"
        f"lock_dir: {tmp_path / 'locks'}\n",
    )
    mapping = write(tmp_path / "mapping.yaml", "phone: [phone]\ndedupe: {history_days: 0}\n")
    (number,) = valid_mobiles(1)
    leads = write(tmp_path / "leads.csv", f"name,phone\nDana,{number}\n")

    result = run(
        "import", str(leads), "--mapping", str(mapping), "--config", str(config),
        "--report-dir", str(tmp_path / "reports"), "--state-dir", str(tmp_path / "state"),
    )

    assert result.exit_code == 0, result.output
    assert emulator.pending_phones(code) == [e164(number)[1:]]
    settings = load_settings(config, environ={})
    assert (settings.account_code, settings.campaign) == ("0123", "2024")


def test_a_bad_value_is_refused_with_its_key_and_line_never_exit_70(tmp_path: Path) -> None:
    config = write(
        tmp_path / "settings.yaml",
        "account_code: [s3cr3t-code, other]\n"
        "connect_timeout: fast\n"
        "read_timeout: 0\n",
    )
    result = run("campaigns", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"Error: {config}: the config file has 3 problem(s):\n"
        "  - line 1: account_code: Input should be a valid string\n"
        "  - line 2: connect_timeout: Input should be a valid number, unable to parse string "
        "as a number (got 'fast')\n"
        "  - line 3: read_timeout: Input should be greater than 0 (got '0')\n"
        "How to fix it: Correct the lines listed in that file, then run the command again.\n"
    )


def test_an_unknown_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    config = write(
        tmp_path / "settings.yaml",
        "api_url: http://127.0.0.1:9/ForwardDialer/Dialer\n"
        "acount_code: demo\n"
        "VOICENTER_CAMPIAGN: Hot leads\n"
        "colour: blue\n",
    )
    result = run("campaigns", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "line 2: unknown key 'acount_code' — did you mean 'account_code'?" in result.output
    assert (
        "line 3: unknown key 'VOICENTER_CAMPIAGN' — did you mean 'VOICENTER_CAMPAIGN'?"
        in result.output
    )
    assert "line 4: unknown key 'colour' (allowed here: api_url, account_code," in result.output
    assert "Traceback" not in result.output


def test_a_repeated_key_is_refused_naming_its_line(tmp_path: Path) -> None:
    """The second value silently won; spelled alike, or once as the environment variable."""
    twice = write(tmp_path / "twice.yaml", "campaign: A\naccount_code: demo\ncampaign: B\n")
    assert "line 3: key 'campaign' appears twice (the second one would silently win)" in (
        problems(twice)
    )
    aliased = write(tmp_path / "aliased.yml", "api_url: http://a\nVOICENTER_API_URL: http://b\n")
    assert (
        "line 2: 'VOICENTER_API_URL' sets api_url again (first on line 1); "
        "the second one would silently win"
    ) in problems(aliased)
    dotenv = write(
        tmp_path / "voicenter.env", "VOICENTER_CAMPAIGN=A\nOTHER=1\nVOICENTER_CAMPAIGN=B\n"
    )
    assert (
        "line 3: VOICENTER_CAMPAIGN is set again (first on line 1); "
        "the second one would silently win"
    ) in problems(dotenv)


def test_not_yaml_and_not_utf8_are_clear_errors(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.yaml", "api_url: [\n")
    assert "line 2, column 1: not valid YAML" in problems(broken)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("campaign: caf\xe9\n".encode("latin-1"))
    result = run("campaigns", "--config", str(latin))
    assert result.exit_code == 2, result.output
    assert "the file is not UTF-8 text; save it as UTF-8" in result.output
    listed = write(tmp_path / "list.yaml", "- api_url\n")
    assert "must be a set of 'key: value' lines" in problems(listed)


def test_yaml_values_are_read_like_environment_variables(tmp_path: Path) -> None:
    """Every value is text first, then a number or a switch where the setting is one."""
    (tmp_path / "lists").mkdir()
    config = write(
        tmp_path / "settings.yaml",
        "VOICENTER_API_URL: http://127.0.0.1:9/ForwardDialer/Dialer\n"
        "Account_Code: 00042\n"
        "campaign: no\n"
        "send_account_code: yes\n"
        "connect_timeout: 2\n"
        "read_timeout: 1.50\n"
        "state_dir: 2024\n"
        "settings_method:\n"
        "suppression: lists/dnc.csv\n",
    )
    settings = load_settings(config, environ={})
    assert settings == Settings(
        api_url="http://127.0.0.1:9/ForwardDialer/Dialer",
        account_code="00042",
        campaign="no",
        send_account_code=True,
        connect_timeout=2.0,
        read_timeout=1.5,
        state_dir=Path("2024"),
        suppression=(tmp_path / "lists" / "dnc.csv",),
    )


def test_dotenv_files_and_precedence_keep_working(tmp_path: Path) -> None:
    config = write(
        tmp_path / "voicenter.env",
        "# settings for the importer\n"
        "export VOICENTER_API_URL=http://127.0.0.1:9/ForwardDialer/Dialer\n"
        "VOICENTER_ACCOUNT_CODE='0123'\n"
        'VOICENTER_CAMPAIGN="Hot leads"\n'
        "LEAD_IMPORTER_STATE_DIR=\n"
        "PATH=/usr/bin\n",
    )
    from_file = load_settings(config, environ={})
    assert from_file.api_url == "http://127.0.0.1:9/ForwardDialer/Dialer"
    assert (from_file.account_code, from_file.campaign) == ("0123", "Hot leads")
    assert from_file.state_dir is None

    environ = {"VOICENTER_CAMPAIGN": "Callbacks", "VOICENTER_API_URL": "http://env/x"}
    layered = load_settings(config, environ, api_url="http://flag/x", state_dir=None)
    assert (layered.api_url, layered.campaign, layered.account_code) == (
        "http://flag/x", "Callbacks", "0123"
    )
    assert load_settings(None, environ={}).api_url == DEFAULT_API_URL
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_settings(write(tmp_path / "bad.env", "VOICENTER_CAMPAIGN\n"), environ={})


def test_settings_refuse_unknown_fields_and_changes() -> None:
    settings = Settings(api_url="http://127.0.0.1:9/x", account_code="demo")
    assert settings.resolved_state_dir().is_absolute()
    with pytest.raises(ValidationError):
        Settings(api_ur="http://127.0.0.1:9/x")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        settings.campaign = "x"  # type: ignore[misc]
    with pytest.raises(ConfigError, match="unknown key 'lock_dri' — did you mean 'lock_dir'"):
        load_settings(None, environ={}, lock_dri="/tmp/x")
