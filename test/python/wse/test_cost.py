"""The cost model against answers worked out on paper."""

import dataclasses

import numpy as np
import pytest

from wafer.wse_target.cost import LinkLoads, compute_cycles
from wafer.wse_target.machine import SMALL as PRESET_SMALL, WSE2

SMALL = dataclasses.replace(PRESET_SMALL, width=8, height=8)  # the 8x8 fabric these figures assume



# A 4x8 @ 8x16 matmul on one PE: 2*M*N*K = 1024 FLOPs = 512 FMAs, issued as
# M*K = 64 AXPYs of length N = 8, each paying WSE-2's 6-cycle vector start-up.
FLOPS, VECTOR, STARTUP = 2 * 4 * 8 * 16, 8, 64 * 6


def test_matmul_on_one_pe_fp16():
    # 512 FMAs at SIMD-4: 128 cycles.
    assert compute_cycles(WSE2, FLOPS, VECTOR, "fp16") == STARTUP + 128


def test_matmul_on_one_pe_fp32():
    # One fp32 FMA per cycle; the 64-bit ports (256 cycles of reads) do not bind.
    assert compute_cycles(WSE2, FLOPS, VECTOR, "fp32") == STARTUP + 512


def test_narrow_ports_bound_fp16():
    # With 32-bit ports, 512 FMAs read 2 * 2 B * 512 = 2048 B over 2 x 4 B a cycle.
    narrow = dataclasses.replace(WSE2, sram_port_bytes=4)
    assert compute_cycles(narrow, FLOPS, VECTOR, "fp16") == STARTUP + 256


def test_bank_conflicts_and_fabric_receive():
    # SIMD-4 narrowed to 2 by conflicts: 256 cycles; 100 received wavelets: 100 more.
    got = compute_cycles(WSE2, FLOPS, VECTOR, "fp16", simd_narrowing=0.5, recv_wavelets=100)
    assert got == STARTUP + 256 + 100


def test_short_vectors_run_below_peak():
    # Length-1 vectors: 512 instructions * 6 + 128 cycles, 25x slower than SIMD peak.
    assert compute_cycles(WSE2, FLOPS, 1, "fp16") == 512 * 6 + 128


def test_compute_is_vectorized_over_the_grid():
    flops = np.array([[0.0, 16.0], [FLOPS, 2.0]])
    got = compute_cycles(WSE2, flops, VECTOR, "fp32")
    np.testing.assert_array_equal(got, [[0, 6 + 8], [STARTUP + 512, 6 + 1]])


def test_invalid_compute():
    with pytest.raises(ValueError, match="vector_length must be >= 1"):
        compute_cycles(WSE2, FLOPS, 0, "fp16")
    with pytest.raises(ValueError, match="simd_narrowing"):
        compute_cycles(WSE2, FLOPS, 8, "fp16", simd_narrowing=2)


def row(n_pes: int) -> LinkLoads:
    return LinkLoads(dataclasses.replace(SMALL, width=n_pes, height=1))


@pytest.mark.parametrize(("n_pes", "wavelets"), [(2, 1), (10, 32), (750, 1000)])
def test_row_multicast_costs_hops_plus_length(n_pes, wavelets):
    links = row(n_pes)
    links.add_row_multicast(0, 1, 0, 0, n_pes, wavelets)
    assert links.phase_cycles() == (n_pes - 1) + wavelets


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
    flops = np.full((WSE2.height, WSE2.width), 2.0 * tile**3)
    cycles = compute_cycles(WSE2, flops, tile, "fp16", recv_wavelets=links.ramp_in)

    assert flops.sum() == 2 * tile**3 * 750 * 994
    # PE (0, 0) sends both blocks through its ramp; the longest flow runs 993 hops south.
    assert links.phase_cycles() == max(2 * wavelets, wavelets + 993)
    # 32*32 AXPYs of length 32 (6 cycles each) + 32768 FMAs at SIMD-4 + received blocks.
    base = tile * tile * 6 + tile**3 / 4
    assert cycles[0, 0] == base
    assert cycles[5, 7] == base + 2 * wavelets
    assert links.total().sum() == wavelets * (994 * 749 + 750 * 993)
