"""The one way lead-importer reads the YAML people write: mappings, inbox.yaml, settings files.

PyYAML follows YAML 1.1, where ``no`` is false, ``0123`` is the octal number 83,
``2024-01-02`` is a date and a key written twice silently keeps its second value.
Here ``yes``/``no``/``on``/``off``, numbers with a leading zero and dates stay the
text that was written, and every repeated key is a problem naming its line.
Problems are returned (``parse_yaml``) or raised as one ConfigFileError listing
them all (``read_yaml``); nothing is printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from importer.errors import ConfigError, ConfigFileError

__all__ = ["ParsedYaml", "parse_yaml", "read_yaml"]

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """YAML without the surprises: ``yes``/``no``/``on``/``off``, ``0722776772`` and dates stay
    text, and repeated keys are reported instead of silently overwritten."""

    duplicates: list[tuple[int, str]]   # (line, problem)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in {_BOOL, _INT, _TIMESTAMP}]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    _INT, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789")
)


class _TextLoader(_Loader):
    """Every plain value is text (an empty value or ``null`` is None), as in a ``.env`` file."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag in {_NULL, _MERGE}]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hashable = key in seen
        except TypeError:
            continue
        if hashable:
            line = key_node.start_mark.line + 1
            problem = f"line {line}: key {key!r} appears twice (the second one would silently win)"
            loader.duplicates.append((line, problem))
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


@dataclass(frozen=True, slots=True)
class ParsedYaml:
    """One YAML document: its data (None when unreadable), its problems, its top-level key lines."""

    data: Any
    problems: list[str] = field(default_factory=list)
    # The line (from 1) of each top-level key, by the key's text as written.
    key_lines: Mapping[str, int] = field(default_factory=dict)


def _key_lines(node: yaml.Node | None) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        str(key.value): key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def parse_yaml(text: str, *, plain_text: bool = False) -> ParsedYaml:
    """Read YAML without 1.1 surprises; ``plain_text``: every unquoted value stays text too."""
    loader = (_TextLoader if plain_text else _Loader)(text)
    loader.duplicates = []
    try:
        node = loader.get_single_node()
        lines = _key_lines(node)
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return ParsedYaml(None, [f"{where}not valid YAML: {exc.problem}"])
    except yaml.YAMLError as exc:
        return ParsedYaml(None, [f"not valid YAML: {exc}"])
    finally:
        loader.dispose()
    # Keys are checked level by level; the reader wants them in the order of the file.
    problems = [text for _, text in sorted(loader.duplicates, key=lambda item: item[0])]
    return ParsedYaml(data, problems, lines)


def read_yaml(
    text: str,
    source_name: str,
    *,
    error: Callable[[str, list[str]], ConfigError] = ConfigFileError,
    plain_text: bool = False,
) -> Any:
    """The data of a YAML text; ``error(source_name, problems)`` is raised when there are any."""
    parsed = parse_yaml(text, plain_text=plain_text)
    if parsed.problems:
        raise error(source_name, parsed.problems)
    return parsed.data
