"""User passes, from plugin files, installed packages, or Python.

A plugin is a Python file that defines `WaferPass` subclasses, each a frozen
dataclass with a `name` and a `summary`; every such class the file defines is
registered under its name, and then runs wherever a pass name goes: `-p`,
`--pass-pipeline`, a pipeline's `after-<stage>` option, `wafer.compile`.

    wafer-opt in.mlir --load-pass-plugin my_passes.py -p my-pass

Loading a file runs it, as `wafer run model.py` runs a model. From Python,
`wafer.register_pass(MyPass)` registers one class.

An installed package names each of its passes as an entry point, pointing at
the class or at the module that defines it:

    [project.entry-points."wafer.passes"]
    my-pass = "my_package.passes:MyPass"

Entry points are read only when a pipeline names a pass that neither MLIR nor
Wafer knows, or when every pass is listed, so they cost nothing otherwise.
"""

from __future__ import annotations

import functools
import os
import types

from .diagnostics import WaferError
from .pass_pipeline import is_upstream_pass
from .passes import registry
from .passes.pass_base import WaferPass
from .user_file import run_user_file

_ENTRY_POINT_GROUP = "wafer.passes"

# Plugin files by resolved path, with the names of the passes each registered.
_LOADED_FILES: dict[str, list[str]] = {}


def register_pass(pass_class: type[WaferPass]) -> type[WaferPass]:
    """Make `pass_class` usable by its name in any pipeline; returns it, so
    it also works as a class decorator."""
    _register(pass_class, f"module '{pass_class.__module__}'" if isinstance(pass_class, type) else "wafer.register_pass")
    return pass_class


def load_pass_plugin(path: str) -> list[str]:
    """Run the plugin file at `path` and register every pass it defines;
    returns their names. A file already loaded is not run again."""
    resolved = os.path.realpath(path)
    if resolved not in _LOADED_FILES:
        module = run_user_file(path, "pass plugin")
        classes = _pass_classes(module)
        if not classes:
            raise WaferError(f"error: pass plugin '{path}' defines no pass "
                             "(a WaferPass subclass with a `name`)")
        for pass_class in classes:
            _register(pass_class, f"plugin '{path}'")
        _LOADED_FILES[resolved] = [pass_class.name for pass_class in classes]
    return _LOADED_FILES[resolved]


def load_entry_point(name: str) -> bool:
    """Load the `wafer.passes` entry point called `name`, if a package has
    one; True when that registered a pass by this name."""
    for entry_point in _entry_points():
        if entry_point.name == name:
            _load_entry_point(entry_point)
            return True
    return False


def load_all_entry_points() -> None:
    for entry_point in _entry_points():
        _load_entry_point(entry_point)


@functools.cache
def _entry_points():
    from importlib.metadata import entry_points  # 60 ms to import: only when a name is not found

    return entry_points(group=_ENTRY_POINT_GROUP)


def _load_entry_point(entry_point) -> None:
    origin = f"entry point '{entry_point.name} = {entry_point.value}'"
    try:
        loaded = entry_point.load()
    except Exception as err:
        raise WaferError(f"error: cannot load {origin}: {type(err).__name__}: {err}") from None
    if isinstance(loaded, types.ModuleType):
        classes = _pass_classes(loaded)
    elif isinstance(loaded, type) and issubclass(loaded, WaferPass):
        classes = [loaded]
    else:
        raise WaferError(f"error: {origin} points at neither a module nor a WaferPass subclass")
    if entry_point.name not in [pass_class.__dict__.get("name") for pass_class in classes]:
        raise WaferError(f"error: {origin} defines no pass named '{entry_point.name}'")
    for pass_class in classes:
        _register(pass_class, origin)


def _pass_classes(module: types.ModuleType) -> list[type[WaferPass]]:
    """The named WaferPass subclasses `module` defines (not those it imports)."""
    return [
        value for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, WaferPass)
        and value.__module__ == module.__name__ and "name" in value.__dict__
    ]


def _register(pass_class, origin: str) -> None:
    problem = _class_problem(pass_class)
    if problem is not None:
        what = f"class {pass_class.__qualname__}" if isinstance(pass_class, type) else repr(pass_class)
        raise WaferError(f"error: {what} from {origin} {problem}")
    name = pass_class.name
    if is_upstream_pass(name):  # MLIR would run its own pass under this name
        raise WaferError(f"error: pass '{name}' from {origin} has the name of an upstream MLIR pass")
    try:
        registry.register_pass(pass_class, origin)
    except ValueError as err:
        raise WaferError(f"error: {err}") from None


def _class_problem(pass_class) -> str | None:
    """What keeps `pass_class` from being a pass, as a registry entry needs one."""
    if not (isinstance(pass_class, type) and issubclass(pass_class, WaferPass)):
        return "is not a WaferPass subclass"
    name = pass_class.__dict__.get("name")
    if not isinstance(name, str) or not name:
        return "has no `name`"
    if not getattr(pass_class, "summary", ""):
        return "has no `summary`"
    if "__dataclass_fields__" not in pass_class.__dict__:  # its options would be ignored
        return "is not a dataclass: decorate it with @dataclass(frozen=True)"
    return None
