"""The tables `wafer tune` prints: each convolution's algorithms' times, each
contraction's default and tuned kernel times, or each region's placed and
searched rectangle and cycles."""

from __future__ import annotations

from .database import Placement
from .in_model import ModelCheck
from .modes import INTERRUPTED, ModeResult
from .placement import PlacementResult
from .tuner import AlgorithmResult, TuningResult


def table(results: list[AlgorithmResult | ModelCheck | TuningResult]) -> str:
    convs = [r for r in results if isinstance(r, AlgorithmResult)]
    lines = [_algorithm_table(convs), ""] if convs else []
    lines += [_model_check(r) + "\n" for r in results if isinstance(r, ModelCheck)]
    lines.append(f"{'contraction':42} {'default ms':>10} {'tuned ms':>9} {'speedup':>7} {'new':>4}  chosen kernel")
    for result in results:
        if not isinstance(result, TuningResult):
            continue
        name = result.signature.describe()
        if result.best is None:
            lines.append(f"{name:42} {'-':>10} {'-':>9} {'-':>7} {result.measured_now:>4}  not measured")
            continue
        best = result.best
        lines.append(f"{name:42} {best.default_ms:10.3f} {best.ms:9.3f} {1 / best.ratio:6.2f}x "
                     f"{result.measured_now:>4}  {best.choice.describe()}")
    return "\n".join(lines)


def _model_check(check: ModelCheck) -> str:
    verdict = "kept" if check.kept else "set back to the rules' picks"
    return (f"the model with the {check.changes} measured {check.what}: {check.tuned_ms:.3f} ms, "
            f"without them: {check.untuned_ms:.3f} ms; they are {verdict}")


def _algorithm_table(results: list[AlgorithmResult]) -> str:
    lines = [f"{'convolution':52} {'default':>14} {'chosen':>14} {'speedup':>7} {'new':>4}  ms per algorithm"]
    for result in results:
        name = result.conv.describe()
        if result.best is None:
            lines.append(f"{name:52} {'-':>14} {'-':>14} {'-':>7} {'':>4}  not measured")
            continue
        times = ", ".join(f"{algorithm} {ms:.3f}" for algorithm, ms in result.times.items())
        speedup = result.times[result.default] / result.times[result.best]
        lines.append(f"{name:52} {result.default:>14} {result.best:>14} {speedup:6.2f}x "
                     f"{'yes' if result.measured_now else 'no':>4}  {times}")
    return "\n".join(lines)


def placement_table(results: list[PlacementResult]) -> str:
    header = (f"{'regions':28} {'placed':>16} {'cycles':>11} {'searched':>16} {'cycles':>11} "
              f"{'speedup':>7} {'new':>4}")
    lines = [header]
    for result in results:
        names = ", ".join(result.names)
        names = names if len(names) <= 28 else names[:25] + "..."
        default, best = result.default, result.best
        if default is None or best is None:
            lines.append(f"{names:28} {'-':>16} {'-':>11} {'-':>16} {'-':>11} {'-':>7} {result.measured_now:>4}")
            continue
        lines.append(f"{names:28} {_placement(default):>16} {default.cycles:11,.0f} "
                     f"{_placement(best):>16} {best.cycles:11,.0f} {default.cycles / best.cycles:6.2f}x "
                     f"{result.measured_now:>4}")
    return "\n".join(lines)


def mode_table(results: list[ModeResult]) -> str:
    """Each mode's regions, then each mode's tuned cycles per inference and which is kept."""
    lines = []
    for result in results:
        lines.append(f"{result.mode}:")
        lines.append(placement_table(result.regions) if result.regions else f"  does not fit: {result.reason}")
        lines.append("")
    fitting = [r for r in results if r.period is not None]
    interrupted = any(r.reason == INTERRUPTED for r in results)
    best = None if interrupted else min(fitting, key=lambda r: r.period)
    for result in results:
        period = (f"{result.period:,.0f} cycles per inference" if result.period is not None
                  else result.reason if result.reason == INTERRUPTED else "does not fit")
        lines.append(f"{result.mode:12} {period}" + ("  <- kept (mode='auto')" if result is best else ""))
    return "\n".join(lines)


def _placement(placement: Placement) -> str:
    """rows x cols, the algorithm of a contraction's region and a SUMMA's
    panel of k where the search chose one: 16x16 cannon, 8x8 summa/32."""
    panel = f"/{placement.panel}" if placement.panel else ""
    return f"{placement.rows}x{placement.cols} {placement.kind}{panel}".strip()
