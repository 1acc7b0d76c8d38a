"""What every target's executable shares: the signatures of a module's public
functions (shapes and numpy dtypes of their arguments and results) and the
`Executable` base class, which checks arguments against them. The JIT runtime,
the ahead-of-time artifact and the simulated wafer all read these.
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np
from torch_mlir import ir

from .diagnostics import WaferError
from .symbols import public_functions

_DTYPES = {
    "f16": np.float16, "bf16": ml_dtypes.bfloat16, "f32": np.float32, "f64": np.float64, "i1": np.bool_,
    "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64,
    "ui8": np.uint8, "ui16": np.uint16, "ui32": np.uint32, "ui64": np.uint64,
    "complex<f32>": np.complex64, "complex<f64>": np.complex128,
}


@dataclass(frozen=True)
class TensorSpec:
    """A function argument or result: its shape (None = dynamic) and dtype.

    A `scalar` (an integer or float in the signature, not a tensor) crosses the
    boundary as a rank-0 array (wafer-scalars-as-tensors) and comes back as a
    numpy scalar.
    """

    shape: tuple[int | None, ...]
    dtype: np.dtype
    scalar: bool = False

    @staticmethod
    def from_type(type_: ir.Type, where: str) -> TensorSpec:
        scalar = isinstance(type_, (ir.IntegerType, ir.FloatType))
        if not (scalar or isinstance(type_, ir.RankedTensorType)):
            raise WaferError(f"error: {where} has type {type_}; only ranked tensors, integers and floats are supported")
        element = str(type_ if scalar else type_.element_type)
        if element not in _DTYPES:
            raise WaferError(f"error: {where} has element type {element}, which has no numpy dtype")
        if scalar:
            return TensorSpec((), np.dtype(_DTYPES[element]), scalar=True)
        dynamic = ir.ShapedType.get_dynamic_size()
        shape = tuple(None if d == dynamic else d for d in type_.shape)
        return TensorSpec(shape, np.dtype(_DTYPES[element]))

    def __str__(self) -> str:
        if self.scalar:
            return f"scalar {self.dtype}"
        dims = "x".join("?" if d is None else str(d) for d in self.shape)
        return f"{dims}x{self.dtype}" if dims else str(self.dtype)


@dataclass(frozen=True)
class Signature:
    name: str
    args: tuple[TensorSpec, ...]
    results: tuple[TensorSpec, ...]


def public_signatures(module: ir.Module) -> dict[str, Signature]:
    """Signatures of the public functions of a linalg-on-tensors module."""
    signatures = {}
    for op in public_functions(module.operation):
        name = ir.StringAttr(op.attributes["sym_name"]).value
        function_type = ir.FunctionType(ir.TypeAttr(op.attributes["function_type"]).value)
        args = tuple(
            TensorSpec.from_type(t, f"argument {i} of @{name}") for i, t in enumerate(function_type.inputs)
        )
        results = tuple(
            TensorSpec.from_type(t, f"result {i} of @{name}") for i, t in enumerate(function_type.results)
        )
        signatures[name] = Signature(name, args, results)
    return signatures


_KINDS = "biufc"  # numpy's kinds, each castable to those after it


def _as_array(arg, spec: TensorSpec, where: str) -> np.ndarray:
    """`arg` as numpy sees it. A torch tensor that requires grad is read without
    its graph (what comes back is a numpy array, through which no gradient flows).
    A Python list keeps numpy's dtype (int64, float64): no silent narrowing."""
    if arg is None:
        raise WaferError(f"error: {where} must be {spec}, got None")
    if getattr(arg, "requires_grad", False) and callable(getattr(arg, "detach", None)):
        arg = arg.detach()
    try:
        array = np.asarray(arg)
    except (ValueError, TypeError, RuntimeError) as err:
        why = "rows of different lengths?" if isinstance(arg, (list, tuple)) else str(err).splitlines()[0]
        raise WaferError(f"error: {where} must be {spec}, got a {type(arg).__name__} that is no array "
                         f"({why})") from None
    return array


def _casts_safely(got: np.dtype, want: np.dtype) -> bool:
    """Is `got` of a kind no later than `want`'s in bool < int < uint < float < complex?"""
    return got.kind in _KINDS and want.kind in _KINDS and _KINDS.index(got.kind) <= _KINDS.index(want.kind)


def _scalar_argument(arg, spec: TensorSpec, where: str) -> np.ndarray:
    """A Python or numpy number as the rank-0 array a scalar parameter takes:
    converted when no information is lost in kind (an int to f32, not a float to i64)."""
    array = np.asarray(arg)
    if array.ndim or not _casts_safely(array.dtype, spec.dtype):
        return array  # refused by the caller's dtype or shape check
    try:
        return np.asarray(arg, dtype=spec.dtype)
    except OverflowError:
        raise WaferError(f"error: {where} must be {spec}, got {arg}, which does not fit") from None


class Executable:
    """What every target's executable shares: its public functions, called as
    `exe.fn(*arrays)` or `exe.invoke("fn", *arrays)`, with arguments checked
    against the signature before anything runs."""

    def __init__(self, signatures: dict[str, Signature]):
        self._signatures = signatures

    @property
    def functions(self) -> list[str]:
        return list(self._signatures)

    def invoke(self, name: str, *args):
        raise NotImplementedError

    def signature(self, name: str) -> Signature:
        signature = self._signatures.get(name)
        if signature is None:
            raise WaferError(f"error: no public function @{name} (have: {', '.join(self._signatures)})")
        return signature

    def checked_call(self, name: str, args) -> tuple[Signature, list[np.ndarray]]:
        """The signature of @name and `args` as C-contiguous arrays of its dtypes."""
        signature = self.signature(name)
        return signature, self._check_args(signature, args)

    def __getattr__(self, name: str):
        # Only for names that are no attribute: `exe._helper` calls @_helper, but
        # dunder lookups (copy, pickle) and a half-built executable stay misses.
        if name.startswith("__") or name not in self.__dict__.get("_signatures", ()):
            raise AttributeError(name)

        def call(*args, **keywords):
            if keywords:
                raise WaferError(f"error: @{name} takes its arguments by position, "
                                 f"got keyword {', '.join(map(repr, keywords))}")
            return self.invoke(name, *args)

        return call

    @staticmethod
    def _check_args(signature: Signature, args) -> list[np.ndarray]:
        if len(args) != len(signature.args):
            raise WaferError(
                f"error: @{signature.name} takes {len(signature.args)} arguments, got {len(args)}"
            )
        arrays = []
        for i, (arg, spec) in enumerate(zip(args, signature.args)):
            if type(arg) is np.ndarray and arg.shape == spec.shape and arg.dtype == spec.dtype and arg.flags.c_contiguous:
                arrays.append(arg)  # the common case, in one test
                continue
            where = f"argument {i} of @{signature.name}"
            array = _scalar_argument(arg, spec, where) if spec.scalar else _as_array(arg, spec, where)
            same_width = array.dtype.kind in "iu" and spec.dtype.kind in "iu" and array.dtype.itemsize == spec.dtype.itemsize
            if array.dtype != spec.dtype and not same_width:
                raise WaferError(
                    f"error: argument {i} of @{signature.name} must be {spec}, got dtype {array.dtype}"
                )
            fits = array.ndim == len(spec.shape) and all(
                want is None or want == got for want, got in zip(spec.shape, array.shape)
            )
            if not fits:
                shape = "x".join(map(str, array.shape)) or "scalar"
                raise WaferError(f"error: argument {i} of @{signature.name} must be {spec}, got shape {shape}")
            if array.dtype != spec.dtype or not array.flags.c_contiguous:
                array = np.require(array, requirements="C").view(spec.dtype)
            arrays.append(array)
        return arrays
