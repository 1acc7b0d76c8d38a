"""Ops with no spatial mapping run on the host between regions: scans (cumsum),
sorts, top-k, scatters and gathers at data-dependent indices that are not
lookups (test_wse_lookup.py). They match PyTorch, and the report charges what
they read from the wafer as traffic through its west edge."""

import pytest
import torch
import torch.nn.functional as F

import wafer
from wse_checks import Lambda, compile_and_check

MODES = ("pipelined", "whole-wafer")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.int64])
def test_cumsum_runs_on_the_host(dtype, mode):
    x = torch.arange(24).reshape(3, 8).to(dtype) - 5
    program = compile_and_check(lambda t: torch.cumsum(t, 1), x, mode=mode)
    host = [op for op in program.report.ops if op.kind == "host"]
    assert len(host) == 1 and host[0].comm_cycles == 0  # its input comes from the host


def test_a_scan_of_a_region_result_pays_for_leaving_the_wafer():
    w = torch.randn(16, 32)
    program = compile_and_check(lambda x: torch.cumsum(torch.relu(x @ w), 0), torch.randn(8, 16))
    (host,) = [op for op in program.report.ops if op.kind == "host"]
    # 8 x 32 fp32 words through the 32 rows of the small preset's west edge, then across it.
    assert host.comm_cycles == 8 * 32 / 32 + 32
    assert program.report.cycles >= host.comm_cycles


def test_a_one_dimensional_cumsum_keeps_its_scalar_accumulator():
    """Its accumulator is a 0-d tensor, which the interpreter kept 0-d (numpy's
    ascontiguousarray had made it 1-d)."""
    compile_and_check(lambda x: torch.cumsum(x[8::2], -1), torch.randn(16))


@pytest.mark.parametrize("source", ["input", "region result"])
def test_a_gather_reads_its_table_from_the_caller_or_from_a_region(source):
    """torch.gather reads its table inside the body, from above: a function
    argument, or a tensor a region computed and the host now holds."""
    index = torch.tensor([[[1], [0]], [[2], [2]]])
    table = (lambda x: x) if source == "input" else torch.relu
    program = compile_and_check(lambda x, i: torch.gather(table(x), 2, i) * 3, torch.randn(2, 2, 3), index)
    assert [op.kind for op in program.report.ops].count("host") == 1


@pytest.mark.parametrize("descending", [False, True])
def test_sort_runs_on_the_host_with_nan_where_pytorch_puts_it(descending):
    x = torch.randn(3, 6)
    x[0, 2] = x[2, 5] = float("nan")
    model = Lambda(lambda t: tuple(torch.sort(t, 1, descending=descending)))
    program = wafer.compile(model, (x,), target="wse", machine="small")
    values, indices = program(x)
    expected_values, expected_indices = model(x)
    torch.testing.assert_close(torch.as_tensor(values), expected_values, equal_nan=True)
    torch.testing.assert_close(torch.as_tensor(indices), expected_indices)


def test_topk_runs_on_the_host():
    compile_and_check(lambda t: torch.topk(t * 2, 3).indices, torch.randn(4, 7))


@pytest.mark.parametrize("mode", MODES)
def test_kthvalue_runs_on_the_host(mode):
    """tm_tensor.topk: the k smallest kept in order; a NaN is never kept, as in eager."""
    x = torch.randn(5, 7)
    x[1, 3] = float("nan")
    compile_and_check(lambda t: torch.kthvalue(t, 2, -1).values, x, mode=mode)
    compile_and_check(lambda t: torch.kthvalue(t * 2, 4, 0, keepdim=True).indices, x, mode=mode)


def test_kthvalue_ties_come_back_as_on_the_cpu_target():
    """Which of equal elements a top-k keeps is the comparator's, run as written."""
    model = Lambda(lambda t: torch.kthvalue(t, 2, -1).indices)
    x = torch.tensor([[1.0, 1.0, 1.0, 0.5], [2.0, 0.0, 0.0, 0.0]])
    wse = wafer.compile(model, (x,), target="wse", machine="small")(x)
    torch.testing.assert_close(wse, wafer.compile(model, (x,), target="cpu")(x), rtol=0, atol=0)


@pytest.mark.parametrize("accumulate", [False, True])
def test_scatter_runs_on_the_host(accumulate):
    index = torch.tensor([[0, 1, 2, 0]])
    compile_and_check(lambda t: torch.zeros(3, 4).scatter(0, index, t[:1] * 2), torch.randn(3, 4))
    compile_and_check(lambda t, rows: torch.ones(4, 5).index_put((rows,), t, accumulate=accumulate),
                      torch.randn(3, 5), torch.tensor([2, 0, 3]))


def test_a_one_element_lookup_runs_on_the_host_not_as_a_regions_init():
    """Seed 70441: a 0-d generic that extracts one element reads no tensor, like
    a fill, and a region took it for an init to compute in place, on the PEs,
    where the tensor it reads is not."""
    index = torch.tensor([[[[23]]]])

    def model(x):
        element = torch.gather(x, 0, index)
        return 1.0 / (element.abs() + 1.0), F.silu(element * 2)

    x = torch.randn(24, 4, 3, 13)
    got = wafer.compile(Lambda(model), (x,), target="wse", machine="small")(x)
    for value, expected in zip(got, model(x)):
        torch.testing.assert_close(torch.as_tensor(value), expected)


def test_uneven_adaptive_pooling_runs_on_the_wafer():
    """Seed 70557: adaptive pooling whose windows differ (3, 4 and 3 along the 8),
    which torch-mlir's lowering checked at run time and refused, is reductions
    over slices (wafer/adaptive_pooling.py), on the wafer as on the CPU."""
    compile_and_check(lambda x: torch.nn.functional.adaptive_avg_pool2d(x, (1, 3)), torch.randn(2, 3, 11, 8))
