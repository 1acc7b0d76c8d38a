"""Auto-tuning on this machine: each convolution's algorithm, and the packed matmul kernel's tile sizes.

    records = wafer.tune(model, example_inputs, budget_s=60, database="wafer-tuning.json")
    compiled = wafer.compile(model, example_inputs, tuning="wafer-tuning.json")

signature.py names a contraction and conv.py a convolution, database.py keeps
the measured choices per CPU, space.py lists and ranks a contraction's
candidates, measure.py times one (conv.py rebuilds an im2col contraction's
convolution, so its gather is timed too) or a convolution's algorithms,
executor.py and ray_executor.py run those measurements here or as Ray tasks,
and tuner.py runs them over a model's convolutions and contractions. Only
tuner.py and measure.py compile anything; the passes read the database
through database.py alone (wafer-pack-matmul, and wafer-winograd and
wafer-direct-conv through passes/conv_algorithm.py).
"""
