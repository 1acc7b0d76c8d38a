# Lit configuration for Wafer's IR tests: `lit test/` from the repository root.
import os
import shutil

import lit.formats

config.name = "Wafer"
config.test_format = lit.formats.ShTest()
config.suffixes = [".mlir"]
config.excludes = ["python", "Inputs"]
config.environment["PATH"] = os.environ.get("PATH", "")
config.environment["TMPDIR"] = os.environ.get("TMPDIR", "/tmp")

for tool in ("wafer-opt", "filecheck"):
    if shutil.which(tool) is None:
        lit_config.fatal(f"'{tool}' is not on PATH: run `pip install -e .[dev]` first")
config.substitutions.append(("FileCheck", "filecheck"))
