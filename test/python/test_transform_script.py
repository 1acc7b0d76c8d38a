"""Transform scripts from Python: tagged ops matched in the script's prologue, tags gone afterwards."""

import pytest
from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects.transform import structured

from wafer.context import make_context
from wafer.passes.pass_base import find_ops
from wafer.passes.transform_script import match_tagged, rematch_tagged, tag, transform_script

_T = "tensor<8x8xf32>"
_TWO_EXPS = f"""
func.func @main(%a: {_T}) -> ({_T}, {_T}) {{
  %e = tensor.empty() : {_T}
  %x = linalg.exp ins(%a : {_T}) outs(%e : {_T}) -> {_T}
  %y = linalg.exp ins(%x : {_T}) outs(%e : {_T}) -> {_T}
  return %x, %y : {_T}, {_T}
}}"""


def _exps(module: ir.Module) -> list[ir.Operation]:
    return find_ops(module.operation, lambda op: op.name == "linalg.exp")


def _tile_rows(handle: ir.Value) -> None:
    structured.TileUsingForOp(handle, sizes=[1, 0])


@pytest.fixture
def module():
    """Two exps, the second reading the first, in a Wafer context that stays open for the test."""
    with make_context(), ir.Location.unknown():
        yield ir.Module.parse(_TWO_EXPS)


def test_each_tag_reaches_its_own_op_whatever_the_order_of_tagging(module):
    first, second = _exps(module)
    with transform_script(module.operation) as root:
        tag(second, "b")
        tag(first, "a")
        _tile_rows(match_tagged(root, "a"))  # rows of 8
        structured.TileUsingForOp(match_tagged(root, "b"), sizes=[2, 0])
    shapes = [str(op.results[0].type) for op in _exps(module)]
    assert shapes == ["tensor<1x8xf32>", "tensor<2x8xf32>"]


def test_rematch_finds_the_tiles_a_transform_made_of_a_tagged_op(module):
    first, _ = _exps(module)
    with transform_script(module.operation) as root:
        tag(first, "a")
        _tile_rows(match_tagged(root, "a"))
        # Tiled again: the tile of the first tiling, inside its loop, carries the tag.
        structured.TileUsingForOp(rematch_tagged(root, "a"), sizes=[0, 4])
    tiled = _exps(module)[0]
    assert str(tiled.results[0].type) == "tensor<1x4xf32>"
    assert tiled.parent.name == "scf.for" and tiled.parent.parent.name == "scf.for"


def test_no_tag_or_marker_is_left_in_the_ir(module):
    first, second = _exps(module)
    with transform_script(module.operation) as root:
        tag(first, "a")
        tag(second, "b")  # tagged, never matched
        _tile_rows(match_tagged(root, "a"))
    attributes = {name for op in find_ops(module.operation, lambda op: True) for name in op.attributes}
    assert not {name for name in attributes if name.startswith("wafer.")}, attributes


def test_a_tag_on_no_op_gives_an_empty_handle(module):
    first, _ = _exps(module)
    with transform_script(module.operation) as root:
        tag(first, "a")
        transform.AnnotateOp(match_tagged(root, "nothing"), "seen")
    assert not [op for op in find_ops(module.operation, lambda op: "seen" in op.attributes)]
