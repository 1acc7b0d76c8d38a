"""The numpy interpreter: whole models against PyTorch, grid dims against one PE at a time."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch_mlir import ir

from wafer.compiler import run_stages
from wafer.context import make_context
from wafer.examples.models import EXAMPLES
from wafer.frontend import import_model
from wafer.pipelines.cpu import CpuPipeline
from wafer.wse_target.interpreter import InterpreterError, evaluate, run_function

SIMPLIFY = [stage for stage in CpuPipeline().stages() if stage[0] == "simplify"]


def func_named(module: ir.Module, name: str) -> ir.Operation:
    return next(
        op.operation for op in module.body.operations
        if op.operation.name == "func.func" and ir.StringAttr(op.attributes["sym_name"]).value == name
    )


def assert_close(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


def run_against_pytorch(model: torch.nn.Module, inputs: tuple, simplify: bool = False) -> None:
    """Import `model`, interpret `forward` (and again after `simplify`), compare with PyTorch."""
    with torch.no_grad():
        expected = model(*inputs)
    expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
    module = import_model(model, inputs)
    arrays = [x.numpy() for x in inputs]
    runs = [run_function(func_named(module, "forward"), arrays)]
    if simplify:
        run_stages(module, SIMPLIFY)
        runs.append(run_function(func_named(module, "forward"), arrays))
    for got in runs:
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_close(g, e.numpy())


@pytest.mark.parametrize("name", ["mlp", "lenet", "resnet-block", "transformer"])
def test_example_model_matches_pytorch(name):
    model, inputs = EXAMPLES[name].build(2)
    run_against_pytorch(model, inputs, simplify=True)


class TensorOps(torch.nn.Module):
    """Slices, concat, pad, insert, GELU (erf), softmax, and arg-max with ties."""

    def forward(self, x, ties):
        y = F.pad(torch.cat([x, x[:, 1::2]], dim=1), (1, 2, 0, 1), value=0.5)
        y[:, 2:4] = ties
        return F.gelu(y), torch.argmax(ties, dim=1), ties.amax(dim=2), torch.softmax(y, -1)


class StridedConvAndPools(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=2, dilation=(1, 2))

    def forward(self, x):
        y = self.conv(x)
        return F.max_pool2d(x, 3, stride=2, dilation=2), F.avg_pool2d(y, 2), y


def test_tensor_ops_and_arg_max_match_pytorch():
    torch.manual_seed(0)
    ties = torch.randint(0, 3, (2, 2, 11)).float()  # many equal maxima: the first one wins
    run_against_pytorch(TensorOps(), (torch.randn(2, 6, 8), ties))


def test_strided_dilated_conv_and_pools_match_pytorch():
    torch.manual_seed(0)
    run_against_pytorch(StridedConvAndPools().eval(), (torch.randn(2, 3, 17, 19),))


GRID_OPS = """
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>
#rows = affine_map<(d0, d1) -> (d0)>
func.func @matmul(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>, %c: tensor<4x5xf32>) -> tensor<4x5xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x5xf32>) outs(%c : tensor<4x5xf32>) -> tensor<4x5xf32>
  return %0 : tensor<4x5xf32>
}
func.func @matmul_transposed_b(%a: tensor<4x8xf32>, %bt: tensor<5x8xf32>, %c: tensor<4x5xf32>) -> tensor<4x5xf32> {
  %0 = linalg.matmul indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>,
                                      affine_map<(d0, d1, d2) -> (d0, d1)>]
       ins(%a, %bt : tensor<4x8xf32>, tensor<5x8xf32>) outs(%c : tensor<4x5xf32>) -> tensor<4x5xf32>
  return %0 : tensor<4x5xf32>
}
func.func @elementwise_broadcast(%a: tensor<4x8xf32>, %v: tensor<8xf32>) -> tensor<4x8xf32> {
  %half = arith.constant 0.5 : f32
  %0 = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
       ins(%a, %v : tensor<4x8xf32>, tensor<8xf32>) outs(%a : tensor<4x8xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %1 = arith.addf %in, %bias : f32
    %2 = arith.mulf %1, %half : f32
    %3 = math.tanh %2 : f32
    linalg.yield %3 : f32
  } -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
func.func @reduction(%a: tensor<4x8xf32>, %r: tensor<4xf32>) -> tensor<4xf32> {
  %0 = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
       ins(%a : tensor<4x8xf32>) outs(%r : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %1 = math.exp %in : f32
    %2 = arith.addf %1, %out : f32
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @conv_strided_dilated(%x: tensor<2x3x9x9xf32>, %w: tensor<4x3x3x3xf32>, %y: tensor<2x4x4x3xf32>)
    -> tensor<2x4x4x3xf32> {
  %0 = linalg.conv_2d_nchw_fchw {dilations = dense<[1, 2]> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
       ins(%x, %w : tensor<2x3x9x9xf32>, tensor<4x3x3x3xf32>) outs(%y : tensor<2x4x4x3xf32>) -> tensor<2x4x4x3xf32>
  return %0 : tensor<2x4x4x3xf32>
}
func.func @window_gather(%x: tensor<3x9x8xf32>, %e: tensor<3x4x5x2xf32>) -> tensor<3x4x5x2xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1 * 2 + d3, d2 + 2)>,
                                        affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
       ins(%x : tensor<3x9x8xf32>) outs(%e : tensor<3x4x5x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<3x4x5x2xf32>
  return %0 : tensor<3x4x5x2xf32>
}
"""


def parse(text: str) -> ir.Module:
    with make_context():
        return ir.Module.parse(text)


def ops_of(module: ir.Module, name: str) -> list[ir.Operation]:
    """The ops of function `name`; they live only as long as `module`."""
    return list(func_named(module, name).regions[0].blocks[0].operations)


@pytest.fixture(scope="module")
def grid_module() -> ir.Module:
    return parse(GRID_OPS)


def grid_operands(op: ir.Operation, grids: list[tuple[int, ...]], rng) -> list[np.ndarray]:
    """Random float32 operands of `op` with the given grid shapes in front."""
    shapes = [tuple(ir.ShapedType(v.type).shape) if isinstance(v.type, ir.ShapedType) else () for v in op.operands]
    return [rng.standard_normal(grid + shape).astype(np.float32) for grid, shape in zip(grids, shapes)]


def assert_grid_matches_points(op: ir.Operation, operands: list[np.ndarray]) -> None:
    """evaluate with grid_dims=2 equals evaluate at each grid point (size-1 grid dims broadcast)."""
    whole = evaluate(op, operands, grid_dims=2)
    for i in range(3):
        for j in range(2):
            point = evaluate(op, [x[i % x.shape[0], j % x.shape[1]] for x in operands])
            for got, expected in zip(whole, point):
                assert got.shape[:2] == (3, 2) and got.dtype == expected.dtype
                np.testing.assert_allclose(got[i, j], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", [
    "matmul", "matmul_transposed_b", "elementwise_broadcast", "reduction", "conv_strided_dilated", "window_gather",
])
def test_grid_dims_match_one_point_at_a_time(grid_module, name):
    op = [op for op in ops_of(grid_module, name) if op.name != "arith.constant"][0]
    operands = grid_operands(op, [(3, 2)] * len(op.operands), np.random.default_rng(0))
    assert_grid_matches_points(op, operands)


def test_shared_operands_broadcast_over_the_grid(grid_module):
    """Weights held once, (1, 1) grid dims, meet activations on a (3, 2) grid."""
    matmul = ops_of(grid_module, "matmul")[0]
    operands = grid_operands(matmul, [(3, 2), (1, 1), (1, 2)], np.random.default_rng(0))
    assert_grid_matches_points(matmul, operands)


def test_constants_carry_size_one_grid_dims(grid_module):
    constant = ops_of(grid_module, "elementwise_broadcast")[0]
    (value,) = evaluate(constant, [], grid_dims=2)
    assert value.shape == (1, 1) and value.dtype == np.float32


OTHER_NAMED_OPS = """
func.func @named(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>, %r: tensor<4xf32>) -> (tensor<4x8xf32>, tensor<4xf32>) {
  %0 = linalg.add ins(%a, %b : tensor<4x8xf32>, tensor<4x8xf32>) outs(%a : tensor<4x8xf32>) -> tensor<4x8xf32>
  %1 = linalg.reduce ins(%0 : tensor<4x8xf32>) outs(%r : tensor<4xf32>) dimensions = [1]
    (%in: f32, %init: f32) {
      %m = arith.maxnumf %in, %init : f32
      linalg.yield %m : f32
    }
  return %0, %1 : tensor<4x8xf32>, tensor<4xf32>
}
func.func @buffers(%a: memref<4x8xf32>, %b: memref<8x5xf32>, %c: memref<4x5xf32>) -> memref<4x5xf32> {
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%one : f32) outs(%c : memref<4x5xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x5xf32>) outs(%c : memref<4x5xf32>)
  return %c : memref<4x5xf32>
}
"""


def test_other_named_ops_run_through_their_generic_form():
    module = parse(OTHER_NAMED_OPS)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 2, 4, 8)).astype(np.float32)
    add, reduce = ops_of(module, "named")[:2]
    (total,) = evaluate(add, [a, b, a], grid_dims=2)
    (largest,) = evaluate(reduce, [total, np.zeros((1, 1, 4), np.float32)], grid_dims=2)
    np.testing.assert_array_equal(total, a + b)
    np.testing.assert_array_equal(largest, np.maximum((a + b).max(-1), 0))


def test_ops_on_memrefs_update_their_outs():
    module = parse(OTHER_NAMED_OPS)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 8)).astype(np.float32), rng.standard_normal((8, 5)).astype(np.float32)
    (c,) = run_function(func_named(module, "buffers"), [a, b, np.zeros((4, 5), np.float32)])
    np.testing.assert_allclose(c, 1 + a @ b, rtol=1e-5)


def test_window_gather_reads_through_affine_expressions(grid_module):
    """out[c, oh, ow, k] = x[c, 2 oh + k, ow + 2], checked element by element."""
    x = np.random.default_rng(0).standard_normal((3, 9, 8)).astype(np.float32)
    (got,) = run_function(func_named(grid_module, "window_gather"), [x, np.zeros((3, 4, 5, 2), np.float32)])
    assert got.shape == (3, 4, 5, 2)
    for c, oh, ow, k in np.ndindex(got.shape):
        assert got[c, oh, ow, k] == x[c, 2 * oh + k, ow + 2]


UNSUPPORTED = """
#id = affine_map<(d0) -> (d0)>
func.func @in_body(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
       ins(%a : tensor<4xf32>) outs(%a : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %1 = math.erfc %in : f32
    linalg.yield %1 : f32
  } -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @top_level(%a: tensor<4xf32>, %shape: tensor<2xi64>) -> tensor<2x2xf32> {
  %0 = tensor.reshape %a(%shape) : (tensor<4xf32>, tensor<2xi64>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}
func.func @last_write_wins(%a: tensor<4xf32>, %r: tensor<f32>) -> tensor<f32> {
  %0 = linalg.generic {indexing_maps = [#id, affine_map<(d0) -> ()>], iterator_types = ["reduction"]}
       ins(%a : tensor<4xf32>) outs(%r : tensor<f32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<f32>
  return %0 : tensor<f32>
}
"""


@pytest.mark.parametrize("name, op_name, line", [("in_body", "math.erfc", 7), ("top_level", "tensor.reshape", 13)])
def test_unsupported_op_raises_naming_it(name, op_name, line):
    module = parse(UNSUPPORTED)
    function = func_named(module, name)
    args = [np.ones(ir.ShapedType(arg.type).shape, np.float32 if "f32" in str(arg.type) else np.int64)
            for arg in function.regions[0].blocks[0].arguments]
    with pytest.raises(InterpreterError) as info:
        run_function(function, args)
    assert f"'{op_name}'" in str(info.value) and info.value.location.startswith(f"-:{line}:")


def test_a_reduction_by_no_known_combiner_runs_in_loop_order():
    """The body yields its input: each iteration overwrites the init, so the
    last one wins (max pooling's index of the first maximum is such a body)."""
    module = parse(UNSUPPORTED)
    function = func_named(module, "last_write_wins")
    (result,) = run_function(function, [np.array([3.0, 1.0, 4.0, 2.0], np.float32), np.zeros((), np.float32)])
    assert result == 2.0


def test_operand_of_the_wrong_shape_is_an_error_not_a_broadcast(grid_module):
    matmul = ops_of(grid_module, "matmul")[0]
    a, b, c = grid_operands(matmul, [(3, 2)] * 3, np.random.default_rng(0))
    with pytest.raises(InterpreterError, match="'linalg.matmul': operand #1"):
        evaluate(matmul, [a, b[..., :1], c], grid_dims=2)


HALVES = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.3, -0.7], np.float32)
UNIT = np.array([-0.9, -0.5, -0.1, 0.0, 0.2, 0.4, 0.6, 0.8], np.float32)
INTS = np.array([-7, -6, -1, 0, 1, 5, 6, 9], np.int32)
DIVISORS = np.array([2, -4, 3, 5, -3, 2, 4, 7], np.int32)
SHIFTS = np.array([0, 1, 2, 3, 1, 2, 0, 3], np.int32)
BODY_OPS = {  # op: (operands, torch reference)
    "arith.remsi": ((INTS, DIVISORS), torch.fmod),
    "arith.floordivsi": ((INTS, DIVISORS), lambda a, b: torch.div(a, b, rounding_mode="floor")),
    "arith.ceildivsi": ((INTS, DIVISORS), lambda a, b: -torch.div(-a, b, rounding_mode="floor")),
    "arith.shli": ((INTS, SHIFTS), lambda a, b: a << b),
    "arith.shrsi": ((INTS, SHIFTS), lambda a, b: a >> b),
    "math.absi": ((INTS,), torch.abs),
    "math.roundeven": ((HALVES,), torch.round),
    "math.round": ((HALVES,), lambda x: torch.sign(x) * torch.floor(torch.abs(x) + 0.5)),
    "math.trunc": ((HALVES,), torch.trunc),
    "math.log10": ((np.abs(HALVES),), torch.log10),
    "math.log2": ((np.abs(HALVES),), torch.log2),
    "math.exp2": ((HALVES,), torch.exp2),
    "math.cbrt": ((HALVES,), lambda x: torch.sign(x) * torch.abs(x) ** (1 / 3)),
    "math.atan2": ((HALVES, UNIT), torch.atan2),
    "math.copysign": ((HALVES, UNIT), torch.copysign),
    "math.sin": ((HALVES,), torch.sin), "math.cos": ((HALVES,), torch.cos), "math.tan": ((UNIT,), torch.tan),
    "math.asin": ((UNIT,), torch.asin), "math.acos": ((UNIT,), torch.acos), "math.atan": ((HALVES,), torch.atan),
    "math.sinh": ((HALVES,), torch.sinh), "math.cosh": ((HALVES,), torch.cosh),
    "math.asinh": ((HALVES,), torch.asinh), "math.acosh": ((np.abs(HALVES) + 1,), torch.acosh),
    "math.atanh": ((UNIT,), torch.atanh),
    "math.fma": ((HALVES, UNIT, HALVES), lambda a, b, c: a * b + c),
    "math.ipowi": ((INTS, SHIFTS), torch.pow),
    "arith.ceildivui": ((np.abs(INTS), np.abs(DIVISORS)), lambda a, b: -torch.div(-a, b, rounding_mode="floor")),
}


@pytest.mark.parametrize("op_name", sorted(BODY_OPS))
def test_body_op_matches_pytorch(op_name):
    operands, reference = BODY_OPS[op_name]
    element = "i32" if operands[0].dtype == np.int32 else "f32"
    args = ", ".join(f"%in{i}" for i in range(len(operands)))
    block_args = ", ".join(f"%in{i}: {element}" for i in range(len(operands)))
    inputs = ", ".join(f"%a{i}" for i in range(len(operands)))
    module = parse(f"""
#id = affine_map<(d0) -> (d0)>
func.func @f({", ".join(f"%a{i}: tensor<8x{element}>" for i in range(len(operands)))}, %init: tensor<8x{element}>) -> tensor<8x{element}> {{
  %0 = linalg.generic {{indexing_maps = [{", ".join(["#id"] * (len(operands) + 1))}], iterator_types = ["parallel"]}}
       ins({inputs} : {", ".join([f"tensor<8x{element}>"] * len(operands))}) outs(%init : tensor<8x{element}>) {{
  ^bb0({block_args}, %out: {element}):
    %1 = {op_name} {args} : {element}
    linalg.yield %1 : {element}
  }} -> tensor<8x{element}>
  return %0 : tensor<8x{element}>
}}""")
    (got,) = run_function(func_named(module, "f"), [*operands, np.zeros(8, operands[0].dtype)])
    expected = reference(*(torch.from_numpy(x) for x in operands)).numpy()
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
