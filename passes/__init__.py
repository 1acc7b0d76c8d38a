"""Wafer's passes, one per module; `registry` maps pass names to them lazily."""
