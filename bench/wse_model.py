"""wse-place's time model against the simulator, region by region, on the model zoo.

    python bench/wse_model.py [--zoo resnet18,gpt2] [--modes pipelined,whole-wafer]
                              [--precisions fp32,fp16]

wse-place chooses each region's rectangle, algorithm and panel by its model of
the region's cycles (`passes/wse_demand.py`); a choice is only as good as that
model agrees with what the simulator then runs. Each row compiles one zoo model
for wse2 (random weights, batch 1), asks the model for every region's cycles
on the rectangle it was given, finishes the pipeline, and compares with the
region's simulated compute + communication: the signed error (model -
simulated) / simulated, its median and 90th percentile magnitude, its mean,
and the region it is worst on.
"""

from __future__ import annotations

import argparse

import numpy as np

import wafer
from wafer.frontend import import_model
from wafer.precision import at_precision
from wafer.tuning.placement import modelled_and_simulated

from wse import first_error_line, print_header


def region_errors(model, inputs, mode: str, precision: str) -> dict[str, float]:
    """Per region, (modelled - simulated) / simulated cycles, as wse-place placed it."""
    model, inputs, _ = at_precision(model, inputs, precision)
    cycles = modelled_and_simulated(import_model(model, inputs), "wse2", mode=mode,
                                    accumulate="fp16" if precision != "fp32" else "fp32")
    return {name: (modelled - simulated) / simulated for name, (modelled, simulated) in cycles.items() if simulated > 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", default="resnet18,mobilenet_v2,efficientnet_b0,squeezenet1_1,convnext_tiny,"
                        "vit_b_16,bert,gpt2", help="bench/zoo.py models (needs the bench extra)")
    parser.add_argument("--modes", default="pipelined,whole-wafer")
    parser.add_argument("--precisions", default="fp32,fp16")
    args = parser.parse_args()
    from zoo import build  # imports torchvision/transformers only here

    print("wse-place's model against the simulator per region, wse2, batch 1 (error: (model - simulated) / simulated)")
    print_header(f"{'model':16} {'mode':12} {'prec':>4} {'regions':>7} {'median |err|':>12} {'p90 |err|':>9} "
                 f"{'mean err':>8}  worst region")
    for name in args.zoo.split(","):
        model, inputs = build(name, 1)
        for mode in args.modes.split(","):
            for precision in args.precisions.split(","):
                try:
                    errors = region_errors(model, inputs, mode, precision)
                except wafer.WaferError as err:
                    print(f"{name:16} {mode:12} {precision:>4}  {first_error_line(err)[:90]}")
                    continue
                values = np.array(list(errors.values()))
                worst = max(errors, key=lambda region: abs(errors[region]))
                print(f"{name:16} {mode:12} {precision:>4} {len(values):>7} {np.median(np.abs(values)):12.3f} "
                      f"{np.percentile(np.abs(values), 90):9.3f} {values.mean():+8.3f}  "
                      f"{worst} ({errors[worst]:+.3f})", flush=True)


if __name__ == "__main__":
    main()
