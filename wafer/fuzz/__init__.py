"""A differential fuzzer: random PyTorch programs, compiled by Wafer and checked against eager.

    from wafer.fuzz import fuzz
    summary = fuzz(count=100, seed=0)          # or: wafer fuzz --count 100 --seed 0
"""

from .campaign import fuzz  # noqa: F401

__all__ = ["fuzz"]
