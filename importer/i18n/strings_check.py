"""Finding words for people that bypass the catalogue: an AST check of the modules that speak.

A string literal with letters is *user-facing* when it reaches an output sink: printed
(``click.echo``, ``click.secho``, ``console.print``, ``fail``), raised as a click error
(``BadParameter``, ``UsageError``), a rich ``Text``/``Table``/``Panel`` or a progress task, a
cell or sheet of the XLSX report (``cell``, ``create_sheet``, ``.title = ...``), a piece of a
notification (``Block``), or a ``message=``/``headline=``/``title=`` keyword; or when it is
assigned to, or returned as, a people's text in the note builders (names in
:data:`TEXT_NAMES`).  Such a literal must be inside ``_()`` or ``N_()``.

Precise rather than noisy: only literals with letters count (``""``, ``"  "``, ``"-----"``
and ``": "`` do not); what a sink receives is followed through f-strings, ``+``,
conditional expressions, ``.format()``/``.join()`` receivers and list/tuple displays, but
not into other calls (those are checked where they build their text); docstrings, log
calls and dict keys are never sinks.  ``# i18n: ok`` on the line lets a literal
through (a command name, a protocol word), and says why by being there.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SINKS", "TEXT_NAMES", "Finding", "check_file", "check_files"]

#: Calls whose arguments people read.
SINKS = frozenset({
    "echo", "secho", "print", "fail", "BadParameter", "UsageError", "ClickException",
    "Text", "Table", "Panel", "add_task", "cell", "create_sheet", "Block", "confirm", "prompt",
})
#: Sinks that take other things too: only these positional arguments are text.
SINK_ARGS: dict[str, tuple[int, ...]] = {"cell": (0,), "Block": (1,), "create_sheet": (0,)}
#: Keywords of a sink that are not text (styles, colours, option names).
NOT_TEXT_KEYWORDS = frozenset({"style", "fg", "bg", "param_hint", "err", "fill", "kind",
                               "bold", "size", "nl", "color"})
#: Keywords whose values people read, whatever the call.
SINK_KEYWORDS = frozenset({"message", "headline", "title"})
#: Names that hold people's text in the note and message builders.
TEXT_NAMES = frozenset({"message", "what", "how", "headline", "where", "text", "listed",
                        "fixes", "lines"})
_MARKERS = frozenset({"_", "N_"})
_LETTERS = re.compile(r"[^\W\d_]")
_ALLOW = "# i18n: ok"


@dataclass(frozen=True)
class Finding:
    """A user-facing literal outside the catalogue."""

    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r} is shown to people: wrap it in _() or N_()"


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _literals(node: ast.expr) -> Iterator[ast.Constant]:
    """The string literals ``node`` passes on as text (not those inside other calls)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node
    elif isinstance(node, ast.JoinedStr):
        for part in node.values:
            if isinstance(part, ast.Constant):
                yield part
    elif isinstance(node, ast.BinOp):
        yield from _literals(node.left)
        yield from _literals(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _literals(node.body)
        yield from _literals(node.orelse)
    elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        for item in node.elts:
            yield from _literals(item)
    elif isinstance(node, ast.Starred):
        yield from _literals(node.value)
    elif isinstance(node, ast.Call):
        func = node.func
        if _name(func) in _MARKERS:
            return
        # "text".format(...) and ", ".join(...): the receiver is the text.
        if (isinstance(func, ast.Attribute) and func.attr in {"format", "join"}
                and isinstance(func.value, (ast.Constant, ast.JoinedStr, ast.Call))):
            yield from _literals(func.value)
            if func.attr == "join":
                for arg in node.args:
                    yield from _literals(arg)


def _values_of_call(node: ast.Call) -> Iterator[ast.expr]:
    name = _name(node.func)
    if name in SINKS:
        wanted = SINK_ARGS.get(name)
        yield from (a for i, a in enumerate(node.args) if wanted is None or i in wanted)
        yield from (k.value for k in node.keywords if k.arg not in NOT_TEXT_KEYWORDS)
    else:
        yield from (k.value for k in node.keywords if k.arg in SINK_KEYWORDS)


def _sink_values(tree: ast.AST) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield from _values_of_call(node)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None and any(
                _name(t) in TEXT_NAMES or (isinstance(t, ast.Attribute) and t.attr == "title")
                for t in targets
            ):
                yield node.value
    yield from _text_calls(tree)


def _text_calls(tree: ast.AST) -> Iterator[ast.expr]:
    """``lines.append("...")`` / ``lines.extend([...])`` / ``lines += [...]``: note lines."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"append", "extend"}
                and _name(node.func.value) in TEXT_NAMES):
            yield from node.args


def check_file(path: Path, shown_as: str | None = None) -> list[Finding]:
    """Every user-facing literal of ``path`` that is not in the catalogue."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    found: dict[tuple[int, str], Finding] = {}
    for value in _sink_values(tree):
        for literal in _literals(value):
            text = literal.value
            line = literal.lineno
            if not isinstance(text, str) or not _LETTERS.search(text):
                continue
            if _ALLOW in lines[line - 1]:
                continue
            found[(line, text)] = Finding(shown_as or str(path), line, text)
    return sorted(found.values(), key=lambda f: (f.line, f.text))


def check_files(paths: list[Path], root: Path) -> list[Finding]:
    """:func:`check_file` over ``paths``, named relative to ``root``."""
    findings: list[Finding] = []
    for path in paths:
        findings += check_file(path, str(path.relative_to(root)))
    return findings
