"""The op kinds random programs are made of.

Each kind takes a value it accepts and returns the expression that computes
a new one, in PyTorch source (`F` is `torch.nn.functional`). Weights come
from `Builder.param`. A kind may return None when its draw does not fit the
value; an expression that torch itself rejects is dropped by the generator,
so the kinds need not know every shape rule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Protocol

import torch

# Extents that are 1, primes and sizes no tile divides, besides powers of two.
EXTENTS = (1, 2, 3, 4, 5, 7, 8, 11, 13, 16, 17, 24, 31, 32)
FLOATS = (torch.float32, torch.float64)
INTS = (torch.int32, torch.int64)


@dataclass(frozen=True)
class Value:
    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype.is_floating_point


class Builder(Protocol):
    rng: random.Random

    def param(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32, init: str = "randn") -> str: ...

    def other(self, accepts: Callable[[Value], bool]) -> Value | None: ...


@dataclass(frozen=True)
class OpKind:
    name: str
    accepts: Callable[[Value], bool]
    build: Callable[[Builder, Value], str | None]


KINDS: list[OpKind] = []


def kind(name: str, accepts: Callable[[Value], bool]):
    def register(build):
        KINDS.append(OpKind(name, accepts, build))
        return build
    return register


def _float(rank: int | tuple[int, ...] | None = None) -> Callable[[Value], bool]:
    ranks = (rank,) if isinstance(rank, int) else rank
    return lambda v: v.is_float and (ranks is None or v.rank in ranks)


def _dim(b: Builder, v: Value) -> int:
    return b.rng.randrange(v.rank) - v.rank  # negative: counts from the end, as models write it


# --- contractions -----------------------------------------------------------

@kind("linear", _float((1, 2, 3)))
def _linear(b, v):
    out = b.rng.choice(EXTENTS)
    bias = f", {b.param((out,), v.dtype)}" if b.rng.random() < 0.7 else ""
    return f"F.linear({v.name}, {b.param((out, v.shape[-1]), v.dtype)}{bias})"


@kind("matmul", _float((2, 3)))
def _matmul(b, v):
    other = b.other(lambda o: o.dtype == v.dtype and o.rank in (1, 2) and o.shape[0] == v.shape[-1])
    if other is not None and b.rng.random() < 0.5:
        return f"torch.matmul({v.name}, {other.name})"
    return f"torch.matmul({v.name}, {b.param((v.shape[-1], b.rng.choice(EXTENTS)), v.dtype)})"


@kind("bmm", _float(3))
def _bmm(b, v):
    return f"torch.bmm({v.name}, {v.name}.transpose(1, 2))"


@kind("attention", _float(4))
def _attention(b, v):
    causal = b.rng.random() < 0.5
    return f"F.scaled_dot_product_attention({v.name}, {v.name} * 0.5, {v.name}, is_causal={causal})"


# --- convolutions and pooling ------------------------------------------------

def _conv(b: Builder, v: Value, spatial: int, transposed: bool) -> str | None:
    channels = v.shape[1]
    groups = b.rng.choice([g for g in (1, 2, 3, channels) if channels % g == 0])
    out = groups * b.rng.choice((1, 2, 3)) if groups == channels else b.rng.choice(EXTENTS) * groups
    k = b.rng.choice((1, 2, 3, 5))
    stride, dilation, padding = b.rng.choice((1, 1, 2, 3)), b.rng.choice((1, 1, 2)), b.rng.choice((0, 1, 2))
    window = (k,) * spatial
    if transposed:
        weight = b.param((channels, out // groups, *window), v.dtype)
        padding = min(padding, dilation * (k - 1))
        extra = f", output_padding={b.rng.randrange(stride)}" if stride > 1 and dilation > 1 else ""
        return (f"F.conv_transpose{spatial}d({v.name}, {weight}, stride={stride}, padding={padding}, "
                f"dilation={dilation}, groups={groups}{extra})")
    weight = b.param((out, channels // groups, *window), v.dtype)
    bias = f", {b.param((out,), v.dtype)}" if b.rng.random() < 0.5 else ""
    return (f"F.conv{spatial}d({v.name}, {weight}{bias}, stride={stride}, padding={padding}, "
            f"dilation={dilation}, groups={groups})")


kind("conv1d", _float(3))(lambda b, v: _conv(b, v, 1, False))
kind("conv2d", _float(4))(lambda b, v: _conv(b, v, 2, False))
kind("conv_transpose1d", _float(3))(lambda b, v: _conv(b, v, 1, True))
kind("conv_transpose2d", _float(4))(lambda b, v: _conv(b, v, 2, True))


def _pool_args(b: Builder) -> tuple[int, int, int, bool]:
    k = b.rng.choice((1, 2, 3))
    return k, b.rng.choice((1, 2, k)), b.rng.randrange(k // 2 + 1), b.rng.random() < 0.3


@kind("max_pool2d", _float(4))
def _max_pool2d(b, v):
    k, s, p, ceil = _pool_args(b)
    return f"F.max_pool2d({v.name}, {k}, {s}, {p}, ceil_mode={ceil})"


@kind("max_pool1d", _float(3))
def _max_pool1d(b, v):
    k, s, p, ceil = _pool_args(b)
    return f"F.max_pool1d({v.name}, {k}, {s}, {p}, ceil_mode={ceil})"


@kind("avg_pool2d", _float(4))
def _avg_pool2d(b, v):
    k, s, p, ceil = _pool_args(b)
    return f"F.avg_pool2d({v.name}, {k}, {s}, {p}, ceil_mode={ceil}, count_include_pad={b.rng.random() < 0.5})"


@kind("adaptive_avg_pool2d", _float(4))
def _adaptive_avg(b, v):
    return f"F.adaptive_avg_pool2d({v.name}, ({b.rng.choice((1, 2, 3))}, {b.rng.choice((1, 2, 3))}))"


@kind("adaptive_max_pool1d", _float(3))
def _adaptive_max(b, v):
    return f"F.adaptive_max_pool1d({v.name}, {b.rng.choice((1, 2, 3))})"


# --- normalizations -----------------------------------------------------------

@kind("batch_norm", _float((2, 3, 4)))
def _batch_norm(b, v):
    c = v.shape[1]
    mean, var = b.param((c,), v.dtype), b.param((c,), v.dtype, init="rand")
    return f"F.batch_norm({v.name}, {mean}, {var} + 0.5, {b.param((c,), v.dtype)}, {b.param((c,), v.dtype)})"


@kind("layer_norm", _float())
def _layer_norm(b, v):
    n = v.shape[-1]
    return f"F.layer_norm({v.name}, ({n},), {b.param((n,), v.dtype)}, {b.param((n,), v.dtype)})"


@kind("group_norm", _float((3, 4)))
def _group_norm(b, v):
    groups = b.rng.choice([g for g in (1, 2, 3) if v.shape[1] % g == 0])
    return f"F.group_norm({v.name}, {groups})"


# --- elementwise ---------------------------------------------------------------

for _name, _expr in {
    "relu": "F.relu({x})", "gelu": "F.gelu({x})", "gelu_tanh": "F.gelu({x}, approximate='tanh')",
    "silu": "F.silu({x})", "sigmoid": "torch.sigmoid({x})", "tanh": "torch.tanh({x})",
    "leaky_relu": "F.leaky_relu({x}, 0.1)", "hardswish": "F.hardswish({x})", "elu": "F.elu({x})",
    "softplus": "F.softplus({x})", "relu6": "F.relu6({x})", "exp_bounded": "torch.exp(torch.clamp({x}, -8, 8))",
    "sqrt_abs": "torch.sqrt(torch.abs({x}) + 0.01)", "reciprocal": "1.0 / (torch.abs({x}) + 1.0)",
}.items():
    kind(_name, _float())(lambda b, v, expr=_expr: expr.format(x=v.name))


def _broadcast_shape(b: Builder, shape: tuple[int, ...]) -> tuple[int, ...]:
    """`shape` with some dims made 1 and maybe fewer leading dims: it broadcasts to `shape`."""
    kept = shape[b.rng.randrange(len(shape) + 1):] if shape else ()
    return tuple(1 if b.rng.random() < 0.4 else d for d in kept)


@kind("binary", lambda v: v.dtype != torch.bool)
def _binary(b, v):
    other = b.other(lambda o: o.dtype == v.dtype and o.shape == v.shape and o.name != v.name)
    operand = other.name if other is not None and b.rng.random() < 0.5 else b.param(_broadcast_shape(b, v.shape), v.dtype)
    op = b.rng.choice(("+", "-", "*", "max", "min") if v.is_float else ("+", "-", "*", "max"))
    if op in ("max", "min"):
        return f"torch.{'maximum' if op == 'max' else 'minimum'}({v.name}, {operand})"
    return f"{v.name} {op} {operand}"


@kind("divide", _float())
def _divide(b, v):
    return f"{v.name} / (torch.abs({b.param(_broadcast_shape(b, v.shape), v.dtype)}) + 0.5)"


@kind("compare", lambda v: v.dtype != torch.bool)
def _compare(b, v):
    return f"{v.name} {b.rng.choice(('>', '<', '>=', '==', '!='))} {b.param(_broadcast_shape(b, v.shape), v.dtype)}"


@kind("where", lambda v: v.dtype != torch.bool)
def _where(b, v):
    condition = b.other(lambda o: o.dtype == torch.bool and o.shape == v.shape)
    test = condition.name if condition is not None else f"{v.name} > 0"
    return f"torch.where({test}, {v.name}, {b.param(_broadcast_shape(b, v.shape), v.dtype)})"


@kind("logical", lambda v: v.dtype == torch.bool)
def _logical(b, v):
    other = b.other(lambda o: o.dtype == torch.bool and o.shape == v.shape and o.name != v.name)
    return f"{v.name} {b.rng.choice(('&', '|', '^'))} {other.name}" if other is not None else f"~{v.name}"


@kind("integer_arith", lambda v: v.dtype in INTS)
def _integer_arith(b, v):
    k = b.rng.choice((2, 3, 7))
    return b.rng.choice((f"{v.name} % {k}", f"{v.name} // {k}", f"torch.clamp({v.name}, -5, 9)", f"{v.name} * {k} - 1"))


@kind("cast", lambda v: True)
def _cast(b, v):
    """A float becomes an integer from a bounded range, rounded away from the
    integers and halves that sums and means land on exactly. Truncating a
    float of 6e6, where float32 steps by 0.5, or a softmax's sum of 1 +- 1 ulp,
    turns any other summation order into another integer (and a gather by it
    into other rows), right or not."""
    target = b.rng.choice([d for d in (*FLOATS, *INTS) if d != v.dtype])
    if v.is_float and target in INTS:
        return f"(torch.clamp({v.name}, -100, 100) + 0.3).floor().to({target})"
    return f"{v.name}.to({target})"


# --- softmax and reductions ---------------------------------------------------------

kind("softmax", _float())(lambda b, v: f"F.softmax({v.name}, {_dim(b, v)})")
kind("log_softmax", _float())(lambda b, v: f"F.log_softmax({v.name}, {_dim(b, v)})")


@kind("reduce", lambda v: v.rank >= 1 and v.dtype != torch.bool)
def _reduce(b, v):
    keep = b.rng.random() < 0.5
    op = b.rng.choice(("sum", "amax", "amin") + (("mean", "var") if v.is_float else ()))
    return f"torch.{op}({v.name}, {_dim(b, v)}, keepdim={keep})"


@kind("argmax", lambda v: v.rank >= 1 and v.dtype != torch.bool)
def _argmax(b, v):
    """Along the last dim, over a ramp of 1e-3 steps: values equal but for rounding
    (a layer norm over one element, upsampled) would otherwise pick an index by
    their last bit, which two correct compilers may round differently."""
    ramp = f" + torch.arange({v.shape[-1]}, dtype={v.dtype}) * 1e-3" if v.is_float else ""
    return f"torch.argmax({v.name}{ramp}, -1)"


@kind("cumsum", lambda v: v.rank >= 1 and v.dtype != torch.bool)
def _cumsum(b, v):
    return f"torch.cumsum({v.name}, {_dim(b, v)})"


@kind("any_all", lambda v: v.dtype == torch.bool and v.rank >= 1)
def _any_all(b, v):
    return f"torch.{b.rng.choice(('any', 'all'))}({v.name}, {_dim(b, v)})"


# --- data movement ------------------------------------------------------------------

@kind("reshape", lambda v: v.rank >= 1)
def _reshape(b, v):
    return b.rng.choice((f"{v.name}.reshape(-1)", f"{v.name}.flatten(1)" if v.rank >= 2 else f"{v.name}.reshape(1, -1)",
                         f"{v.name}.unsqueeze({b.rng.randrange(v.rank + 1)})"))


@kind("permute", lambda v: v.rank >= 2)
def _permute(b, v):
    order = list(range(v.rank))
    b.rng.shuffle(order)
    return f"{v.name}.permute({', '.join(map(str, order))})"


@kind("slice", lambda v: v.rank >= 1 and max(v.shape) > 1)
def _slice(b, v):
    dim = max(range(v.rank), key=lambda d: (v.shape[d], b.rng.random()))
    start = b.rng.randrange(v.shape[dim])
    step = b.rng.choice((1, 1, 2))
    index = ", ".join([":"] * dim + [f"{start}::{step}"])
    return f"{v.name}[{index}]"


@kind("concat", lambda v: v.rank >= 1)
def _concat(b, v):
    dim = _dim(b, v)
    other = b.other(lambda o: o.dtype == v.dtype and o.rank == v.rank and o.name != v.name and all(
        x == y for i, (x, y) in enumerate(zip(o.shape, v.shape)) if i != dim % v.rank))
    return f"torch.cat([{v.name}, {other.name if other is not None else v.name}], {dim})"


@kind("pad", lambda v: v.rank in (3, 4) and v.is_float)
def _pad(b, v):
    mode = b.rng.choice(("constant", "reflect", "replicate"))
    widths = [b.rng.randrange(3) for _ in range(2 * (v.rank - 2))]
    if mode == "reflect":
        widths = [min(w, d - 1) for w, d in zip(widths, [s for s in v.shape[2:][::-1] for _ in (0, 1)])]
    return f"F.pad({v.name}, {tuple(widths)}, mode='{mode}')"


@kind("gather", lambda v: v.rank >= 1 and v.dtype != torch.bool)
def _gather(b, v):
    dim = b.rng.randrange(v.rank)
    shape = tuple(b.rng.choice((1, d)) if i != dim else b.rng.choice(EXTENTS[:6]) for i, d in enumerate(v.shape))
    index = b.param(shape, torch.int64, init=f"randint:{v.shape[dim]}")
    return f"torch.gather({v.name}, {dim}, {index})"


@kind("embedding", lambda v: v.dtype in INTS)
def _embedding(b, v):
    rows = b.rng.choice((5, 11, 16))
    return f"F.embedding(torch.remainder({v.name}, {rows}), {b.param((rows, b.rng.choice(EXTENTS)))})"


@kind("interpolate", _float(4))
def _interpolate(b, v):
    mode = b.rng.choice(("nearest", "bilinear"))
    return f"F.interpolate({v.name}, scale_factor=2, mode='{mode}')"
