"""A fuzzing campaign: generate, check in a worker process, minimize and save each failure.

Checks run in a child process, so that a crash inside the compiler's native
code (a segfault in an MLIR pass) is one more crash counted, not the end of
the campaign.
"""

from __future__ import annotations

import collections
import concurrent.futures
import multiprocessing
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic_file import write_atomically
from .check import CRASH, MISMATCH, OK, REFUSED, Verdict, check
from .program import Program, generate

_ORDER = (OK, REFUSED, MISMATCH, CRASH)


@dataclass
class Summary:
    generated: int = 0
    per_target: dict[str, collections.Counter] = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    programs: collections.Counter = field(default_factory=collections.Counter)  # worst outcome per program
    kinds: collections.Counter = field(default_factory=collections.Counter)
    refusals: collections.Counter = field(default_factory=collections.Counter)
    failures: list[tuple[int, Verdict, Path | None]] = field(default_factory=list)

    def table(self) -> str:
        lines = [f"programs generated: {self.generated}, op kinds used: {len(self.kinds)}",
                 f"{'target':8} {'checked':>8} {'ok':>6} {'refused':>8} {'mismatch':>9} {'crash':>6}"]
        for target, counts in sorted(self.per_target.items()):
            lines.append(f"{target:8} {sum(counts.values()):8} {counts[OK]:6} {counts[REFUSED]:8} "
                         f"{counts[MISMATCH]:9} {counts[CRASH]:6}")
        lines.append(f"{'program':8} {sum(self.programs.values()):8} {self.programs[OK]:6} {self.programs[REFUSED]:8} "
                     f"{self.programs[MISMATCH]:9} {self.programs[CRASH]:6}")
        if self.refusals:
            lines.append("most common refusals:")
            lines += [f"  {count:5}  {reason}" for reason, count in self.refusals.most_common(8)]
        for seed, verdict, path in self.failures:
            lines.append(f"seed {seed} {verdict.target} {verdict.outcome}: {verdict.detail[:160]}"
                         + (f" -> {path}" if path else ""))
        return "\n".join(lines)


class _Checker:
    """Checks programs in one spawned worker, started again after the worker dies
    or after a program runs past `timeout` seconds (a hang counts as a crash)."""

    def __init__(self, wse: bool, timeout: float):
        self._wse = wse
        self._timeout = timeout
        self._pool = None

    def __call__(self, program: Program) -> list[Verdict]:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        try:
            return self._pool.submit(check, program, self._wse).result(timeout=self._timeout)
        except concurrent.futures.process.BrokenProcessPool:
            self._pool = None
            return [Verdict("process", CRASH, "the worker process died (a crash in native code)")]
        except concurrent.futures.TimeoutError:
            for worker in list(self._pool._processes.values()):  # the only way to stop a running task
                worker.kill()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            return [Verdict("process", CRASH, f"no answer within {self._timeout:.0f} s (a hang)")]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


def fuzz(count: int = 100, seed: int = 0, wse: bool = True, out_dir: str | os.PathLike | None = "fuzz-failures",
         minimize: bool = True, progress=None, timeout: float = 300.0) -> Summary:
    """Generate and check `count` programs from seeds `seed`, `seed + 1`, ...; save each failure
    (minimized, as a reproducer `.py` and its linalg `.mlir`) under `out_dir`. A program that
    takes longer than `timeout` seconds on all its targets together is a hang."""
    summary, checker = Summary(), _Checker(wse, timeout)
    try:
        for program_seed in range(seed, seed + count):
            program = generate(program_seed)
            summary.generated += 1
            summary.kinds.update(program.kinds)
            verdicts = checker(program)
            for verdict in verdicts:
                summary.per_target[verdict.target][verdict.outcome] += 1
                if verdict.outcome == REFUSED:
                    summary.refusals[_reason(verdict.detail)] += 1
            worst = max(verdicts, key=lambda v: _ORDER.index(v.outcome))
            summary.programs[worst.outcome] += 1
            if worst.outcome in (MISMATCH, CRASH):
                if minimize:
                    program = _minimize(program, worst, checker)
                path = save_reproducer(program, worst, Path(out_dir)) if out_dir is not None else None
                summary.failures.append((program_seed, worst, path))
            if progress is not None:
                progress(summary)
    finally:
        checker.close()
    return summary


def _reason(detail: str) -> str:
    """A refusal without its location and numbers, so that like refusals count together."""
    return re.sub(r"\d+", "N", detail.split("error: ", 1)[-1])[:100]


def _reproduces(verdicts: list[Verdict], failure: Verdict) -> bool:
    return any(v.target == failure.target and v.outcome == failure.outcome for v in verdicts)


def _minimize(program: Program, failure: Verdict, checker: _Checker) -> Program:
    """The smallest program found that fails the same way on the same target: first the
    shortest prefix that fails on its last value alone, then each op bypassed in turn."""
    for end in range(len(program.lines)):
        candidate = _ending_at(program, end)
        if len(candidate.lines) < len(program.lines) and _reproduces(checker(candidate), failure):
            program = candidate
            break
    j = 0
    while j < len(program.lines) - 1:
        candidate = _bypassed(program, j)
        if candidate is not None and _reproduces(checker(candidate), failure):
            program = candidate
        else:
            j += 1
    return program


def _names(expr: str) -> set[str]:
    return set(re.findall(r"\b(?:v|x)\d+\b|\bself\.w\d+\b", expr))


def _ending_at(program: Program, end: int) -> Program:
    """`program` up to line `end`, returning its value, without the lines it does not need."""
    needed, lines = {program.lines[end][0].name}, []
    for value, kind, expr in reversed(program.lines[:end + 1]):
        if value.name in needed:
            needed |= _names(expr)
            lines.append((value, kind, expr))
    lines.reverse()
    return Program(program.seed, [v for v in program.inputs if v.name in needed],
                   [p for p in program.params if f"self.{p[0]}" in needed], lines, [program.lines[end][0].name])


def _bypassed(program: Program, j: int) -> Program | None:
    """`program` without line `j`, its readers reading its first same-typed input instead."""
    value, _, expr = program.lines[j]
    typed = {v.name: v for v in program.inputs + [v for v, _, _ in program.lines]}
    stand_in = next((name for name in sorted(_names(expr)) if name in typed and
                     (typed[name].shape, typed[name].dtype) == (value.shape, value.dtype)), None)
    if stand_in is None:
        return None
    rename = lambda text: re.sub(rf"\b{value.name}\b", stand_in, text)  # noqa: E731
    lines = [(v, k, rename(e)) for i, (v, k, e) in enumerate(program.lines) if i != j]
    outputs = [stand_in if name == value.name else name for name in program.outputs]
    return _ending_at(Program(program.seed, program.inputs, program.params, lines, outputs), len(lines) - 1) \
        if outputs == [lines[-1][0].name] else Program(program.seed, program.inputs, program.params, lines, outputs)


def save_reproducer(program: Program, failure: Verdict, out_dir: Path) -> Path:
    """Write `repro.py` (standalone: compiles the program the failing way and compares) and
    `model.mlir` (its linalg) into a folder named after the seed, target and outcome."""
    folder = out_dir / f"seed{program.seed}-{failure.target.replace('/', '-')}-{failure.outcome}"
    folder.mkdir(parents=True, exist_ok=True)
    options = {"cpu/1": "target='cpu', threads=1", "cpu/2": "target='cpu', threads=2",
               "wse": "target='wse', machine='small'"}.get(failure.target, "target='cpu'")
    main = "\n".join([
        "", "if __name__ == '__main__':", "    import wafer",
        "    model, inputs = FuzzModel().eval(), make_inputs()",
        "    with torch.no_grad():", "        expected = model(*inputs)",
        f"    got = wafer.compile(model, inputs, {options})(*inputs)",
        "    for g, e in zip(got, expected):",
        "        torch.testing.assert_close(g, e, rtol=1e-3, atol=1e-4, equal_nan=True)",
        "    print('matches eager')", "",
    ])
    write_atomically(folder / "repro.py", f"# {failure.target} {failure.outcome}: {failure.detail}\n"
                      + program.source() + main)
    try:
        from ..frontend import import_model

        model, inputs = program.build()
        text = str(import_model(model, inputs))
    except Exception as err:  # the import itself may be what fails
        text = f"// the import failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}\n"
    write_atomically(folder / "model.mlir", text)
    return folder

