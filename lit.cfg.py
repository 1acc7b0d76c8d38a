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
# The repository root, for tests that use a file outside test/ (a pass plugin in examples/).
config.substitutions.append(("%repo", os.path.dirname(os.path.abspath(__file__))))
