"""wafer-outline-kernels: each loop nest a function of its own, identical ones (a transformer's
layers) one function, and the function that calls them compiled without LLVM's optimizer."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import memref

from ..symbols import OUTLINED_KERNEL, public_functions
from .outlining import free_names, outline
from .pass_base import WaferPass

# Top-level ops that are a kernel: a loop nest over buffers, or a parallel one as an OpenMP region.
_KERNELS = ("scf.for", "scf.parallel", "omp.parallel")
# Marks a function left as glue: what wafer-unoptimized-glue looks for.
GLUE = "wafer.glue"


@dataclass(frozen=True)
class OutlineKernels(WaferPass):
    """Outline each top-level loop nest of a public function into a private
    function, one for each set of identical nests, called where each of them
    was; the public function is left as glue (allocations, views, calls),
    tagged `wafer.glue` for wafer-unoptimized-glue.

    A model of repeated layers (ViT-B/16's twelve encoder layers, GPT-2's
    blocks, ResNet's same-shaped residual blocks) runs the same loop nests on
    other buffers and weights. Lowered and JIT-compiled once per copy, they
    were most of its compile time, growing with the number of layers. Two nests
    are the same when their code is, with the values they read from outside
    (buffers, weights, sizes) as arguments in order of first use, and the
    constants they read copied in. A buffer read only through slices at
    offsets computed at run time crosses the call with its own offset dynamic
    too: DenseNet's 3x3 convolutions, each writing its 32 channels at another
    place of the block's concatenated features, are then one function for the
    block, not one a layer.

    What is left of the public function is thousands of descriptor updates
    and calls (ViT-B/16: three quarters of the module's LLVM ops), in which
    -O2 finds nothing to speed up but spends most of the JIT's time; every
    nest moves out, twin or not, so that the glue can skip the optimizer,
    which also keeps LLVM from inlining the shared functions back into it.
    bench/compile_time.py shows the JIT's seconds by model and layer count.
    """

    name = "wafer-outline-kernels"
    summary = "Outline loop nests into functions, one per set of identical nests, and tag the caller as glue"

    def apply(self, module: ir.Operation) -> None:
        names = free_names(module, OUTLINED_KERNEL)
        for function in public_functions(module):
            groups: dict[str, list[tuple[ir.OpView, ir.OpView]]] = defaultdict(list)
            for op in list(function.regions[0].blocks[0].operations):
                if op.operation.name in _KERNELS and not op.results:
                    kernel, call = outline(module, [op.operation], OUTLINED_KERNEL)
                    _pass_offsets_at_run_time(kernel, call)
                    # Local scope: printing a nested op otherwise names every value of the module.
                    groups[kernel.operation.get_asm(use_local_scope=True, assume_verified=True)].append((kernel, call))
            for twins in groups.values():
                name = next(names)
                twins[0][0].attributes["sym_name"] = ir.StringAttr.get(name)
                for kernel, call in twins:
                    call.attributes["callee"] = ir.FlatSymbolRefAttr.get(name)
                for kernel, _ in twins[1:]:
                    kernel.operation.erase()
            if groups:
                function.attributes[GLUE] = ir.UnitAttr.get()


def _pass_offsets_at_run_time(kernel: ir.OpView, call: ir.OpView) -> None:
    """Give each buffer argument of `kernel` whose static offset only slices
    with run-time offsets read a dynamic offset, cast to it at `call`."""
    types = list(kernel.type.inputs)
    for argument in kernel.regions[0].blocks[0].arguments:
        relaxed = _with_dynamic_offset(argument.type)
        if relaxed is None or not all(_slices_at_run_time_offset(use.owner) for use in argument.uses):
            continue
        position = argument.arg_number
        with ir.InsertionPoint(call), call.location:
            call.operands[position] = memref.cast(relaxed, call.operands[position])
        argument.set_type(relaxed)
        types[position] = relaxed
    kernel.attributes["function_type"] = ir.TypeAttr.get(ir.FunctionType.get(types, kernel.type.results))


def _with_dynamic_offset(type_: ir.Type) -> ir.MemRefType | None:
    """`type_` with its offset dynamic, if it is a memref of strided layout and a static offset."""
    if not isinstance(type_, ir.MemRefType) or not isinstance(type_.layout, ir.StridedLayoutAttr):
        return None
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    layout = ir.StridedLayoutAttr(type_.layout)
    if layout.offset == dynamic:
        return None
    return ir.MemRefType.get(type_.shape, type_.element_type, ir.StridedLayoutAttr.get(dynamic, layout.strides),
                             type_.memory_space)


def _slices_at_run_time_offset(user: ir.OpView) -> bool:
    """Whether `user` is a subview whose result's offset is dynamic: one its source's offset does not change."""
    if user.operation.name != "memref.subview":
        return False
    layout = ir.MemRefType(user.results[0].type).layout
    return isinstance(layout, ir.StridedLayoutAttr) and \
        ir.StridedLayoutAttr(layout).offset == ir.ShapedType.get_dynamic_stride_or_offset()
