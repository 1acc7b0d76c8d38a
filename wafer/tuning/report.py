"""The table `wafer tune` prints: each contraction's default and tuned kernel times."""

from __future__ import annotations

from .tuner import TuningResult


def table(results: list[TuningResult]) -> str:
    header = f"{'contraction':42} {'default ms':>10} {'tuned ms':>9} {'speedup':>7} {'new':>4}  chosen kernel"
    lines = [header]
    for result in results:
        name = result.signature.describe()
        if result.best is None:
            lines.append(f"{name:42} {'-':>10} {'-':>9} {'-':>7} {result.measured_now:>4}  not measured")
            continue
        best = result.best
        lines.append(f"{name:42} {best.default_ms:10.3f} {best.ms:9.3f} {1 / best.ratio:6.2f}x "
                     f"{result.measured_now:>4}  {best.choice.describe()}")
    return "\n".join(lines)
