"""The cost model against answers worked out on paper."""

import dataclasses

import numpy as np
import pytest

from wafer.wse_target.cost import (
    LinkLoads,
    compute_cycles,
    conflict_fraction,
    simd_narrowing,
    start_residues,
    stream_loads,
    stride_width,
    unavoidable_conflicts,
)
from wafer.wse_target.machine import SMALL as PRESET_SMALL, WSE2

SMALL = dataclasses.replace(PRESET_SMALL, width=8, height=8)  # the 8x8 fabric these figures assume


# A 4x8 @ 8x16 matmul on one PE as the SDK's @fmacs loop: an AXPY per (row of C,
# k) = 32 instructions over rows of 16, each with a scalar of A. On WSE-2 every
# instruction pays 23 (loop) + 20 (scalar) + 1 (issue) cycles; the call pays 120.
ELEMENTS, ROW, INSTRUCTIONS, FIXED = 4 * 8 * 16, 16, 32, 120


def matmul(machine, dtype, **kwargs):
    return compute_cycles(machine, ELEMENTS, ROW, dtype, scalar_operand=True, **kwargs)


def test_matmul_on_one_pe_fp32():
    # One fp32 FMA a cycle; the 64-bit ports (half a cycle of reads) do not bind.
    assert matmul(WSE2, "fp32") == FIXED + INSTRUCTIONS * (44 + 16)


def test_matmul_on_one_pe_fp16():
    # SIMD-4: a row of 16 in 4 cycles.
    assert matmul(WSE2, "fp16") == FIXED + INSTRUCTIONS * (44 + 4)


def test_narrow_ports_bound_fp16():
    # 32-bit ports: two 2 B reads over 2 x 4 B, and a 2 B write over 4 B: half a cycle each.
    narrow = dataclasses.replace(WSE2, sram_port_bytes=4)
    assert matmul(narrow, "fp16") == FIXED + INSTRUCTIONS * (44 + 8)


def test_one_read_port_reads_both_operands():
    # Both operands through one 4 B port: a cycle per element, not half.
    one = dataclasses.replace(WSE2, sram_port_bytes=4, sram_reads_per_cycle=1)
    assert matmul(one, "fp16") == FIXED + INSTRUCTIONS * (44 + 16)


def test_the_write_port_binds_when_reads_are_plentiful():
    # Four 4 B read ports take the reads in a quarter cycle; the one 4 B write needs half.
    wide = dataclasses.replace(WSE2, sram_port_bytes=4, sram_reads_per_cycle=4)
    assert matmul(wide, "fp16") == FIXED + INSTRUCTIONS * (44 + 8)


def test_bank_conflicts_narrow_simd():
    # SIMD-4 narrowed to 2: a row of 16 in 8 cycles.
    assert matmul(WSE2, "fp16", simd_narrowing=0.5) == FIXED + INSTRUCTIONS * (44 + 8)


def test_no_scalar_operand_no_scalar_load():
    assert compute_cycles(WSE2, ELEMENTS, ROW, "fp32") == FIXED + INSTRUCTIONS * (24 + 16)


def test_short_vectors_run_far_below_peak():
    # Rows of 1: 512 instructions of 44 + 1 cycles for 512 FMAs.
    assert matmul(WSE2, "fp32") < compute_cycles(WSE2, ELEMENTS, 1, "fp32", scalar_operand=True)
    assert compute_cycles(WSE2, ELEMENTS, 1, "fp32", scalar_operand=True) == FIXED + 512 * 45


def test_set_up_per_kernel_call():
    # Three steps of a SUMMA call the kernel three times.
    once = matmul(WSE2, "fp32")
    assert compute_cycles(WSE2, 3 * ELEMENTS, ROW, "fp32", scalar_operand=True, kernels=3) == 3 * once


def test_compute_is_vectorized_over_the_grid():
    elements = np.array([[0.0, 16.0], [ELEMENTS, 2.0]])
    got = compute_cycles(WSE2, elements, ROW, "fp32", scalar_operand=True)
    np.testing.assert_array_equal(got, [[0, FIXED + 60], [FIXED + INSTRUCTIONS * 60, FIXED + 44 + 16]])


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "mixed"])
@pytest.mark.parametrize("datapath", [None, 0.5])
@pytest.mark.parametrize("scalar", [False, True])
def test_plain_numbers_cost_as_a_grid_of_them_does(dtype, datapath, scalar):
    # Placement costs one kernel at a time in plain numbers, the simulator whole grids: one formula.
    cases = [(e, v, n, k) for e in (0.0, 1.0, 14.0, 4097.0) for v in (1, 7, 14) for n in (0.25, 1.0) for k in (1, 3)]
    elements, length, narrowing, kernels = (np.array(column) for column in zip(*cases))
    grid = compute_cycles(WSE2, elements, length, dtype, scalar_operand=scalar, simd_narrowing=narrowing,
                          kernels=kernels, datapath_cycles=datapath)
    one_by_one = [compute_cycles(WSE2, e, v, dtype, scalar_operand=scalar, simd_narrowing=n, kernels=k,
                                 datapath_cycles=datapath) for e, v, n, k in cases]
    assert all(isinstance(cycles, float) for cycles in one_by_one)
    np.testing.assert_array_equal(grid, one_by_one)


def test_invalid_compute():
    with pytest.raises(ValueError, match="vector_length must be >= 1"):
        compute_cycles(WSE2, ELEMENTS, 0, "fp16")
    with pytest.raises(ValueError, match="simd_narrowing"):
        compute_cycles(WSE2, ELEMENTS, 8, "fp16", simd_narrowing=2)
    with pytest.raises(ValueError, match="elements must be >= 0"):
        compute_cycles(WSE2, np.array([ELEMENTS, -1.0]), 8, "fp16")


@pytest.mark.parametrize(("stride", "width"), [(0, 4), (1, 4), (2, 4), (3, 4), (9, 2), (7, 2),
                                               (12, 2), (8, 1), (16, 1)])
def test_strides_limit_simd_width(stride, width):
    assert stride_width(4, stride) == width


def row_residues(shape, axis, element, offset=0):
    """`start_residues` of the rows along `axis` of a row-major buffer: one
    term per other dim, its pitch in bytes and its extent."""
    pitches = [element * int(np.prod(shape[dim + 1:])) for dim in range(len(shape))]
    return start_residues([(pitches[dim], shape[dim]) for dim in range(len(shape)) if dim != axis], offset)


def test_bank_conflicts_from_alignment():
    rows_of_8_bytes = row_residues((2, 2), 1, 4)  # rows start at 0 and 8
    # Staggered by 4 B mod 8: no conflict; equal mod 8: every instruction conflicts.
    assert conflict_fraction(rows_of_8_bytes, row_residues((2, 2), 1, 4, offset=4)) == 0.0
    assert conflict_fraction(rows_of_8_bytes, row_residues((4, 4), 1, 4)) == 1.0
    # Rows of 12 B alternate 0 and 4 mod 8: half the (row, row) pairs collide, wherever they sit.
    rows_of_12_bytes = row_residues((2, 3), 1, 4)
    assert conflict_fraction(rows_of_12_bytes, rows_of_12_bytes) == 0.5
    assert unavoidable_conflicts(rows_of_12_bytes, rows_of_12_bytes) == 0.5
    # 16-bit rows of 9 start at 0, 2, 4, 6 mod 8: only a quarter pair with
    # aligned rows, a word on or not.
    odd = row_residues((4, 9), 1, 2)
    assert unavoidable_conflicts(row_residues((4, 8), 1, 2), odd) == 0.75
    assert unavoidable_conflicts(rows_of_8_bytes, rows_of_8_bytes) == 0.0
    # Half the instructions at SIMD-2 instead of 4: 3/8 of a cycle per element, 2/3 of the width.
    assert simd_narrowing(4, [1], 0.5) == pytest.approx(2 / 3)
    assert simd_narrowing(4, [1, 8], 0.0) == 0.25
    assert simd_narrowing(1, [1], 1.0) == 1.0


@pytest.mark.parametrize(("shape", "axis", "element", "offset"), [
    ((3, 5, 7), 2, 2, 0), ((3, 5, 7), 1, 2, 6), ((6, 10), 0, 4, 4), ((2, 3, 1, 3, 3), 1, 2, 2), ((5,), 0, 4, 0)])
def test_row_residues_count_every_row_start(shape, axis, element, offset):
    """The per-dim convolution gives what listing every row's start address gives."""
    starts = offset + element * np.take(np.arange(np.prod(shape)).reshape(shape), 0, axis=axis).ravel()
    expected = np.bincount(starts % 8, minlength=8) / starts.size
    np.testing.assert_allclose(row_residues(shape, axis, element, offset), expected)


def test_window_rows_start_where_their_offsets_put_them():
    """A 3x3 window read in place at 16 bits from rows of 10: instruction
    rows start at oh * 20 + kh * 20 + kw * 2 bytes, kw shifting each by an
    element, so they spread over four residues where a gather's rows of 8
    would all start on one."""
    terms = [(20, 4), (20, 3), (2, 3)]  # (oh, kh, kw): step in bytes, extent
    starts = np.array([oh * 20 + kh * 20 + kw * 2 for oh in range(4) for kh in range(3) for kw in range(3)])
    expected = np.bincount(starts % 8, minlength=8) / starts.size
    np.testing.assert_allclose(start_residues(terms), expected)
    assert np.count_nonzero(start_residues(terms)) == 4


def row(n_pes: int) -> LinkLoads:
    return LinkLoads(dataclasses.replace(SMALL, width=n_pes, height=1))


@pytest.mark.parametrize(("n_pes", "wavelets"), [(2, 1), (10, 32), (750, 1000)])
def test_row_multicast_costs_hops_plus_length(n_pes, wavelets):
    links = row(n_pes)
    links.add_row_multicast(0, 1, 0, 0, n_pes, wavelets)
    assert links.phase_cycles() == (n_pes - 1) + wavelets


@pytest.mark.parametrize(("link", "hop", "cycles"), [(1, 1, 9 + 32), (2, 1, 9 + 16), (1, 3, 27 + 32)])
def test_link_rate_and_hop_cost_show_in_a_multicast(link, hop, cycles):
    # 32 wavelets over 9 hops: the length divides by the link rate, the distance scales by the hop.
    links = LinkLoads(dataclasses.replace(SMALL, width=10, height=1, link_wavelets_per_cycle=link,
                                          hop_cycles=hop))
    links.add_row_multicast(0, 1, 0, 0, 10, 32)
    assert links.phase_cycles() == cycles


def test_multicast_from_the_middle_goes_both_ways():
    links = row(9)
    links.add_row_multicast(0, 1, 4, 0, 9, 10)
    np.testing.assert_array_equal(links.east[0], [0, 0, 0, 0, 10, 10, 10, 10, 0])
    np.testing.assert_array_equal(links.west[0], [0, 10, 10, 10, 10, 0, 0, 0, 0])
    assert links.phase_cycles() == 4 + 10


def test_two_flows_sharing_a_link_take_twice_as_long():
    one, two = row(6), row(6)
    one.add_row_multicast(0, 1, 0, 0, 6, 50)
    two.add_row_multicast(0, 1, 0, 0, 6, 50)
    two.add_row_multicast(0, 1, 1, 2, 4, 50)  # shares the links out of PEs 1 and 2
    assert one.phase_cycles() == 50 + 5
    assert two.phase_cycles() == 2 * 50 + 5


def test_flows_on_disjoint_links_still_share_the_receivers_ramp():
    links = LinkLoads(SMALL)
    links.add_col_multicast(0, 8, 0, 0, 8, 20)  # southward in every column
    assert links.south[:7].min() == links.south[:7].max() == 20
    assert links.phase_cycles() == 20 + 7
    links.add_row_multicast(0, 8, 7, 0, 8, 20)  # westward in every row
    # No link carries more than 20, but PE (0, 1) now receives 40 through its ramp.
    assert links.ramp_in[1, 0] == 40
    assert links.phase_cycles() == 40


def test_chain_reduce():
    # 10 PEs into PE 0: 9 hops, each a dependent step costing 2 * 2 + 1 cycles.
    links = row(10)
    links.add_row_reduce(0, 1, 0, 0, 10, 32)
    np.testing.assert_array_equal(links.west[0], [0] + [32] * 9)
    assert links.phase_cycles() == 32 + 9 + 9 * 5


def test_col_reduce_to_the_middle():
    links = LinkLoads(SMALL)
    links.add_col_reduce(0, 8, 3, 0, 8, 4)
    assert links.ramp_in[3].tolist() == [8] * 8  # the root hears from both sides
    assert links.phase_cycles() == 4 + 4 + 4 * 5


def test_col_gather_to_the_middle_carries_the_shares_from_past_each_link():
    # Rows 0..3 send 1, 2, 0, 3 wavelets to row 1: row 0's 1 goes south; row 3's 3 go north
    # through row 2, which has none of its own. Row 1 hears 1 + 3; the chain is 2 hops deep.
    links = LinkLoads(SMALL)
    links.add_col_gather(0, 2, 1, 0, np.array([1.0, 2.0, 0.0, 3.0]))
    assert links.south[:4, 0].tolist() == [1, 0, 0, 0] and links.north[:4, 0].tolist() == [0, 0, 3, 3]
    assert links.ramp_out[:4, 1].tolist() == [1, 0, 3, 3] and links.ramp_in[:4, 1].tolist() == [0, 4, 3, 0]
    assert links.phase_cycles() == (3 + 2) + 2 * 5  # max(ramp 4, link 3 + 2 hops) + 2 dependent steps
    assert links.south[:, 2:].sum() == 0  # only the columns asked for


def test_halo_shift():
    links = LinkLoads(SMALL)
    links.add_shift((1, 1, 6, 6), 1, 0, 7)  # every PE sends 7 wavelets east
    assert links.east.sum() == 36 * 7 and links.east.max() == 7
    assert links.phase_cycles() == 7 + 1


def test_cyclic_shift_wraps_the_long_way():
    # Cannon: a row of 8 shifts west by one; PE 0's block travels 7 hops east.
    links = row(8)
    links.add_shift((0, 0, 8, 1), -1, 0, 16, wrap=True)
    np.testing.assert_array_equal(links.west[0], [0] + [16] * 7)
    np.testing.assert_array_equal(links.east[0], [16] * 7 + [0])
    assert links.ramp_in[0].tolist() == [16] * 8
    assert links.phase_cycles() == 16 + 7


def test_cyclic_shift_over_a_folded_ring_goes_at_most_two_hops():
    # The same shift with the row's PEs in interleaved order (0, 2, 4, 6, 7, 5, 3, 1):
    # the even PEs' blocks go one way and the odd PEs' the other, two hops each,
    # so every link carries one block each way.
    links = row(8)
    links.add_shift((0, 0, 8, 1), -1, 0, 16, wrap=True, folded=True)
    np.testing.assert_array_equal(links.west[0], [0] + [16] * 7)
    np.testing.assert_array_equal(links.east[0], [16] * 7 + [0])
    assert links.ramp_in[0].tolist() == links.ramp_out[0].tolist() == [16] * 8
    assert links.phase_cycles() == 16 + 2
    columns = LinkLoads(SMALL)
    columns.add_shift((2, 0, 3, 8), 0, -3, 16, wrap=True, folded=True)  # three PEs north: 6 hops, 3 blocks a link
    assert columns.north[1:, 2:5].min() == columns.north.max() == 48 and columns.south[:7, 2:5].min() == 48
    assert columns.phase_cycles() == 48 + 6
    with pytest.raises(ValueError, match="a folded shift moves along one axis"):
        columns.add_shift((0, 0, 2, 2), 1, 1, 1, wrap=True, folded=True)


def test_diagonal_shift_routes_x_then_y():
    links = LinkLoads(SMALL)
    links.add_shift((0, 0, 2, 2), 3, 2, 1)
    # Sources in columns 0-1 each cross 3 east links: link c carries those in [c-2, c].
    assert links.east[0].tolist() == [1, 2, 2, 1, 0, 0, 0, 0]
    # The Y legs run down columns 3 and 4; row r's link carries sources in rows [r-1, r].
    assert links.south[:, 3].tolist() == [1, 2, 1, 0, 0, 0, 0, 0]
    assert links.phase_cycles() == 2 + 5


def test_flows_must_fit_the_grid():
    links = LinkLoads(SMALL)
    with pytest.raises(ValueError, match="shifted columns \\[7, 9\\)"):
        links.add_shift((6, 0, 2, 2), 1, 0, 1)
    with pytest.raises(ValueError, match="rows \\[0, 9\\)"):
        links.add_row_multicast(0, 9, 0, 0, 8, 1)
    with pytest.raises(ValueError, match="outside its contributors"):
        links.add_row_reduce(0, 1, 5, 0, 4, 1)


def test_full_wse2_summa_step():
    """One SUMMA step on every PE of a WSE-2: consistent totals, whole-grid arrays."""
    tile = 32  # each PE holds 32x32 fp16 blocks; 32*32 fp16 = 512 wavelets
    wavelets = tile * tile * 2 // WSE2.wavelet_bytes
    links = LinkLoads(WSE2)
    links.add_row_multicast(0, WSE2.height, 0, 0, WSE2.width, wavelets)
    links.add_col_multicast(0, WSE2.width, 0, 0, WSE2.height, wavelets)
    elements = np.full((WSE2.height, WSE2.width), float(tile**3))
    cycles = compute_cycles(WSE2, elements, tile, "fp16", scalar_operand=True)

    assert elements.sum() == tile**3 * 750 * 994
    # PE (0, 0) sends both blocks through its ramp; the longest flow runs 993 hops south.
    assert links.phase_cycles() == max(2 * wavelets, wavelets + 993)
    # 32*32 AXPYs of 32 at SIMD-4 (8 cycles) + 44 cycles of loop each, after 120 of set-up;
    # receiving runs on its own microthread, so every PE computes for as long.
    assert cycles[0, 0] == cycles[5, 7] == 120 + tile * tile * (44 + 8)
    assert links.total().sum() == wavelets * (994 * 749 + 750 * 993)


def test_a_share_several_pes_receive_crosses_each_link_once():
    """10 wavelets a PE on 4 rows x 3 columns. Split both ways, a row link
    carries its 3 PEs' shares; held by every PE of a row, one share, which the
    routers fan out as it passes; held whole by every row (split over the
    columns), one row's 30 wavelets spread over the 4 row links, and each
    column link carries its 10 down 4 hops; held by every PE, 10 down 4 hops.
    Streamed out, every PE's share leaves through its row."""
    assert stream_loads(10, 4, 3, True, True) == (30, 0)
    assert stream_loads(10, 4, 3, True, False) == (10, 0)
    assert stream_loads(10, 4, 3, False, True) == (10, 4)  # max(30 / 4, 10)
    assert stream_loads(10, 2, 30, False, True) == (150, 2)  # the rows bind: 300 / 2
    assert stream_loads(10, 4, 3, False, False) == (10, 4)
    assert stream_loads(10, 1, 3, False, True) == (30, 0)
    assert stream_loads(10, 4, 3, False, False, incoming=False) == (30, 0)
