"""Small helpers for the emulator tests: plain ``requests`` calls and valid phone numbers."""

from __future__ import annotations

from functools import cache
from typing import Any

import phonenumbers
import requests

from importer.emulator.server import EmulatorServer


def post(server: EmulatorServer, method: str, body: Any = None, **kwargs: Any) -> requests.Response:
    """POST a JSON body to ``<base>/<method>``."""
    return requests.post(f"{server.base_url}/{method}", json=body, timeout=30, **kwargs)


def get(server: EmulatorServer, method: str, **params: Any) -> requests.Response:
    """GET ``<base>/<method>?params``."""
    return requests.get(f"{server.base_url}/{method}", params=params, timeout=30)


def api(server: EmulatorServer, method: str, body: Any = None) -> dict[str, Any]:
    """POST and return the JSON envelope of an HTTP 200 answer."""
    response = post(server, method, body)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    data = response.json()
    assert isinstance(data["ErrorCode"], int)
    assert isinstance(data["Description"], str)
    return data


@cache
def valid_mobiles(count: int) -> tuple[str, ...]:
    """``count`` distinct valid Israeli mobile numbers in local form (05X...), checked."""
    out: list[str] = []
    n = 0
    while len(out) < count:
        local = f"0502{n:06d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(local, "IL")):
            out.append(local)
        n += 1
    return tuple(out)


def intl(local: str) -> str:
    """The digits the emulator stores for a local Israeli number."""
    return "972" + local[1:]
