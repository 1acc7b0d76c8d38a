"""The `wse` pipeline: linalg-on-tensors to a placed, routed `wse` program."""

from __future__ import annotations

from dataclasses import dataclass

from ..passes.pass_base import Configurable, OptionError, check_tuning_path
from ..passes.placement_modes import check_mode
from ..wse_target.machine import get_machine


@dataclass(frozen=True)
class WsePipeline(Configurable):
    """Normalize, partition into regions, place, distribute over PEs, route.

    Options:
      machine: the preset (wse2, wse3, small) unless the module names one.
      mode: pipelined (every layer on its own rectangle at once) or
        whole-wafer (one layer at a time on the whole fabric).
      accumulate: fp32 keeps the accumulators as imported (PyTorch sums f16
        products in f32); fp16 narrows them (wse-narrow-accumulators) for the
        full 16-bit SIMD width.
      tuning: a tuning database written by `wafer tune --target wse`: wse-place
        takes each region's rectangle from it where it has a record.
    """

    name = "wse"
    summary = "linalg-on-tensors -> wse regions placed, distributed over PEs and routed"

    machine: str = "small"
    mode: str = "pipelined"
    accumulate: str = "fp32"
    tuning: str = ""

    def __post_init__(self):
        # An unknown machine or mode is an option error, before anything runs.
        try:
            get_machine(self.machine)
        except ValueError as err:
            raise OptionError(str(err)) from None
        check_mode(self.mode)
        if self.accumulate not in ("fp32", "fp16"):
            raise OptionError(f"accumulate must be fp32 or fp16, got '{self.accumulate}'")
        check_tuning_path(self.name, self.tuning)

    def stages(self) -> list[tuple[str, str]]:
        """(stage name, pipeline text) in order; `wafer run` reports each stage."""
        narrow = "wse-narrow-accumulators," if self.accumulate == "fp16" else ""
        return [
            # Masked attention becomes linalg (its causal mask reads linalg.index). A
            # window that reads a prefix of its input (ceil-mode pooling) is sliced to
            # it before unit dims fold, which would leave an index that must span the
            # whole dim. Loop indices become iota inputs once fusion has merged the
            # generics that read them; canonicalize then folds index_cast round trips,
            # copies of an iota (an arange generic) and duplicate iotas.
            (
                "simplify",
                f"wse-fold-concat-casts,wse-verify-support,wafer-fold-zero-trip,wafer-decompose-attention,{narrow}"
                "func.func(canonicalize,cse),wafer-fold-channel-affine,wse-bias-after-sums,wse-generalize-named,"
                "wafer-split-asserts,"
                "func.func(linalg-fuse-elementwise-ops,canonicalize,cse,linalg-generalize-named-ops),wse-trim-windows,"
                "func.func(linalg-fold-unit-extent-dims,canonicalize,cse),wse-group-loops,wse-merge-parallel-roles,wse-collapse-loops,"
                "wse-materialize-indices,func.func(canonicalize,cse),wse-unfold-windows,"
                "wafer-hoist-broadcast-compute{reductions=true},wse-fold-constant-generics,wse-split-gathers,func.func(canonicalize,cse),wse-transpose-weights,"
                "wse-extend-concats",
            ),
            # Fills and empties the regions took their own copies of are dead after.
            ("partition", f"wse-partition{{machine={self.machine}}},func.func(canonicalize,cse)"),
            ("place", f"wse-place{{mode={self.mode}" + (f" tuning={self.tuning}" if self.tuning else "") + "}"),
            # The fills and empties of inits the regions now compute in place are dead.
            ("distribute", "wse-distribute,func.func(canonicalize),wse-align-banks"),
            ("route", "wse-route"),
        ]

    def pipeline(self) -> str:
        return "builtin.module(" + ",".join(text for _, text in self.stages()) + ")"
