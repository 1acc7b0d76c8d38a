"""`wafer run`: the chosen strategy is printed, and pipeline options reach it."""

import torch

from wafer.tools import wafer_cli


def test_run_prints_strategy_and_takes_options(capsys):
    assert wafer_cli.main(["run", "mlp", "--threads", "1", "--repeat", "2",
                           "--options", "register-tile=4,16 cache-tile=8,64 matvec=false"]) == 0
    out = capsys.readouterr().out
    assert "strategy: packed matmul 1x512x784: register block 1x64, k unroll 8, cache tile 1x64" in out
    assert ": OK" in out


def test_run_rejects_unknown_option_without_traceback(capsys):
    assert wafer_cli.main(["run", "mlp", "--options", "bogus=1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: pipeline 'cpu' has no option 'bogus'") and "Traceback" not in err


def test_run_times_eager_on_the_compiled_code_threads(capsys):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert wafer_cli.main(["run", "mlp", "--threads", "1", "--repeat", "2"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert "latency (median of 2, 1 thread): wafer" in capsys.readouterr().out
