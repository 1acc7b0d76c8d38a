"""Time one contraction's candidate kernels on this machine, each against the default.

A plain contraction is rebuilt alone, as the `linalg.matmul`
(`linalg.batch_matmul` with a batch) of its shape followed by a bias and a
ReLU: A a random argument, B a random constant when it is a weight, else an
argument too. An im2col
contraction is rebuilt as its convolution (conv.py) and goes through the
pipeline's own wafer-im2col, so its time includes the gather that copies B's
columns inside the kernel's cache tiles. Each compiled kernel is checked
against numpy once, then timed call by call interleaved with the default
kernel, so machine noise hits both alike.

A convolution's algorithms (an `AlgorithmJob`) are compiled each alone, the
convolution rebuilt the same way, checked against numpy and timed
interleaved with each other.

`measure` runs one job wherever an executor sends it (executor.py): it
compiles the kernels and times them on the machine it runs on.
"""

from __future__ import annotations

import functools
import socket
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from torch_mlir import ir

from ..compiler import compile_module, parse_module
from ..context import make_context
from ..diagnostics import WaferError
from ..passes.conv_algorithm import AUTO
from ..passes.cpu_target import host, host_flags
from .conv import BIAS, Convolution, algorithm_of, tensor_type
from .database import KernelChoice, Measurement, cpu_key
from .signature import ContractionSignature

MIN_ROUNDS, MAX_ROUNDS = 5, 200


@dataclass(frozen=True)
class Workload:
    """What a contraction's benchmark computes: the contraction of `signature`,
    or, for an im2col contraction, the convolution `conv` whose gather feeds it."""

    signature: ContractionSignature
    conv: Convolution | None = None


@dataclass(frozen=True)
class Job:
    """Build candidate `choice` of `workload`, time it against `default` for about
    `budget_s`, on a machine whose CPU is `cpu` (the database's key)."""

    workload: Workload
    choice: KernelChoice
    default: KernelChoice
    budget_s: float
    cpu: str


@dataclass(frozen=True)
class AlgorithmJob:
    """Build `conv` with each of `algorithms` at `threads` and time them
    interleaved for about `budget_s`, on a machine whose CPU is `cpu`."""

    conv: Convolution
    algorithms: tuple[str, ...]
    threads: int
    budget_s: float
    cpu: str


@dataclass(frozen=True)
class AlgorithmTimes:
    """The median ms of each algorithm, and the one the passes pick with no record."""

    default: str
    ms: dict[str, float]


def measure(job: Job | AlgorithmJob) -> Measurement | AlgorithmTimes:
    """Run `job` here: a kernel candidate's `Measurement`, or each algorithm's ms.
    A machine of another CPU refuses it, since the tuner ranks the candidates
    and keys the records by its own CPU."""
    here = cpu_key(host(), host_flags())
    if here != job.cpu:
        raise WaferError(f"error: {socket.gethostname()} has CPU '{here}', not the tuned '{job.cpu}': "
                         "tune on identical machines")
    if isinstance(job, AlgorithmJob):
        return _time_algorithms(job)
    bench, default_kernel = _bench(job.workload, job.default)
    return time_against_default(bench.compile(job.choice), default_kernel, job.choice, job.budget_s)


def _time_algorithms(job: AlgorithmJob) -> AlgorithmTimes:
    """Each algorithm of `job.conv`, called in turn. The passes' own pick is
    compiled first (with no option): it is the default and needs no second build."""
    image, weights, expected = _conv_case(job.conv, np.random.default_rng(0))
    calls, default = {}, None
    for algorithm in (AUTO, *job.algorithms):
        if algorithm in calls:
            continue
        executable = _build(job.conv.module_text(), weights, job.threads, conv_algorithm=algorithm)
        taken = algorithm_of(executable.compile_report.strategies)
        if algorithm == AUTO:
            default = taken
        elif taken != algorithm:
            raise WaferError(f"error: the benchmark of conv {job.conv.describe()} took the {taken} route, "
                             f"not {algorithm}")
        _check(executable.forward(image), expected, np.prod(job.conv.weight_shape[1:]),
               f"the {taken} algorithm", f"conv {job.conv.describe()}")
        calls[taken] = functools.partial(executable.forward, image)
    times = time_interleaved(calls, job.budget_s)
    return AlgorithmTimes(default, {algorithm: 1e3 * times[algorithm] for algorithm in job.algorithms})


@functools.lru_cache(maxsize=1)
def _bench(workload: Workload, default: KernelChoice) -> tuple[ContractionBench, Callable]:
    """The bench and its default kernel, kept while jobs of one workload follow each other."""
    bench = ContractionBench(workload)
    return bench, bench.compile(default)


class ContractionBench:
    """One workload's operands, its numpy result, and the kernels compiled for it."""

    def __init__(self, workload: Workload, seed: int = 0):
        self.workload = workload
        signature, conv = workload.signature, workload.conv
        rng = np.random.default_rng(seed)
        if conv is not None:
            image, self.weights, self.expected = _conv_case(conv, rng)
            self.arguments = (image,)
            self.text = conv.module_text()
            return
        batch = (signature.batch,) if signature.batch > 1 else ()
        a = rng.standard_normal(batch + (signature.m, signature.k), dtype=np.float32)
        b = rng.standard_normal(batch + (signature.k, signature.n), dtype=np.float32)
        self.expected = np.maximum(a @ b + BIAS, 0)  # see _matmul_text
        self.weights = b if signature.b_constant else None
        self.arguments = (a,) if signature.b_constant else (a, b)
        self.text = _matmul_text(signature)

    def compile(self, choice: KernelChoice, **options) -> Callable[[], np.ndarray]:
        """A call of the kernel `choice` gives (with the cpu pipeline's `options`), checked once against numpy."""
        signature = self.workload.signature
        im2col = {"conv_algorithm": "im2col"} if self.workload.conv is not None else {}
        executable = _build(self.text, self.weights, signature.threads, **choice.options(), **im2col, **options)
        _check(executable.forward(*self.arguments), self.expected, signature.k,
               f"the kernel '{choice.describe()}'", signature.describe())
        return lambda: executable.forward(*self.arguments)


def _conv_case(conv: Convolution, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random image and weights for `conv`, and what its benchmark computes from them."""
    image = rng.standard_normal(conv.image, dtype=np.float32)
    weights = rng.standard_normal(conv.weight_shape, dtype=np.float32)
    return image, weights, conv.reference(image, weights)


def _build(text: str, weights: np.ndarray | None, threads: int, **options):
    """The cpu executable of a benchmark's module text, its placeholder weight filled."""
    module = parse_module(text, make_context())
    if weights is not None:
        _with_weights(module, weights)
    return compile_module(module, "cpu", threads=threads, **options)


def _check(result: np.ndarray, expected: np.ndarray, depth: int, what: str, of: str) -> None:
    """Refuse a kernel whose sums of `depth` products differ from numpy's by more than rounding."""
    tolerance = 1e-5 * np.sqrt(depth) * np.abs(expected).max()
    if not np.allclose(result, expected, rtol=1e-4, atol=tolerance):
        raise WaferError(f"error: {what} computes {of} wrongly (largest error {np.abs(result - expected).max():.3g})")


def _matmul_text(signature: ContractionSignature) -> str:
    """The contraction and what a layer's contraction is followed by, a bias
    along N and a ReLU, which the kernel's tiles let fuse into its loops or
    not; a weight B is a placeholder constant that `_with_weights` fills."""
    batch = [signature.batch] if signature.batch > 1 else []
    a, b, c = (tensor_type(batch + shape) for shape in ([signature.m, signature.k], [signature.k, signature.n],
                                                        [signature.m, signature.n]))
    op = "linalg.batch_matmul" if batch else "linalg.matmul"
    args = f"%a: {a}" if signature.b_constant else f"%a: {a}, %b: {b}"
    weights = f"  %b = arith.constant dense<0.0> : {b}\n" if signature.b_constant else ""
    dims = ", ".join(f"d{i}" for i in range(len(batch) + 2))
    identity, along_n = f"affine_map<({dims}) -> ({dims})>", f"affine_map<({dims}) -> (d{len(batch) + 1})>"
    parallel = ", ".join(['"parallel"'] * (len(batch) + 2))
    return (f"func.func @forward({args}) -> {c} {{\n{weights}"
            f"  %bias = arith.constant dense<{BIAS}> : tensor<{signature.n}xf32>\n"
            f"  %zero = arith.constant 0.0 : f32\n"
            f"  %e = tensor.empty() : {c}\n"
            f"  %f = linalg.fill ins(%zero : f32) outs(%e : {c}) -> {c}\n"
            f"  %r = {op} ins(%a, %b : {a}, {b}) outs(%f : {c}) -> {c}\n"
            f"  %y = linalg.generic {{indexing_maps = [{identity}, {along_n}, {identity}], "
            f"iterator_types = [{parallel}]}} ins(%r, %bias : {c}, tensor<{signature.n}xf32>) outs(%e : {c}) {{\n"
            f"  ^bb0(%in: f32, %add: f32, %unused: f32):\n"
            f"    %sum = arith.addf %in, %add : f32\n"
            f"    %relu = arith.maximumf %sum, %zero : f32\n"
            f"    linalg.yield %relu : f32\n"
            f"  }} -> {c}\n"
            f"  return %y : {c}\n}}\n")


def _with_weights(module: ir.Module, weights: np.ndarray) -> None:
    """Give the placeholder weight constant its values."""
    with module.context:
        for op in module.body.operations[0].regions[0].blocks[0].operations:
            if op.name == "arith.constant" and isinstance(op.result.type, ir.RankedTensorType):
                op.attributes["value"] = ir.DenseElementsAttr.get(weights)
                return


def time_against_default(candidate: Callable, default: Callable, choice: KernelChoice,
                         budget_s: float) -> Measurement:
    """Median ms of `candidate` and of `default`, called in turn for about `budget_s`."""
    seconds = time_interleaved({"candidate": candidate, "default": default}, budget_s)
    return Measurement(choice, 1e3 * seconds["candidate"], 1e3 * seconds["default"])


def time_interleaved(calls: dict[str, Callable], budget_s: float) -> dict[str, float]:
    """Median seconds of each call, called in turn for about `budget_s`."""
    for fn in calls.values():
        fn()  # warm-up: first-touch of buffers, thread start
    one_round = sum(_seconds(fn) for fn in calls.values())
    rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(budget_s / one_round)))
    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            times[name].append(_seconds(fn))
    return {name: statistics.median(values) for name, values in times.items()}


def _seconds(fn: Callable) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
