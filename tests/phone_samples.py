"""Phone numbers for tests: generated and checked, because many "test numbers" are invalid.

phonenumbers follows Google's list of allocated blocks: 050-1234567, 052-1234567 and the
whole 058-1xxxxxx range are not valid numbers, while 053-1000000 upward are.
"""

from __future__ import annotations

import phonenumbers


def valid_mobiles(count: int, start: int = 1_000_000, prefix: str = "053") -> list[str]:
    """``count`` Israeli mobile numbers (local form, 05X…) that phonenumbers accepts."""
    out: list[str] = []
    n = start
    while len(out) < count:
        local = f"{prefix}{n:07d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(local, "IL")):
            out.append(local)
        n += 1
    return out


def e164(local: str) -> str:
    """+972… for an Israeli local number."""
    return "+972" + local[1:]
