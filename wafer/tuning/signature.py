"""What identifies a contraction for tuning: the facts that change the packed kernel's choice."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # wafer-pack-matmul imports this module
    from ..passes.matmul_contraction import Contraction


@dataclass(frozen=True)
class ContractionSignature:
    """One contraction's shape and context, as wafer-pack-matmul sees it.

    m, n, k are the primary loops (the packed and vectorized ones), `batch`
    the trips of every other loop. `b_constant`: B is a weight (its packs fold at compile time, no K blocks);
    `row`: the output row length of the im2col gather B comes from (0: none),
    which aligns cache tiles to image rows; `threads`: how many share the
    cache tiles.
    """

    batch: int
    m: int
    n: int
    k: int
    b_constant: bool
    threads: int
    row: int = 0
    element_type: str = "f32"

    @classmethod
    def of(cls, contraction: Contraction, row: int, threads: int) -> ContractionSignature:
        m, n, k = contraction.mnk
        batch = math.prod(contraction.extents) // (m * n * k)  # batch loops, and other m, n, k loops
        return cls(batch, m, n, k, contraction.constant[1], threads, row)

    @property
    def key(self) -> str:
        """The database's key: stable text, readable in the JSON file."""
        operand = "const" if self.b_constant else "runtime"
        return (f"{self.batch}x{self.m}x{self.n}x{self.k} {self.element_type} B={operand} "
                f"threads={self.threads} row={self.row}")

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.m * self.n * self.k

    def describe(self) -> str:
        batch = f"{self.batch}x" if self.batch > 1 else ""
        conv = f" (im2col, row {self.row})" if self.row else ""
        weights = "" if self.b_constant else ", B at run time"
        return f"{batch}{self.m}x{self.n}x{self.k}{conv}{weights}"
