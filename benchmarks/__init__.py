"""Benchmark of OctoPrint-UsageTracking against OctoPrint's bundled tracking plugin.

Run with ``python -m benchmarks`` from the repository root (``make bench``). Every row
builds both plugins in the same process, with the same injected objects, OctoPrint's
real settings on a temporary basedir and the same loopback receivers, and prints them
side by side in one Markdown table. See ``benchmarks/README.md``.
"""
