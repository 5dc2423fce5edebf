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
        mine_empty = pc.equal(self.shown, "")
        other_empty = pc.equal(other.shown, "")
        both = pc.binary_join_element_wise(self.shown, other.shown, SEPARATOR)
        shown = pc.if_else(mine_empty, other.shown, pc.if_else(other_empty, self.shown, both))
        code = pc.if_else(pc.equal(self.code, ""), other.code, self.code)
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
