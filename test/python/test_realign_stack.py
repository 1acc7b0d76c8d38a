"""Every compiled function aligns its own stack frame (wafer-realign-stack), so
that a kernel's vector spills do not depend on how deep the caller's stack was."""

import re

import pytest
import torch
from torch_reference import compile_checked


def _defined_functions(lowered: str) -> dict[str, str]:
    """Each `llvm.func` with a body in the lowered module: its name and signature line."""
    return {match[1]: match[0] for match in re.finditer(r"^  llvm\.func @(\w+)\(.*\{$", lowered, re.MULTILINE)}


def _expand_and_activate() -> torch.nn.Module:
    """An EfficientNet tail: a wide 1x1 convolution with a fused SiLU, whose
    register block and activation constants outnumber the vector registers."""
    return torch.nn.Sequential(torch.nn.Conv2d(48, 320, 1), torch.nn.BatchNorm2d(320), torch.nn.SiLU()).eval()


@pytest.mark.parametrize("threads", [1, 2])
def test_every_compiled_function_realigns_its_frame(tmp_path, threads):
    torch.manual_seed(threads)
    compile_checked(_expand_and_activate(), (torch.randn(2, 48, 7, 7),), threads=threads, dump_ir=str(tmp_path))
    functions = _defined_functions((tmp_path / "07-lower.mlir").read_text())
    assert any(name.startswith("wafer_kernel") for name in functions)
    unaligned = [name for name, line in functions.items() if '"stackrealign"' not in line]
    assert not unaligned


def test_realign_stack_false_leaves_the_frames_to_the_abi(tmp_path):
    torch.manual_seed(0)
    compile_checked(_expand_and_activate(), (torch.randn(2, 48, 7, 7),), threads=1, realign_stack=False,
                    dump_ir=str(tmp_path))
    lowered = (tmp_path / "07-lower.mlir").read_text()
    assert _defined_functions(lowered) and "stackrealign" not in lowered
