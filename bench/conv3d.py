"""Video classifiers (3-D convolutions): Wafer against eager and ONNX Runtime.

    python bench/conv3d.py [--models r3d_18,mc3_18,r2plus1d_18] [--batches 1] [--threads 1,2] [--budget 3]

torchvision's video ResNets with random weights on clips of 16 frames of
112x112 (their training size): R3D's 3x3x3 convolutions, MC3's 3-D stem and
early blocks then (1, 3, 3) ones, R(2+1)D's (1, 3, 3) spatial and (3, 1, 1)
temporal halves. No Wafer strategy was written for them: each 3-D
convolution runs as a 2-D one over depth slices (wafer-conv3d-as-conv2d).
Columns: the model, batch, threads, median ms of eager, ONNX Runtime and
Wafer timed interleaved, Wafer/ORT (below 1: Wafer is faster), compile
seconds and the largest difference from eager.
"""

from __future__ import annotations

from common import (  # first: sets GOMP_SPINCOUNT
    compile_wafer, eager_ort_wafer_ms, grid_parser, max_error, print_grid, timing_columns)
import torch

from wafer.torchvision_schemas import declare_torchvision_schemas

CLIP = (3, 16, 112, 112)  # channels, frames, rows, columns


def row(name: str, batch: int, threads: int, budget: float) -> str:
    import torchvision.models.video

    torch.manual_seed(0)
    torch.set_num_threads(threads)
    model, x = getattr(torchvision.models.video, name)(weights=None).eval(), torch.randn(batch, *CLIP)
    compiled, seconds = compile_wafer(model, (x,), threads)
    error = max_error(compiled, model, (x,))
    ms = eager_ort_wafer_ms(model, x, compiled, threads, budget)
    return f"{name:12} {batch:5} {threads:7} {timing_columns(ms, decimals=1)} {seconds:9.1f} {error:9.1e}"


def main() -> None:
    parser = grid_parser(__doc__, batches="1")
    parser.add_argument("--models", default="r3d_18,mc3_18,r2plus1d_18")
    parser.set_defaults(budget=3.0)
    args = parser.parse_args()
    declare_torchvision_schemas()
    print(f"{'model':12} {'batch':>5} {'threads':>7} {'eager':>9} {'ORT':>9} {'wafer':>9} {'wafer/ORT':>9} "
          f"{'compile s':>9} {'max err':>9}")
    print_grid(args, args.models.split(","), row)


if __name__ == "__main__":
    main()
