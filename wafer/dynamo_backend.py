"""`torch.compile(model, backend="wafer")`: each graph Dynamo captures, compiled for Wafer's CPU target.

Registered under the `torch_dynamo_backends` entry point (pyproject.toml), as
iree-turbine registers its backend; `torch.compile(..., options={...})` gives
the CPU pipeline's options (e.g. `{"threads": 1}`).
"""

from __future__ import annotations

import warnings
import weakref

import torch

from . import frontend
from .diagnostics import WaferError


def backend(graph_module: torch.fx.GraphModule, example_inputs: list, options: dict | None = None):
    """Dynamo's entry: a callable that runs `graph_module` compiled by Wafer, or
    `graph_module.forward` (with a warning) where Wafer's CPU target cannot run it.
    Dynamo guards grad mode and each tensor's device and `requires_grad`, so what
    the example inputs show holds for every call."""
    reason = _eager_reason([x for x in example_inputs if isinstance(x, torch.Tensor)])
    if reason is not None:
        _warn_eager(reason)
        return graph_module.forward
    return WaferGraph(graph_module, example_inputs, options or {})


def _eager_reason(tensors: list[torch.Tensor]) -> str | None:
    """Why no graph with these inputs can run on Wafer, or None. Wafer compiles
    inference only: a graph that records gradients runs eagerly, so that
    `backward()` still works."""
    if torch.is_grad_enabled() and any(x.requires_grad for x in tensors):
        return "an input requires grad, and Wafer compiles inference only (call the model under torch.no_grad())"
    if any(x.device.type != "cpu" for x in tensors):
        return "an input is not on the CPU, Wafer's target"
    return None


class WaferGraph:
    """One Dynamo graph, run by a Wafer executable per call signature.

    Dynamo passes a module's parameters and buffers as arguments. Wafer compiles
    them in as constants, so that their layouts are folded at compile time: a
    call's signature therefore holds each weight's identity, and another module's
    weights compile anew, as do weights changed in place (a new version). A graph
    Dynamo made dynamic (symbolic shapes, sizes passed as ints) is specialized to
    each signature's shapes and sizes. Executables are shared across graphs with
    the same code, signature and options (Dynamo re-traces a frame on a guard miss,
    e.g. of grad mode, or after `torch._dynamo.reset()`).
    """

    def __init__(self, graph_module: torch.fx.GraphModule, example_inputs: list, options: dict):
        self.graph_module = graph_module
        self._options = options
        self._weight_positions = [i for i, x in enumerate(example_inputs) if _is_weight(x)]
        self._input_positions = [i for i, x in enumerate(example_inputs)
                                 if i not in self._weight_positions and isinstance(x, torch.Tensor)]
        self._constants = list(graph_module.state_dict(keep_vars=True).values())  # tensors the graph holds
        self._graph_key = (graph_module.code, repr(sorted(options.items())), tuple(map(id, self._constants)))
        self._eager = False

    def __call__(self, *args):
        if self._eager:
            return self.graph_module.forward(*args)
        weights = [args[i] for i in self._weight_positions]
        key = (self._graph_key, tuple(map(id, weights)), tuple(map(_input_key, args)))
        versions = [t._version for t in weights]
        entry = _COMPILED.get(key)
        if entry is None or entry.versions != versions:
            entry = _COMPILED[key] = _CacheEntry(key, self._compile(args), self._constants + weights, versions)
        if entry.compiled is None:
            self._eager = True
            return self.graph_module.forward(*args)
        return entry.compiled(*[args[i] for i in self._input_positions])

    def _compile(self, args) -> frontend.CompiledModel | None:
        """Wafer's executable for these arguments, or None (with one warning) for eager."""
        specialized = _Specialized(self.graph_module, args, self._weight_positions, self._input_positions)
        try:
            inputs = tuple(args[i] for i in self._input_positions)
            return frontend.compile(specialized, inputs, target="cpu", **self._options)
        except WaferError as err:
            _warn_eager(str(err).splitlines()[0].removeprefix("error: "))
            return None


class _Specialized(torch.nn.Module):
    """A graph with its weights as the module's own state and its other non-tensor
    arguments (Dynamo's symbolic sizes) fixed: what `torch.export` traces with
    static shapes and lifts the weights of, for Wafer to compile in as constants."""

    def __init__(self, graph_module: torch.fx.GraphModule, args, weight_positions: list[int],
                 input_positions: list[int]):
        super().__init__()
        self.graph_module = graph_module
        self._args = list(args)
        self._weight_names = {}
        for i in weight_positions:
            name = self._weight_names[i] = f"weight_{i}"
            if isinstance(args[i], torch.nn.Parameter):
                self.register_parameter(name, args[i])
            else:
                self.register_buffer(name, args[i])
        self._input_positions = input_positions

    def forward(self, *inputs):
        args = list(self._args)
        for i, name in self._weight_names.items():
            args[i] = getattr(self, name)
        for i, x in zip(self._input_positions, inputs):
            args[i] = x
        return self.graph_module(*args)


class _CacheEntry:
    """A compiled graph (None: Wafer refused it) and the versions of the weights it
    holds, dropped from the cache when any of them dies, so that a later tensor at
    the same address is not mistaken for it."""

    def __init__(self, key, compiled: frontend.CompiledModel | None, weights: list[torch.Tensor],
                 versions: list[int]):
        self.compiled = compiled
        self.versions = versions
        self._watches = [weakref.ref(t, lambda _, key=key: _COMPILED.pop(key, None)) for t in weights]


_COMPILED: dict[tuple, _CacheEntry] = {}


def _is_weight(x) -> bool:
    """A parameter, or a tensor Dynamo keeps at a static address (buffers, tensor attributes)."""
    return isinstance(x, torch.nn.Parameter) or torch._dynamo.utils.get_static_address_type(x) is not None


def _input_key(x) -> tuple:
    """What a compiled graph is specialized to: a tensor's shape and dtype, another value itself."""
    if isinstance(x, torch.Tensor):
        return x.shape, x.dtype
    return type(x), x  # a size Dynamo made symbolic, or another constant


def _warn_eager(reason: str) -> None:
    warnings.warn(f"wafer: running a torch.compile graph eagerly: {reason}")
