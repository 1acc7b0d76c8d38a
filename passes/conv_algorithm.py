"""Which algorithm computes a convolution: wafer-winograd's, wafer-direct-conv's or wafer-im2col's.

The pack stage offers each convolution to wafer-winograd, then to
wafer-direct-conv, then to wafer-im2col, which takes the rest; then
wafer-orient-contractions may swap an im2col contraction's operands. Each
follows its own rule, unless the `conv-algorithm` option names one algorithm
for every convolution it can compute, or a tuning database (`wafer tune`) has
a record of that convolution measured on this CPU at this thread count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch_mlir import ir

from ..diagnostics import WaferError
from ..tuning.conv import ALGORITHMS, Convolution
from ..tuning.database import TuningDatabase, cpu_key
from .cpu_target import TargetedPass, host_flags
from .pass_base import OptionError, PassFailure, check_tuning_path

AUTO = "auto"
# Products per output (C x KH x KW) below which im2col's copy does not pay and it
# leaves a convolution alone (its min-k option's default), so wafer-direct-conv
# takes it along its filters: left to no strategy, a 1-channel 3-tap 1-D
# convolution ran as scalar loops (bench/conv1d.py's `samplecnn` stem).
MIN_IM2COL_PRODUCTS = 8


@dataclass(frozen=True)
class ConvAlgorithmPass(TargetedPass):
    """A pass that computes some convolutions by its own algorithm.

    Options:
      conv-algorithm: `auto` (the pass's rule, or the tuning record), or one
        of winograd, direct, im2col for every convolution that algorithm can
        compute.
      tuning: a tuning database; a convolution's record on this CPU picks its
        algorithm where conv-algorithm is auto.
      threads: the worker threads the code runs on: records apply at the
        thread count they were measured with.
    """

    conv_algorithm: str = AUTO
    tuning: str = ""
    threads: int = 1

    def __post_init__(self):
        super().__post_init__()
        check_conv_algorithm(self.name, self.conv_algorithm)
        check_tuning_path(self.name, self.tuning)

    def chosen_algorithm(self, conv: ir.OpView, database: TuningDatabase | None) -> str | None:
        """The algorithm the option or a tuning record names for `conv`; None: the passes' rules."""
        if self.conv_algorithm != AUTO:
            return self.conv_algorithm
        if database is None or conv.name != "linalg.conv_2d_nchw_fchw":
            return None  # the tuner times a grouped convolution's contraction, not its algorithm
        return database.conv_algorithm(Convolution.of_op(conv).key(self.threads))

    def database(self, module: ir.Operation) -> TuningDatabase | None:
        return open_tuning_database(self.tuning, self.cpu, module.location)


def check_conv_algorithm(owner: str, value: str) -> None:
    if value not in (AUTO, *ALGORITHMS):
        raise OptionError(f"option {owner}{{conv-algorithm}}: expected one of "
                          f"{', '.join((AUTO, *ALGORITHMS))}, got '{value}'")


def open_tuning_database(path: str, cpu, location: ir.Location) -> TuningDatabase | None:
    """This CPU's records in the tuning file at `path`, if one is given."""
    if not path:
        return None
    if not Path(path).is_file():
        raise PassFailure(location, f"no tuning database '{path}' (wafer tune writes one)")
    try:
        return TuningDatabase(path, cpu_key(cpu, host_flags()))
    except WaferError as err:
        raise PassFailure(location, str(err).removeprefix("error: ")) from None
