"""The pass-pipeline parser and the PassManager it builds from Wafer and upstream passes."""

import pytest
from torch_mlir import ir

from wafer import WaferError
from wafer.context import make_context
from wafer.pass_pipeline import PipelineItem, build_pass_manager, parse_options, parse_pipeline
from wafer.passes.fuse import Fuse
from wafer.passes.pass_base import OptionError
from wafer.pipelines.cpu import CpuPipeline


def names(items) -> list:
    """Items as nested lists of names: easier to compare than dataclasses."""
    return [item.name if item.nested is None else [item.name, names(item.nested)] for item in items]


# ---------------------------------------------------------------------------
# Parsing.


def test_builtin_module_wrapper_is_unwrapped():
    assert names(parse_pipeline("builtin.module(cse,canonicalize)")) == ["cse", "canonicalize"]
    assert names(parse_pipeline("cse,canonicalize")) == ["cse", "canonicalize"]


def test_nesting():
    items = parse_pipeline("builtin.module(func.func(cse,linalg-fuse-elementwise-ops),wafer-fuse,func.func(canonicalize))")
    assert names(items) == [["func.func", ["cse", "linalg-fuse-elementwise-ops"]], "wafer-fuse", ["func.func", ["canonicalize"]]]


def test_deep_nesting():
    items = parse_pipeline("builtin.module(builtin.module(func.func(cse)))")
    assert names(items) == [["builtin.module", [["func.func", ["cse"]]]]]


def test_options_with_commas_stay_with_their_pass():
    (item,) = parse_pipeline("wafer-fuse{tile-sizes=4,32}")
    assert item == PipelineItem("wafer-fuse", "tile-sizes=4,32", None)
    items = parse_pipeline("wafer-fuse{tile-sizes=4,32},cse")
    assert names(items) == ["wafer-fuse", "cse"]


def test_options_and_nested_pipeline_together():
    (item,) = parse_pipeline("a{x=1,2 y=3}(b{z=4},c)")
    assert item.options == "x=1,2 y=3"
    assert list(item.nested) == [PipelineItem("b", "z=4", None), PipelineItem("c", "", None)]


def test_braces_inside_options_are_balanced():
    (item,) = parse_pipeline("inline{op-pipelines=func.func(cse),x={a,{b}}}")
    assert item.name == "inline"
    assert item.options == "op-pipelines=func.func(cse),x={a,{b}}"
    assert item.nested is None


def test_whitespace_is_ignored_around_names_and_separators():
    items = parse_pipeline("  builtin.module( func.func( cse , canonicalize ) , wafer-fuse{ tile-sizes=2,2 } ) ")
    assert names(items) == [["func.func", ["cse", "canonicalize"]], "wafer-fuse"]
    assert items[1].options == "tile-sizes=2,2"


def test_empty_nested_pipeline():
    (item,) = parse_pipeline("func.func()")
    assert item.nested == ()
    assert parse_pipeline("builtin.module()") == []


@pytest.mark.parametrize(
    "text",
    [
        "cse",
        "func.func(cse,canonicalize)",
        "wafer-fuse{tile-sizes=4,32},func.func(canonicalize{max-iterations=3 top-down=false},cse)",
        "a{x={1,2}}(b(c{y=1}))",
    ],
)
def test_printing_round_trips(text):
    items = parse_pipeline(text)
    printed = ",".join(str(item) for item in items)
    assert printed == text
    assert parse_pipeline(printed) == items


@pytest.mark.parametrize(
    "text, message, column",
    [
        ("", "expected a pass name", 1),
        (",cse", "expected a pass name", 1),
        ("cse,", "expected a pass name", 5),
        ("cse,,canonicalize", "expected a pass name", 5),
        ("(cse)", "expected a pass name", 1),
        ("func.func(", "expected a pass name", 11),
        ("func.func(cse", "expected ')'", 14),
        ("builtin.module(func.func(cse)", "expected ')'", 30),
        ("cse)", "unexpected character", 4),
        ("a{x}}", "unexpected character", 5),
        ("a{x}{y}", "unexpected character", 5),
        ("a(b)(c)", "unexpected character", 5),
        ("wafer-fuse{tile-sizes=4", "unbalanced '{'", 11),
        ("a{x={b}", "unbalanced '{'", 2),
    ],
)
def test_malformed_pipelines(text, message, column):
    with pytest.raises(WaferError) as info:
        parse_pipeline(text)
    first, shown, caret = str(info.value).split("\n")
    assert first == f"error: malformed pass pipeline: {message} at column {column}"
    assert shown == f"  {text}"
    assert caret == "  " + " " * (column - 1) + "^"  # the caret points at the column


@pytest.mark.parametrize(
    "text, options",
    [
        ("", {}),
        ("tile-sizes=4,4", {"tile-sizes": "4,4"}),
        ("tile-sizes=4,4 vectorize", {"tile-sizes": "4,4", "vectorize": "true"}),
        ("  a=1   b=x  ", {"a": "1", "b": "x"}),
    ],
)
def test_parse_options(text, options):
    assert parse_options(text) == options


# ---------------------------------------------------------------------------
# Typed options of passes and pipelines.


def test_pass_options_are_typed():
    assert Fuse.from_options({"tile-sizes": "4,32"}).tile_sizes == (4, 32)
    assert Fuse.from_options({"tile-sizes": "16"}).tile_sizes == (16,)
    assert Fuse.from_options({}) == Fuse()


@pytest.mark.parametrize("text, value", [("true", True), ("false", False), ("1", True), ("0", False), ("TRUE", True)])
def test_bool_options(text, value):
    assert CpuPipeline.from_options({"vectorize": text}).vectorize is value


@pytest.mark.parametrize(
    "options, message",
    [
        ({"tile-sizes": "a"}, "option wafer-fuse{tile-sizes}: cannot read 'a' as list of int"),
        ({"tile-sizes": "4,x"}, "option wafer-fuse{tile-sizes}: cannot read '4,x' as list of int"),
        ({"tile_sizes": "4"}, "pass 'wafer-fuse' has no option 'tile_sizes' (options: loose-elements, parallel-elements, tile-sizes)"),
    ],
)
def test_bad_pass_options(options, message):
    with pytest.raises(OptionError) as info:
        Fuse.from_options(options)
    assert str(info.value) == message


def test_bad_bool_option():
    with pytest.raises(OptionError, match=r"cannot read 'maybe' as bool"):
        CpuPipeline.from_options({"vectorize": "maybe"})


def test_option_string_rebuilds_the_instance():
    fuse = Fuse.from_options({"tile-sizes": "4,32"})
    assert fuse.option_string() == "{tile-sizes=4,32}"
    assert Fuse().option_string() == ""
    (item,) = parse_pipeline("wafer-fuse" + fuse.option_string())
    assert Fuse.from_options(parse_options(item.options)) == fuse


def test_named_pipeline_text_parses_and_carries_its_options():
    text = CpuPipeline(tile_sizes=(4, 16), vectorize=False).pipeline()
    items = parse_pipeline(text)
    fuse = [item for item in items if item.name == "wafer-fuse"]
    assert [item.options for item in fuse] == ["tile-sizes=4,16"]
    assert "wafer-vectorize" not in [item.name for item in items]


# ---------------------------------------------------------------------------
# Building and running a PassManager.


@pytest.fixture(scope="module")
def ctx():
    return make_context()


LINEAR = """
func.func @linear(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %init: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %e = tensor.empty() : tensor<8x16xf32>
  %t = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%e : tensor<8x16xf32>) permutation = [1, 0]
  %r = linalg.matmul ins(%x, %t : tensor<4x8xf32>, tensor<8x16xf32>) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}
"""


def test_mixed_pipeline_runs_wafer_and_upstream_passes(ctx):
    module = ir.Module.parse(LINEAR, ctx)
    pm = build_pass_manager(
        "builtin.module(wafer-fold-transpose,func.func(canonicalize,cse),wafer-expose-c-interface)", ctx
    )
    pm.run(module.operation)
    text = str(module)
    assert "linalg.transpose" not in text and "tensor.empty" not in text  # folded, then cleaned up
    assert "llvm.emit_c_interface" in text


@pytest.mark.parametrize(
    "pipeline, message",
    [
        ("builtin.module(no-such-pass)", "error: in pass pipeline at 'no-such-pass': "),
        ("builtin.module(func.func(no-such-pass))", "error: in pass pipeline at 'func.func(no-such-pass)': "),
        ("builtin.module(canonicalize{bogus=1})", "error: in pass pipeline at 'canonicalize{bogus=1}': "),
        ("builtin.module(a b)", "error: in pass pipeline at 'a b': "),
        ("builtin.module(wafer-fuse{bogus=1})", "error: pass 'wafer-fuse' has no option 'bogus' (options: loose-elements, parallel-elements, tile-sizes)"),
        ("builtin.module(wafer-fuse{tile-sizes=a})", "error: option wafer-fuse{tile-sizes}: cannot read 'a' as list of int"),
        ("builtin.module(wafer-fuse(cse))", "error: Wafer pass 'wafer-fuse' takes no nested pipeline"),
        (
            "builtin.module(func.func(wafer-fuse))",
            "error: Wafer pass 'wafer-fuse' runs on builtin.module; move it out of 'func.func(...)' "
            "to the top level of the pipeline",
        ),
        (
            "builtin.module(func.func(cse,builtin.module(wafer-fold-transpose)))",
            "error: Wafer pass 'wafer-fold-transpose' runs on builtin.module; move it out of "
            "'builtin.module(...)' to the top level of the pipeline",
        ),
        ("builtin.module(cse", "error: malformed pass pipeline: expected ')' at column 19"),
    ],
)
def test_build_errors(ctx, pipeline, message):
    with pytest.raises(WaferError) as info:
        build_pass_manager(pipeline, ctx)
    assert str(info.value).startswith(message)
    assert "Traceback" not in str(info.value)


def test_failing_wafer_pass_reports_at_the_op(ctx):
    module = ir.Module.parse(
        "func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n"
        "  %r = tosa.abs %a : (tensor<4xf32>) -> tensor<4xf32>\n"
        "  return %r : tensor<4xf32>\n"
        "}\n",
        ctx,
    )
    pm = build_pass_manager("builtin.module(wafer-verify-cpu-support)", ctx)
    with pytest.raises(ir.MLIRError) as info:
        pm.run(module.operation)
    (diagnostic,) = info.value.error_diagnostics
    assert diagnostic.message == "'tosa.abs' is not supported by the CPU target"
    assert ":2:8" in str(diagnostic.location)
