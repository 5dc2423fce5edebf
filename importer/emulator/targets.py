"""How the emulator reads a target's fields: phone numbers, priorities, booleans, custom data.

Assumptions where the vendor page is silent (the emulator's documented behaviour):

* **Phone numbers** are validated with ``phonenumbers`` (validity follows the allocated
  number blocks, so ``050-1234567`` is *invalid*) and stored as international digits without
  ``+`` (``972521234567``), whichever accepted form came in:

  - ``+972...`` and ``00972...`` (any country after ``+`` / ``00``);
  - a leading single ``0``: an Israeli national number (``0521234567``);
  - other digits: first read as E.164 without ``+`` (``972521234567``, ``12125550123``),
    and only if that is not a valid number, as an Israeli national number without its
    leading zero (Israeli ``1-800`` numbers are dialled without a zero);
  - separators (spaces, dashes, dots, brackets) are ignored; a JSON number is read as
    its digits.

  Anything else (letters, star numbers, unallocated blocks, a foreign number written
  nationally) is ``-2 Number is invalid``.
* **Priority**: an integer, a string of digits (optionally signed) or an integral float
  (``42.0``); absent means ``1`` (every example on the vendor page shows ``1``).
  Anything else (``"high"``, ``true``, ``4.5``) rejects the target with
  ``3 Invalid value for Priority`` — a real client must not send it.
* **OriginateTime**: epoch seconds as an integer or a string of digits; else code 3.
* **IsDateLocal / IgnoreDncStatus**: JSON booleans, the strings ``"true"``/``"false"``
  (any case) or the integers ``1``/``0``; else code 3. The Hebrew page lets DNC numbers
  through "if you pass" IgnoreDncStatus, so a real server may act on its mere presence;
  the emulator keeps the value but has no DNC list, so it changes nothing either way.
* **CustomData**: a JSON object, stored and returned as given. In GET requests it is made
  of the ``var_*`` query parameters (keys kept with their ``var_`` prefix, values as
  strings); a GET ``CustomData`` parameter holding a JSON object is also read. Anything
  that is not an object is code 3.
* **CustomerName / CallerID**: strings; numbers are turned into their text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers

__all__ = [
    "FieldError",
    "TargetFields",
    "normalize_phone",
    "parse_bool",
    "parse_custom_data",
    "parse_int",
    "parse_target_fields",
]

_SEPARATORS = re.compile(r"[\s\-./()\u2010-\u2015\u200e\u200f]")
_SIGNED_DIGITS = re.compile(r"[+-]?\d+")


class FieldError(ValueError):
    """A target field has a value the emulator refuses (ErrorCode 3)."""

    def __init__(self, field_name: str) -> None:
        super().__init__(f"Invalid value for {field_name}")
        self.field_name = field_name


@lru_cache(maxsize=200_000)
def normalize_phone(raw: str) -> str | None:
    """International digits without ``+`` for an acceptable number, else None."""
    text = _SEPARATORS.sub("", raw.strip())
    if not text:
        return None
    if text.startswith("+"):
        candidates = [text]
    elif text.startswith("00"):
        candidates = ["+" + text[2:]]
    elif text.startswith("0"):
        candidates = [text]
    else:
        candidates = ["+" + text, text]
    for candidate in candidates:
        if not candidate.lstrip("+").isdigit():
            return None
        try:
            number = phonenumbers.parse(candidate, "IL")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return None


def parse_int(value: Any, field_name: str) -> int:
    """An integer from an int, a string of digits or an integral float."""
    if isinstance(value, bool):
        raise FieldError(field_name)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _SIGNED_DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    raise FieldError(field_name)


def parse_bool(value: Any, field_name: str) -> bool:
    """A boolean from true/false, "true"/"false" or 1/0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "1"}:
            return True
        if lowered in {"false", "0"}:
            return False
    raise FieldError(field_name)


def parse_custom_data(value: Any) -> dict[str, Any]:
    """CustomData must be a JSON object."""
    if isinstance(value, dict):
        return value
    raise FieldError("CustomData")


def _text(value: Any, field_name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise FieldError(field_name)


@dataclass(frozen=True, slots=True)
class TargetFields:
    """The optional fields of one target, parsed; ``present`` names the ones sent."""

    customer_name: str | None = None
    caller_id: str | None = None
    priority: int | None = None
    custom_data: dict[str, Any] | None = None
    originate_time: int | None = None
    is_date_local: bool | None = None
    ignore_dnc_status: bool | None = None
    present: frozenset[str] = frozenset()


def parse_target_fields(params: dict[str, Any]) -> TargetFields:
    """Parse the optional target fields of a lower-cased parameter dict (raises FieldError)."""
    present: set[str] = set()
    values: dict[str, Any] = {}
    readers: dict[str, tuple[str, Any]] = {
        "customername": ("customer_name", lambda v: _text(v, "CustomerName")),
        "callerid": ("caller_id", lambda v: _text(v, "CallerID")),
        "priority": ("priority", lambda v: parse_int(v, "Priority")),
        "customdata": ("custom_data", parse_custom_data),
        "originatetime": ("originate_time", lambda v: parse_int(v, "OriginateTime")),
        "isdatelocal": ("is_date_local", lambda v: parse_bool(v, "IsDateLocal")),
        "ignoredncstatus": ("ignore_dnc_status", lambda v: parse_bool(v, "IgnoreDncStatus")),
    }
    for key, (attr, reader) in readers.items():
        if key not in params or params[key] is None:
            continue
        raw = params[key]
        if isinstance(raw, str) and not raw.strip() and key != "customername":
            continue  # an empty GET parameter means "not given"
        values[attr] = reader(raw)
        present.add(attr)
    return TargetFields(present=frozenset(present), **values)
