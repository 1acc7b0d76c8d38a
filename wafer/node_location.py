"""Where an exported graph node comes from in the user's model, for errors about it."""

from __future__ import annotations

import re

import torch

from .diagnostics import WaferError


def node_error(node: torch.fx.Node, message: str) -> WaferError:
    """``file:line: error: in layer 'a.b': message``, at the innermost frame of the
    node's stack trace outside torch's own files (PyTorch's modules call the
    user's code and the other way round), in the layer the node ran in."""
    frames = re.findall(r'File "([^"]*)", line (\d+)', node.meta.get("stack_trace") or "")
    user = [(file, line) for file, line in frames if "site-packages" not in file]
    where = ":".join((user or frames)[-1]) + ": " if frames else ""
    layers = [path for path, _ in (node.meta.get("nn_module_stack") or {}).values() if path]
    layer = f"in layer '{layers[-1]}'" if layers else "in the model's own forward"
    return WaferError(f"{where}error: {layer}: {message}")
