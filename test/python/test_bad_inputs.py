"""A corpus of bad inputs, part one: IR text and bytes, pass pipelines and compile
options. Each ends in one `error:` line that says what and where (`file:line:col`
for IR), with a non-zero exit from wafer-opt, never a traceback or a crash.

Part two, test_bad_calls.py, has calls, run-time faults, models and the `wafer` CLI.
"""

import re
import tempfile
import textwrap

import pytest
from bad_input_checks import VALID, count_error_lines, one_error_line, run_tool

import wafer
from wafer.tools import wafer_opt


# ---------------------------------------------------------------------------------------
# Malformed and invalid IR: through wafer-opt (file:line:col) and compile_mlir.

MALFORMED = {
    "unclosed_signature": "func.func @f( {\n",
    "missing_brace": "func.func @f() {\n  return\n",
    "unknown_dialect_op": 'func.func @f() {\n  %0 = "foo.bar"() : () -> i32\n  return\n}\n',
    "unknown_op_in_known_dialect": "func.func @f() {\n  %0 = arith.frobnicate : i32\n  return\n}\n",
    "undefined_value": "func.func @f() -> i32 {\n  return %x : i32\n}\n",
    "bad_type": "func.func @f(%a: tensor<4xfloat>) {\n  return\n}\n",
    "bad_shape": "func.func @f(%a: tensor<4x?x>) {\n  return\n}\n",
    "wrong_return_type": "func.func @f(%a: f32) -> i32 {\n  return %a : f32\n}\n",
    "missing_return": "func.func @f(%a: f32) -> f32 {\n}\n",
    "duplicate_value": "func.func @f() {\n  %0 = arith.constant 1 : i32\n  %0 = arith.constant 2 : i32\n  return\n}\n",
    "operand_type_mismatch": "func.func @f(%a: f32, %b: i32) -> f32 {\n  %c = arith.addf %a, %b : f32\n  return %c : f32\n}\n",
    "bad_attribute": "func.func @f() {\n  %0 = arith.constant 1.5 : i32\n  return\n}\n",
    "unterminated_string": 'func.func @f() attributes {x = "abc} {\n  return\n}\n',
    "bad_affine_map": "#m = affine_map<(d0) -> (d1)>\nfunc.func @f() {\n  return\n}\n",
    "use_before_def": "func.func @f() -> i32 {\n  %a = arith.addi %b, %b : i32\n  %b = arith.constant 1 : i32\n  return %a : i32\n}\n",
    "wrong_operand_count": "func.func @f(%a: f32) -> f32 {\n  %c = arith.addf %a : f32\n  return %c : f32\n}\n",
    "garbage": "this is not MLIR\n",
    "unknown_type_dialect": "func.func @f(%a: !foo.bar) {\n  return\n}\n",
    "bad_generic_maps": textwrap.dedent("""\
        func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
          %r = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
              ins(%a : tensor<4xf32>) outs(%a : tensor<4xf32>) {
          ^bb0(%x: f32, %o: f32):
            linalg.yield %x : f32
          } -> tensor<4xf32>
          return %r : tensor<4xf32>
        }
        """),
    "matmul_shape_mismatch": textwrap.dedent("""\
        func.func @f(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>, %c: tensor<2x5xf32>) -> tensor<2x5xf32> {
          %r = linalg.matmul ins(%a, %b : tensor<2x3xf32>, tensor<4x5xf32>) outs(%c : tensor<2x5xf32>) -> tensor<2x5xf32>
          return %r : tensor<2x5xf32>
        }
        """),
    "yield_wrong_type": textwrap.dedent("""\
        func.func @f(%a: tensor<4xf32>, %o: tensor<4xi32>) -> tensor<4xi32> {
          %r = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
              ins(%a : tensor<4xf32>) outs(%o : tensor<4xi32>) {
          ^bb0(%x: f32, %y: i32):
            linalg.yield %x : f32
          } -> tensor<4xi32>
          return %r : tensor<4xi32>
        }
        """),
    "extract_slice_out_of_bounds": textwrap.dedent("""\
        func.func @f(%a: tensor<4xf32>) -> tensor<8xf32> {
          %s = tensor.extract_slice %a[0] [8] [1] : tensor<4xf32> to tensor<8xf32>
          return %s : tensor<8xf32>
        }
        """),
    "reshape_bad_count": textwrap.dedent("""\
        func.func @f(%a: tensor<6xf32>) -> tensor<4x2xf32> {
          %r = tensor.expand_shape %a [[0, 1]] output_shape [4, 2] : tensor<6xf32> into tensor<4x2xf32>
          return %r : tensor<4x2xf32>
        }
        """),
    "call_to_missing_function": "func.func @f() {\n  func.call @nowhere() : () -> ()\n  return\n}\n",
    "empty_region_op": "func.func @f() {\n  scf.execute_region {\n  }\n  return\n}\n",
    # Cut off part way: in an op, in a type.
    "truncated_in_an_op": "func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n  %b = arith.addf %a, \n",
    "truncated_in_a_type": "func.func @f(%a: tensor<4x",
    # Verifier errors, dialect by dialect.
    "tensor_extract_wrong_rank": "func.func @f(%a: tensor<4x4xf32>, %i: index) -> f32 {\n"
                                 "  %x = tensor.extract %a[%i] : tensor<4x4xf32>\n  return %x : f32\n}\n",
    "tensor_empty_dynamic_without_size": "func.func @f() -> tensor<?xf32> {\n  %e = tensor.empty() : tensor<?xf32>\n"
                                         "  return %e : tensor<?xf32>\n}\n",
    "tensor_cast_incompatible": "func.func @f(%a: tensor<4xf32>) -> tensor<5xf32> {\n"
                                "  %b = tensor.cast %a : tensor<4xf32> to tensor<5xf32>\n  return %b : tensor<5xf32>\n}\n",
    "collapse_shape_wrong_size": "func.func @f(%a: tensor<2x3xf32>) -> tensor<5xf32> {\n"
                                 "  %b = tensor.collapse_shape %a [[0, 1]] : tensor<2x3xf32> into tensor<5xf32>\n"
                                 "  return %b : tensor<5xf32>\n}\n",
    "cmpf_unknown_predicate": "func.func @f(%a: f32) -> i1 {\n  %b = arith.cmpf bogus, %a, %a : f32\n  return %b : i1\n}\n",
    "extf_that_narrows": "func.func @f(%a: f32) -> f16 {\n  %b = arith.extf %a : f32 to f16\n  return %b : f16\n}\n",
    "addi_on_floats": "func.func @f(%a: f32) -> f32 {\n  %b = arith.addi %a, %a : f32\n  return %b : f32\n}\n",
    "dense_too_few_elements": "func.func @f() -> tensor<4xf32> {\n  %c = arith.constant dense<[1.0, 2.0]> : tensor<4xf32>\n"
                              "  return %c : tensor<4xf32>\n}\n",
    "scf_for_yields_nothing": textwrap.dedent("""\
        func.func @f(%n: index, %x: f32) -> f32 {
          %c0 = arith.constant 0 : index
          %c1 = arith.constant 1 : index
          %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %x) -> (f32) {
            scf.yield
          }
          return %r : f32
        }
        """),
    "scf_if_result_without_else": "func.func @f(%c: i1, %x: f32) -> f32 {\n  %r = scf.if %c -> (f32) {\n"
                                  "    scf.yield %x : f32\n  }\n  return %r : f32\n}\n",
    "return_count_mismatch": "func.func @f(%a: f32) -> (f32, f32) {\n  return %a : f32\n}\n",
    "return_shape_mismatch": "func.func @f(%a: tensor<4xf32>) -> tensor<8xf32> {\n  return %a : tensor<4xf32>\n}\n",
    "call_argument_type_mismatch": "func.func @g(%a: f32) -> f32 {\n  return %a : f32\n}\n"
                                   "func.func @f(%a: i32) -> f32 {\n  %r = func.call @g(%a) : (i32) -> f32\n  return %r : f32\n}\n",
    "function_defined_twice": "func.func @f() {\n  return\n}\nfunc.func @f() {\n  return\n}\n",
    "unknown_dialect_attribute": "func.func @f() attributes {x = #foo.bar<1>} {\n  return\n}\n",
    "fill_value_of_another_type": "func.func @f(%v: i32) -> tensor<4xf32> {\n  %e = tensor.empty() : tensor<4xf32>\n"
                                  "  %r = linalg.fill ins(%v : i32) outs(%e : tensor<4xf32>) -> tensor<4xf32>\n"
                                  "  return %r : tensor<4xf32>\n}\n",
    "integer_too_wide": "func.func @f(%a: i99999999) {\n  return\n}\n",
    "branch_argument_type_mismatch": "func.func @f(%a: f32) -> f32 {\n  cf.br ^bb1(%a : f32)\n^bb1(%b: i32):\n"
                                     "  return %a : f32\n}\n",
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_ir_through_wafer_opt(name, tmp_path, capsys):
    path = tmp_path / f"{name}.mlir"
    path.write_text(MALFORMED[name])
    err = run_tool(wafer_opt.main, [str(path)], capsys)
    one_error_line(err.splitlines()[0], re.escape(str(path)) + r":\d+:\d+: ")
    assert count_error_lines(err) == 1, err  # notes may follow: the op, the prior use


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_ir_through_compile_mlir(name):
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir(MALFORMED[name])
    first = str(info.value).splitlines()[0]
    assert re.match(r"^(\S+:\d+:\d+: )?error: \S", first), first


NOT_TEXT = {
    "latin1_comment": ("// caf\u00e9\nfunc.func @f() {\n  return\n}\n".encode("latin-1"), "1:7"),
    "invalid_byte_in_a_string": (b'func.func @f() attributes {x = "\xff\xfe"} {\n  return\n}\n', "1:33"),
    "binary_garbage": (bytes(range(128, 256)) * 4, "1:1"),
    "utf16": ("func.func @f() {\n  return\n}\n".encode("utf-16"), "1:1"),
}


@pytest.mark.parametrize("name", NOT_TEXT)
def test_input_that_is_not_utf8_is_an_error_at_its_first_bad_byte(name, tmp_path, capsys):
    data, where = NOT_TEXT[name]
    path = tmp_path / f"{name}.mlir"
    path.write_bytes(data)
    err = run_tool(wafer_opt.main, [str(path)], capsys)
    assert "not UTF-8" in one_error_line(err, re.escape(f"{path}:{where}: "))


def test_bytes_on_stdin_that_are_not_utf8(capsys, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"func.func @f() {\n  \x80\n}\n")))
    err = run_tool(wafer_opt.main, ["-"], capsys)
    one_error_line(err, re.escape("<stdin>:2:3: "))


@pytest.mark.parametrize("text", ["", "// only a comment\n", "\n\n  \n"], ids=["empty", "comment", "blank"])
def test_an_empty_file_is_an_empty_module_as_in_mlir_opt(text, tmp_path, capsys):
    path = tmp_path / "empty.mlir"
    path.write_text(text)
    assert wafer_opt.main([str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == ["module", "{", "}"] and captured.err == ""


# ---------------------------------------------------------------------------------------
# Unknown passes and options, bad option values, pipelines that fail midway.

BAD_PIPELINES = {
    "unknown_pass": (["-p", "no-such-pass"], "no-such-pass"),
    "unknown_wafer_pass": (["-p", "wafer-no-such-thing"], "wafer-no-such-thing"),
    "typo_of_a_pass": (["-p", "wafer-fuze"], "wafer-fuze"),
    "unknown_option": (["-p", "wafer-fuse{no-such-option=1}"], "no-such-option"),
    "bad_int_option": (["-p", "wafer-fuse{tile-sizes=a,b}"], "tile-sizes"),
    "bad_bool_option": (["-p", "wafer-vectorize{max-tile-elements=lots}"], "max-tile-elements"),
    "unbalanced_braces": (["-p", "wafer-fuse{tile-sizes=8,64"], ""),
    "unbalanced_parens": (["--pass-pipeline", "builtin.module(func.func(cse)"], ""),
    "unknown_named_pipeline": (["--pipeline", "gpu"], "gpu"),
    "unknown_pipeline_option": (["--pipeline", "cpu{warp-size=32}"], "warp-size"),
    "bad_pipeline_option_value": (["--pipeline", "cpu{threads=many}"], "threads"),
    "unknown_machine": (["--pipeline", "cpu{machine=pentium}"], "pentium"),
    "wse_unknown_mode": (["--pipeline", "wse{mode=diagonal}"], "diagonal"),
    "empty_pass_name": (["-p", ",,"], ""),
    "upstream_pass_bad_option": (["-p", "canonicalize{max-iterations=x}"], ""),
    "upstream_pass_unknown_option": (["-p", "canonicalize{no-such=1}"], "no such option no-such"),
    "unknown_pass_nested": (["-p", "func.func(no-such-pass)"], "'no-such-pass' does not refer to a registered pass"),
    "wafer_pass_nested_in_func": (["-p", "func.func(wafer-fuse)"], "wafer-fuse"),
    "option_without_braces": (["-p", "wafer-fuse tile-sizes=8"], "wafer-fuse tile-sizes=8"),
    "extra_closing_brace": (["-p", "wafer-fuse{tile-sizes=8,64}}"], "expected ')'"),
    "float_for_an_int_option": (["-p", "wafer-fuse{parallel-elements=1e9}"], "1e9"),
    "empty_option_value": (["-p", "wafer-fuse{tile-sizes=}"], "'tile-sizes' is given no value"),
    "option_given_twice": (["-p", "wafer-fuse{tile-sizes=8,64 tile-sizes=4,4}"], "'tile-sizes' is given twice"),
    "pass_unknown_machine": (["-p", "wafer-vectorize{machine=pentium}"], "pentium"),
    "wse_place_unknown_mode": (["-p", "wse-place{mode=diagonal}"], "diagonal"),
    "two_named_pipelines": (["--pipeline", "cpu,wse"], "cpu,wse"),
    "named_pipeline_with_nesting": (["--pipeline", "cpu(cse)"], "cpu(cse)"),
    "named_pipeline_case": (["--pipeline", "WSE"], "'WSE'"),
    "cpu_list_option_not_ints": (["--pipeline", "cpu{tile-sizes=8,x}"], "tile-sizes"),
    "cpu_bool_option_not_a_bool": (["--pipeline", "cpu{vectorize=maybe}"], "vectorize"),
    "cpu_negative_threads": (["--pipeline", "cpu{threads=-3}"], "threads"),
    "cpu_empty_option_value": (["--pipeline", "cpu{threads=}"], "'threads' is given no value"),
    "cpu_option_given_twice": (["--pipeline", "cpu{threads=2 threads=3}"], "'threads' is given twice"),
    "cpu_unknown_pass_after_a_stage": (["--pipeline", "cpu{after-fuse=no-such-pass}"], "no-such-pass"),
    "wse_unknown_option": (["--pipeline", "wse{grid=4}"], "grid"),
    "wse_empty_mode": (["--pipeline", "wse{mode=}"], "'mode' is given no value"),
    "wse_unknown_machine": (["--pipeline", "wse{machine=wse9}"], "wse9"),
    "wse_partition_unknown_machine": (["-p", "wse-partition{machine=wse9}"], "wse9"),
}


@pytest.mark.parametrize("argv, named", list(BAD_PIPELINES.values()), ids=list(BAD_PIPELINES))
def test_bad_pipelines_are_one_line_errors(argv, named, tmp_path, capsys):
    path = tmp_path / "ok.mlir"
    path.write_text(VALID)
    err = run_tool(wafer_opt.main, [str(path), *argv], capsys)
    line = one_error_line(err)
    assert named in line


MIDWAY = {
    # Bufferization asked for before the tensor ops it needs are in a form it takes.
    "bufferize_alone": "one-shot-bufferize",
    "after_canonicalize": "canonicalize,one-shot-bufferize{bufferize-function-boundaries=0}",
    "after_a_wafer_pass": "wafer-vectorize,one-shot-bufferize",
}


@pytest.mark.parametrize("name", MIDWAY)
def test_a_pipeline_that_fails_midway_names_the_op_and_line(name, tmp_path, capsys, monkeypatch):
    """...and saves the input it failed on where the temporary files go."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = tmp_path / "add.mlir"
    path.write_text("func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n"
                    "  %b = arith.addf %a, %a : tensor<4xf32>\n  return %b : tensor<4xf32>\n}\n")
    err = run_tool(wafer_opt.main, [str(path), "-p", MIDWAY[name]], capsys)
    assert err.splitlines()[0] == f"{path}:2:8: error: op was not bufferized", err
    assert "Traceback" not in err
    [saved] = (tmp_path / "tmp").glob("wafer-repro-*.mlir")
    assert saved.read_text() == path.read_text() and str(saved) in err


MATMUL = """
func.func @f(%a: tensor<16x32xf32>, %b: tensor<32x64xf32>) -> tensor<16x64xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x64xf32>
  %c = linalg.fill ins(%z : f32) outs(%e : tensor<16x64xf32>) -> tensor<16x64xf32>
  %r = linalg.matmul ins(%a, %b : tensor<16x32xf32>, tensor<32x64xf32>) outs(%c : tensor<16x64xf32>) -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}
"""
BAD_MATMUL_OPTIONS = {
    "register_tile_of_one_size": ("cpu{register-tile=4}", "register-tile"),
    "register_tile_of_zeros": ("cpu{register-tile=0,0}", "register-tile"),
    "cache_tile_negative": ("cpu{cache-tile=64,-8}", "cache-tile"),
    "k_unroll_zero": ("cpu{k-unroll=0}", "k-unroll"),
    "k_block_negative": ("cpu{k-block=-1}", "k-block"),
}


@pytest.mark.parametrize("pipeline, named", list(BAD_MATMUL_OPTIONS.values()), ids=list(BAD_MATMUL_OPTIONS))
def test_bad_option_values_are_refused_before_a_pass_runs(pipeline, named, tmp_path, capsys):
    path = tmp_path / "matmul.mlir"
    path.write_text(MATMUL)
    err = run_tool(wafer_opt.main, [str(path), "--pipeline", pipeline], capsys)
    assert named in one_error_line(err)


# ---------------------------------------------------------------------------------------
# Compile options from Python.

BAD_OPTIONS = {
    "unknown_keyword": ({"warp_size": 32}, "warp_size"),
    "tile_sizes_not_ints": ({"tile_sizes": ("a", 2)}, "tile_sizes"),
    "threads_negative": ({"threads": -1}, "threads"),
    "unknown_machine": ({"machine": "pentium"}, "pentium"),
    "unknown_target": ({"target": "tpu"}, "tpu"),
    "wse_unknown_preset": ({"target": "wse", "machine": "wse9"}, "wse9"),
    "wse_region_too_big": ({"target": "wse", "region": (10**6, 10**6)}, "region"),
    "wse_unknown_mode": ({"target": "wse", "mode": "diagonal"}, "diagonal"),
    "threads_as_text": ({"threads": "2"}, "threads"),
    "vectorize_not_a_bool": ({"vectorize": "yes"}, "vectorize"),
    "tile_sizes_a_string": ({"tile_sizes": "8,64"}, "tile_sizes"),
    "target_case": ({"target": "CPU"}, "CPU"),
    "wse_option_on_cpu": ({"mode": "pipelined"}, "mode"),
}


@pytest.mark.parametrize("name", BAD_OPTIONS)
def test_bad_compile_options(name):
    options, named = BAD_OPTIONS[name]
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile_mlir(VALID, **options)
    assert named in one_error_line(str(info.value))




def test_a_reader_that_stops_early_is_no_error(tmp_path):
    """`wafer-opt f.mlir | head`: the pipe closes before the output is written; as
    with mlir-opt, that is not Wafer's error, and no traceback follows."""
    import subprocess
    import sys

    source = tmp_path / "f.mlir"
    source.write_text("func.func @f() { return }")
    script = ("import sys; from wafer.tools.wafer_opt import main; sys.argv = ['wafer-opt', sys.argv[1]]; "
              "sys.exit(main())")
    reader = subprocess.Popen([sys.executable, "-c", script, str(source)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    reader.stdout.close()  # before anything arrives
    _, stderr = reader.communicate()
    assert reader.returncode == 0 and b"Traceback" not in stderr and b"BrokenPipe" not in stderr, stderr
