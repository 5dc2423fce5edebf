"""The bound mapping run over a block: every field as a column, each rule once per value.

Each field is the row engine's own step (``BoundMapping.steps()`` and
``BoundMapping.map_phone``) run once per distinct input of the cells it reads; notes
are joined in the row engine's order (phone, then each field in report order).  No
rule is implemented twice: what is columnar here is only *when* a rule runs.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from importer.dialer.models import CallTarget
from importer.engine import helper as helpers
from importer.engine.blocks import Block
from importer.engine.distinct import Distinct, by_distinct, by_distinct_text
from importer.engine.helper import Helper, PhoneOut, PhoneOuts
from importer.engine.reasons import ReasonColumn
from importer.i18n.reasons import join_reasons
from importer.mapping import BoundMapping
from importer.mapping.binder import EXTENSION_KEY, FieldStep, call_target, cell_value, unescaped
from importer.report.writer import ReasonTexts

__all__ = [
    "PY_WHITESPACE",
    "BlockMapper",
    "MappedBlock",
    "PhoneOut",
    "PlainColumn",
    "StepColumn",
]

_StepOut = tuple[str, object, str]
_NO_NUMERIC: frozenset[int] = frozenset()


@dataclass(slots=True)
class MappedBlock:
    """A block after mapping: per row the phone, each field, the notes and the target parts."""

    block: Block
    phone: Distinct[PhoneOut]
    steps: list[tuple[FieldStep, StepColumn]]
    usable: npt.NDArray[np.bool_]          # the row has a number to send (target not None)
    bound: BoundMapping
    _reasons: tuple[ReasonTexts, ReasonColumn] | None = None

    def __len__(self) -> int:
        return len(self.block)

    def phone_raw(self) -> pa.Array:
        """The phone cell(s) as read, per row."""
        return self.phone.column(0)

    def e164(self) -> pa.Array:
        """E.164 for usable rows, "" otherwise (as the report's phone column)."""
        return self.phone.column(4)

    def field_texts(self) -> list[tuple[str, pa.Array]]:
        """(field name, report text per row) in report order."""
        return [(step.name, out.texts()) for step, out in self.steps]

    def reasons(self, texts: ReasonTexts) -> ReasonColumn:
        """The mapping's notes per row, joined as the row engine joins them and shown as
        ``texts`` shows them (made once per block)."""
        if self._reasons is None or self._reasons[0] is not texts:
            joined = ReasonColumn.spread(self.phone.part(3), self.phone.codes, texts)
            for _, out in self.steps:
                if out.has_notes():
                    joined = joined.then(out.reasons(texts))
            self._reasons = (texts, joined)
        return self._reasons[1]

    def target(self, index: int) -> CallTarget | None:
        """Row ``index``'s call target, built as ``BoundMapping.map_row`` builds it."""
        _raw, result, problem, _, _ = self.phone.at(index)
        e164 = result.e164
        if problem is not None or not e164:
            return None
        name: str | None = None
        priority: int | None = None
        caller: str | None = None
        originate: int | None = None
        custom: dict[str, str] = {}
        for step, out in self.steps:
            text, value, _ = out.at(index)
            role = step.role
            if role == "custom":
                if text:
                    custom[step.name] = text
            elif role == "name":
                name = value  # type: ignore[assignment]
            elif role == "priority":
                priority = value  # type: ignore[assignment]
            elif role == "caller":
                caller = value  # type: ignore[assignment]
            else:
                originate = value  # type: ignore[assignment]
        extension = result.extension
        if extension and not custom.get(EXTENSION_KEY):
            custom[EXTENSION_KEY] = extension
        bound = self.bound
        return call_target(
            bound.send_form(e164),
            name,
            caller,
            priority,
            custom or None,
            originate,
            bound.mapping.options.is_date_local if originate is not None else None,
            bound.ignore_dnc,
        )

    def fields(self, index: int) -> dict[str, str]:
        """Row ``index``'s report values, as ``MappedRow.fields``."""
        return {step.name: out.at(index)[0] for step, out in self.steps}

    def reason(self, index: int) -> str:
        """Row ``index``'s notes joined (the row engine's ``MappedRow.reason``)."""
        notes = [self.phone.at(index)[3]]
        notes += [out.at(index)[2] for _, out in self.steps]
        return join_reasons(*notes)


class StepColumn:
    """One field over a block: a rule's results per distinct input (``Distinct``)."""

    def __init__(self, results: Distinct[_StepOut]) -> None:
        self.results = results

    def texts(self) -> pa.Array:
        """The report text per row."""
        return self.results.column(0)

    def has_notes(self) -> bool:
        """Whether any row has a note."""
        return any(self.results.part(2))

    def reasons(self, texts: ReasonTexts) -> ReasonColumn:
        """The note per row as ``texts`` shows it, with its code."""
        return ReasonColumn.spread(self.results.part(2), self.results.codes, texts)

    def at(self, index: int) -> _StepOut:
        """Row ``index``'s (text, value sent, note)."""
        return self.results.at(index)


class PlainColumn(StepColumn):
    """A column copied as it is (stripped, without Excel's text mark), computed on the
    whole column: ``cell_value`` runs only on the few cells that start with ' or =."""

    def __init__(self, values: pa.Array) -> None:
        stripped = pc.utf8_trim(values, characters=PY_WHITESPACE)
        marked = pc.or_(pc.starts_with(stripped, "'"), pc.starts_with(stripped, "="))
        if pc.any(marked).as_py():
            chosen = pc.filter(stripped, marked).to_pylist()
            fixed = pa.array([cell_value(v) for v in chosen], type=pa.string())
            stripped = pc.replace_with_mask(stripped, marked, fixed)
        self.values = stripped
        self._texts: list[str] | None = None

    def texts(self) -> pa.Array:
        """The report text per row."""
        return self.values

    def has_notes(self) -> bool:
        """Never."""
        return False

    def at(self, index: int) -> _StepOut:
        """Row ``index``'s (text, text or None, "")."""
        if self._texts is None:  # a real import asks row by row: one conversion per block
            self._texts = self.values.to_pylist()
        text = self._texts[index]
        return text, text or None, ""


#: What ``str.strip()`` removes: every character ``str.isspace()`` accepts (a test checks
#: this against the running Python).
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class BlockMapper:
    """Runs one bound mapping over blocks of one sheet."""

    def __init__(self, bound: BoundMapping) -> None:
        self.bound = bound
        self.steps = bound.steps()
        self.width = bound.width
        self._blank = [""] * bound.width
        self._single_phone = bound.single_phone_column
        self._phone_cell = bound.phone_cell_rule()
        self._helper: Helper | None = None

    def map_block(self, block: Block) -> MappedBlock:
        """Map every row of ``block``."""
        return self._finish(self._start(block))

    def map_blocks(
        self, blocks: Iterable[Block], helpers_held: list[Helper] | None = None
    ) -> Generator[MappedBlock, None, None]:
        """``map_block`` over ``blocks``, in order.  On a big file with a core to spare, a
        helper process (appended to ``helpers_held``, which the caller closes) normalises
        each block's phones while the caller uses the block before."""
        ahead: _Started | None = None
        for number, block in enumerate(blocks):
            ready = self._finish(ahead) if ahead is not None else None
            if (number and helpers_held is not None and not helpers_held
                    and self._single_phone and len(block) >= helpers.MIN_ROWS
                    and helpers.wanted()):
                helpers_held.append(Helper(self._phone_cell))
                self._helper = helpers_held[0]
            ahead = self._start(block)
            if ready is not None:
                yield ready
        if ahead is not None:
            yield self._finish(ahead)

    def _start(self, block: Block) -> _Started:
        """Everything but the phones of a block handed to the helper."""
        columns = block.columns
        if self.bound.unescapes:
            columns = [_per_value(c, unescaped) for c in columns]
        n = len(block)
        phone_columns = self.bound.phone_columns
        phone: Distinct[PhoneOut] | _Asked
        if self._single_phone and phone_columns[0] not in block.numeric:
            helper = self._helper
            if helper is not None and helper.alive:
                phone = _Asked(helper.phones(columns[phone_columns[0]]))
            else:
                phone = by_distinct_text(columns[phone_columns[0]], self._phone_cell)
        else:
            phone = by_distinct(
                [columns[i] for i in phone_columns],
                [block.numeric.get(i) for i in phone_columns],
                self._phone_rule,
                n,
            )
        outs: list[tuple[FieldStep, StepColumn]] = []
        for step in self.steps:
            outs.append((step, self._run_step(step, columns, block, n)))
        return _Started(block, phone, outs)

    def _finish(self, started: _Started) -> MappedBlock:
        phone = started.phone
        if isinstance(phone, _Asked):
            ids, outputs = phone.answer()
            if isinstance(outputs, PhoneOuts):
                phone = Distinct(ids, outputs, outputs.parts(), _arrays=outputs.arrays())
            else:
                phone = Distinct(ids, outputs)
        n = len(started.block)
        sendable = pc.not_equal(phone.values(4), "").to_numpy(zero_copy_only=False)
        usable = sendable[phone.codes] if len(phone.outputs) else np.zeros(n, dtype=np.bool_)
        return MappedBlock(started.block, phone, started.steps, usable, self.bound)

    def _phone_rule(self, inputs: tuple[tuple[str, bool], ...]) -> PhoneOut:
        notes: list[str] = []
        cells, numbers = self._cells(self.bound.phone_columns, inputs)
        raw, result, problem = self.bound.map_phone(cells, numbers, notes)
        e164 = result.e164 or "" if problem is None else ""
        return raw, result, problem, join_reasons(*notes), e164

    def _run_step(
        self, step: FieldStep, columns: list[pa.Array], block: Block, n: int
    ) -> StepColumn:
        if step.plain is not None:
            return PlainColumn(columns[step.plain])
        compute = step.compute
        assert compute is not None
        wanted = step.columns

        def rule(inputs: tuple[tuple[str, bool], ...]) -> _StepOut:
            cells, numeric = self._cells(wanted, inputs)
            return compute(cells, numeric)

        return StepColumn(by_distinct(
            [columns[i] for i in wanted],
            [block.numeric.get(i) if step.reads_numeric else None for i in wanted],
            rule,
            n,
        ))

    def _cells(
        self, wanted: Sequence[int], inputs: tuple[tuple[str, bool], ...]
    ) -> tuple[list[str], frozenset[int]]:
        cells = self._blank.copy()
        if len(wanted) == 1:
            text, is_number = inputs[0]
            cells[wanted[0]] = text
            return cells, frozenset(wanted) if is_number else _NO_NUMERIC
        numeric: set[int] = set()
        for column, (text, is_number) in zip(wanted, inputs, strict=True):
            cells[column] = text
            if is_number:
                numeric.add(column)
        return cells, frozenset(numeric)


@dataclass(slots=True)
class _Asked:
    """A block's phone column, in the helper's hands."""

    answer: Callable[[], tuple[npt.NDArray[np.int64], Sequence[PhoneOut]]]


@dataclass(slots=True)
class _Started:
    """A block mapped but for the phones it asked the helper for."""

    block: Block
    phone: Distinct[PhoneOut] | _Asked
    steps: list[tuple[FieldStep, StepColumn]]


def _per_value(array: pa.Array, rule: object) -> pa.Array:
    """``rule`` (str -> str) applied to each distinct value of ``array``."""
    assert callable(rule)
    encoded = pc.dictionary_encode(array)
    values = pa.array([rule(v) for v in encoded.dictionary.to_pylist()], type=pa.string())
    return values.take(encoded.indices)
