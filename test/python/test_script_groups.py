"""A transform script's groups run in small functions of their own and go back in place
(passes/script_groups.py)."""

from torch_mlir import ir
from torch_mlir.dialects import transform
from torch_mlir.dialects.transform import structured
from torch_mlir.passmanager import PassManager

from wafer.context import make_context
from wafer.passes.script_groups import groups_outlined
from wafer.passes.transform_script import TAG, group_functions, match_tagged, tag, transform_script

_T = "tensor<8x8xf32>"


def _module(body: str, results: str) -> ir.Module:
    return ir.Module.parse(f"""
func.func @main(%a: {_T}, %b: {_T}) -> ({results}) {{
  %e = tensor.empty() : {_T}
  %zero = arith.constant 0.0 : f32
{body}
}}""")


def _functions(module: ir.Module) -> dict[str, list[str]]:
    """{function name: the names of the ops in its body}."""
    return {ir.StringAttr(f.attributes["sym_name"]).value:
            [op.operation.name for op in f.regions[0].blocks[0].operations] for f in module.body.operations}


def _tagged(module: ir.Module) -> list[str]:
    return [f"{op.operation.name}={ir.StringAttr(op.attributes[TAG]).value}"
            for f in module.body.operations for op in f.regions[0].blocks[0].operations if TAG in op.attributes]


_MATMUL_AFTER_EXP = f"""
  %x = linalg.exp ins(%a : {_T}) outs(%e : {_T}) -> {_T}
  %f = linalg.fill ins(%zero : f32) outs(%e : {_T}) -> {_T}
  %m = linalg.matmul {{wafer.tag = "mm0"}} ins(%a, %b : {_T}, {_T}) outs(%f : {_T}) -> {_T}
  %y = linalg.add ins(%m, %x : {_T}, {_T}) outs(%e : {_T}) -> {_T}
  return %y : {_T}"""


def test_a_group_and_the_producers_only_it_reads_move_into_a_function_and_back():
    with make_context(), ir.Location.unknown():
        module = _module(_MATMUL_AFTER_EXP, _T)
        before = str(module)
        with groups_outlined(module.operation, ["mm0"], (TAG,)):
            functions = _functions(module)
            # The fill only the matmul reads goes with it; the constant and the
            # shared empty tensor are copied in; the exp, which the group does
            # not read, stays.
            assert functions["wafer_group0"] == ["arith.constant", "tensor.empty", "linalg.fill", "linalg.matmul",
                                                 "func.return"]
            assert functions["main"] == ["tensor.empty", "arith.constant", "linalg.exp", "func.call", "linalg.add",
                                         "func.return"]
            assert module.operation.verify()
        assert list(_functions(module)) == ["main"]
        assert _tagged(module) == ["linalg.matmul=mm0"]
        _canonicalize(module)
        expected = ir.Module.parse(before)
        _canonicalize(expected)
        assert str(module) == str(expected)


def test_an_op_on_a_path_between_members_goes_with_them_and_a_reader_moves_after_the_call():
    with make_context(), ir.Location.unknown():
        module = _module(f"""
  %p = linalg.exp {{wafer.tag = "g0.p0"}} ins(%a : {_T}) outs(%e : {_T}) -> {_T}
  %q = linalg.negf ins(%p : {_T}) outs(%e : {_T}) -> {_T}
  %u = linalg.abs ins(%p : {_T}) outs(%e : {_T}) -> {_T}
  %r = linalg.add {{wafer.tag = "g0"}} ins(%q, %b : {_T}, {_T}) outs(%e : {_T}) -> {_T}
  return %r, %u, %q : {_T}, {_T}, {_T}""", f"{_T}, {_T}, {_T}")
        with groups_outlined(module.operation, ["g0"], (TAG,)):
            functions = _functions(module)
            # The negation is read outside too, so it is no producer of the group's
            # own; it lies on the path from the exp to the add all the same.
            assert [name for name in functions["wafer_group0"] if name.startswith("linalg")] == [
                "linalg.exp", "linalg.negf", "linalg.add"]
            assert functions["main"][-3:] == ["func.call", "linalg.abs", "func.return"]
            assert module.operation.verify()
        assert module.operation.verify()
        returned = list(module.body.operations[0].regions[0].blocks[0].operations)[-1].operands
        assert [value.owner.operation.name for value in returned] == ["linalg.add", "linalg.abs", "linalg.negf"]


def test_groups_that_share_a_producer_are_one_function():
    with make_context(), ir.Location.unknown():
        module = _module(f"""
  %f = linalg.fill ins(%zero : f32) outs(%e : {_T}) -> {_T}
  %m0 = linalg.matmul {{wafer.tag = "mm0"}} ins(%a, %b : {_T}, {_T}) outs(%f : {_T}) -> {_T}
  %x = linalg.exp ins(%a : {_T}) outs(%e : {_T}) -> {_T}
  %m1 = linalg.matmul {{wafer.tag = "mm1"}} ins(%b, %a : {_T}, {_T}) outs(%f : {_T}) -> {_T}
  return %m0, %x, %m1 : {_T}, {_T}, {_T}""", f"{_T}, {_T}, {_T}")
        with groups_outlined(module.operation, ["mm0", "mm1"], (TAG,)):
            functions = _functions(module)
            assert sorted(functions) == ["main", "wafer_group0"]
            assert functions["wafer_group0"].count("linalg.matmul") == 2
            assert "linalg.fill" in functions["wafer_group0"]
            assert "linalg.exp" in functions["main"]
        assert list(_functions(module)) == ["main"]


def test_a_fusion_in_a_small_function_gives_the_ir_it_gives_in_place():
    """The script finds its ops by tag from the module: the same fusion, in or out of place."""
    with make_context(), ir.Location.unknown():
        fused = []
        for outline in ((), ["mm0"]):
            module = _module(_MATMUL_AFTER_EXP, _T)
            with transform_script(module.operation, outline=outline) as root:
                tag(_op_named(module, "linalg.matmul"), "mm0")
                any_op = transform.AnyOpType.get()
                matmul = match_tagged(root, "mm0")
                fill = transform.GetProducerOfOperand(any_op, matmul, 2).result
                tiled = structured.TileUsingForallOp(any_op, any_op, matmul, tile_sizes=[4, 4])
                structured.FuseIntoContainingOp(fill, tiled.forall_op)
            _canonicalize(module)
            fused.append(str(module))
        assert "scf.forall" in fused[0] and fused[0].count("linalg.fill") == 1
        assert fused[0] == fused[1]


def test_group_functions_reach_the_groups_and_not_the_rest_of_the_model():
    with make_context(), ir.Location.unknown():
        module = _module(_MATMUL_AFTER_EXP, _T)
        with transform_script(module.operation, outline=["mm0"]) as root:
            linalg_ops = structured.MatchOp(transform.AnyOpType.get(), group_functions(root),
                                            interface=structured.MatchInterfaceEnum.LinalgOp).result
            transform.AnnotateOp(linalg_ops, "seen")
        seen = [op.operation.name for op in module.body.operations[0].regions[0].blocks[0].operations
                if "seen" in op.attributes]
        assert seen == ["linalg.fill", "linalg.matmul"]


def _op_named(module: ir.Module, name: str) -> ir.Operation:
    return next(op.operation for op in module.body.operations[0].regions[0].blocks[0].operations
                if op.operation.name == name)


def _canonicalize(module: ir.Module) -> None:
    PassManager.parse("builtin.module(func.func(canonicalize,cse))").run(module.operation)
