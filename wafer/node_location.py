"""Where an exported graph node comes from in the user's model."""

from __future__ import annotations

import re

import torch


def node_location(node: torch.fx.Node) -> str:
    """``file:line: in layer 'a.b'`` for an exported node: the innermost frame of
    its stack trace outside torch's own files (PyTorch's modules call the user's
    code and the other way round), and the module path of the layer it ran in."""
    frames = re.findall(r'File "([^"]*)", line (\d+)', node.meta.get("stack_trace") or "")
    user = [(file, line) for file, line in frames if "site-packages" not in file]
    where = ":".join((user or frames)[-1]) + ": " if frames else ""
    layers = [path for path, _ in (node.meta.get("nn_module_stack") or {}).values() if path]
    return where + (f"in layer '{layers[-1]}'" if layers else "in the model's own forward")
