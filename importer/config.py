"""Settings from flags > environment > config file > defaults."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from importer.calling_hours import CallingHoursSection
from importer.errors import ConfigError, ConfigFileError
from importer.i18n import N_, Lang, parse_language
from importer.redact import register_secret
from importer.validation import did_you_mean, sentences
from importer.yaml_loader import parse_yaml

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_SETTINGS_METHOD",
    "Settings",
    "default_state_dir",
    "load_settings",
]

DEFAULT_API_URL = "https://api.voicenter.com/ForwardDialer/Dialer"
# The vendor page omits the smart-dialer settings method's name; see docs/decisions.md.
DEFAULT_SETTINGS_METHOD = "UpdateCampaignSettings"

_ENV = {
    "api_url": "VOICENTER_API_URL",
    "account_code": "VOICENTER_ACCOUNT_CODE",
    "campaign": "VOICENTER_CAMPAIGN",
    "settings_method": "VOICENTER_SETTINGS_METHOD",
    "state_dir": "LEAD_IMPORTER_STATE_DIR",
    "lock_dir": "LEAD_IMPORTER_LOCK_DIR",
    "calling_hours": "LEAD_IMPORTER_CALLING_HOURS",
    "now": "LEAD_IMPORTER_NOW",
}


def default_state_dir() -> Path:
    """The per-user directory for the journal and history."""
    return Path(platformdirs.user_data_dir("lead-importer", appauthor=False))


class Settings(BaseModel):
    """Everything the CLI and the library need to reach the API and keep state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_url: str = DEFAULT_API_URL
    account_code: str | None = None
    campaign: str | None = None
    settings_method: str = DEFAULT_SETTINGS_METHOD
    send_account_code: bool = False      # add the account Code to every request body
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    state_dir: Path | None = None
    # Campaign locks; None = the machine's folder (importer.locking.default_lock_dir).
    lock_dir: Path | None = None
    suppression: tuple[Path, ...] = ()   # do-not-call lists applied to every import
    # When leads may be dialled (issue #16); a mapping's own section wins. `off` to dial at once.
    calling_hours: CallingHoursSection = Field(default_factory=CallingHoursSection)
    # "Now" for calling hours (what an import at that moment would do); None: the real clock.
    now: datetime | None = None
    # The language people read (reports, notes, the console); None: $LC_MESSAGES/$LANG's.
    language: Lang | None = None

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> Any:
        return None if value is None else parse_language(str(value))

    @field_validator("now")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time with its offset, e.g. 2026-12-04T15:00+02:00")
        return value

    @field_validator("suppression", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str | Path) else value

    def resolved_state_dir(self) -> Path:
        """The state directory, defaulting to the per-user data directory."""
        return self.state_dir or default_state_dir()


_FIELDS = tuple(Settings.model_fields)
# Said in an error, these would show a code: the value is never repeated.
_SECRET = ("account_code", "campaign")
_WHAT = N_("config file")


def _key_hint(key: str, where: str) -> str | None:
    # A YAML config file takes the environment variables' names as well as the field names.
    close = did_you_mean(key, [*_FIELDS, *_ENV.values()])
    return f"did you mean {close!r}?" if close else None


def _read_config_file(path: Path) -> dict[str, Any]:
    """The settings a config file sets; ConfigFileError lists every problem with its line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigFileError(
            str(path), ["the file is not UTF-8 text; save it as UTF-8"], what=_WHAT
        ) from None
    except OSError as exc:
        raise ConfigError(N_("{path}: cannot read the config file ({reason})"), path=path,
                          reason=exc.strerror) from None
    if path.suffix.lower() in {".yaml", ".yml"}:
        values, lines, problems = _yaml_settings(text)
    else:
        values, lines, problems = _env_settings(text)
    if "suppression" in values:
        values["suppression"] = _paths(values["suppression"], path.parent)
    try:
        Settings.model_validate(values)
    except ValidationError as exc:
        problems += sentences(
            exc, Settings, values, key_hint=_key_hint, key_lines=lines, secret=_SECRET
        )
    if problems:
        raise ConfigFileError(str(path), problems, what=_WHAT)
    return values


_Read = tuple[dict[str, Any], dict[str, int], list[str]]


def _yaml_settings(text: str) -> _Read:
    """Values by setting name, the line of each, and the problems (unknown keys come later).

    Every plain value is read as text, as from a .env file or the environment, so
    ``account_code: 0123`` and ``campaign: 2024`` are the text written; a number or a
    switch is made from the text where a setting is one.
    """
    parsed = parse_yaml(text, plain_text=True)
    if parsed.problems:
        return {}, {}, parsed.problems
    data = {} if parsed.data is None else parsed.data
    if not isinstance(data, dict):
        return {}, {}, ["the config file must be a set of 'key: value' lines"]
    by_name = {name: name for name in _FIELDS} | {var.lower(): name for name, var in _ENV.items()}
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    seen: set[str] = set()
    problems: list[str] = []
    for key, value in data.items():
        written = str(key)
        # Unknown keys keep their spelling, so the model refuses them by the name written.
        name = by_name.get(written.lower(), written)
        line = parsed.key_lines.get(written)
        if name in seen:
            # Spelled differently (api_url, VOICENTER_API_URL): the loader saw two keys.
            problems.append(
                f"line {line}: {written!r} sets {name} again (first on line {lines[name]}); "
                "the second one would silently win"
            )
            continue
        seen.add(name)
        if line is not None:
            lines[name] = line
        if value is not None:       # an empty value means "not set", as in the environment
            values[name] = value
    return values, lines, problems


def _env_settings(text: str) -> _Read:
    """KEY=VALUE lines; keys other than the VOICENTER_*/LEAD_IMPORTER_* settings are ignored."""
    env_to_field = {v: k for k, v in _ENV.items()}
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    problems: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :]
        if "=" not in stripped:
            problems.append(f"line {lineno}: expected KEY=VALUE")
            continue
        key, _, raw_value = stripped.partition("=")
        name = env_to_field.get(key.strip())
        if name is None:
            continue
        if name in lines:
            problems.append(
                f"line {lineno}: {key.strip()} is set again (first on line {lines[name]}); "
                "the second one would silently win"
            )
            continue
        lines[name] = lineno
        value = raw_value.strip().strip('"').strip("'")
        if value:                   # an empty value means "not set", as in the environment
            values[name] = value
    return values, lines, problems


def _paths(value: Any, base: Path) -> Any:
    """Suppression list paths; relative ones are relative to the config file's folder."""
    if isinstance(value, str):
        return _relative_to(value, base)
    if isinstance(value, list):
        return [_relative_to(item, base) if isinstance(item, str) else item for item in value]
    return value       # not a path: the model says so


def _relative_to(item: str, base: Path) -> Path:
    path = Path(item).expanduser()
    return path if path.is_absolute() else base / path


def load_settings(
    config_file: Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings: explicit overrides (flags) > environment > config file > defaults."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update(_read_config_file(config_file))
    for name, var in _ENV.items():
        if env.get(var):
            values[name] = env[var]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        problems = sentences(exc, Settings, values, key_hint=_key_hint, secret=_SECRET)
        raise ConfigError("the settings are not usable: " + "; ".join(problems)) from None
    register_secret(settings.account_code)
    return settings
