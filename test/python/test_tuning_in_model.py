"""The tuner's check of what it measured inside the model (wafer/tuning/in_model.py):
convolution algorithms and kernels kept where the model runs faster with them,
set back to the rules' picks where it does not. The model's timings are stood
in for, so that the verdict does not hang on a noisy machine; the compiles are real."""

import pytest
import torch

import wafer.frontend
from wafer.passes.cpu_target import host, host_flags
from wafer.tuning import in_model
from wafer.tuning.conv import Convolution
from wafer.tuning.database import KernelChoice, Measurement, TuningDatabase, cpu_key
from wafer.tuning.in_model import ModelCheck, algorithm_changes, check_in_model, kernel_changes
from wafer.tuning.report import table
from wafer.tuning.signature import ContractionSignature

THREADS = 1


@pytest.fixture(scope="module")
def strided_conv():
    """A convolution that wafer-im2col takes on any machine, as is or swapped."""
    return torch.nn.Conv2d(3, 64, 3, stride=(2, 1), padding=1, dilation=(3, 2)).eval(), (torch.randn(1, 3, 17, 21),)


CONV = Convolution((1, 3, 19, 23), 64, (3, 3), (7, 19), (2, 1), (3, 2))


@pytest.fixture
def changed(tmp_path):
    """A database whose record of the convolution changes its algorithm from the rules' im2col."""
    db = TuningDatabase(tmp_path / "db.json", cpu_key(host(), host_flags()))
    db.add_conv(CONV.key(THREADS), "im2col", {"im2col": 1.0, "im2col-swapped": 0.5})
    assert db.conv_algorithm(CONV.key(THREADS)) == "im2col-swapped"
    return db


@pytest.fixture
def compiled_with(monkeypatch):
    """The algorithm each model compile found recorded, in order."""
    seen = []
    compile_model = wafer.frontend.compile

    def recording(model, inputs, tuning, **options):
        db = TuningDatabase(tuning, cpu_key(host(), host_flags()))
        seen.append(db.conv_algorithm(CONV.key(THREADS)))
        return compile_model(model, inputs, tuning=tuning, **options)

    monkeypatch.setattr(wafer.frontend, "compile", recording)
    return seen


def _timed(tuned_s: float, untuned_s: float):
    def time_interleaved(calls, budget_s):
        for call in calls.values():
            call()  # both compiled models run
        return {"tuned": tuned_s, "untuned": untuned_s}
    return time_interleaved


@pytest.mark.parametrize("tuned_s,kept", [(0.9, True), (0.98, False), (1.1, False)])
def test_changes_stay_only_where_the_model_runs_faster(strided_conv, changed, compiled_with, monkeypatch,
                                                       tuned_s, kept):
    """The model is compiled with the measured algorithm, then with the rules'
    pick; the change stays only if the model with it is faster by MIN_GAIN."""
    monkeypatch.setattr(in_model, "time_interleaved", _timed(tuned_s, 1.0))
    changes = algorithm_changes(changed, [CONV.key(THREADS)])
    check = check_in_model(*strided_conv, changed, changes, THREADS, budget_s=0)
    assert compiled_with == ["im2col-swapped", "im2col"]
    assert check == ModelCheck("convolution algorithms", 1, 1e3 * tuned_s, 1e3) and check.kept == kept
    reread = TuningDatabase(changed.path, changed.cpu)
    assert reread.conv_algorithm(CONV.key(THREADS)) == ("im2col-swapped" if kept else "im2col")
    assert reread.conv_times(CONV.key(THREADS)) == ("im2col", {"im2col": 1.0, "im2col-swapped": 0.5})


def test_records_that_change_nothing_are_not_checked(strided_conv, tmp_path, compiled_with):
    db = TuningDatabase(tmp_path / "db.json", cpu_key(host(), host_flags()))
    db.add_conv(CONV.key(THREADS), "im2col", {"im2col": 1.0, "im2col-swapped": 1.2})
    changes = algorithm_changes(db, [CONV.key(THREADS)])
    assert changes is None
    assert check_in_model(*strided_conv, db, changes, THREADS, budget_s=0) is None
    assert compiled_with == []


DEFAULT = KernelChoice((8, 32), (64, 128), 8, 128)
FASTER = KernelChoice((4, 64), (64, 256), 4, 0)


def test_kernel_records_a_run_changed_are_set_back_and_restored(tmp_path):
    """Only a contraction whose best the run changed counts; setting back makes
    the default's own timing its best, restoring the measured one."""
    db = TuningDatabase(tmp_path / "db.json", "a cpu")
    changed, same, earlier = (ContractionSignature(1, m, 512, 512, True, 1) for m in (64, 128, 256))
    for signature in (changed, same, earlier):
        db.add(signature, Measurement(DEFAULT, 1.0, 1.0))
    db.add(changed, Measurement(FASTER, 0.8, 1.0))
    db.add(earlier, Measurement(FASTER, 0.8, 1.0))
    before = {changed: None, same: None, earlier: db.lookup(earlier)}  # `earlier` had its record already
    changes = kernel_changes(db, before, DEFAULT)
    assert (changes.what, changes.count) == ("kernels", 1)
    changes.set_back()
    assert TuningDatabase(db.path, "a cpu").lookup(changed) == Measurement(DEFAULT, 1.0, 1.0)
    assert db.lookup(earlier).choice == FASTER
    changes.restore()
    assert TuningDatabase(db.path, "a cpu").lookup(changed) == Measurement(FASTER, 0.8, 1.0)


def test_the_tune_table_says_what_the_model_check_decided():
    text = table([ModelCheck("convolution algorithms", 9, 61.5, 58.6)])
    assert "the model with the 9 measured convolution algorithms: 61.500 ms, without them: 58.600 ms" in text
    assert "set back to the rules' picks" in text
    assert "they are kept" in table([ModelCheck("kernels", 2, 50.0, 58.6)])


def test_only_a_measured_choice_can_be_the_pick(changed):
    with pytest.raises(ValueError, match="'winograd' was not timed"):
        changed.set_conv_best(CONV.key(THREADS), "winograd")
    signature = ContractionSignature(1, 64, 512, 512, True, 1)
    changed.add(signature, Measurement(DEFAULT, 1.0, 1.0))
    with pytest.raises(ValueError, match="was not measured"):
        changed.set_best(signature, Measurement(FASTER, 0.8, 1.0))
