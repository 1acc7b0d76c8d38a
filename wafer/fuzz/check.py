"""Run one program on Wafer's targets and say how each compares with eager."""

from __future__ import annotations

import copy
import functools
import re
import warnings
from dataclasses import dataclass

import torch

from ..diagnostics import WaferError
from .program import Program

# What a WaferError must look like to count as a clear refusal: every line a
# diagnostic, optionally after a file:line:col location, and none of them a
# compiler bug: an internal error, an op the compiler itself made invalid (a
# verifier's "'op' op ..."), or a conversion that left an op it should have lowered.
_DIAGNOSTIC = re.compile(r"^(\S.*?: )?(error|warning|note): \S")
_COMPILER_BUG = re.compile(r"internal error|failed to legalize|' op |does not dominate")

# The verdicts, from best to worst.
OK, REFUSED, MISMATCH, CRASH = "ok", "refused", "mismatch", "crash"


@dataclass(frozen=True)
class Verdict:
    target: str  # "cpu/1", "cpu/2" (threads) or "wse"
    outcome: str
    detail: str = ""


def targets(wse: bool) -> list[tuple[str, dict]]:
    """(name, wafer.compile keywords) of each configuration a program runs on."""
    configurations = [("cpu/1", {"target": "cpu", "threads": 1}), ("cpu/2", {"target": "cpu", "threads": 2})]
    return configurations + ([("wse", {"target": "wse", "machine": "small"})] if wse else [])


def check(program: Program, wse: bool = True) -> list[Verdict]:
    """Compile and run `program` on each target, against eager on the same inputs.

    The WSE target is tried on float32 programs only (it computes in f32).
    """
    from .. import frontend

    model, inputs = program.build()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model(*inputs)
    float32_only = all(v.dtype in (torch.float32, torch.bool) for v, _, _ in program.lines) and all(
        v.dtype == torch.float32 for v in program.inputs)
    float64_run = functools.cache(lambda: _float64_run(model, inputs))
    verdicts = []
    for name, options in targets(wse and float32_only):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = frontend.compile(model, inputs, **options)(*inputs)
        except WaferError as err:
            message = str(err)
            clear = not _COMPILER_BUG.search(message) and all(_DIAGNOSTIC.match(line) for line in message.splitlines())
            verdicts.append(Verdict(name, REFUSED if clear else CRASH, message.splitlines()[0] if message else ""))
            continue
        except Exception as err:  # anything but a WaferError escaping Wafer is a bug
            verdicts.append(Verdict(name, CRASH, f"{type(err).__name__}: {err}".splitlines()[0]))
            continue
        difference = _difference(got, expected, float64_run)
        verdicts.append(Verdict(name, OK if difference is None else MISMATCH, difference or ""))
    return verdicts


def _difference(got, expected, float64_run) -> str | None:
    """Why `got` is not `expected` (a tuple of tensors), or None when they match.

    A float that differs from eager by more than the tolerance still matches
    when it is as close to the program run in float64 as eager is, give or
    take the tolerance: after a square root near 0 or a cancellation, eager's
    float32 result is itself off by more than the tolerance, and a different
    but equally good order of operations is not a wrong answer.
    """
    got = got if isinstance(got, tuple) else (got,)
    if len(got) != len(expected):
        return f"{len(got)} results, expected {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        if not isinstance(g, torch.Tensor) or g.dtype != e.dtype or g.shape != e.shape:
            return f"result {i}: {getattr(g, 'dtype', type(g))}{tuple(getattr(g, 'shape', ()))}, " \
                   f"expected {e.dtype}{tuple(e.shape)}"
        if e.is_floating_point():
            finite = e[torch.isfinite(e)]
            scale = max(1.0, finite.abs().max().item()) if finite.numel() else 1.0
            g, e = g.double(), e.double()
            close = torch.isclose(g, e, rtol=1e-3, atol=1e-4 * scale, equal_nan=True)
            if not bool(close.all()) and (reference := float64_run()) is not None:
                exact = reference[i].double()
                eager_error = (e - exact).abs()
                close |= (g - exact).abs() <= 1e-3 * exact.abs() + 1e-4 * scale + _EAGER_ERROR_FACTOR * eager_error
        else:
            close = g == e
        if not bool(close.all()):
            where = tuple(int(k) for k in (~close).nonzero()[0])
            return f"result {i}: {(~close).sum().item()} of {e.numel()} differ, first at {where}: " \
                   f"{g[where].item()} against {e[where].item()}"
    return None


# How much further than eager from the float64 result Wafer's float32 may be:
# two float32 evaluations in different orders each carry rounding of eager's size.
_EAGER_ERROR_FACTOR = 4.0


def _float64_run(model: torch.nn.Module, inputs: tuple) -> tuple | None:
    """`model` run with its float32 weights and inputs in float64, or None where
    a float64 run is not the same program (an op that refuses float64)."""
    wide = copy.deepcopy(model).double()
    wide_inputs = tuple(x.double() if x.dtype == torch.float32 else x for x in inputs)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = wide(*wide_inputs)
    except RuntimeError:
        return None
    results = results if isinstance(results, tuple) else (results,)
    return results if all(isinstance(r, torch.Tensor) for r in results) else None
