"""wse-partition and wse-distribute on a linalg.generic with two results, and the
locations of what wse-distribute builds: at the linalg op it comes from."""

import numpy as np
import pytest
from torch_mlir import ir

from wafer.compiler import run_stages
from wafer.context import make_context
from wafer.pipelines.wse import WsePipeline
from wafer.wse_target.simulator import execute

# A max and its index along dim 1, both returned: two results of two types.
MAX_AND_INDEX = """
#in = affine_map<(d0, d1) -> (d0, d1)>
#idx = affine_map<(d0, d1) -> (d1)>
#out = affine_map<(d0, d1) -> (d0)>
func.func @forward(%x: tensor<6x8xf32>) -> (tensor<6xf32>, tensor<6xi64>) {
  %iota = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7]> : tensor<8xi64>
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0 : i64
  %ev = tensor.empty() : tensor<6xf32>
  %ei = tensor.empty() : tensor<6xi64>
  %v0 = linalg.fill ins(%ninf : f32) outs(%ev : tensor<6xf32>) -> tensor<6xf32> loc("user.py":5:0)
  %i0 = linalg.fill ins(%zero : i64) outs(%ei : tensor<6xi64>) -> tensor<6xi64> loc("user.py":6:0)
  %r:2 = linalg.generic {indexing_maps = [#in, #idx, #out, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x, %iota : tensor<6x8xf32>, tensor<8xi64>) outs(%v0, %i0 : tensor<6xf32>, tensor<6xi64>) {
  ^bb0(%in: f32, %k: i64, %v: f32, %i: i64):
    %m = arith.maximumf %in, %v : f32
    %gt = arith.cmpf ogt, %in, %v : f32
    %s = arith.select %gt, %k, %i : i64
    linalg.yield %m, %s : f32, i64
  } -> (tensor<6xf32>, tensor<6xi64>) loc("user.py":7:0)
  return %r#0, %r#1 : tensor<6xf32>, tensor<6xi64>
}
"""


@pytest.fixture(scope="module")
def ctx():
    context = make_context()
    context.enable_multithreading(False)
    return context


def compiled(ctx, stages):
    module = ir.Module.parse(MAX_AND_INDEX, ctx)
    names = [name for name, _ in WsePipeline().stages()]
    run_stages(module, WsePipeline().stages()[:names.index(stages) + 1])
    return module


def ops_named(module, name):
    found = []

    def visit(op):
        if op.name == name:
            found.append(op)
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return found


def test_each_used_result_leaves_its_own_region(ctx):
    module = compiled(ctx, "partition")
    regions = ops_named(module, "wse.region")
    assert len(regions) == 2
    assert sorted(str(r.results[0].type) for r in regions) == ["tensor<6xf32>", "tensor<6xi64>"]
    returned = ops_named(module, "func.return")[0]
    assert [operand.owner.name for operand in returned.operands] == ["wse.region", "wse.region"]
    assert module.operation.verify()


def test_a_two_result_reduction_runs_whole_on_each_pe(ctx):
    module = compiled(ctx, "route")
    x = np.random.default_rng(1).standard_normal((6, 8)).astype(np.float32)
    values, indices = execute(module, "forward", [x])
    np.testing.assert_array_equal(values, x.max(1))
    np.testing.assert_array_equal(indices, x.argmax(1))
    # The reduced dim (8) is split over no PE: there is nothing to combine across them.
    assert not ops_named(module, "wse.reduce")


def test_what_wse_distribute_builds_is_at_the_users_line(ctx):
    module = compiled(ctx, "route")
    built = {name: ops_named(module, name) for name in ("wse.buffer", "wse.scatter", "wse.compute", "wse.gather")}
    assert all(built.values())
    for op in (op for ops in built.values() for op in ops):
        assert '"user.py":' in str(op.location), (op.name, str(op.location))
    # The buffers, scatters and gathers the generic needs are at its line; the
    # computes of its inits at the fills'.
    for op in built["wse.buffer"] + built["wse.scatter"] + built["wse.gather"]:
        assert str(op.location) == 'loc("user.py":7:0)', op.name
