"""The drop-folder configuration file (``inbox.yaml``): schema, loading, validation.

One file describes every watched folder: its campaign (by name), its mapping
(or ``auto``), import options and notifications.  Relative paths are relative
to the directory of the configuration file, so the whole folder tree can be
moved or shared.  A bad file fails before anything is touched, with every
problem listed at once.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from importer.calling_hours import CallingHoursSection
from importer.errors import ConfigError, ConfigFileError
from importer.i18n import N_, Lang, parse_language
from importer.plain_text import escape_controls
from importer.report import REPORT_FORMAT_NAMES, ReportFormat, split_report_formats
from importer.validation import as_text, numbered, sentences
from importer.yaml_loader import read_yaml

__all__ = [
    "AUTO",
    "EmailNotify",
    "Inbox",
    "InboxConfig",
    "Notify",
    "WebhookNotify",
    "expand_env",
    "load_inbox_config",
    "missing_environment",
    "parse_inbox_config",
    "render_inbox_yaml",
]

AUTO = "auto"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_KEYS = {"password", "pass", "passwd", "smtp_password", "token", "secret"}
# Values that may hold a secret are never repeated in an error ("Authorization: Bearer ...").
_SECRET_VALUES = ("headers",)


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("base")
    return base if isinstance(base, Path) else Path.cwd()


def _resolve(value: Path, info: ValidationInfo) -> Path:
    path = value.expanduser()
    return path if path.is_absolute() else _base_dir(info) / path


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EmailNotify(_Model):
    """A summary e-mail after each file, sent with the standard library's smtplib."""

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None          # the NAME of an environment variable
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    subject_prefix: str = "[lead-importer]"
    attach_report: bool = True
    send: Literal["always", "problems"] = "always"
    timeout_seconds: float = Field(default=30.0, gt=0)
    ca_file: Path | None = None              # a private CA's certificate (PEM) for TLS

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = _resolve(value, info)
        if not path.is_file():
            raise ValueError(f"file not found: {path}")
        return path

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if "@" not in a]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(bad)}")
        return value

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(
                "give the NAME of an environment variable that holds the password "
                "(for example LEADS_SMTP_PASSWORD), not the password itself"
            )
        return value

    def effective_port(self) -> int:
        """The port to connect to: explicit, else the usual one for the security mode."""
        if self.port is not None:
            return self.port
        return {"ssl": 465, "starttls": 587, "none": 25}[self.security]


class WebhookNotify(_Model):
    """A JSON POST of the summary after each file."""

    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    send: Literal["always", "problems"] = "always"
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must start with http:// or https:// and name a host")
        return value


class Notify(_Model):
    """Optional notifications for one inbox."""

    email: EmailNotify | None = None
    webhook: WebhookNotify | None = None


class Inbox(_Model):
    """One drop folder: where files arrive and what to do with them."""

    name: str = Field(min_length=1)
    path: Path = Path()
    campaign: str | None = None              # None: the mapping's, then $VOICENTER_CAMPAIGN
    mapping: str = AUTO                      # "auto" or a mapping file (resolved)
    mode: Literal["append", "upsert", "sync"] | None = None   # None: the mapping's, else append
    dry_run: bool = False
    report_formats: list[ReportFormat] = Field(
        default_factory=lambda: list(REPORT_FORMAT_NAMES), min_length=1
    )
    reports: Path | None = None              # default: <path>/reports
    notify: Notify = Field(default_factory=Notify)
    # When these leads may be dialled if the mapping does not say; None: the config's.
    calling_hours: CallingHoursSection | None = None
    # The language of this folder's reports, notes and notifications; None: the config's.
    language: Lang | None = None

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> Any:
        return None if value is None else parse_language(str(value))

    @field_validator("path", "reports")
    @classmethod
    def _resolve_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)

    @field_validator("campaign", "name", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        # a campaign called 2024 is still a name
        return as_text(value)

    @field_validator("report_formats", mode="before")
    @classmethod
    def _split_formats(cls, value: Any) -> Any:
        return split_report_formats(value) if isinstance(value, str) else value

    @field_validator("mapping")
    @classmethod
    def _mapping_file(cls, value: str, info: ValidationInfo) -> str:
        if value.strip().lower() == AUTO:
            return AUTO
        path = _resolve(Path(value), info)
        if not path.is_file():
            raise ValueError(
                f"mapping file not found: {path} (write `auto` to let lead-importer "
                "suggest a mapping from each file's columns)"
            )
        return str(path)

    @property
    def mapping_path(self) -> Path | None:
        """The mapping file, or None for ``auto``."""
        return None if self.mapping == AUTO else Path(self.mapping)

    @property
    def reports_dir(self) -> Path:
        """Where the reports of this inbox go."""
        return self.reports if self.reports is not None else self.path / "reports"

    def folder(self, name: str) -> Path:
        """One of the inbox's working folders (inbox, processing, done, failed)."""
        return self.path / name


class InboxConfig(_Model):
    """The whole ``inbox.yaml``."""

    settle_seconds: float = Field(default=10.0, ge=0)
    poll_seconds: float = Field(default=5.0, gt=0)
    retry_after_seconds: float = Field(default=300.0, ge=0)
    settings_file: Path | None = None        # .env or YAML with VOICENTER_* settings
    state_dir: Path | None = None
    inboxes: list[Inbox] = Field(min_length=1)

    @field_validator("settings_file", "state_dir")
    @classmethod
    def _resolve_path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)

    @field_validator("settings_file")
    @classmethod
    def _settings_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file not found: {value}")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> InboxConfig:
        names = [i.name for i in self.inboxes]
        dup_names = sorted({n for n in names if names.count(n) > 1})
        paths = [os.path.normcase(i.path.resolve()) for i in self.inboxes]
        dup_paths = sorted({p for p in paths if paths.count(p) > 1})
        problems = []
        if dup_names:
            problems.append(f"inbox names must be unique: {', '.join(dup_names)}")
        if dup_paths:
            problems.append(f"two inboxes share the folder {', '.join(dup_paths)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


# --- loading and error sentences ---------------------------------------------

_WHAT = N_("inbox configuration")


def _key_hint(key: str, where: str) -> str | None:
    if key.lower() in _SECRET_KEYS:
        return (
            f"never put a password or token in this file: remove {key!r} and "
            "set password_env: SOME_VARIABLE_NAME (and that environment variable)"
        )
    return None


def _fail(source: str, problems: list[str]) -> ConfigFileError:
    return ConfigFileError(source, problems, what=_WHAT)


def parse_inbox_config(data: Any, *, base_dir: Path, source: str = "inbox.yaml") -> InboxConfig:
    """Validate already-parsed YAML; raises ConfigError listing every problem."""
    if not isinstance(data, dict):
        raise _fail(source, ["the file must hold `key: value` lines with an `inboxes:` list"])
    try:
        return InboxConfig.model_validate(data, context={"base": base_dir})
    except ValidationError as exc:
        problems = sentences(
            exc, InboxConfig, data, where=numbered, key_hint=_key_hint, secret=_SECRET_VALUES
        )
        raise _fail(source, problems) from None


def load_inbox_config(path: Path) -> InboxConfig:
    """Read and validate an ``inbox.yaml``; relative paths are relative to its folder."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            N_("{path}: no such file (create one with `lead-importer inbox init FOLDER`)"),
            path=path,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the inbox configuration ({exc})") from None
    data = read_yaml(text, str(path), error=_fail)
    return parse_inbox_config(data, base_dir=path.resolve().parent, source=str(path))


def missing_environment(config: InboxConfig) -> list[str]:
    """Environment variables the notifications refer to that are not set (warnings)."""
    missing: list[str] = []
    for inbox in config.inboxes:
        email, webhook = inbox.notify.email, inbox.notify.webhook
        if email is not None and email.password_env and not os.environ.get(email.password_env):
            missing.append(f"{inbox.name}: e-mail password variable {email.password_env}")
        if webhook is not None:
            for value in webhook.headers.values():
                for var in _ENV_REF.findall(value):
                    if var not in os.environ:
                        missing.append(f"{inbox.name}: webhook header variable {var}")
    return missing


def expand_env(value: str) -> str:
    """Replace ``${NAME}`` with the environment variable's value (empty if unset)."""
    return _ENV_REF.sub(lambda m: os.environ.get(m.group(1), ""), value)


_INIT_TEMPLATE = """\
# lead-importer drop folder - created by `lead-importer inbox init`.
# Run it:   {run_once}   (cron / timer)
#      or:  {run_watch}   (keeps watching)
# Relative paths below are relative to the folder holding this file.
# Every key is explained in examples/inbox.yaml of the lead-importer repository.

settle_seconds: 10        # a file is picked up after it stopped changing for this long
poll_seconds: 5           # how often the folders are checked while watching
# settings_file: voicenter.env   # VOICENTER_API_URL / VOICENTER_ACCOUNT_CODE (or set them
                                 # in the environment of the service)

inboxes:
  - name: {name}
    path: .               # holds inbox/ processing/ done/ failed/ reports/
{campaign_line}
{language_line}
    mapping: {mapping}
    # mode: append        # append | upsert | sync (default: the mapping's mode, else append)
    dry_run: false        # true: check files and write reports, send nothing
    report_formats: [csv, xlsx, json]
    # reports: reports    # where reports go (default: reports/ next to inbox/)
    # calling_hours: off  # dial at once (default: the mapping's, else Sun-Thu 09-20, Fri 09-13)
    # notify:
    #   email:
    #     host: smtp.example.co.il
    #     security: starttls          # starttls (port 587) | ssl (465) | none (25)
    #     username: leads@example.co.il
    #     password_env: LEADS_SMTP_PASSWORD   # the NAME of an environment variable
    #     from: leads@example.co.il
    #     to: [marketing@example.co.il]
    #     send: always                # always | problems
    #   webhook:
    #     url: https://hooks.example.com/lead-importer
    #     headers: {{Authorization: "Bearer ${{LEADS_WEBHOOK_TOKEN}}"}}
"""


def _yaml_scalar(value: str) -> str:
    """One line written by PyYAML: plain when it can be, else double-quoted with escapes."""
    # Printable text never needs escapes; anything else (line breaks, controls) is quoted.
    style = None if value.isprintable() else '"'
    text: str = yaml.safe_dump(value, default_style=style, allow_unicode=True, width=1_000_000)
    return text.removesuffix("...\n").strip()


def render_inbox_yaml(*, name: str, campaign: str | None, mapping: str, config_path: str,
                      language: Lang | None = None) -> str:
    """The commented ``inbox.yaml`` written by ``inbox init``."""
    if campaign:
        campaign_line = f"    campaign: {_yaml_scalar(campaign)}"
    else:
        campaign_line = (
            "    # campaign: Hot leads  # the campaign NAME; default: the mapping's, then "
            "$VOICENTER_CAMPAIGN"
        )
    if language:
        language_line = f"    language: {_yaml_scalar(language)}   # of reports, notes, e-mails"
    else:
        language_line = "    # language: he        # of reports, notes, e-mails (default: $LANG)"
    run = ["lead-importer", "inbox", "run", "--config", config_path]
    text = _INIT_TEMPLATE.format(
        name=_yaml_scalar(name),
        campaign_line=campaign_line,
        language_line=language_line,
        mapping=_yaml_scalar(mapping),
        run_once=escape_controls(shlex.join([*run, "--once"])),
        run_watch=escape_controls(shlex.join(run)),
    )
    # The values went into a template: prove the file holds exactly them and nothing else.
    expected: dict[str, object] = {"name": name, "path": ".", "mapping": mapping,
                                   "dry_run": False}
    if campaign:
        expected["campaign"] = campaign
    if language:
        expected["language"] = language
    written = yaml.safe_load(text)["inboxes"][0]
    if {k: written.get(k) for k in expected} != expected or len(written) != len(expected) + 1:
        raise ConfigError("inbox init: the folder name cannot be written safely into inbox.yaml")
    return text
