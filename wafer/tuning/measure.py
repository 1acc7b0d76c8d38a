"""Time one contraction's candidate kernels on this machine, each against the default.

The contraction is rebuilt alone, as the `linalg.matmul` (`linalg.batch_matmul`
with a batch) of its shape: A a random argument, B a random constant when it
is a weight, else an argument too. An im2col contraction is timed without its
gather, on the columns as a plain B; its record still applies only to its own
convolution (the row is part of the signature). Each compiled kernel is
checked against numpy once, then timed call by call interleaved with the
default kernel, so machine noise hits both alike.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np
from torch_mlir import ir

from ..compiler import compile_module, parse_module
from ..context import make_context
from ..diagnostics import WaferError
from .database import KernelChoice, Measurement
from .signature import ContractionSignature

MIN_ROUNDS, MAX_ROUNDS = 5, 200


def _module_text(signature: ContractionSignature) -> str:
    """The contraction alone; a weight B is a placeholder constant that `_with_weights` fills."""
    batch = [signature.batch] if signature.batch > 1 else []
    a, b, c = (_tensor(batch + shape) for shape in ([signature.m, signature.k], [signature.k, signature.n],
                                                    [signature.m, signature.n]))
    op = "linalg.batch_matmul" if batch else "linalg.matmul"
    args = f"%a: {a}" if signature.b_constant else f"%a: {a}, %b: {b}"
    weights = f"  %b = arith.constant dense<0.0> : {b}\n" if signature.b_constant else ""
    return (f"func.func @forward({args}) -> {c} {{\n{weights}"
            f"  %zero = arith.constant 0.0 : f32\n"
            f"  %e = tensor.empty() : {c}\n"
            f"  %f = linalg.fill ins(%zero : f32) outs(%e : {c}) -> {c}\n"
            f"  %r = {op} ins(%a, %b : {a}, {b}) outs(%f : {c}) -> {c}\n"
            f"  return %r : {c}\n}}\n")


def _tensor(shape: list[int]) -> str:
    return f"tensor<{'x'.join(map(str, shape))}xf32>"


class ContractionBench:
    """One contraction's operands, its numpy result, and the kernels compiled for it."""

    def __init__(self, signature: ContractionSignature, seed: int = 0):
        self.signature = signature
        rng = np.random.default_rng(seed)
        batch = (signature.batch,) if signature.batch > 1 else ()
        self.a = rng.standard_normal(batch + (signature.m, signature.k), dtype=np.float32)
        self.b = rng.standard_normal(batch + (signature.k, signature.n), dtype=np.float32)
        self.expected = self.a @ self.b
        self.arguments = (self.a,) if signature.b_constant else (self.a, self.b)

    def compile(self, choice: KernelChoice) -> Callable[[], np.ndarray]:
        """A call of the kernel `choice` gives, checked once against numpy."""
        module = parse_module(_module_text(self.signature), make_context())
        if self.signature.b_constant:
            _with_weights(module, self.b)
        executable = compile_module(module, "cpu", threads=self.signature.threads, **choice.options())
        result = executable.forward(*self.arguments)
        tolerance = 1e-5 * np.sqrt(self.signature.k) * np.abs(self.expected).max()
        if not np.allclose(result, self.expected, rtol=1e-4, atol=tolerance):
            raise WaferError(f"error: the kernel '{choice.describe()}' computes {self.signature.describe()} "
                             f"wrongly (largest error {np.abs(result - self.expected).max():.3g})")
        return lambda: executable.forward(*self.arguments)


def _with_weights(module: ir.Module, weights: np.ndarray) -> None:
    """Give the placeholder constant B its values."""
    with module.context:
        for op in module.body.operations[0].regions[0].blocks[0].operations:
            if op.name == "arith.constant" and isinstance(op.result.type, ir.RankedTensorType):
                op.attributes["value"] = ir.DenseElementsAttr.get(weights)
                return


def time_against_default(candidate: Callable, default: Callable, choice: KernelChoice,
                         budget_s: float) -> Measurement:
    """Median ms of `candidate` and of `default`, called in turn for about `budget_s`."""
    candidate(), default()  # warm-up: first-touch of buffers, thread start
    one_round = _seconds(candidate) + _seconds(default)
    rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(budget_s / one_round)))
    times = {candidate: [], default: []}
    for _ in range(rounds):
        for fn in times:
            times[fn].append(_seconds(fn))
    return Measurement(choice, 1e3 * statistics.median(times[candidate]), 1e3 * statistics.median(times[default]))


def _seconds(fn: Callable) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
