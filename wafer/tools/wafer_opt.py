"""wafer-opt: an mlir-opt style driver over Wafer's and upstream MLIR passes."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass

from torch_mlir import ir

from ..context import make_context
from ..diagnostics import Diagnostic, WaferError, collect_diagnostics, to_diagnostic
from ..pass_pipeline import build_pass_manager, parse_options, parse_pipeline
from ..passes import registry
from ..passes.pass_base import OptionError
from ..pipelines import get_pipeline, pipeline_names
from ..plugins import load_pass_plugin

_SPLIT_MARKER = re.compile(r"^// -----", re.MULTILINE)
_EXPECTED = re.compile(
    r"expected-(error|warning|note|remark)\s*(?:@([+-]\d+|above|below))?\s*\{\{(.*?)\}\}"
)


@dataclass(frozen=True)
class Chunk:
    """One `// -----` piece of the input, padded so line numbers match the file."""

    text: str
    first_line: int


def main(argv: list[str] | None = None) -> int:
    args = _argument_parser().parse_args(argv)
    try:
        for path in args.load_pass_plugin:
            load_pass_plugin(path)
        if args.list_passes:
            print(_list_passes())
            return 0
        pipeline = _pipeline_text(args)
        return _run(args, pipeline)
    except WaferError as err:
        print(str(err), file=sys.stderr)
        return 1


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wafer-opt", description="Run Wafer and upstream MLIR passes over MLIR text."
    )
    parser.add_argument("input", nargs="?", default="-", help="input file, or - for stdin")
    parser.add_argument("-o", dest="output", default="-", help="output file (default: stdout)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--pass-pipeline", help="a pass pipeline, e.g. 'builtin.module(func.func(cse),wafer-fuse)'")
    group.add_argument("-p", dest="passes", help="shorthand for --pass-pipeline: comma-separated passes 'a,b{opt=1}'")
    group.add_argument("--pipeline", help="a named pipeline, e.g. 'cpu' or 'cpu{threads=2}'")
    parser.add_argument("--split-input-file", action="store_true", help="split input at '// -----'")
    parser.add_argument(
        "--verify-diagnostics", action="store_true", help="check expected-error@+N {{...}} comments"
    )
    parser.add_argument("--mlir-print-ir-after-all", action="store_true",
                        help="print the module after each pass")
    parser.add_argument("--mlir-timing", action="store_true", help="print a pass timing report")
    parser.add_argument("--mlir-print-generic", action="store_true", help="print ops in their generic form")
    parser.add_argument("--list-passes", action="store_true",
                        help="list Wafer's passes and named pipelines with their options")
    parser.add_argument("--load-pass-plugin", action="append", default=[], metavar="FILE",
                        help="run a Python file and register the WaferPass subclasses it defines (repeatable)")
    return parser


def _pipeline_text(args) -> str:
    if args.pass_pipeline is not None:
        return args.pass_pipeline
    if args.passes is not None:
        return f"builtin.module({args.passes})"
    if args.pipeline is not None:
        items = parse_pipeline(args.pipeline)
        if len(items) != 1 or items[0].nested is not None:
            raise WaferError(f"error: --pipeline takes one named pipeline with options, got '{args.pipeline}'")
        (item,) = items
        try:
            pipeline_class = get_pipeline(item.name)
        except KeyError:
            names = ", ".join(pipeline_names())
            raise WaferError(f"error: unknown pipeline '{item.name}' (known: {names})") from None
        try:
            options = parse_options(item.options)
        except OptionError as err:
            raise WaferError(f"error: pipeline '{item.name}': {err}") from None
        try:
            return pipeline_class.from_options(options).pipeline()
        except OptionError as err:
            raise WaferError(f"error: {err}") from None
    return ""


def _list_passes() -> str:
    lines = ["Wafer passes:"]
    for name in registry.pass_names():
        pass_class = registry.get_pass(name)
        lines.append(f"  {name:28} {pass_class.summary}")
        lines += [f"  {'':28}   {option}" for option in pass_class.option_help()]
    lines.append("Named pipelines (--pipeline NAME{options}):")
    for name in pipeline_names():
        pipeline_class = get_pipeline(name)
        lines.append(f"  {name:28} {pipeline_class.summary}")
        lines += [f"  {'':28}   {option}" for option in pipeline_class.option_help()]
    lines.append("Upstream MLIR and torch-mlir passes are also accepted by name.")
    lines.append("User passes: --load-pass-plugin FILE, or a package's `wafer.passes` entry points.")
    return "\n".join(lines)


def _run(args, pipeline: str) -> int:
    display_name = "<stdin>" if args.input == "-" else args.input
    try:
        data = sys.stdin.buffer.read() if args.input == "-" else _read_bytes(args.input)
    except OSError as err:
        raise WaferError(f"error: cannot read input '{args.input}': {err.strerror}") from None
    source = _decode(data, display_name)
    chunks = _split(source) if args.split_input_file else [Chunk(source, 1)]

    ctx = make_context()
    outputs, failed = [], False
    for chunk in chunks:
        module, diagnostics = _process(ctx, chunk, display_name, pipeline, args)
        if args.verify_diagnostics:
            failed |= _verify(chunk, diagnostics, display_name)
        elif module is None:
            failed = True
            for diagnostic in diagnostics:
                print(diagnostic, file=sys.stderr)
        if module is not None:
            outputs.append(module.operation.get_asm(print_generic_op_form=args.mlir_print_generic))
    _write(args.output, "\n// -----\n".join(outputs))
    return 1 if failed else 0


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _decode(data: bytes, display_name: str) -> str:
    """The input as text; MLIR source is UTF-8, so anything else is an error at its first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        column = err.start - (before.rfind(b"\n") + 1) + 1
        raise WaferError(f"{display_name}:{line}:{column}: error: the input is not UTF-8 text "
                         f"(byte 0x{data[err.start]:02x}); MLIR source must be UTF-8") from None


def _process(ctx, chunk: Chunk, display_name: str, pipeline: str, args):
    """Parse and transform one chunk; returns (module or None, diagnostics)."""
    with tempfile.TemporaryDirectory(prefix="wafer-opt-") as scratch:
        path = os.path.join(scratch, os.path.basename(display_name.strip("<>")) or "input.mlir")
        with open(path, "w") as f:
            f.write("\n" * (chunk.first_line - 1) + chunk.text)
        with collect_diagnostics(ctx) as collected:
            module = _parse(ctx, path, collected)
            if module is not None and pipeline:
                pm = build_pass_manager(pipeline, ctx)
                if args.mlir_print_ir_after_all:
                    pm.enable_ir_printing(print_after_all=True, large_elements_limit=16)
                if args.mlir_timing:
                    pm.enable_timing()
                try:
                    pm.run(module.operation)
                except ir.MLIRError as err:
                    collected += [to_diagnostic(d) for d in err.error_diagnostics]
                    if not args.verify_diagnostics:
                        collected.append(_repro_note(chunk, display_name, pipeline))
                    module = None
        diagnostics = [_rename(d, path, display_name) for d in _unique(collected)]
    return module, diagnostics


def _parse(ctx, path: str, collected: list[Diagnostic]):
    try:
        return ir.Module.parseFile(path, ctx)
    except ir.MLIRError as err:
        collected += [to_diagnostic(d) for d in err.error_diagnostics]
        return None


def _repro_note(chunk: Chunk, display_name: str, pipeline: str) -> Diagnostic:
    """Save the input that failed and say how to rerun exactly this failure."""
    fd, path = tempfile.mkstemp(prefix="wafer-repro-", suffix=".mlir")
    with os.fdopen(fd, "w") as f:
        f.write(chunk.text)
    command = f"wafer-opt {path} --pass-pipeline={shlex.quote(_canonical(pipeline))}"
    return Diagnostic(
        "note", "", f"pipeline failed on {display_name}; input saved, reproduce with:\n  {command}"
    )


def _canonical(pipeline: str) -> str:
    items = ",".join(str(item) for item in parse_pipeline(pipeline))
    return f"builtin.module({items})"


def _verify(chunk: Chunk, diagnostics: list[Diagnostic], display_name: str) -> bool:
    """Match diagnostics to expected-* comments; print mismatches; True if any."""
    expected = []
    for offset, line in enumerate(chunk.text.splitlines()):
        line_number = chunk.first_line + offset
        for severity, where, message in _EXPECTED.findall(line):
            target = line_number
            if where in ("above", "below"):
                target += -1 if where == "above" else 1
            elif where:
                target += int(where)
            expected.append((severity, target, message, line_number))
    failed = False
    for d in diagnostics:
        match = next(
            (e for e in expected if e[0] == d.severity and e[1] == d.line and e[2] in d.message),
            None,
        )
        if match is not None:
            expected.remove(match)
        elif d.severity in ("error", "warning"):
            print(f"{d.location or display_name}: error: unexpected {d.severity}: {d.message}",
                  file=sys.stderr)
            failed = True
    for severity, _, message, line_number in expected:
        print(f'{display_name}:{line_number}: error: expected {severity} "{message}" was not produced',
              file=sys.stderr)
        failed = True
    return failed


def _split(source: str) -> list[Chunk]:
    chunks, start, first_line = [], 0, 1
    for marker in _SPLIT_MARKER.finditer(source):
        chunks.append(Chunk(source[start : marker.start()], first_line))
        first_line += source[start : marker.end()].count("\n")
        start = marker.end()
    chunks.append(Chunk(source[start:], first_line))
    return chunks


def _rename(d: Diagnostic, path: str, display_name: str) -> Diagnostic:
    return Diagnostic(
        d.severity, d.location.replace(path, display_name), d.message.replace(path, display_name)
    )


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Drop repeats: a failure can reach both the handler and the MLIRError."""
    return list(dict.fromkeys(diagnostics))


def _write(output: str, text: str) -> None:
    if output == "-":
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:  # the reader stopped early (`| head`), as it may: nothing is lost
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    try:
        with open(output, "w") as f:
            f.write(text)
    except OSError as err:
        raise WaferError(f"error: cannot write output '{output}': {err.strerror}") from None


if __name__ == "__main__":
    sys.exit(main())
