"""A ReLU applied in place to a convolution's tile keeps its select a blend and
a plain store (wafer-fence-in-place-selects): its read is fenced in the lowered
module, and the results, NaNs included, are PyTorch's."""

import pytest
import torch

import wafer

_FENCE = "llvm.intr.arithmetic.fence"


@pytest.mark.parametrize("machine,channels,filters", [("avx2", 1, 32), ("avx512", 1, 32), ("avx2", 6, 16)])
def test_relu_epilogue_in_place_is_fenced_and_keeps_nans(tmp_path, machine, channels, filters):
    """Small direct convolutions (a bias init, the ReLU their epilogue), with NaNs
    in the input, which the ReLU passes on as PyTorch's does."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(channels, filters, 3, padding=1), torch.nn.ReLU()).eval()
    x = torch.randn(2, channels, 14, 14)
    x[0, 0, 3, 4] = float("nan")
    compiled = wafer.compile(model, (x,), threads=1, machine=machine, dump_ir=str(tmp_path))
    assert any(s.startswith("epilogue cmpf, select") for s in compiled.compile_report.strategies)
    assert _FENCE in (tmp_path / "07-lower.mlir").read_text()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-4, equal_nan=True)
