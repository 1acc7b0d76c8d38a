"""A random program: PyTorch source built op by op, each op run in eager as it is drawn.

The source is the program: the generator evaluates each new line in eager
(torch itself decides what is valid), the checker compiles the module that
source defines, and a reproducer is that source with a `__main__` block.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, field

import torch

from .ops import EXTENTS, KINDS, Value

# Shared by generation and by every reproducer, so one text defines how a seed becomes tensors.
TENSORS_SOURCE = '''
def make_tensor(generator, shape, dtype, init="randn"):
    """A weight or input drawn from `generator`: normal floats, small integers, random bools."""
    if dtype == torch.bool:
        return torch.rand(shape, generator=generator) > 0.5
    if init.startswith("randint:"):
        return torch.randint(0, int(init.split(":")[1]), shape, generator=generator, dtype=dtype)
    if not dtype.is_floating_point:
        return torch.randint(-5, 9, shape, generator=generator, dtype=dtype)
    values = torch.rand(shape, generator=generator) if init == "rand" else torch.randn(shape, generator=generator)
    return (values * 0.5).to(dtype)
'''
_NAMESPACE: dict = {"torch": torch}
exec(TENSORS_SOURCE, _NAMESPACE)  # our own source text, above: the reproducers run the same
make_tensor = _NAMESPACE["make_tensor"]

MAX_ELEMENTS = 1 << 15


@dataclass
class Program:
    seed: int
    inputs: list[Value]
    params: list[tuple[str, tuple[int, ...], torch.dtype, str]] = field(default_factory=list)
    lines: list[tuple[Value, str, str]] = field(default_factory=list)  # (result, op kind, expression)
    outputs: list[str] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        return [kind for _, kind, _ in self.lines]

    def source(self) -> str:
        """The module, its weights and its inputs, as a standalone Python file."""
        init = [f"        self.{name} = torch.nn.Parameter(make_tensor(g, {shape}, {dtype}, {init!r}), "
                f"requires_grad=False)" for name, shape, dtype, init in self.params]
        body = [f"        {value.name} = {expr}  # {kind}" for value, kind, expr in self.lines]
        inputs = ", ".join(v.name for v in self.inputs)
        made = ", ".join(f"make_tensor(g, {v.shape}, {v.dtype})" for v in self.inputs)
        return "\n".join([
            f'"""Fuzzed program, seed {self.seed}: {", ".join(self.kinds)}."""',
            "import torch", "import torch.nn.functional as F", TENSORS_SOURCE, "",
            "class FuzzModel(torch.nn.Module):",
            "    def __init__(self):", "        super().__init__()",
            f"        g = torch.Generator().manual_seed({self.seed})", *init, "",
            f"    def forward(self, {inputs}):", *body,
            f"        return ({', '.join(self.outputs)},)", "", "",
            "def make_inputs():", f"    g = torch.Generator().manual_seed({self.seed + 1})",
            f"    return ({made},)", "",
        ])

    def build(self) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
        namespace: dict = {}
        exec(compile(self.source(), f"<fuzz seed {self.seed}>", "exec"), namespace)  # source we generated
        return namespace["FuzzModel"]().eval(), namespace["make_inputs"]()


class _Builder:
    """What an op kind draws from: the RNG, new weights, and other values in scope."""

    def __init__(self, program: Program, rng: random.Random, env: dict):
        self.rng = rng
        self._program = program
        self._env = env
        self._weights = torch.Generator().manual_seed(program.seed)
        self.used: set[str] = set()

    def param(self, shape, dtype=torch.float32, init="randn") -> str:
        name = f"w{len(self._program.params)}"
        self._program.params.append((name, tuple(shape), dtype, init))
        self._env["self"].__dict__[name] = make_tensor(self._weights, tuple(shape), dtype, init)
        return f"self.{name}"

    def other(self, accepts) -> Value | None:
        choices = [v for v, _, _ in self._program.lines if accepts(v)] + [v for v in self._program.inputs if accepts(v)]
        chosen = self.rng.choice(choices) if choices else None
        if chosen is not None:
            self.used.add(chosen.name)
        return chosen

    def checkpoint(self):
        return len(self._program.params), self._weights.get_state(), set(self.used)

    def rollback(self, checkpoint) -> None:
        count, state, used = checkpoint
        del self._program.params[count:]
        self._weights.set_state(state)
        self.used = used


def _random_input(rng: random.Random, name: str) -> Value:
    rank = rng.choice((1, 2, 2, 3, 3, 4, 4, 4))
    while True:
        shape = tuple(rng.choice(EXTENTS) for _ in range(rank))
        if 1 <= torch.Size(shape).numel() <= 4096:
            break
    dtype = rng.choices((torch.float32, torch.float64, torch.int64, torch.int32, torch.bool),
                        weights=(70, 8, 10, 6, 6))[0]
    return Value(name, shape, dtype)


def generate(seed: int, max_ops: int = 20) -> Program:
    """A program of 2 to `max_ops` ops, drawn from `seed`."""
    rng = random.Random(seed)
    program = Program(seed, [_random_input(rng, f"x{i}") for i in range(rng.choice((1, 1, 2)))])
    inputs = torch.Generator().manual_seed(seed + 1)
    env = {"torch": torch, "F": torch.nn.functional, "self": type("Weights", (), {})()}
    for value in program.inputs:
        env[value.name] = make_tensor(inputs, value.shape, value.dtype)
    builder = _Builder(program, rng, env)
    target = rng.randint(2, max_ops)
    for _ in range(20 * target):
        if len(program.lines) >= target:
            break
        scope = [v for v in program.inputs + [v for v, _, _ in program.lines] if v.rank]  # a scalar ends a chain
        source = rng.choice(scope[-4:])  # mostly chains, sometimes branches
        kinds = [k for k in KINDS if k.accepts(source)]
        op = rng.choice(kinds)
        checkpoint = builder.checkpoint()
        expr = op.build(builder, source)
        result = _evaluate(expr, env) if expr is not None else None
        if result is None:
            builder.rollback(checkpoint)
            continue
        value = Value(f"v{len(program.lines)}", tuple(result.shape), result.dtype)
        env[value.name] = result
        builder.used.add(source.name)
        program.lines.append((value, op.name, expr))
    leaves = [v.name for v, _, _ in program.lines if v.name not in builder.used]
    program.outputs = leaves[-3:] or [program.lines[-1][0].name if program.lines else program.inputs[0].name]
    return program


def _evaluate(expr: str, env: dict) -> torch.Tensor | None:
    """The expression's value in eager, or None when torch rejects it or it is not a fit."""
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # var() of one element, say: a NaN the compiled code must match
            result = eval(expr, env)  # an expression an op kind built from our own templates
    except Exception:
        return None
    if not isinstance(result, torch.Tensor) or not 0 < result.numel() <= MAX_ELEMENTS:
        return None
    return result
