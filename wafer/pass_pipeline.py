"""Parse a pass pipeline that mixes Wafer's Python passes with upstream ones.

MLIR's own parser knows only passes registered in C++, so the pipeline is
parsed here: each Wafer pass becomes `pm.add(callable)`, everything else goes
to `pm.add(text)` unchanged. Grammar, as in mlir-opt:

    pipeline := item (',' item)*
    item     := name ('{' options '}')? ('(' pipeline ')')?
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir, passmanager

from .diagnostics import WaferError
from .passes import registry
from .passes.pass_base import OptionError


@dataclass(frozen=True)
class PipelineItem:
    name: str
    options: str  # raw text between the braces, "" if none
    nested: tuple[PipelineItem, ...] | None  # None: a pass; a tuple: an op anchor

    def __str__(self) -> str:
        text = self.name + (f"{{{self.options}}}" if self.options else "")
        if self.nested is not None:
            text += "(" + ",".join(str(item) for item in self.nested) + ")"
        return text


def parse_pipeline(text: str) -> list[PipelineItem]:
    """Parse pipeline text into items; `builtin.module(...)` is unwrapped."""
    parser = _Parser(text)
    items = parser.items()
    if parser.pos != len(text):
        parser.fail("unexpected character")
    if len(items) == 1 and items[0].name == "builtin.module" and items[0].nested is not None:
        return list(items[0].nested)
    return items


def parse_options(text: str) -> dict[str, str]:
    """Split `a=1 b=2,3 flag` into {'a': '1', 'b': '2,3', 'flag': 'true'}."""
    options = {}
    for word in text.split():
        key, _, value = word.partition("=")
        options[key] = value if value else "true"
    return options


def build_pass_manager(text: str, ctx: ir.Context) -> passmanager.PassManager:
    """A PassManager for `text`; raises WaferError naming what is wrong."""
    pm = passmanager.PassManager("builtin.module", ctx)
    for item in parse_pipeline(text):
        if registry.is_wafer_pass(item.name):
            if item.nested is not None:
                raise WaferError(f"error: Wafer pass '{item.name}' takes no nested pipeline")
            add_wafer_pass(pm, item.name, parse_options(item.options))
            continue
        _reject_nested_wafer_passes(item)
        try:
            pm.add(str(item))
        except ValueError as err:
            detail = " ".join(str(err).split())
            raise WaferError(f"error: in pass pipeline at '{item}': {detail}") from None
    return pm


def add_wafer_pass(pm: passmanager.PassManager, name: str, options: dict[str, str]) -> None:
    try:
        instance = registry.get_pass(name).from_options(options)
    except OptionError as err:
        raise WaferError(f"error: {err}") from None
    pm.add(instance.run, name=name, argument=name, description=instance.summary)


def _reject_nested_wafer_passes(item: PipelineItem) -> None:
    for child in item.nested or ():
        if registry.is_wafer_pass(child.name):
            raise WaferError(
                f"error: Wafer pass '{child.name}' runs on builtin.module; "
                f"move it out of '{item.name}(...)' to the top level of the pipeline"
            )
        _reject_nested_wafer_passes(child)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def fail(self, message: str):
        raise WaferError(
            f"error: malformed pass pipeline: {message} at column {self.pos + 1}\n"
            f"  {self.text}\n  {' ' * self.pos}^"
        )

    def items(self) -> tuple[PipelineItem, ...]:
        items = [self.item()]
        while self.peek() == ",":
            self.pos += 1
            items.append(self.item())
        return tuple(items)

    def item(self) -> PipelineItem:
        self.skip_spaces()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in "{}(),":
            self.pos += 1
        name = self.text[start : self.pos].strip()
        if not name:
            self.fail("expected a pass name")
        options = ""
        if self.peek() == "{":
            options = self.balanced("{", "}")
        nested = None
        if self.peek() == "(":
            self.pos += 1
            nested = self.items() if self.peek() != ")" else ()
            if self.peek() != ")":
                self.fail("expected ')'")
            self.pos += 1
        self.skip_spaces()
        return PipelineItem(name, options, nested)

    def balanced(self, open_: str, close: str) -> str:
        depth, start = 0, self.pos
        while self.pos < len(self.text):
            char = self.text[self.pos]
            depth += char == open_
            depth -= char == close
            self.pos += 1
            if depth == 0:
                return self.text[start + 1 : self.pos - 1].strip()
        self.pos = start
        self.fail(f"unbalanced '{open_}'")

    def peek(self) -> str:
        self.skip_spaces()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
