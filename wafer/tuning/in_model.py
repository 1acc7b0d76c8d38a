"""Keep what a tuning run measured only where the model runs faster with it.

The tuner times each convolution's algorithms and each contraction's kernels
alone (measure.py). In the model, the algorithm also decides what joins the
convolution and how its result is laid out for the next layer (a Winograd
output padded to whole tiles and sliced leaves the ReLU after it a pass of
its own; an oriented 1x1 convolution's transposed tiles keep its epilogue
out), and a kernel's tiles decide what fuses into them and what its
neighbours find in cache. So a set of choices each faster alone can make the
model slower (bench/tuned.py times tuned against untuned models).

So where a run changed convolutions' algorithms, and again where it changed
contractions' kernels, the model is compiled with those changes and without
them (their records set back to the rules' picks) and the two are timed
interleaved; the changes stay only if the model with them is faster by
`MIN_GAIN`. The records are set back first and restored after, so a run
interrupted in between keeps the rules' picks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from .database import MIN_GAIN, KernelChoice, Measurement, TuningDatabase
from .measure import time_interleaved
from .signature import ContractionSignature


@dataclass(frozen=True)
class Changes:
    """Records a run changed from the rules' picks, and how to set them back and restore them."""

    what: str
    count: int
    set_back: Callable[[], None]
    restore: Callable[[], None]


@dataclass(frozen=True)
class ModelCheck:
    """The model's median ms with a run's changes and without them, and whether they stay."""

    what: str
    changes: int
    tuned_ms: float
    untuned_ms: float

    @property
    def kept(self) -> bool:
        return self.tuned_ms <= (1 - MIN_GAIN) * self.untuned_ms


def algorithm_changes(db: TuningDatabase, keys: list[str]) -> Changes | None:
    """The convolutions of `keys` whose records pick another algorithm than the rules do."""
    picks = {key: db.conv_algorithm(key) for key in keys}
    changed = {key: pick for key, pick in picks.items() if pick != db.conv_times(key)[0]}
    if not changed:
        return None

    def set_back():
        for key in changed:
            db.set_conv_best(key, db.conv_times(key)[0])

    def restore():
        for key, pick in changed.items():
            db.set_conv_best(key, pick)

    return Changes("convolution algorithms", len(changed), set_back, restore)


def kernel_changes(db: TuningDatabase, before: dict[ContractionSignature, Measurement | None],
                   default: KernelChoice) -> Changes | None:
    """The contractions of `before` (their records when the run began) whose
    best kernel is now another than it was, and than the rules' `default`."""
    changed = {}
    for signature, earlier in before.items():
        best = db.lookup(signature)
        if best is not None and best.choice != default and (earlier is None or earlier.choice != best.choice):
            changed[signature] = best
    if not changed:
        return None

    def set_back():
        for signature in changed:
            db.set_best(signature, next(m for m in db.measured(signature) if m.choice == default))

    def restore():
        for signature, best in changed.items():
            db.set_best(signature, best)

    return Changes("kernels", len(changed), set_back, restore)


def check_in_model(model, example_inputs: tuple, db: TuningDatabase, changes: Changes | None, threads: int,
                   budget_s: float) -> ModelCheck | None:
    """Time `model` compiled with `changes` against it compiled with them set
    back, for about `budget_s` (compiling included), and keep them only if
    they make it faster; None where there are none."""
    if changes is None:
        return None
    from ..frontend import compile as compile_model  # it imports the tuner's database, as the tuner does

    start = time.perf_counter()
    tuned = compile_model(model, example_inputs, threads=threads, tuning=str(db.path))
    changes.set_back()
    untuned = compile_model(model, example_inputs, threads=threads, tuning=str(db.path))
    timing_s = max(0.0, budget_s - (time.perf_counter() - start))  # time_interleaved still makes a few rounds
    # The compiled models take the inputs as the user's calls do, converting them (bf16 included) themselves.
    times = time_interleaved({"tuned": lambda: tuned(*example_inputs), "untuned": lambda: untuned(*example_inputs)},
                             timing_s)
    check = ModelCheck(changes.what, changes.count, 1e3 * times["tuned"], 1e3 * times["untuned"])
    if check.kept:
        changes.restore()
    return check
