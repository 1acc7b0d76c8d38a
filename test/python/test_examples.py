"""The scripts in examples/ run as a user runs them, at small sizes, and print what they promise."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# script, small arguments, what its output must hold, a regex of its errors against the reference
CASES = [
    ("pytorch_integration_example.py", ["--size", "16", "--repeat", "2"],
     ["imported graph:", "linalg.conv_2d_nchw_fchw", "strategy: ", "conv at pytorch_integration_example.py:",
      "SRAM per PE", "regions: "],
     r"max \|\w+ - torch\| = (\S+)"),
    ("basic_usage.py", ["--size", "16"],
     ["wafer-opt -p 'wafer-pack-matmul", "linalg.matmul               1 -> 0", "strategy: packed matmul 16x16x16",
      "cycles on"],
     r"^(?:cpu|wse) +(\S+)"),
    ("torch_compile_example.py", ["--repeat", "2"],
     ["lenet, batch 1", "torch eager", "backend=wafer"],
     r"max \|wafer - eager\| = (\S+)$"),
    ("aot_example.py", ["--model", "mlp"],
     ["libmodel.so", "weights.bin", "model_main", "int forward("],
     r"max \|model_main - torch\| = (\S+)$"),
    ("custom_pass.py", ["--size", "8"],
     ["--load-pass-plugin custom_pass.py -p double-to-add", "arith.addf %arg0, %arg0 : f32",
      "after_simplify='double-to-add'", "arith.addf %in, %in : f32"],
     r"max \|wafer - torch\| = (\S+)$"),
]


@pytest.mark.parametrize("script, arguments, expected, errors", CASES, ids=[case[0] for case in CASES])
def test_example_runs(script, arguments, expected, errors):
    run = subprocess.run([sys.executable, str(EXAMPLES / script), *arguments],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for text in expected:
        assert text in run.stdout, f"{text!r} not in:\n{run.stdout}"
    found = [float(value) for value in re.findall(errors, run.stdout, re.MULTILINE)]
    assert len(found) >= 1 and max(found) < 1e-4, run.stdout
