"""`torch.compile(model, backend="wafer")` on a bundled example, next to eager PyTorch.

    python examples/torch_compile_example.py [--model lenet] [--batch 1] [--repeat 20]
"""

import argparse
import statistics
import time

import torch

from wafer.examples.models import EXAMPLES


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up: the first call of the compiled model compiles it
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet", choices=EXAMPLES)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    model, inputs = EXAMPLES[args.model].build(args.batch)
    # Options are the cpu pipeline's; the backend compiles each graph Dynamo captures.
    compiled = torch.compile(model, backend="wafer", options={"threads": 1})

    with torch.no_grad():  # Wafer compiles inference only
        start = time.perf_counter()
        got = compiled(*inputs)
        compile_seconds = time.perf_counter() - start
        error = (got - model(*inputs)).abs().max().item()
        eager, wafer = median_ms(lambda: model(*inputs), args.repeat), median_ms(lambda: compiled(*inputs), args.repeat)
    print(f"{args.model}, batch {args.batch}: first call {compile_seconds:.2f} s (Dynamo + Wafer compile), "
          f"max |wafer - eager| = {error:.2e}")
    print(f"{'':16} {'median ms':>10}")
    print(f"{'torch eager':16} {eager:>10.3f}")
    print(f"{'backend=wafer':16} {wafer:>10.3f}  ({eager / wafer:.2f}x eager)")


if __name__ == "__main__":
    main()
