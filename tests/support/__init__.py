"""Transitional: the test support moved to ``harness/`` (shared with ``benchmarks/``)."""
