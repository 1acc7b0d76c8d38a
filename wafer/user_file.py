"""Run a Python file the user handed to Wafer (a model file, a pass plugin), and
its functions, so that whatever goes wrong is one error line at the user's line."""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
import types

from .diagnostics import WaferError


def run_user_file(path: str, role: str) -> types.ModuleType:
    """The file run as a module of its own name; `role` ("model file", "pass plugin")
    says in errors what the file was for."""
    try:
        with open(path) as f:
            source = f.read()
    except (OSError, UnicodeDecodeError) as err:
        raise WaferError(f"error: cannot read {role} '{path}': {getattr(err, 'strerror', None) or err}") from None
    try:
        code = compile(source, path, "exec")
    except (SyntaxError, ValueError) as err:  # ValueError: source with null bytes, on older Pythons
        where = f"{path}:{err.lineno}:{err.offset}" if getattr(err, "lineno", None) else path
        raise WaferError(f"{where}: error: {getattr(err, 'msg', err)} (in {role})") from None
    # In sys.modules under a name of its own: dataclasses and type hints look modules up there.
    stem = os.path.splitext(os.path.basename(path))[0]
    digest = hashlib.sha1(os.path.realpath(path).encode()).hexdigest()[:8]
    module = types.ModuleType(f"wafer_{role.replace(' ', '_')}_{stem}_{digest}")
    module.__file__ = path
    sys.modules[module.__name__] = module
    try:
        exec(code, module.__dict__)  # the user's own file, which they asked Wafer to run
    except (Exception, SystemExit) as err:  # sys.exit() in the file ends the file, not Wafer
        del sys.modules[module.__name__]
        raise _raised(err, path, role) from None
    return module


def call_user_function(module: types.ModuleType, name: str, role: str, *args):
    """`module.name(*args)`, with a missing name or an exception raised inside as one error line."""
    path = module.__file__
    function = getattr(module, name, None)
    if not callable(function):
        got = "does not define it" if function is None else f"defines it as a {type(function).__name__}"
        raise WaferError(f"{path}: error: the {role} must define a function {name}(), but it {got}")
    try:
        return function(*args)
    except (Exception, SystemExit) as err:
        raise _raised(err, path, f"{name}() in the {role}") from None


def _raised(err: Exception, path: str, what: str) -> WaferError:
    """An exception from the user's code, at the innermost line of `path` it passed through."""
    lines = [frame.lineno for frame in traceback.extract_tb(err.__traceback__) if frame.filename == path]
    where = f"{path}:{lines[-1]}" if lines else path
    if isinstance(err, SystemExit):
        return WaferError(f"{where}: error: {what} called sys.exit({err.code!r})")
    detail = str(err).splitlines()[0] if str(err) else ""
    return WaferError(f"{where}: error: {what} raised {type(err).__name__}" + (f": {detail}" if detail else ""))
