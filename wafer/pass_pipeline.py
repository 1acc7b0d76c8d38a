"""Parse a pass pipeline that mixes Wafer's Python passes with upstream ones.

MLIR's own parser knows only passes registered in C++, so the pipeline is
parsed here: each item goes to `pm.add(text)` unchanged, and one MLIR does
not know is looked up among Wafer's passes (built in, or a user's: see
wafer/plugins.py) and added as `pm.add(callable)`. Grammar, as in mlir-opt:

    pipeline := item (',' item)*
    item     := name ('{' options '}')? ('(' pipeline ')')?
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch_mlir import ir, passmanager

from .context import make_context
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
    """Split `a=1 b=2,3 flag` into {'a': '1', 'b': '2,3', 'flag': 'true'}; an
    option given twice, or as `a=` with no value, is an OptionError.

    Spaces inside braces or parentheses stay in their value, so an option can
    hold a pipeline with options of its own: `after-fuse=p{x=1 y=2}`.
    """
    options = {}
    for word in _top_level_words(text):
        key, equals, value = word.partition("=")
        if equals and not value:
            raise OptionError(f"option '{key}' is given no value: write {key}=VALUE, or leave it out")
        if key in options:
            raise OptionError(f"option '{key}' is given twice ({key}={options[key]} and {word})")
        options[key] = value if equals else "true"
    return options


def _top_level_words(text: str) -> list[str]:
    words, depth, start = [], 0, 0
    for pos, char in enumerate(text + " "):
        depth += (char in "{(") - (char in "})")
        if char.isspace() and depth == 0:
            words.append(text[start:pos])
            start = pos + 1
    return [word for word in words if word]


def build_pass_manager(text: str, ctx: ir.Context) -> passmanager.PassManager:
    """A PassManager for `text`; raises WaferError naming what is wrong.

    MLIR is asked first, so a pipeline of upstream passes never looks through
    installed packages for user passes.
    """
    pm = passmanager.PassManager("builtin.module", ctx)
    for item in parse_pipeline(text):
        # MLIR reads `wafer-fuse(cse)` as a pipeline on ops named wafer-fuse; an op name has a dot.
        if item.nested is not None and "." not in item.name and registry.is_wafer_pass(item.name):
            raise WaferError(f"error: Wafer pass '{item.name}' takes no nested pipeline")
        try:
            pm.add(str(item))
            continue
        except ValueError as err:
            detail = _upstream_detail(str(err))
        if item.nested is None and registry.is_wafer_pass(item.name):
            try:
                options = parse_options(item.options)
            except OptionError as err:
                raise WaferError(f"error: pass '{item.name}': {err}") from None
            add_wafer_pass(pm, item.name, options)
            continue
        _reject_nested_wafer_passes(item)
        raise WaferError(f"error: in pass pipeline at '{item}': {detail}")
    return pm


def _upstream_detail(message: str) -> str:
    """MLIR's own complaint about a pipeline item, on one line: its textual parser's
    `<where>: error: <what>` without the echoed text and caret after it, or its
    options parser's lines joined."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    match = re.match(r"MLIR Textual PassPipeline Parser:\d+:\d+: error: (.*)", lines[0]) if lines else None
    if match:
        return match.group(1)
    return "; ".join(line.removeprefix("<Pass-Options-Parser>: ") for line in lines) or "MLIR refused it"


def check_pipeline(text: str) -> None:
    """Raise WaferError if `text` names a pass that does not exist or gives a
    pass a bad option, before anything runs."""
    build_pass_manager(text, make_context())


def is_upstream_pass(name: str) -> bool:
    """Does MLIR itself (upstream or torch-mlir) register a pass called `name`?"""
    try:
        passmanager.PassManager("builtin.module", make_context()).add(name)
    except ValueError as err:
        return "does not refer to a registered pass" not in str(err)
    return True


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
