"""Auto-tuning of the packed matmul kernel: measure its tile sizes on this machine.

    records = wafer.tune(model, example_inputs, budget_s=60, database="wafer-tuning.json")
    compiled = wafer.compile(model, example_inputs, tuning="wafer-tuning.json")

signature.py names a contraction, database.py keeps the measured choices per
CPU, space.py lists and ranks the candidates, measure.py times one (conv.py
rebuilds an im2col contraction's convolution, so its gather is timed too),
executor.py and ray_executor.py run those measurements here or as Ray tasks,
and tuner.py runs them over a model's contractions. Only tuner.py and
measure.py compile anything; wafer-pack-matmul reads the database through
database.py alone.
"""
