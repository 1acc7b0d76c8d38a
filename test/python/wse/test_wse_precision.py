"""16-bit on the wafer: `precision="fp16"` (and bf16) matches PyTorch at that
precision, keeps the model's dtypes at its edge, runs its products at the
16-bit SIMD width (`@fmach`), or at `@fmachs`'s with `accumulate="fp32"`."""

import copy
import functools

import pytest
import torch
from torch_mlir import ir

import wafer
from wafer.context import make_context
from wafer.diagnostics import WaferError
from wafer.passes.pass_base import find_ops
from wafer.passes.linalg_queries import REDUCTION, indexing_maps, is_projected, iterator_types, map_dims, result_coefficients
from wafer.wse_target.cost import compute_cycles
from wafer.wse_target.distribution import body_cost
from wafer.wse_target.kernel import LocalKernel, datapath_cycles, kernel_cycles, kernel_of, paired_operands
from wafer.wse_target.machine import SMALL, WSE2, WSE3

from wse_checks import ops_in
from zoo_blocks import BUILDERS, build

MODES = ("pipelined", "whole-wafer")
_HALF = {"fp16": torch.float16, "bf16": torch.bfloat16}


@functools.cache
def compiled(name: str, mode: str, precision: str = "fp16", accumulate: str | None = None):
    model, x = build(name)
    options = {} if accumulate is None else {"accumulate": accumulate}
    return model, x, wafer.compile(model, (x,), target="wse", machine="small", mode=mode,
                                   precision=precision, **options)


def at_precision(model, x, precision):
    """What PyTorch computes with the model and input cast to `precision`, as f32."""
    narrow = _HALF[precision]
    with torch.no_grad():
        return copy.deepcopy(model).to(narrow)(x.to(narrow) if x.is_floating_point() else x).float()


def assert_matches(got, expected, precision):
    """The stated tolerance: within 1% of the output's largest magnitude (fp16,
    10 mantissa bits) or 4% (bf16, 7 bits), elementwise."""
    scale = {"fp16": 0.01, "bf16": 0.04}[precision]
    torch.testing.assert_close(got, expected, rtol=scale, atol=scale * float(expected.abs().max()))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_an_fp16_model_matches_pytorch_at_fp16(name, mode):
    model, x, program = compiled(name, mode)
    got = program(x)
    assert got.dtype == torch.float32  # the edge keeps the model's dtype
    assert_matches(got, at_precision(model, x, "fp16"), "fp16")
    assert program.report.dtype == "fp16"


@pytest.mark.parametrize("name", ["mlp", "resnet"])
def test_fp32_accumulation_matches_pytorch_at_fp16(name):
    model, x, program = compiled(name, "whole-wafer", accumulate="fp32")
    assert_matches(program(x), at_precision(model, x, "fp16"), "fp16")


@pytest.mark.parametrize("name", ["mlp", "gpt"])
def test_a_bf16_model_matches_pytorch_at_bf16(name):
    model, x, program = compiled(name, "whole-wafer", precision="bf16")
    assert_matches(program(x), at_precision(model, x, "bf16"), "bf16")


def _products(program) -> list:
    return [op for op in ops_in(program.executable.module.operation)
            if op.name == "linalg.generic" and REDUCTION in iterator_types(op) and op.parent.name == "wse.compute"]


def test_fp16_products_accumulate_in_fp16_unless_asked_for_fp32():
    _, _, narrow = compiled("mlp", "whole-wafer")
    _, _, mixed = compiled("mlp", "whole-wafer", accumulate="fp32")
    def element(value):
        return type(ir.ShapedType(value.type).element_type)

    accumulators = {program: {element(op.operands[-1]) for op in _products(program)} for program in (narrow, mixed)}
    assert accumulators == {narrow: {ir.F16Type}, mixed: {ir.F32Type}}
    # Their operands stay 16-bit: the datapath widens them as it reads (@fmachs),
    # in the one slot of the multiply-add.
    assert {element(v) for op in _products(mixed) for v in list(op.operands)[:-1]} == {ir.F16Type}
    assert {body_cost(op).slots for op in _products(mixed)} == {1}


@pytest.mark.parametrize("accumulate", ["fp16", "fp32"])
@pytest.mark.parametrize("name", ["resnet", "mobilenet"])
def test_a_16_bit_model_is_partitioned_as_its_fp32_twin(name, accumulate):
    """A truncation of the accumulator stays in its product's epilogue, and a
    bias widened for an f32 accumulator is moved in flight: no extra regions."""
    model, x = build(name)
    fp32 = wafer.compile(model, (x,), target="wse", machine="small", mode="whole-wafer")
    _, _, half = compiled(name, "whole-wafer", accumulate=accumulate)
    assert [op.kind for op in half.estimate().ops] == [op.kind for op in fp32.estimate().ops]


def _linear_layers():
    return torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 64)), torch.randn(32, 64)


def _depthwise_pool_and_conv():
    return (torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1, groups=8), torch.nn.MaxPool2d(2),
                                torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)),
            torch.randn(1, 8, 16, 16))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("build_model", [_linear_layers, _depthwise_pool_and_conv])
def test_fp16_products_keep_the_full_simd_width(build_model, mode):
    """PyTorch keeps a linear layer's weight (out, in); a PE's AXPY walks out,
    so stored as is, every instruction would read the weight with a stride and
    narrow to 2 lanes or 1. wse-transpose-weights stores it (in, out), and
    wse-unfold-windows gathers a convolution's windows with the
    output column innermost (not the 3x3 taps, a stride of 9), so every vector
    operand is read along its rows (a depthwise convolution's and a pooling's
    windows are read in place, from the input's rows, at the window's stride);
    wse-align-banks then keeps each
    instruction's two operands in different banks wherever their rows all
    start at one address mod 8 (rows of 4 bytes alternate, whatever the offset)."""
    torch.manual_seed(0)
    model, x = build_model()
    program = wafer.compile(model, (x,), target="wse", machine="small", mode=mode, precision="fp16")
    assert_matches(program(x), at_precision(model, x, "fp16"), "fp16")
    module = program.executable.module.operation
    offsets = {op.results[0]: ir.IntegerAttr(op.attributes["offset"]).value
               for op in ops_in(module) if op.name == "wse.buffer"}
    aligned = 0
    for op in _products(program):
        vector = map_dims(indexing_maps(op)[-1])[-1]
        for affine_map in indexing_maps(op):
            terms = result_coefficients(affine_map)
            assert all(vector not in term for term in terms[:-1])  # read along its rows
        kernel = kernel_of(op, SMALL, offsets)
        assert kernel.dtype == "fp16"
        pitches = [2 * ir.ShapedType(v.type).shape[-1] for v in paired_operands(op)]
        if is_projected(op) and all(pitch % 8 == 0 for pitch in pitches):
            # Each instruction at its full SIMD width: the fused multiply-add at 4
            # (@fmach), a 16-bit max at 1 (`Machine.simd_width`).
            assert kernel.datapath == datapath_cycles(body_cost(op).kinds, "fp16", SMALL, [1], 0.0)
            aligned += 1
    assert aligned


def test_16_bit_runs_a_large_product_faster_than_mixed_or_fp32():
    """A 512x512x512 matmul on the small preset, 16x16 tiles per PE.
    wse-align-banks puts the accumulator's and the streamed panel's rows in
    different bank pairs, so @fmach runs at its full width of 4 and @fmachs at
    2, where @fmacs does one element a cycle; each instruction's fixed issue
    and loop cycles are the same at every width."""
    a, b = torch.randn(512, 512), torch.randn(512, 512)

    def cycles(**options):
        model = torch.nn.Module()
        model.forward = lambda x, y: x @ y
        program = wafer.compile(model, (a, b), target="wse", machine="small", mode="whole-wafer", **options)
        return program.estimate().cycles

    fp32, mixed, fp16 = cycles(), cycles(precision="fp16", accumulate="fp32"), cycles(precision="fp16")
    assert fp16 < mixed < fp32


def test_the_report_measures_a_16_bit_model_against_the_16_bit_peak():
    _, _, program = compiled("mlp", "whole-wafer")
    report = program.estimate()
    assert report.dtype == "fp16"
    assert report.peak_fraction == pytest.approx(
        report.flops / (report.period_cycles * SMALL.peak_flops_per_cycle("fp16")))


def test_mixed_precision_runs_at_the_fmachs_width():
    """SDK appendix: @fmachs is SIMD-2 on WSE-2 and SIMD-4 on WSE-3. 64 elements
    as four 16-element rows: 120 set-up + 4 x (23 loop + 1 issue + 16 / width)."""
    assert WSE2.fmas_per_cycle("mixed") == 2 and WSE3.fmas_per_cycle("mixed") == 4
    assert compute_cycles(WSE2, 64, 16, "fp32") == 120 + 4 * (24 + 16)
    assert compute_cycles(WSE2, 64, 16, "mixed") == 120 + 4 * (24 + 8)
    assert compute_cycles(WSE2, 64, 16, "fp16") == 120 + 4 * (24 + 4)


def test_an_unknown_precision_or_accumulator_is_an_error():
    model, x = build("mlp")
    with pytest.raises(WaferError, match="unknown precision 'fp8'"):
        wafer.compile(model, (x,), target="wse", precision="fp8")
    with pytest.raises(WaferError, match="accumulate must be fp32 or fp16, got 'int8'"):
        wafer.compile(model, (x,), target="wse", precision="fp16", accumulate="int8")


def test_the_callers_model_keeps_its_dtype():
    model, x = build("mlp")
    wafer.compile(model, (x,), target="wse", precision="fp16")
    assert all(p.dtype == torch.float32 for p in model.parameters())


_PRODUCT = """
func.func @f(%x: tensor<16x64xf16>, %y: tensor<{y}xf16>, %c: tensor<16x32xf16>) -> tensor<16x32xf16> {{
  %r = linalg.generic {{indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> ({y_dims})>,
                                        affine_map<(m, n, k) -> (m, n)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%x, %y : tensor<16x64xf16>, tensor<{y}xf16>) outs(%c : tensor<16x32xf16>) {{
  ^bb0(%a: f16, %b: f16, %acc: f16):
    %p = arith.mulf %a, %b : f16
    %s = arith.addf %acc, %p : f16
    linalg.yield %s : f16
  }} -> tensor<16x32xf16>
  return %r : tensor<16x32xf16>
}}
"""


@pytest.mark.parametrize("machine", [WSE2, WSE3])
def test_placement_costs_a_strided_operand_at_its_narrower_width(machine):
    """y read (n, k) walks n with a stride of k's share: 64 % 8 == 0, one lane
    (SDK appendix). Placement costs the share as the simulator will, so it
    does not pick a rectangle the simulator then finds four times slower."""
    def kernel(y: str, y_dims: str) -> LocalKernel:
        with make_context():
            module = ir.Module.parse(_PRODUCT.format(y=y, y_dims=y_dims))
            return LocalKernel.of(find_ops(module.operation, lambda op: op.name == "linalg.generic")[0])

    rows, strided = kernel("64x32", "k, n"), kernel("32x64", "n, k")
    share, elements = [16, 32, 64], 16 * 32 * 64
    width = machine.fmas_per_cycle("fp16")
    one_lane = compute_cycles(machine, elements, 32, "fp16", scalar_operand=True, simd_narrowing=1 / width)
    full = compute_cycles(machine, elements, 32, "fp16", scalar_operand=True)
    assert rows.cycles(share, machine) == full
    assert strided.cycles(share, machine) == one_lane > full


_ODD_ROWS = """
func.func @f(%x: memref<{c}x7x7xf16>, %w: memref<2x{c}xf16>, %y: memref<2x7x7xf16>) {{
  linalg.generic {{indexing_maps = [affine_map<(f, h, w, c) -> (c, h, w)>, affine_map<(f, h, w, c) -> (f, c)>,
                                   affine_map<(f, h, w, c) -> (f, h, w)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}}
      ins(%x, %w : memref<{c}x7x7xf16>, memref<2x{c}xf16>) outs(%y : memref<2x7x7xf16>) {{
  ^bb0(%a: f16, %b: f16, %acc: f16):
    %p = arith.mulf %a, %b : f16
    %s = arith.addf %acc, %p : f16
    linalg.yield %s : f16
  }}
  return
}}
"""


@pytest.mark.parametrize("channels", [8, 96])
def test_placement_costs_the_bank_conflicts_no_alignment_avoids(channels):
    """A 1x1 convolution's share at 7x7 pixels: 16-bit rows of 7 elements start
    on every bank, so however wse-align-banks places the two buffers, most of
    the FMAs pair colliding rows. Placement charges what the simulator will
    on the better of the two placements, not the full width."""
    with make_context():
        module = ir.Module.parse(_ODD_ROWS.format(c=channels))
        op = find_ops(module.operation, lambda op: op.name == "linalg.generic")[0]
        x, y = op.operands[0], op.operands[2]
        simulated = min(kernel_cycles(kernel_of(op, SMALL, {x: 0, y: offset}), SMALL) for offset in (0, 4))
        kernel = LocalKernel.of(op)
        assert kernel.cycles(list(kernel.ranges), SMALL) == simulated
    full_width = compute_cycles(SMALL, 2 * 7 * 7 * channels, 7, "fp16", scalar_operand=True)
    assert simulated > full_width
