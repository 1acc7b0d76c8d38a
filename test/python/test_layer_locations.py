"""Errors from any pass name the user's layer and line: the importer wraps each
op's call stack in its module path, and the reported frame is the user's file,
or else the installed model's (torchvision's), never torch's own."""

import pytest
import torch
from torch_mlir import ir

import wafer
from wafer.context import make_context
from wafer.diagnostics import user_frame


class Stack(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8))

    def forward(self, x):
        return self.features(x)


def test_a_placement_error_names_the_layer_and_the_users_line():
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(Stack(), (torch.randn(4, 8),), target="wse", machine="small", region=(1, 1))
    first = str(info.value).splitlines()[0]
    assert first.startswith(f"{__file__}:")
    assert ": error: in layer 'features." in first and "do not fit side by side" in first


def test_the_kernel_profile_names_the_layer():
    compiled = wafer.compile(Stack(), (torch.randn(4, 8),), threads=1, profile=True)
    profile = compiled.executable.profile("forward", torch.randn(4, 8).numpy(), repeat=2)
    assert any("in layer 'features.0'" in name for name in profile.kernels)


def test_a_model_from_an_installed_package_is_located_in_its_file_not_in_torch():
    with make_context():
        def frame(path, line):
            return ir.Location.file(path, line, 0)

        torch_conv = frame("/env/lib/site-packages/torch/nn/modules/conv.py", 565)
        library = frame("/env/lib/site-packages/torchvision/models/resnet.py", 92)
        user = frame("/home/me/model.py", 12)
        assert user_frame(ir.Location.callsite(torch_conv, [library])) == (library.filename, 92, 0)
        assert user_frame(ir.Location.callsite(torch_conv, [library, user])) == ("/home/me/model.py", 12, 0)
        assert user_frame(torch_conv) == (torch_conv.filename, 565, 0)
