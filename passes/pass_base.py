"""The base class of every Wafer pass and pipeline, and how options are parsed.

A pass is a frozen dataclass: its fields are its options, with types and
defaults, written `{key=value other-key=1,2}` in a pipeline (field `tile_sizes`
is option `tile-sizes`). `apply` does the work on a `builtin.module` and raises
`PassFailure` at the op it could not handle; `run` turns that into an MLIR
diagnostic at the op's location plus a pass failure.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import traceback
import typing
from typing import ClassVar

from torch_mlir import ir, rewrite


def find_ops(root: ir.Operation, predicate) -> list[ir.Operation]:
    """Every op under `root` (itself included) for which `predicate(op)` holds, in walk order.

    Collected first, so that a pass can then rewrite them without walking IR it changes.
    """
    found = []

    def visit(op: ir.Operation) -> ir.WalkResult:
        if predicate(op):
            found.append(op)
        return ir.WalkResult.ADVANCE

    root.walk(visit)
    return found


def rewrite_ops(root: ir.Operation, rewrites: dict) -> None:
    """Rewrite each op under `root` named in `rewrites` by its pattern function
    (op, rewriter) -> bool (True: no match), greedily, folding as it goes."""
    patterns = rewrite.RewritePatternSet()
    for name, pattern in rewrites.items():
        patterns.add(name, pattern)
    rewrite.apply_patterns_and_fold_greedily(root, patterns.freeze())


def enclosing(op: ir.Operation, name: str) -> ir.Operation | None:
    """The innermost op named `name` around `op` within its function, or None."""
    parent = op.operation.parent
    while parent.name != "func.func":
        if parent.name == name:
            return parent
        parent = parent.parent
    return None


def enclosing_function(op: ir.Operation) -> ir.Operation:
    """The func.func that holds `op`."""
    parent = op.operation.parent
    while parent.name != "func.func":
        parent = parent.parent
    return parent


def _compare_in_block(a: ir.Operation, b: ir.Operation) -> int:
    return -1 if a.is_before_in_block(b) else 1 if b.is_before_in_block(a) else 0


# A sort key putting ops of one block in program order. MLIR caches each block's
# op order, so this is cheap where indexing the block from Python per query is
# quadratic (a module's top block holds thousands of ops).
block_order = functools.cmp_to_key(lambda a, b: _compare_in_block(a.operation, b.operation))


class PassFailure(Exception):
    """Raised inside `apply` to fail the pass with an error at `location`."""

    def __init__(self, location: ir.Location, message: str):
        super().__init__(message)
        self.location = location
        self.message = message


class OptionError(ValueError):
    """A pass option that does not exist or does not parse."""


def check_tuning_path(pipeline: str, path: str) -> None:
    """A tuning database's path goes into a pass's option text: no spaces or brackets."""
    if any(c.isspace() or c in "{}()" for c in path):
        raise OptionError(f"option {pipeline}{{tuning}}: a path without spaces or brackets, got '{path}'")


def check_streamed_b_rows(owner: str, rows: int) -> None:
    """wafer-pack-matmul's (and the cpu pipeline's) streamed-b-rows: -1 (measured) or a count."""
    if rows < -1:
        raise OptionError(f"option {owner}{{streamed-b-rows}}: expected -1 (measured on this host) "
                          f"or 0 or more, got {rows}")


@dataclasses.dataclass(frozen=True)
class Configurable:
    """A named thing with typed options: a pass, or a named pipeline."""

    name: ClassVar[str]
    summary: ClassVar[str]
    kind: ClassVar[str] = "pass"  # how errors name it

    @classmethod
    def from_options(cls, options: dict[str, str]) -> Configurable:
        """An instance from pipeline text options: `{"tile-sizes": "4,32"}`."""
        fields = {f.name.replace("_", "-"): f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        values = {}
        for key, text in options.items():
            field = cls._field(fields, key)
            values[field.name] = _parse_value(hints[field.name], text, f"{cls.name}{{{key}}}")
        return cls(**values)

    @classmethod
    def from_keywords(cls, **values) -> Configurable:
        """An instance from Python keywords (`tile_sizes=(4, 32)`), checked like text options."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        return cls(**{
            key: _keyword_value(hints[cls._field(fields, key).name], value, f"{cls.name}{{{key}}}")
            for key, value in values.items()
        })

    @classmethod
    def _field(cls, fields: dict[str, dataclasses.Field], key: str) -> dataclasses.Field:
        if key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise OptionError(f"{cls.kind} '{cls.name}' has no option '{key}' (options: {known})")
        return fields[key]

    @classmethod
    def option_help(cls) -> list[str]:
        hints = typing.get_type_hints(cls)
        return [
            f"{f.name.replace('_', '-')}: {_type_name(hints[f.name])} = {_format_value(f.default) or 'unset'}"
            for f in dataclasses.fields(cls)
        ]

    def option_string(self) -> str:
        """The `{...}` suffix that rebuilds this pass instance in a pipeline."""
        parts = [
            f"{f.name.replace('_', '-')}={_format_value(getattr(self, f.name))}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        ]
        return "{" + " ".join(parts) + "}" if parts else ""


@dataclasses.dataclass(frozen=True)
class WaferPass(Configurable):
    """A pass over a `builtin.module`, written in Python."""

    def apply(self, module: ir.Operation) -> None:
        raise NotImplementedError

    def run(self, op: ir.Operation, pass_) -> None:
        """Entry point for `PassManager.add(callable)`.

        Any failure becomes an error diagnostic plus a pass failure, so a bug
        in a pass never escapes as a Python traceback through the bindings.
        """
        with op.context, op.location:
            try:
                self.apply(op)
            except PassFailure as failure:
                failure.location.emit_error(failure.message)
                pass_.signal_pass_failure()
            except Exception as err:  # a bug in the pass: report it, don't crash
                detail = traceback.format_exc() if os.environ.get("WAFER_DEBUG") else repr(err)
                op.location.emit_error(f"internal error in pass '{self.name}': {detail}")
                pass_.signal_pass_failure()


def _parse_value(hint, text: str, where: str):
    try:
        if hint is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        if hint in (int, float, str):
            return hint(text)
        if typing.get_origin(hint) is tuple:
            (element, _) = typing.get_args(hint)
            return tuple(element(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise OptionError(f"option {where}: cannot read '{text}' as {_type_name(hint)}") from None
    raise TypeError(f"unsupported option type {hint}")


def _keyword_value(hint, value, where: str):
    """`value` as the option's type (a list becomes a tuple), or OptionError."""
    if typing.get_origin(hint) is tuple:
        (element, _) = typing.get_args(hint)
        if isinstance(value, (tuple, list)) and all(_is_instance(v, element) for v in value):
            return tuple(value)
    elif _is_instance(value, hint):
        return value
    raise OptionError(f"option {where}: {value!r} is not a {_type_name(hint)}")


def _is_instance(value, hint) -> bool:
    """isinstance, except that a bool (an int subclass) is no int option."""
    return isinstance(value, hint) and (hint is bool or not isinstance(value, bool))


def _type_name(hint) -> str:
    if typing.get_origin(hint) is tuple:
        return f"list of {typing.get_args(hint)[0].__name__}"
    return hint.__name__


def _format_value(value) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
