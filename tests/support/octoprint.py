"""Transitional re-export for ``benchmarks/collector.py``, which another branch owns:
remove once it imports ``harness.process.free_port`` (benchmarks must not import tests)."""

from harness.process import free_port

__all__ = ["free_port"]
