"""A block's reasons as the report shows them: the text in the run's language and the code.

The row engine renders each row's :class:`~importer.i18n.reasons.Reason` when it writes the
report (``ReportWriter.reason_texts``, once per distinct reason).  Here a reason is rendered
once per distinct value of the rule that made it, and the two columns are spread over the
rows by index and joined as the row engine joins reasons: rendering parts and joining them
with SEPARATOR is rendering their ``join_reasons``, and the code of a joined reason is its
first part's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from importer.i18n.reasons import SEPARATOR
from importer.report.block import string_buffers
from importer.report.writer import ReasonTexts

__all__ = ["ReasonColumn"]


@dataclass(frozen=True, slots=True)
class ReasonColumn:
    """Per row: the reason as the report shows it, and its ``reason_code`` ("" for none)."""

    shown: pa.Array
    code: pa.Array

    @classmethod
    def spread(
        cls, reasons: Sequence[str], picks: pa.Array | npt.NDArray[np.int64], texts: ReasonTexts
    ) -> ReasonColumn:
        """Row i's reason is ``reasons[picks[i]]``: each distinct reason rendered once."""
        # Most results carry no reason ("" renders as "", ""): only the others are asked.
        shown = [""] * len(reasons)
        codes = [""] * len(reasons)
        for i, reason in enumerate(reasons):
            if reason:
                shown[i], codes[i] = texts(reason)
        index = picks if isinstance(picks, pa.Array) else pa.array(picks)
        return cls(
            pa.array(shown, type=pa.string()).take(index),
            pa.array(codes, type=pa.string()).take(index),
        )

    @classmethod
    def empty(cls, n: int) -> ReasonColumn:
        """No reason on any of ``n`` rows."""
        blank = pa.array([""], type=pa.string()).take(pa.array(np.zeros(n, dtype=np.int64)))
        return cls(blank, blank)

    def __len__(self) -> int:
        return len(self.shown)

    def slice(self, start: int, stop: int) -> ReasonColumn:
        """Rows ``start`` to ``stop``."""
        return ReasonColumn(self.shown[start:stop], self.code[start:stop])

    def then(self, other: ReasonColumn) -> ReasonColumn:
        """Each row's reason followed by ``other``'s (``join_reasons(mine, other)``)."""
        other_empty = _empty(other.shown)
        if other_empty.all():
            return self
        mine_empty = _empty(self.shown)
        if mine_empty.all():
            return other
        # Rows with both are few (a phone note and a calling-hours reason, say): joined
        # apart, so the whole column is copied once, not three times.
        mask = pa.array(mine_empty)
        shown = pc.if_else(mask, other.shown, self.shown)
        code = pc.if_else(pa.array(_empty(self.code)), other.code, self.code)
        both = np.flatnonzero(~mine_empty & ~other_empty)
        if len(both):
            picked = pa.array(both)
            joined = pc.binary_join_element_wise(
                self.shown.take(picked), other.shown.take(picked), SEPARATOR
            )
            chosen = np.zeros(len(mine_empty), dtype=np.bool_)
            chosen[both] = True
            shown = pc.replace_with_mask(shown, pa.array(chosen), joined)
        return ReasonColumn(shown, code)

    def replaced(self, mask: npt.NDArray[np.bool_], reasons: Sequence[str],
                 texts: ReasonTexts) -> ReasonColumn:
        """The rows of ``mask`` take ``reasons`` (in row order) instead."""
        pairs = [texts(r) for r in reasons]
        chosen = pa.array(mask)
        return ReasonColumn(
            pc.replace_with_mask(self.shown, chosen, pa.array([p[0] for p in pairs], pa.string())),
            pc.replace_with_mask(self.code, chosen, pa.array([p[1] for p in pairs], pa.string())),
        )

    def take(self, rows: pa.Array) -> ReasonColumn:
        """The rows at ``rows``."""
        return ReasonColumn(self.shown.take(rows), self.code.take(rows))


def _empty(texts: pa.Array) -> npt.NDArray[np.bool_]:
    """Which cells of a string column are "" (from its offsets: no kernel, no copy)."""
    offsets, _ = string_buffers(texts)
    empty: npt.NDArray[np.bool_] = offsets[1:] == offsets[:-1]
    if texts.null_count:  # a null is no reason either (Arrow kernels give none here)
        empty |= ~texts.is_valid().to_numpy(zero_copy_only=False)
    return empty
