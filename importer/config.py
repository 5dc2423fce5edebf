"""Settings from flags > environment > config file > defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import platformdirs
import yaml

from importer.errors import ConfigError
from importer.redact import register_secret

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
}


def default_state_dir() -> Path:
    """The per-user directory for the journal and history."""
    return Path(platformdirs.user_data_dir("lead-importer", appauthor=False))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the CLI and the library need to reach the API and keep state."""

    api_url: str = DEFAULT_API_URL
    account_code: str | None = None
    campaign: str | None = None
    settings_method: str = DEFAULT_SETTINGS_METHOD
    send_account_code: bool = False      # add the account Code to every request body
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    state_dir: Path | None = None
    # Campaign locks; None = the machine's folder (importer.locking.default_lock_dir).
    lock_dir: Path | None = None
    suppression: tuple[Path, ...] = ()   # do-not-call lists applied to every import

    def resolved_state_dir(self) -> Path:
        """The state directory, defaulting to the per-user data directory."""
        return self.state_dir or default_state_dir()


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the config file must be a mapping of keys to values")
        out: dict[str, Any] = {}
        env_to_field = {v.lower(): k for k, v in _ENV.items()}
        for key, value in data.items():
            name = env_to_field.get(str(key).lower(), str(key).lower())
            out[name] = value
        return out
    # .env style: KEY=VALUE lines
    result: dict[str, Any] = {}
    env_to_field = {v: k for k, v in _ENV.items()}
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :]
        if "=" not in stripped:
            raise ConfigError(f"{path}, line {lineno}: expected KEY=VALUE")
        key, _, raw_value = stripped.partition("=")
        field_name = env_to_field.get(key.strip())
        if field_name:
            result[field_name] = raw_value.strip().strip('"').strip("'")
    return result


def _paths(value: Any, config_file: Path | None) -> tuple[Path, ...]:
    """Suppression list paths; relative ones are relative to the config file's folder."""
    items = value if isinstance(value, list | tuple) else [value]
    base = config_file.parent if config_file is not None else Path.cwd()
    out = []
    for item in items:
        if not isinstance(item, str | Path):
            raise ConfigError("suppression must be a file path or a list of file paths")
        path = Path(item).expanduser()
        out.append(path if path.is_absolute() else base / path)
    return tuple(out)


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
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    for name in ("state_dir", "lock_dir"):
        if values.get(name) is not None:
            values[name] = Path(values[name])
    if "suppression" in values:
        values["suppression"] = _paths(values["suppression"], config_file)
    for name in ("connect_timeout", "read_timeout"):
        if name in values:
            try:
                values[name] = float(values[name])
            except (TypeError, ValueError):
                raise ConfigError(f"{name} must be a number of seconds") from None
    if "send_account_code" in values and isinstance(values["send_account_code"], str):
        values["send_account_code"] = values["send_account_code"].lower() in {"1", "true", "yes"}
    settings = replace(Settings(), **values)
    register_secret(settings.account_code)
    return settings
