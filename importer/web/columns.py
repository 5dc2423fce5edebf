"""The Columns page's choices, one per source column, and the mapping they stand for.

A mapping is data (YAML written by the YAML library, never pasted text).  Its
columns' roles are read from it (``roles``); the user's choices are applied to
it (``apply_choices``) by changing only what a changed choice touches, so what
a suggestion knew (a temperature map for Priority, first and family name joined
for CustomerName, a column that is both Priority and a screen-pop value) stays
as long as the user leaves those columns alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from importer.headers import custom_data_key
from importer.i18n import _
from importer.mapping.schema import template_placeholders

__all__ = ["FIELDS", "ROLES", "Choice", "apply_choices", "dump_mapping", "roles"]

FIELDS = ("CustomerName", "Priority", "OriginateTime", "CallerID")
#: What a column can be: the phone, a second phone, a field, a screen-pop key, nothing.
ROLES = ("phone", "phone2", *FIELDS, "custom", "ignore")
_KEY = re.compile(r"^var_\w{1,60}$", re.ASCII)


@dataclass(frozen=True, slots=True)
class Choice:
    """What one source column is: its role, and its key when the role is ``custom``."""

    column: str
    role: str
    key: str = ""


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def spec_columns(spec: Any) -> list[str]:
    """The source columns a field or custom-data spec reads, in order."""
    if isinstance(spec, str | int | float | list) and not isinstance(spec, bool):
        return _as_list(spec)
    if not isinstance(spec, dict):
        return []
    columns = _as_list(spec.get("column"))
    if isinstance(spec.get("template"), str):
        columns += template_placeholders(spec["template"])
    for key in ("columns_fallback", "date_column", "time_column"):
        columns += _as_list(spec.get(key))
    return list(dict.fromkeys(columns))


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def roles(data: dict[str, Any], columns: list[str]) -> list[Choice]:
    """Each column's role in the mapping: phone first, then fields, then custom data."""
    phone = _section(data, "phone")
    phones = _as_list(phone.get("columns"))
    fields = _section(data, "fields")
    custom = _section(data, "custom_data")
    out = []
    for column in columns:
        if phones and column == phones[0]:
            out.append(Choice(column, "phone"))
        elif column in phones:
            out.append(Choice(column, "phone2"))
        elif field := next((f for f in FIELDS if column in spec_columns(fields.get(f))), None):
            out.append(Choice(column, field))
        elif key := next((str(k) for k, s in custom.items() if column in spec_columns(s)), ""):
            out.append(Choice(column, "custom", key))
        else:
            out.append(Choice(column, "ignore"))
    return out


def _custom_key(choice: Choice, index: int) -> str:
    key = choice.key.strip()
    if key and not key.startswith("var_"):
        key = "var_" + key
    return key if _KEY.fullmatch(key) else custom_data_key(choice.column, index)


def apply_choices(
    data: dict[str, Any], columns: list[str], choices: list[Choice]
) -> tuple[dict[str, Any], list[str]]:
    """The mapping with the user's choices applied, and what is wrong with them."""
    data = dict(data)
    before = {c.column: c for c in roles(data, columns)}
    chosen = {c.column: c for c in choices if c.column in before}
    # Columns not sent keep their role; a choice for a column the file lacks is ignored.
    final = [chosen.get(column, before[column]) for column in columns]
    problems: list[str] = []
    wanted_phones = [c.column for c in final if c.role == "phone"]
    wanted_phones += [c.column for c in final if c.role == "phone2"]
    if not [c for c in final if c.role == "phone"]:
        problems.append(_("Choose the column that holds the phone number."))
    elif len([c for c in final if c.role == "phone"]) > 1:
        problems.append(_("Only one column can be the phone; make the others a second phone."))
    phone = dict(data.get("phone") or {})
    if wanted_phones and wanted_phones != _as_list(phone.get("columns")):
        phone["columns"] = wanted_phones
    data["phone"] = phone
    data["fields"] = _fields(dict(data.get("fields") or {}), final, problems)
    data["custom_data"] = _custom(dict(data.get("custom_data") or {}), before, final, columns)
    for key in ("fields", "custom_data"):
        if not data[key]:
            del data[key]
    return data, problems


def _fields(fields: dict[str, Any], final: list[Choice], problems: list[str]) -> dict[str, Any]:
    for name in FIELDS:
        wanted = [c.column for c in final if c.role == name]
        if set(wanted) == set(spec_columns(fields.get(name))):
            continue  # unchanged: keep what the mapping says (maps, templates, time zones)
        if not wanted:
            fields.pop(name, None)
        elif name == "CustomerName" and len(wanted) > 1:
            if any(ch in col for col in wanted for ch in "{}"):
                problems.append(_("A column whose title holds {braces} cannot be part of the "
                                  "name.", braces="{ }"))
            fields[name] = {"template": " ".join("{" + col + "}" for col in wanted)}
        elif len(wanted) > 1:
            problems.append(_("Only one column can be {field}.", field=name))
        else:
            fields[name] = {"column": wanted[0]}
    return fields


def _custom(
    custom: dict[str, Any], before: dict[str, Choice], final: list[Choice], columns: list[str]
) -> dict[str, Any]:
    by_column = {c.column: c for c in final}
    kept: dict[str, Any] = {}
    for key, spec in custom.items():
        cols = spec_columns(spec)
        # An entry stays while each of its columns is left as it was, or still goes to this key.
        if all(
            c not in by_column
            or by_column[c] == before.get(c)
            or (by_column[c].role == "custom" and _custom_key(by_column[c], 0) == key)
            for c in cols
        ):
            kept[str(key)] = spec
    taken = {k.casefold() for k in kept}
    for index, column in enumerate(columns):
        choice = by_column[column]
        if choice.role != "custom" or any(column in spec_columns(s) for s in kept.values()):
            continue
        key = _custom_key(choice, index)
        base, n = key, 2
        while key.casefold() in taken or key.casefold() == "var_importref":
            key, n = f"{base}{n}", n + 1
        taken.add(key.casefold())
        kept[key] = column
    return kept


def dump_mapping(data: dict[str, Any]) -> str:
    """The mapping as YAML text, by the YAML library."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1_000_000)
