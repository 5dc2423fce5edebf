"""Mapping files: rows of text → Dialer targets.

``load_mapping`` reads and validates the YAML (see ``importer.mapping_schema``),
``Mapping.bind`` resolves the column names against one file's headers, and
``BoundMapping.map_row`` turns one source row into a ``MappedRow``: a target
ready to send, or a row problem (missing/invalid/rejected phone) with a
plain-language reason.  Row problems are data, never exceptions.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import time as clock_time
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from importer.dialer.models import CallTarget
from importer.errors import MappingError
from importer.headers import closest_headers, custom_data_key, find_columns, normalize_value
from importer.mapping_dates import combine, parse_time_of_day, parse_when, to_originate
from importer.mapping_schema import (
    DIALER_FIELDS,
    PHONE_TYPES,
    Mapping,
    OriginateTimeSpec,
    PrioritySpec,
    TextSpec,
    load_mapping,
    parse_mapping,
    template_placeholders,
)
from importer.phones import PhoneNormalizer, PhonePolicy, PhoneResult, api_form
from importer.report import Status
from importer.sources.model import SourceInfo, SourceOptions, SourceRow

V = TypeVar("V")

__all__ = [
    "BoundMapping",
    "MappedRow",
    "Mapping",
    "MappingError",
    "load_mapping",
    "parse_mapping",
    "suggest_mapping",
]

_MAX_LISTED_HEADERS = 20


@dataclass(slots=True)
class MappedRow:
    """One source row after mapping: a target to send, or a row problem."""

    row: SourceRow
    phone_raw: str
    phone: PhoneResult
    target: CallTarget | None               # None when the phone is not usable
    fields: dict[str, str] = field(default_factory=dict)   # report values, in field_names order
    problem: Status | None = None           # MISSING_PHONE, INVALID_PHONE or TYPE_REJECTED
    reason: str = ""                        # plain-language notes (repairs, defaults used, ...)


def _cell(cells: Sequence[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


class _Text:
    """Where a text value comes from: columns (first non-empty wins), a constant or a template."""

    def __init__(
        self,
        *,
        columns: list[int] | None = None,
        value: str | None = None,
        parts: list[str | list[int]] | None = None,
        fallback: list[int] | None = None,
    ) -> None:
        self.columns = columns
        # An optional column that is not in the file: the field is left out, default and all.
        self.absent = columns == [] and value is None and parts is None
        self.value = value
        self.parts = parts
        self.fallback = fallback or []

    def read(self, cells: Sequence[str]) -> tuple[str, int | None]:
        """The value and the column it came from (None for constants and templates)."""
        if self.value is not None:
            return self.value, None
        if self.parts is not None:
            rendered = self._render(cells)
            if rendered:
                return rendered, None
            return _first(cells, self.fallback)
        return _first(cells, self.columns or [])

    def _render(self, cells: Sequence[str]) -> str:
        out: list[str] = []
        filled = False
        for part in self.parts or []:
            if isinstance(part, str):
                out.append(part)
            else:
                value = _first(cells, part)[0]
                filled = filled or bool(value)
                out.append(value)
        if not filled:
            return ""       # only the template's own text: treat as empty, use the fallback
        text = " ".join("".join(out).split())
        # "{first} - {last}" with an empty last name should not end in " -".
        return text.strip(" -,/|·")


def _first(cells: Sequence[str], indexes: list[int]) -> tuple[str, int | None]:
    for index in indexes:
        value = _cell(cells, index)
        if value:
            return value, index
    return "", None


def _int_text(text: str) -> int | None:
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


class BoundMapping:
    """A mapping resolved against one file's headers; maps rows to targets."""

    def __init__(
        self,
        mapping: Mapping,
        info: SourceInfo,
        *,
        normalizer: PhoneNormalizer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mapping = mapping
        self.info = info
        self.headers = list(info.columns)
        self._file = info.path.name
        self._now = clock()
        self.notes: list[str] = []
        problems: list[str] = []

        # A shared normalizer (the pipeline's, with its cache) must use mapping.phone_policy().
        self._phones = normalizer or PhoneNormalizer(mapping.phone_policy())
        self._caller_ids = PhoneNormalizer(
            PhonePolicy(
                default_region=mapping.phone.default_region,
                allow_types=frozenset(PHONE_TYPES),
                strictness=mapping.phone.strictness,
            )
        )
        self._send_as = mapping.phone.send_as

        self.phone_columns = find_columns(mapping.phone.columns, self.headers)
        if not self.phone_columns:
            problems.append(self._missing("phone.columns", mapping.phone.columns))

        f = mapping.fields
        self._name = self._bind_text("fields.CustomerName", f.CustomerName, problems)
        self._caller = self._bind_text("fields.CallerID", f.CallerID, problems)
        self._priority = self._bind_priority(f.Priority, problems)
        self._originate = self._bind_originate(f.OriginateTime, problems)
        self._caller_const: str | None = None
        if f.CallerID is not None and f.CallerID.value is not None:
            result = self._caller_ids.normalize(f.CallerID.value)
            if result.ok and result.e164:
                self._caller_const = api_form(result.e164, self._send_as)
            else:
                problems.append(
                    f"fields.CallerID.value: {f.CallerID.value!r} is not a valid phone number"
                    + (f" ({result.reason})" if result.reason else "")
                )

        self._custom: list[tuple[str, _Text | None, TextSpec]] = []
        for key, spec in mapping.custom_data.items():
            self._custom.append((key, self._bind_text(f"custom_data.{key}", spec, problems), spec))
        self._copied = self._bind_copy_columns(problems)

        if problems:
            raise MappingError(self._source_name(), problems)
        self._text_maps = {
            name: _map_table(spec.map)
            for name, spec in [
                ("CustomerName", f.CustomerName),
                ("CallerID", f.CallerID),
                *mapping.custom_data.items(),
            ]
            if spec is not None and spec.map is not None
        }
        self._priority_map = (
            _map_table(f.Priority.map) if f.Priority is not None and f.Priority.map else None
        )

        self.field_names: list[str] = [n for n in DIALER_FIELDS if getattr(f, n) is not None]
        self.field_names += [key for key, _, _ in self._custom]
        self.field_names += [key for key, _ in self._copied]

    # --- binding --------------------------------------------------------------------------

    def _source_name(self) -> str:
        origin = self.mapping.origin
        return f"{origin.name if origin else self.mapping.name} (with {self._file})"

    def _missing(self, where: str, aliases: list[str]) -> str:
        names = " or ".join(repr(a) for a in aliases)
        close: list[str] = []
        for alias in aliases:
            close += [c for c in closest_headers(alias, self.headers) if c not in close]
        text = f"{where}: no column {names} in {self._file}"
        if close:
            return text + f" — did you mean {', '.join(repr(c) for c in close[:3])}?"
        listed = ", ".join(repr(h) for h in self.headers[:_MAX_LISTED_HEADERS])
        more = ", …" if len(self.headers) > _MAX_LISTED_HEADERS else ""
        return text + f" (its columns are: {listed}{more})"

    def _columns(
        self, where: str, aliases: list[str], optional: bool, problems: list[str]
    ) -> list[int]:
        found = find_columns(aliases, self.headers)
        if not found:
            if optional:
                self.notes.append(f"{where}: no column {aliases[0]!r} in {self._file}; left empty")
            else:
                problems.append(self._missing(where, aliases))
        return found

    def _bind_text(self, where: str, spec: TextSpec | None, problems: list[str]) -> _Text | None:
        if spec is None:
            return None
        if spec.value is not None:
            return _Text(value=spec.value)
        if spec.column is not None:
            return _Text(columns=self._columns(where, spec.column, spec.optional, problems))
        template = spec.template or ""
        names = template_placeholders(template)
        resolved = {n: find_columns([n], self.headers) for n in names}
        missing = [n for n in names if not resolved[n]]
        fallback = find_columns(spec.columns_fallback or [], self.headers)
        if len(missing) == len(names):
            if fallback:
                return _Text(columns=fallback)
            aliases = names + list(spec.columns_fallback or [])
            if spec.optional:
                self.notes.append(f"{where}: none of {aliases} in {self._file}; left empty")
            else:
                problems.append(self._missing(where, aliases))
            return _Text(columns=[])
        if missing and not spec.optional:
            for name in missing:
                problems.append(self._missing(f"{where}.template", [name]))
        return _Text(parts=_template_parts(template, resolved), fallback=fallback)

    def _bind_priority(self, spec: PrioritySpec | None, problems: list[str]) -> _Text | None:
        if spec is None:
            return None
        if spec.value is not None:
            return _Text(value=str(spec.value))
        assert spec.column is not None
        return _Text(
            columns=self._columns("fields.Priority", spec.column, spec.optional, problems)
        )

    def _bind_originate(
        self, spec: OriginateTimeSpec | None, problems: list[str]
    ) -> tuple[_Text, _Text | None] | None:
        if spec is None:
            return None
        where = "fields.OriginateTime"
        if spec.value is not None:
            try:
                parse_when(spec.value, day_first=spec.day_first, fmt=spec.format)
            except ValueError as exc:
                problems.append(f"{where}.value: {exc}")
            return _Text(value=spec.value), None
        if spec.column is not None:
            return _Text(columns=self._columns(where, spec.column, spec.optional, problems)), None
        assert spec.date_column is not None
        day = _Text(columns=self._columns(where, spec.date_column, spec.optional, problems))
        clock = None
        if spec.time_column is not None:
            clock = _Text(
                columns=self._columns(f"{where}.time_column", spec.time_column, True, problems)
            )
        return day, clock

    def _bind_copy_columns(self, problems: list[str]) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        taken = {k.casefold() for k in self.mapping.custom_data}
        for pattern in self.mapping.copy_columns:
            matched = False
            for index, header in enumerate(self.headers):
                if fnmatchcase(header.strip().casefold(), pattern.strip().casefold()):
                    matched = True
                    key = custom_data_key(header, index)
                    if key.casefold() not in taken:
                        taken.add(key.casefold())
                        out.append((key, index))
            if not matched:
                self.notes.append(f"copy_columns: no column matches {pattern!r} in {self._file}")
        return out

    # --- mapping rows -----------------------------------------------------------------------

    def map_row(self, row: SourceRow) -> MappedRow:
        """Map one source row; problems are reported in the result, never raised."""
        cells = row.cells
        notes: list[str] = []
        candidates = [(_cell(cells, i), i in row.numeric) for i in self.phone_columns]
        raw, result = self._phones.first_usable(candidates)
        problem: Status | None = None
        if result.ok:
            notes += self._phone_notes(cells, raw, result)
        else:
            problem = Status(result.problem or "invalid_phone")
            if problem is Status.MISSING_PHONE or not result.reason:
                notes.append(self._phone_problem_text(problem))
            else:
                notes.append(result.reason)

        fields: dict[str, str] = {}
        name = self._text_field("CustomerName", self._name, cells, notes)
        priority = self._priority_field(row, notes)
        caller = self._caller_field(row, notes)
        originate, originate_text = self._originate_field(row, notes)
        if self._name is not None:
            fields["CustomerName"] = name or ""
        if self._priority is not None:
            fields["Priority"] = "" if priority is None else str(priority)
        if self._caller is not None:
            fields["CallerID"] = caller or ""
        if self._originate is not None:
            fields["OriginateTime"] = originate_text
        custom: dict[str, str] = {}
        for key, text, spec in self._custom:
            value = self._apply_map(key, text, spec, cells, notes)
            fields[key] = value or ""
            if value:
                custom[key] = value
        for key, index in self._copied:
            value = _cell(cells, index)
            fields[key] = value
            if value:
                custom[key] = value

        target = None
        if result.ok and result.e164:
            opts = self.mapping.options
            target = CallTarget(
                target=api_form(result.e164, self._send_as),
                customer_name=name or None,
                caller_id=caller,
                priority=priority,
                custom_data=custom or None,
                originate_time=originate,
                is_date_local=opts.is_date_local if originate is not None else None,
                ignore_dnc_status=True if opts.ignore_dnc else None,
            )
        return MappedRow(
            row=row,
            phone_raw=raw,
            phone=result,
            target=target,
            fields=fields,
            problem=problem,
            reason="; ".join(n for n in notes if n),
        )

    def _phone_problem_text(self, problem: Status) -> str:
        names = ", ".join(repr(self.headers[i]) for i in self.phone_columns)
        if problem is Status.MISSING_PHONE:
            return f"no phone number in {names}"
        return f"no usable phone number in {names}"

    def _phone_notes(self, cells: Sequence[str], raw: str, result: PhoneResult) -> list[str]:
        # first_usable already explains skipped columns; name the column used when it
        # was not the first one, so staff know which number the dialer will ring.
        notes: list[str] = []
        if result.reason and len(self.phone_columns) > 1:
            chosen = next((i for i in self.phone_columns if _cell(cells, i) == raw.strip()), None)
            if chosen is not None and chosen != self.phone_columns[0]:
                return [f"{result.reason}; used {self.headers[chosen]!r}"]
        if result.reason:
            notes.append(result.reason)
        return notes

    def _text_field(
        self, name: str, text: _Text | None, cells: Sequence[str], notes: list[str]
    ) -> str | None:
        if text is None:
            return None
        spec = getattr(self.mapping.fields, name)
        return self._apply_map(name, text, spec, cells, notes) or None

    def _apply_map(
        self, name: str, text: _Text | None, spec: TextSpec, cells: Sequence[str],
        notes: list[str],
    ) -> str:
        if text is None or text.absent:
            return ""
        value, _ = text.read(cells)
        if spec.map is None:
            return value or (spec.default or "")
        if not value:
            return spec.default or ""
        table = self._text_maps[name]
        key = normalize_value(value)
        if key in table:
            return table[key]
        if spec.default is not None:
            notes.append(f"{name}: {value!r} is not in the map; used the default {spec.default!r}")
            return spec.default
        return value

    def _priority_field(self, row: SourceRow, notes: list[str]) -> int | None:
        spec = self.mapping.fields.Priority
        if self._priority is None or spec is None or self._priority.absent:
            return None
        if spec.value is not None:
            return spec.value
        value, _ = self._priority.read(row.cells)
        if not value:
            return spec.default
        if self._priority_map is not None:
            table = self._priority_map
            key = normalize_value(value)
            if key in table:
                return table[key]
            what = "is not in the map"
        else:
            number = _int_text(value)
            if number is not None:
                return number
            what = "is not a whole number"
        if spec.default is not None:
            notes.append(f"Priority: {value!r} {what}; used the default {spec.default}")
        else:
            notes.append(f"Priority: {value!r} {what}; left out")
        return spec.default

    def _caller_field(self, row: SourceRow, notes: list[str]) -> str | None:
        if self._caller is None:
            return None
        if self._caller_const is not None:
            return self._caller_const
        value, index = self._caller.read(row.cells)
        if not value:
            return None
        result = self._caller_ids.normalize(value, numeric=index in row.numeric)
        if result.ok and result.e164:
            return api_form(result.e164, self._send_as)
        why = f" ({result.reason})" if result.reason else ""
        notes.append(f"CallerID {value!r} is not a valid phone number{why}; left out")
        return None

    def _originate_field(self, row: SourceRow, notes: list[str]) -> tuple[int | None, str]:
        spec = self.mapping.fields.OriginateTime
        if self._originate is None or spec is None:
            return None, ""
        day_text, clock_text = self._originate
        value, index = day_text.read(row.cells)
        if not value:
            return None, ""
        try:
            when = parse_when(
                value, numeric=index in row.numeric, day_first=spec.day_first, fmt=spec.format
            )
            clock = None
            if clock_text is not None:
                clock_value, clock_index = clock_text.read(row.cells)
                clock = parse_time_of_day(clock_value, numeric=clock_index in row.numeric)
                value = f"{value} {clock_value}".strip()
        except ValueError as exc:
            notes.append(
                f"OriginateTime: {exc}; left out (the lead is dialled as soon as possible)"
            )
            return None, ""
        assert when is not None
        hh, mm = (int(p) for p in spec.default_time.split(":"))
        when = combine(when, clock, clock_time(hh, mm))
        sent, utc_epoch, local = to_originate(
            when, ZoneInfo(spec.timezone), is_date_local=self.mapping.options.is_date_local
        )
        if utc_epoch < self._now:
            notes.append(
                f"OriginateTime {local:%d/%m/%Y %H:%M} is in the past; "
                "the dialer will call as soon as possible"
            )
        return sent, local.isoformat(timespec="minutes")


def _template_parts(template: str, resolved: dict[str, list[int]]) -> list[str | list[int]]:
    parts: list[str | list[int]] = []
    pos = 0
    for match in re.finditer(r"\{\{|\}\}|\{([^{}]*)\}", template):
        parts.append(template[pos:match.start()])
        token = match.group(0)
        if token in {"{{", "}}"}:
            parts.append(token[0])
        else:
            parts.append(resolved.get(match.group(1), []))
        pos = match.end()
    parts.append(template[pos:])
    return [p for p in parts if p != ""]


def _map_table(table: dict[str, V]) -> dict[str, V]:
    return {normalize_value(k): v for k, v in table.items()}


def suggest_mapping(path: Path, options: SourceOptions | None = None) -> str:
    """A ready mapping (YAML with comments) for a file, from its headers and contents."""
    from importer.mapping_suggest import suggest_mapping as _suggest

    text: str = _suggest(path, options)
    return text
