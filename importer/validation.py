"""Pydantic validation errors as plain sentences: one per problem, in the order of the file.

Every file people write (a mapping, ``inbox.yaml``, a settings file) is checked
by a pydantic model and its problems are told the same way: the place
(``phone.columns``), then what is wrong; an unknown key gets a "did you mean"
from the keys allowed at that place.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

__all__ = [
    "Where",
    "as_text",
    "did_you_mean",
    "dotted",
    "numbered",
    "sentences",
    "unknown_key",
]

# Renders an error's location (the path of keys and list positions) for a reader.
Where = Callable[[tuple[int | str, ...], Any], str]


def as_text(value: Any) -> Any:
    """Numbers (and true/false) written without quotes in YAML are still text values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def did_you_mean(word: str, allowed: Iterable[str]) -> str | None:
    """The allowed word closest to ``word`` (ignoring case), or None when none is close."""
    folded = {a.casefold(): a for a in allowed}
    close = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None


def unknown_key(where: str, key: str, allowed: Sequence[str], hint: str | None = None) -> str:
    """``where: unknown key 'x'`` with the hint, else a "did you mean", else the allowed keys.

    ``where`` may be empty when the sentence already says where (a line number).
    """
    text = f"{where}: unknown key {key!r}" if where else f"unknown key {key!r}"
    close = did_you_mean(key, allowed)
    if hint:
        text += f" — {hint}"
    elif close:
        text += f" — did you mean {close!r}?"
    elif allowed:
        text += f" (allowed here: {', '.join(allowed)})"
    return text


def dotted(loc: tuple[int | str, ...], data: Any) -> str:
    """``phone.allow_types.1``: the keys and list positions (from 0) joined by dots."""
    return ".".join(str(p) for p in loc)


def numbered(loc: tuple[int | str, ...], data: Any) -> str:
    """``inboxes[2] (Facebook).mode``: list items counted from 1 and named by their ``name``."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item + 1}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    label = f"[{item + 1}] ({node['name']})"
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
            continue
        parts.append(str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def sentences(
    exc: ValidationError,
    root: type[BaseModel],
    data: Any,
    *,
    where: Where = dotted,
    key_hint: Callable[[str, str], str | None] | None = None,
    required_hint: Callable[[tuple[str, ...]], str] | None = None,
    key_lines: Mapping[str, int] | None = None,
    secret: Collection[str] = (),
) -> list[str]:
    """Plain sentences for ``root.model_validate(data)``'s errors, in the order of ``data``'s keys.

    ``key_hint(key, place)`` may explain an unknown key better than a "did you mean";
    ``required_hint(loc)`` is added to "is required"; ``key_lines`` (top-level key ->
    line) puts "line N: " first; the input is never repeated for a key in ``secret``.
    """
    order = [str(k) for k in data] if isinstance(data, dict) else []

    def position(err: Any) -> int:
        first = str(err["loc"][0]) if err["loc"] else ""
        return order.index(first) if first in order else len(order)

    out: list[str] = []
    for err in sorted(exc.errors(include_url=False), key=position):
        loc = _field_path(err["loc"])
        line = key_lines.get(str(loc[0])) if key_lines and loc else None
        if err["type"] == "extra_forbidden":
            # "line 3: unknown key 'x'" is clear enough for a top-level key
            place = where(loc[:-1], data) or ("" if line is not None else "top level")
            key = str(loc[-1])
            hint = key_hint(key, place) if key_hint else None
            text = unknown_key(place, key, _allowed_keys(_model_at(root, loc[:-1])), hint)
        else:
            place = where(loc, data)
            message = _message(err, loc, required_hint, secret)
            text = f"{place}: {message}" if place else message
        out.append(f"line {line}: {text}" if line is not None else text)
    return list(dict.fromkeys(out))


def _field_path(loc: Sequence[int | str]) -> tuple[int | str, ...]:
    # pydantic adds the validator or lax/strict branch to some locations; readers know fields.
    return tuple(
        p for p in loc if not (isinstance(p, str) and p.startswith(("function-", "lax-")))
    )


def _message(
    err: Any,
    loc: tuple[int | str, ...],
    required_hint: Callable[[tuple[str, ...]], str] | None,
    secret: Collection[str],
) -> str:
    kind = err["type"]
    if kind == "missing":
        return "is required" + (required_hint(tuple(str(p) for p in loc)) if required_hint else "")
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return "should be a set of 'key: value' lines"
    if kind == "list_type":
        return "should be a list, e.g. [a, b]"
    message = str(err["msg"]).removeprefix("Value error, ")
    shown = err.get("input")
    if (
        kind != "value_error"
        and isinstance(shown, str | int | float | bool)
        and not any(str(p) in secret for p in loc)
    ):
        message = f"{message} (got {shown!r})"
    return message


def _allowed_keys(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose keys are allowed at ``loc`` (None: not a model there)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            current = _field_annotation(current, str(part))
            if current is None:
                return None
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) in {list, tuple} and isinstance(part, int):
            current = get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field_annotation(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in {name, info.alias}:
            return info.annotation
    return None


def _unwrap(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        for arg in get_args(annotation):
            if (isinstance(arg, type) and issubclass(arg, BaseModel)) or get_origin(arg) in {
                dict,
                list,
            }:
                return arg
    return annotation
