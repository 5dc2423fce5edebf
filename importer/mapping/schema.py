"""The mapping-file schema (pydantic) and its loading, with every problem listed at once.

A mapping is YAML that a marketing person can read; see docs/mapping.md.
Unknown keys are refused everywhere, with a "did you mean" taken from the
keys allowed at that place.
"""

from __future__ import annotations

import codecs
import difflib
import re
import zoneinfo
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from importer import yaml_loader
from importer.calling_hours import CallingHoursSection
from importer.errors import ImporterError, MappingError
from importer.i18n import Lang, parse_language
from importer.phones.normalizer import PhoneType
from importer.sources.model import SourceOptions
from importer.validation import as_text, sentences

if TYPE_CHECKING:
    from importer.phones import PhonePolicy

__all__ = [
    "DIALER_FIELDS",
    "DedupeSection",
    "FieldsSection",
    "Mapping",
    "OptionsSection",
    "OriginateTimeSpec",
    "PhoneSection",
    "PrioritySpec",
    "ReportSection",
    "SourceSection",
    "TextSpec",
    "UpsertSection",
    "load_mapping",
    "mapping_language",
    "parse_mapping",
    "read_yaml",
    "template_placeholders",
]

_DEFAULT_TYPES: tuple[PhoneType, ...] = ("mobile", "fixed_line", "fixed_line_or_mobile", "voip")
DIALER_FIELDS: tuple[str, ...] = ("CustomerName", "Priority", "CallerID", "OriginateTime")

_FORBID = ConfigDict(extra="forbid", str_strip_whitespace=True)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_DELIMITER_NAMES = {
    "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " ", "\\t": "\t"
}
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

# Hints for keys people put in the wrong place.
_KEY_HINTS = {
    "target": "the number to dial is chosen under 'phone: columns'",
    "phone": "the number to dial is chosen under 'phone: columns'",
    "customdata": "custom data goes under 'custom_data:' at the top level",
    "isdatelocal": "set it with 'options: is_date_local'",
    "ignoredncstatus": "set it with 'options: ignore_dnc'",
    "campaign": "set it with 'campaign:' at the top level",
    "clearempty": "it goes in the 'upsert:' section, e.g. 'upsert: {clear_empty: true}'",
}
# "phone" and "campaign" are real keys at the top level; the hints are for other places.
_HINTED_KEYS_ALLOWED: dict[str, tuple[str, ...]] = {"top level": ("phone", "campaign")}


def _aliases(value: Any) -> Any:
    """``"a"`` → ``["a"]``; numbers become text; anything else is left for pydantic to refuse."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str | int | float):
        return [str(value)]
    if isinstance(value, list):
        return [str(v) if isinstance(v, str | int | float) and not isinstance(v, bool) else v
                for v in value]
    return value


def _text_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(as_text(k)) if k is not None else "": v for k, v in value.items()}
    return value


def template_placeholders(template: str) -> list[str]:
    """The column names used by a template, in order (``{{``/``}}`` are literal braces)."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(template.replace("{{", "").replace("}}", ""))]


class _Spec(BaseModel):
    model_config = _FORBID

    column: list[str] | None = None
    optional: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # "CustomerName: full_name" and "var_X: [a, b]" mean column aliases.
        if isinstance(data, str | int | float | list) and not isinstance(data, bool):
            return {"column": data}
        return data

    @field_validator("column", mode="before")
    @classmethod
    def _column_aliases(cls, value: Any) -> Any:
        return _aliases(value)

    @field_validator("column")
    @classmethod
    def _non_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not [v for v in value if v.strip()]:
            raise ValueError("needs at least one column name")
        return value


class TextSpec(_Spec):
    """A text value: from a column, a constant, or a template; optionally through a map."""

    value: str | None = None
    template: str | None = None
    columns_fallback: list[str] | None = None
    map: dict[str, str] | None = None
    default: str | None = None

    @field_validator("value", "default", mode="before")
    @classmethod
    def _value_text(cls, value: Any) -> Any:
        return as_text(value)

    @field_validator("columns_fallback", mode="before")
    @classmethod
    def _fallback_aliases(cls, value: Any) -> Any:
        return _aliases(value)

    @field_validator("map", mode="before")
    @classmethod
    def _map_text(cls, value: Any) -> Any:
        value = _text_keys(value)
        if isinstance(value, dict):
            return {k: as_text(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _one_source(self) -> TextSpec:
        given = [k for k in ("column", "value", "template") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'column', 'value' or 'template'"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.columns_fallback is not None and self.template is None:
            raise ValueError("'columns_fallback' only goes with 'template'")
        if self.template is not None:
            names = template_placeholders(self.template)
            if not names:
                raise ValueError(
                    "the template names no column; write column names in braces, "
                    "e.g. \"{first_name} {last_name}\""
                )
            if any(not n.strip() for n in names):
                raise ValueError("the template has empty braces '{}'")
        if self.value is not None and (self.map is not None or self.default is not None):
            raise ValueError("'map' and 'default' go with 'column' or 'template', not 'value'")
        return self


class PrioritySpec(_Spec):
    """Priority: a whole number from a column (optionally through a map) or a constant."""

    value: int | None = None
    map: dict[str, int] | None = None
    default: int | None = None

    @field_validator("map", mode="before")
    @classmethod
    def _map_text(cls, value: Any) -> Any:
        return _text_keys(value)

    @model_validator(mode="after")
    def _one_source(self) -> PrioritySpec:
        given = [k for k in ("column", "value") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'column' or 'value'")
        if self.value is not None and (self.map is not None or self.default is not None):
            raise ValueError("'map' and 'default' go with 'column', not 'value'")
        return self


class OriginateTimeSpec(_Spec):
    """When to dial: a date/time column, or date + time columns, read in ``timezone``."""

    date_column: list[str] | None = None
    time_column: list[str] | None = None
    value: str | None = None
    timezone: str = "Asia/Jerusalem"
    format: str | None = None
    day_first: bool = True
    default_time: str = "09:00"

    @field_validator("date_column", "time_column", mode="before")
    @classmethod
    def _date_aliases(cls, value: Any) -> Any:
        return _aliases(value)

    @field_validator("value", mode="before")
    @classmethod
    def _value_text(cls, value: Any) -> Any:
        return as_text(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zones = _zone_names()
        if value not in zones:
            close = difflib.get_close_matches(value, sorted(zones), n=1, cutoff=0.6)
            hint = f" — did you mean {close[0]!r}?" if close else " (e.g. 'Asia/Jerusalem', 'UTC')"
            raise ValueError(f"unknown time zone {value!r}{hint}")
        return value

    @field_validator("default_time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day like '09:00'")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> OriginateTimeSpec:
        given = [k for k in ("column", "date_column", "value") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'column', 'date_column' (+ 'time_column') "
                             "or 'value'")
        if self.time_column is not None and self.date_column is None:
            raise ValueError("'time_column' goes with 'date_column'")
        return self


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class FieldsSection(BaseModel):
    """The Dialer target fields filled from the file (all optional)."""

    model_config = _FORBID

    CustomerName: TextSpec | None = None
    Priority: PrioritySpec | None = None
    CallerID: TextSpec | None = None
    OriginateTime: OriginateTimeSpec | None = None


_TYPE_SYNONYMS = {
    "landline": "fixed_line",
    "fixed": "fixed_line",
    "cell": "mobile",
    "cellular": "mobile",
    "landline_or_mobile": "fixed_line_or_mobile",
    "toll_free_number": "toll_free",
}


class PhoneSection(BaseModel):
    """Which columns hold the number to dial and which numbers are acceptable."""

    model_config = _FORBID

    columns: list[str] = Field(min_length=1)
    default_region: str = "IL"
    allow_types: list[PhoneType] = Field(
        default_factory=lambda: list(_DEFAULT_TYPES),
        min_length=1,
    )
    strictness: Literal["valid", "possible"] = "valid"
    send_as: Literal["digits", "e164", "local"] = "digits"
    # Countries whose numbers may be dialled (None: any). A number abroad is an international
    # call; a campaign that should ring only Israel says `countries: [IL]`.
    countries: list[str] | None = None
    # Bare digits (no "+" or "00", no leading 0) are a country code and number first, as the
    # Dialer API lists them (4930901820 = +49 30 901820); a local 0521234567 stays local.
    digits_are_international: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str | list):
            return {"columns": data}
        return data

    @field_validator("countries", mode="before")
    @classmethod
    def _country_list(cls, value: Any) -> Any:
        value = _aliases(value)
        if not isinstance(value, list):
            return value
        out = []
        for item in value:
            code = str(item).strip().upper()
            if code not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"{item!r} is not a two-letter country code such as 'IL' or 'US'")
            out.append(code)
        return out

    @model_validator(mode="after")
    def _home_country_allowed(self) -> PhoneSection:
        if self.countries is not None and self.default_region not in self.countries:
            raise ValueError(
                f"countries must include default_region {self.default_region!r} (numbers "
                "typed without a country code are read as that country's)"
            )
        return self

    @field_validator("columns", mode="before")
    @classmethod
    def _column_aliases(cls, value: Any) -> Any:
        return _aliases(value)

    @field_validator("allow_types", mode="before")
    @classmethod
    def _types_lower(cls, value: Any) -> Any:
        value = _aliases(value)
        if isinstance(value, list):
            words = [v.strip().lower().replace(" ", "_").replace("-", "_") if isinstance(v, str)
                     else v for v in value]
            # The words the reports use ("landline") are accepted for the library's names.
            return [_TYPE_SYNONYMS.get(w, w) if isinstance(w, str) else w for w in words]
        return value

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a two-letter country code such as 'IL' or 'US'")
        return value


class SourceSection(BaseModel):
    """How to read the file; ``auto`` means detect."""

    model_config = _FORBID

    sheet: int | str = "auto"
    all_sheets: bool = False
    header_row: int | Literal["auto"] = "auto"
    encoding: str = "auto"
    delimiter: str = "auto"
    # Files written by this tool (`pending --format csv`, the clear/sync backups) put a "'"
    # before a cell starting with = + - @ so Excel never runs it; reading such a file back
    # takes it off again, so names and notes return as they were.
    unescape_formulas: bool = False

    @field_validator("sheet")
    @classmethod
    def _sheet(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("sheet numbers count from 1 (the first sheet is 1)")
        return value

    @field_validator("header_row")
    @classmethod
    def _header_row(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("header_row counts from 1 (the first row is 1)")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        if value.lower() != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(
                    f"unknown encoding {value!r} (e.g. 'utf-8', 'cp1255', 'utf-16')"
                ) from None
        return value

    @field_validator("delimiter", mode="before")
    @classmethod
    def _delimiter(cls, value: Any) -> Any:
        # Stored by name ("tab"), because surrounding whitespace is stripped from every value.
        if isinstance(value, str):
            if value == "\t":
                return "tab"
            if value == " ":
                return "space"
            name = value.strip().lower()
            if name in _DELIMITER_NAMES or name in {"auto", "space"}:
                return name if name != "\\t" else "tab"
            if len(value.strip()) != 1:
                raise ValueError(
                    "a delimiter is one character, or 'auto', 'tab', 'comma', 'semicolon', 'pipe'"
                )
        return value

    def to_options(self) -> SourceOptions:
        """The reader options this section asks for."""
        sheet: str | int | None
        if isinstance(self.sheet, int):
            sheet = self.sheet - 1
        elif self.sheet.lower() == "auto":
            sheet = None
        else:
            sheet = self.sheet
        return SourceOptions(
            encoding=None if self.encoding.lower() == "auto" else self.encoding,
            delimiter=_DELIMITER_NAMES.get(self.delimiter, self.delimiter)
            if self.delimiter != "auto"
            else None,
            sheet=sheet,
            all_sheets=self.all_sheets,
            header_row=None if self.header_row == "auto" else int(self.header_row),
        )


class OptionsSection(BaseModel):
    """Flags sent with every target."""

    model_config = _FORBID

    is_date_local: bool = False
    ignore_dnc: bool = False


class DedupeSection(BaseModel):
    """Which duplicates to skip (applied by the pipeline)."""

    model_config = _FORBID

    batch: bool = True
    pending: bool = True
    pending_scope: Literal["campaign", "account"] = "campaign"
    history_days: int = Field(default=30, ge=0)
    suppression: list[str] = Field(default_factory=list)
    import_ref: str | None = "var_ImportRef"

    @field_validator("suppression", mode="before")
    @classmethod
    def _paths(cls, value: Any) -> Any:
        return _aliases(value)

    @field_validator("import_ref")
    @classmethod
    def _var_key(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("var_"):
            raise ValueError(f"custom data keys start with 'var_' (e.g. 'var_{value}')")
        return value


class UpsertSection(BaseModel):
    """How ``--mode upsert`` treats what a row leaves empty."""

    model_config = _FORBID

    # False: an empty cell keeps the pending call's value; True: it clears CustomerName and
    # CustomData keys (Priority, CallerID and OriginateTime are always kept).
    clear_empty: bool = False


class ReportSection(BaseModel):
    """How the reports of files imported with this mapping are written."""

    model_config = _FORBID

    # The language people read the XLSX report in (None: the inbox's, config's or $LANG).
    language: Lang | None = None

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> Any:
        return None if value is None else parse_language(str(value))


class Mapping(BaseModel):
    """A whole mapping file."""

    model_config = _FORBID

    name: str = "Unnamed mapping"
    campaign: str | None = None
    source: SourceSection = Field(default_factory=SourceSection)
    phone: PhoneSection
    fields: FieldsSection = Field(default_factory=FieldsSection)
    custom_data: dict[str, TextSpec] = Field(default_factory=dict)
    copy_columns: list[str] = Field(default_factory=list)
    options: OptionsSection = Field(default_factory=OptionsSection)
    dedupe: DedupeSection = Field(default_factory=DedupeSection)
    mode: Literal["append", "upsert", "sync"] | None = None
    upsert: UpsertSection = Field(default_factory=UpsertSection)
    sync_confirm: bool = False
    sync_max_remove_share: float = Field(default=0.2, ge=0.0, le=1.0)
    # When these leads may be dialled; None: the config's (default on). `off` dials at once.
    calling_hours: CallingHoursSection | None = None
    report: ReportSection = Field(default_factory=ReportSection)

    _origin: Path | None = PrivateAttr(default=None)

    @field_validator("campaign", mode="before")
    @classmethod
    def _campaign_text(cls, value: Any) -> Any:
        return as_text(value)

    @field_validator("copy_columns", mode="before")
    @classmethod
    def _patterns(cls, value: Any) -> Any:
        return _aliases(value)

    @field_validator("custom_data", mode="before")
    @classmethod
    def _custom_keys(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        bad: list[str] = []
        seen: dict[str, str] = {}
        for key in value:
            text = str(key)
            if not text.startswith("var_") or len(text) == len("var_"):
                hint = f"'var_{text.removeprefix('var')}'" if text else "'var_Name'"
                bad.append(f"{text!r} (did you mean {hint}?)")
            folded = text.casefold()
            if folded in seen:
                bad.append(f"{text!r} repeats {seen[folded]!r} (keys are not case-sensitive)")
            seen[folded] = text
        if bad:
            raise ValueError("custom data keys must start with 'var_': " + "; ".join(bad))
        return {str(k): v for k, v in value.items()}

    @model_validator(mode="after")
    def _import_ref_free(self) -> Mapping:
        ref = self.dedupe.import_ref
        if ref and ref.casefold() in {k.casefold() for k in self.custom_data}:
            raise ValueError(
                f"custom_data.{ref} is also dedupe.import_ref (the importer fills it); "
                "rename one of them"
            )
        return self

    @property
    def origin(self) -> Path | None:
        """The file this mapping was loaded from, if any."""
        return self._origin

    def phone_policy(self) -> PhonePolicy:
        """The phone policy the mapping asks for (region, types, strictness, countries, digits)."""
        from importer.phones import PhonePolicy

        return PhonePolicy(
            default_region=self.phone.default_region,
            allow_types=frozenset(self.phone.allow_types),
            strictness=self.phone.strictness,
            countries=None if self.phone.countries is None else frozenset(self.phone.countries),
            digits_are_international=self.phone.digits_are_international,
        )

    def source_options(self) -> SourceOptions:
        """The reader options the mapping asks for."""
        return self.source.to_options()

    def suppression_paths(self, base_dir: Path | None = None) -> list[Path]:
        """Suppression lists, relative paths resolved against the mapping file's folder."""
        base = base_dir or (self._origin.parent if self._origin else Path.cwd())
        out = []
        for entry in self.dedupe.suppression:
            path = Path(entry).expanduser()
            out.append(path if path.is_absolute() else base / path)
        return out


# --- YAML loading ---------------------------------------------------------------------------


def read_yaml(text: str, source_name: str) -> Any:
    """YAML as mapping files are read: no 1.1 surprises, repeated keys refused (MappingError)."""
    return yaml_loader.read_yaml(text, source_name, error=MappingError)


def parse_mapping(text: str, source_name: str = "<stdin>") -> Mapping:
    """Parse and validate mapping YAML; MappingError lists every problem found."""
    data = read_yaml(text, source_name)
    if data is None:
        raise MappingError(source_name, ["the mapping is empty; it needs at least 'phone:'"])
    if not isinstance(data, dict):
        raise MappingError(
            source_name, ["the mapping must be a set of 'key: value' lines, starting with 'name:'"]
        )
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        raise MappingError(source_name, _problems(exc, data)) from None


def load_mapping(path: Path | str) -> Mapping:
    """Load and validate a mapping file; MappingError lists every problem found."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise MappingError(str(path), ["the file is not UTF-8 text; save it as UTF-8"]) from None
    except OSError as exc:
        raise MappingError(str(path), [f"cannot read the file ({exc.strerror})"]) from None
    mapping = parse_mapping(text, str(path))
    mapping._origin = path.resolve()
    return mapping


def mapping_language(path: Path | str | None) -> Lang | None:
    """The ``report.language`` of a mapping file; None when it sets none or cannot be read.

    A mapping that cannot be read is reported where it is loaded for the import itself.
    """
    if path is None:
        return None
    try:
        return load_mapping(path).report.language
    except ImporterError:
        return None


# --- turning pydantic errors into plain sentences ---------------------------------------------


def _problems(exc: ValidationError, data: dict[Any, Any]) -> list[str]:
    """Plain sentences, in the order of the top-level keys in the file."""
    return sentences(exc, Mapping, data, key_hint=_key_hint, required_hint=_required_hint)


def _key_hint(key: str, where: str) -> str | None:
    if key in _HINTED_KEYS_ALLOWED.get(where, ()):
        return None
    return _KEY_HINTS.get(re.sub(r"[^a-z]", "", key.casefold()))


def _required_hint(loc: tuple[str, ...]) -> str:
    if loc == ("phone",):
        return " (which column(s) hold the number to dial, e.g. 'phone: [טלפון נייד, phone]')"
    if loc == ("phone", "columns"):
        return " (e.g. 'columns: [טלפון נייד, phone]')"
    return ""
