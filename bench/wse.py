"""WSE benchmark: the cost model's calibration, simulated GEMM rates, example-model pipelines,
and the simulator's own speed.

    python bench/wse.py [--sizes 4096,8192,16384,32768,65536] [--regions full,750x750]
                        [--models mlp,lenet] [--machines small,wse2] [--batch 1]
                        [--zoo resnet18,gpt2] [--modes pipelined,whole-wafer] [--precisions fp32,fp16]
                        [--contexts 127,1023] [--search SECONDS [--search-modes pipelined,whole-wafer,auto]]

Everything is timing only: `estimate()` costs the compiled program from its IR,
with no input data, so full-wafer GEMMs take well under a second each. A case
that does not compile (SRAM, placement, an op the target cannot partition yet)
shows the first line of its error in the table instead of numbers.

The GEMM table's rate and % of peak count the useful 2*n^3 FLOPs, computed
here rather than read from the report, so padding never inflates them.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import wafer
from wafer.examples.models import EXAMPLES, matmul_mlir
from wafer.wse_target.calibration import CASES, TOLERANCE


@dataclass
class SimulatorRun:
    """One `estimate()`: what it simulated and how long the simulator took."""

    workload: str
    fabric: str
    report: object
    wall_seconds: float

    @property
    def pe_cycles_per_second(self) -> float:
        return self.report.pes_in_use * self.report.cycles / self.wall_seconds


def first_error_line(err: wafer.WaferError) -> str:
    """The first line of a diagnostic, from 'error:' on (the location is long)."""
    line = str(err).splitlines()[0]
    return line[line.find("error:"):] if "error:" in line else line


def timed_estimate(exe, name: str) -> tuple[object, float]:
    start = time.perf_counter()
    report = exe.estimate(name)
    return report, time.perf_counter() - start


def parse_region(text: str) -> tuple[int, int] | None:
    if text == "full":
        return None
    width, height = (int(v) for v in text.split("x"))
    return width, height


def print_header(header: str) -> None:
    print(header)
    print("-" * len(header))


def calibration_table() -> None:
    print(f"(0) public micro-benchmarks (WSE-2) against the cost model; tolerance {TOLERANCE:.0%}")
    header = f"{'case':68} {'measured':>10} {'predicted':>10} {'error':>7}"
    print_header(header)
    for case in CASES:
        print(f"{case.name:68.68} {case.measured:10,.1f} {case.predicted():10,.1f} {case.error():+7.2%}")
    print("sources: wse_target/CALIBRATION.md\n")


# A GEMM's element type and the peak it is measured against.
_GEMM_PRECISIONS = {"fp32": "f32", "fp16": "f16"}


def gemm_table(sizes: list[int], regions: list[str], precisions: list[str], runs: list[SimulatorRun]) -> None:
    print("(a) GEMM n x n x n on wse2 (rate and % of peak count the useful 2n^3 FLOPs; "
          "the peak of the GEMM's precision; A and B come from the host and C goes back, "
          "through the system's 1.2 Tb/s I/O)")
    header = (f"{'n':>6} {'fabric':>9} {'prec':>4} {'compile s':>9} {'PEs':>9} {'steps by':>8} {'cycles':>13} "
              f"{'ms':>9} {'TFLOP/s':>8} {'% peak':>7} {'SRAM/PE':>8} {'compute %':>9}")
    print_header(header)
    for region_text in regions:
        region = parse_region(region_text)
        for n in sizes:
            for precision in precisions:
                gemm_row(n, region_text, region, precision, runs)


def gemm_row(n: int, region_text: str, region, precision: str, runs: list[SimulatorRun]) -> None:
    start = time.perf_counter()
    try:
        exe = wafer.compile_mlir(matmul_mlir(n, n, n, _GEMM_PRECISIONS[precision]), target="wse",
                                 machine="wse2", region=region)
    except wafer.WaferError as err:
        print(f"{n:>6} {region_text:>9} {precision:>4} {time.perf_counter() - start:9.2f}  {first_error_line(err)}")
        return
    compile_seconds = time.perf_counter() - start
    report, wall = timed_estimate(exe, "gemm")
    m = report.machine
    runs.append(SimulatorRun(f"gemm {n} {precision}", f"{m.width}x{m.height}", report, wall))
    useful = 2.0 * n ** 3
    compute = sum(op.compute_cycles for op in report.ops)
    comm = sum(op.comm_cycles for op in report.ops)
    (row,) = report.ops
    _, _, width, height = row.region
    print(f"{n:>6} {region_text:>9} {precision:>4} {compile_seconds:9.2f} {f'{height}x{width}':>9} {row.kind:>8} "
          f"{report.cycles:13,.0f} "
          f"{report.seconds * 1e3:9.2f} {useful / report.seconds / 1e12:8.1f} "
          f"{useful / (report.seconds * m.peak_flops_per_second(precision)):7.1%} "
          f"{report.sram_high_water_max:8,} "
          f"{compute / (compute + comm):9.0%}", flush=True)


def model_table(models: list[str], machines: list[str], batch: int, runs: list[SimulatorRun]) -> None:
    print(f"\n(b) example models, layer-pipelined, batch {batch} (% of fp32 peak at the pipelined rate)")
    header = (f"{'model':14} {'machine':8} {'compile s':>9} {'regions':>7} {'latency us':>11} "
              f"{'inferences/s':>13} {'% peak':>7} {'slowest stage':>14}")
    print_header(header)
    for machine in machines:
        for name in models:
            model, inputs = EXAMPLES[name].build(batch)
            start = time.perf_counter()
            try:
                compiled = wafer.compile(model, inputs, target="wse", machine=machine, mode="pipelined")
            except wafer.WaferError as err:
                print(f"{name:14} {machine:8} {time.perf_counter() - start:9.2f}  {first_error_line(err)}")
                continue
            compile_seconds = time.perf_counter() - start
            report, wall = timed_estimate(compiled.executable, "forward")
            runs.append(SimulatorRun(name, machine, report, wall))
            slowest = max(report.ops, key=lambda op: op.cycles)
            # One region gives no pipeline: its rate is one inference per latency.
            throughput = report.pipeline_throughput or 1.0 / report.seconds
            peak = report.flops * throughput / report.machine.peak_flops_per_second("fp32")
            print(f"{name:14} {machine:8} {compile_seconds:9.2f} {len(report.ops):>7} "
                  f"{report.seconds * 1e6:11.1f} {throughput:13,.0f} {peak * 100:7.2g} {slowest.name:>14}", flush=True)


def zoo_table(models: list[str], modes: list[str], precisions: list[str], runs: list[SimulatorRun]) -> None:
    """The CPU benchmark's model zoo (bench/zoo.py builds it: random weights,
    batch 1) on wse2, at each precision (fp16 accumulates in fp16)."""
    from zoo import build  # imports torchvision/transformers only when the zoo is asked for

    print("\n(d) the model zoo on wse2, batch 1 (% of the peak of its precision at the inference rate; "
          "host: ops run off the wafer; s: compile + estimate)")
    header = (f"{'model':16} {'mode':12} {'prec':>4} {'s':>5} {'regions':>7} {'host':>4} {'cycles':>14} "
              f"{'inferences/s':>13} {'% peak':>7} {'SRAM/PE':>8}")
    print_header(header)
    for name in models:
        model, inputs = build(name, 1)
        for mode in modes:
            for precision in precisions:
                zoo_row(name, model, inputs, mode, precision, runs)


def zoo_row(name: str, model, inputs, mode: str, precision: str, runs: list[SimulatorRun]) -> None:
    start = time.perf_counter()
    try:
        compiled = wafer.compile(model, inputs, target="wse", machine="wse2", mode=mode, precision=precision)
        report, wall = timed_estimate(compiled.executable, "forward")
    except wafer.WaferError as err:
        print(f"{name:16} {mode:12} {precision:>4} {time.perf_counter() - start:5.1f}  {first_error_line(err)[:90]}")
        return
    seconds = time.perf_counter() - start
    runs.append(SimulatorRun(f"{name} {precision}", mode, report, wall))
    throughput = report.pipeline_throughput or 1.0 / report.seconds
    peak = report.flops * throughput / report.machine.peak_flops_per_second(report.dtype)
    host = sum(op.kind == "host" for op in report.ops)
    print(f"{name:16} {mode:12} {precision:>4} {seconds:5.1f} {len(report.ops) - host:>7} {host:>4} "
          f"{report.cycles:14,.0f} {throughput:13,.0f} {peak:7.2%} {report.sram_high_water_max:8,}", flush=True)


def decode_table(contexts: list[int], modes: list[str], precisions: list[str], runs: list[SimulatorRun]) -> None:
    """One decode step of a GPT-2-style decoder (examples/gpt_decode.py: 4 layers,
    width 768, 12 heads) at batch 1, its KV cache an input. One sequence decodes a
    token per step's latency; a pipeline's rate is that of as many sequences as
    it has stages."""
    from wafer.examples.gpt_decode import decode_inputs, make_model

    model = make_model()
    weights = sum(p.numel() * 4 for p in model.parameters()) / 1e6
    print(f"\n(f) GPT-2-style decode step on wse2, 4 layers, {weights:.0f} MB of fp32 weights "
          "(tokens/s: one sequence; pipelined: every stage busy with its own sequence)")
    header = (f"{'context':>7} {'mode':12} {'prec':>4} {'s':>5} {'regions':>7} {'cycles/token':>13} "
              f"{'tokens/s':>9} {'pipelined tokens/s':>18} {'% peak':>7}")
    print_header(header)
    for context in contexts:
        inputs = decode_inputs(context=context)
        for mode in modes:
            for precision in precisions:
                start = time.perf_counter()
                try:
                    compiled = wafer.compile(model, inputs, target="wse", machine="wse2", mode=mode,
                                             precision=precision)
                    report, wall = timed_estimate(compiled.executable, "forward")
                except wafer.WaferError as err:
                    print(f"{context:>7} {mode:12} {precision:>4} {time.perf_counter() - start:5.1f}  "
                          f"{first_error_line(err)[:90]}")
                    continue
                runs.append(SimulatorRun(f"decode {context} {precision}", mode, report, wall))
                rate = f"{report.pipeline_throughput:18,.0f}" if report.pipeline_throughput else f"{'-':>18}"
                print(f"{context:>7} {mode:12} {precision:>4} {time.perf_counter() - start:5.1f} "
                      f"{len(report.ops):>7} {report.cycles:13,.0f} {1 / report.seconds:9,.0f} {rate} "
                      f"{report.peak_fraction:7.2%}", flush=True)


def search_table(models: list[str], modes: list[str], budget_s: float) -> None:
    """Cycles of the zoo placed by wse-place's coarse model, and by the records
    of a placement search on the simulator (`wafer tune --target wse`). Mode
    "auto" searches both modes and keeps the one with fewer cycles per
    inference in steady state (a pipeline's stage time): its row gives those,
    untuned as `mode="auto"` places with no records (pipelined where it fits)."""
    import tempfile

    from zoo import build

    print(f"\n(e) placement search on wse2, batch 1, fp32, {budget_s:.0f} s budget per row "
          "(cycles: untuned -> tuned; auto: cycles per inference)")
    header = f"{'model':16} {'mode':22} {'search s':>8} {'regions':>7} {'untuned':>14} {'tuned':>14} {'speedup':>7}"
    print_header(header)
    for name in models:
        model, inputs = build(name, 1)
        for mode in modes:
            with tempfile.TemporaryDirectory() as folder:
                database = f"{folder}/wafer-tuning.json"
                start = time.perf_counter()
                try:
                    results = wafer.tune(model, inputs, budget_s=budget_s, database=database, target="wse",
                                         machine="wse2", mode=mode, progress=False)
                    seconds = time.perf_counter() - start
                    untuned = wafer.compile(model, inputs, target="wse", machine="wse2", mode=mode).estimate()
                    tuned = wafer.compile(model, inputs, target="wse", machine="wse2", mode=mode,
                                          tuning=database).estimate()
                except wafer.WaferError as err:
                    print(f"{name:16} {mode:22} {time.perf_counter() - start:8.1f}  {first_error_line(err)[:90]}")
                    continue
            if mode == "auto":
                kept = min((r for r in results if r.period is not None), key=lambda r: r.period).mode
                label, before, after = f"auto -> {kept}", untuned.period_cycles, tuned.period_cycles
                regions = sum(len(r.regions) for r in results)
            else:
                label, before, after, regions = mode, untuned.cycles, tuned.cycles, len(results)
            print(f"{name:16} {label:22} {seconds:8.1f} {regions:>7} {before:14,.0f} {after:14,.0f} "
                  f"{before / after:6.2f}x", flush=True)


def simulator_table(runs: list[SimulatorRun]) -> None:
    print("\n(c) the simulator's own speed: estimate() wall time, PE-cycles simulated per second")
    header = f"{'workload':14} {'fabric':>9} {'PEs in use':>10} {'cycles':>13} {'wall s':>7} {'PE-cycles/s':>11}"
    print_header(header)
    for run in runs:
        print(f"{run.workload:14} {run.fabric:>9} {run.report.pes_in_use:>10,} {run.report.cycles:13,.0f} "
              f"{run.wall_seconds:7.3f} {run.pe_cycles_per_second:11.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4096,8192,16384,32768,65536", help="of the GEMM table ('' to skip)")
    parser.add_argument("--regions", default="full,750x750", help="'full' or WIDTHxHEIGHT of wse2")
    parser.add_argument("--models", default=",".join(EXAMPLES), help="bundled examples ('' to skip)")
    parser.add_argument("--machines", default="small,wse2")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--zoo", default="resnet18,mobilenet_v2,efficientnet_b0,squeezenet1_1,convnext_tiny,"
                        "vit_b_16,bert,gpt2",
                        help="bench/zoo.py models ('held-out' for that set, '' to skip; needs the bench extra)")
    parser.add_argument("--modes", default="pipelined,whole-wafer")
    parser.add_argument("--precisions", default="fp32,fp16", help="of the GEMM and zoo tables")
    parser.add_argument("--contexts", default="127,1023", help="KV-cache lengths of the decode table ('' to skip)")
    parser.add_argument("--search", type=float, default=0.0, metavar="SECONDS",
                        help="also search the zoo's placements, this budget per model and mode (default: 0, skip)")
    parser.add_argument("--search-modes", default="pipelined,whole-wafer,auto",
                        help="the placement search's modes (auto: both, keeping the faster)")
    args = parser.parse_args()
    runs: list[SimulatorRun] = []
    start = time.perf_counter()
    calibration_table()
    precisions = args.precisions.split(",")
    if args.sizes:
        gemm_table([int(n) for n in args.sizes.split(",")], args.regions.split(","), precisions, runs)
    if args.models:
        model_table(args.models.split(","), args.machines.split(","), args.batch, runs)
    if args.contexts:
        decode_table([int(c) for c in args.contexts.split(",")], args.modes.split(","), precisions, runs)
    if args.zoo:
        from zoo import model_names

        zoo = model_names(args.zoo)
        zoo_table(zoo, args.modes.split(","), precisions, runs)
        if args.search:
            search_table(zoo, args.search_modes.split(","), args.search)
    simulator_table(runs)
    print(f"\nbenchmark wall time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
