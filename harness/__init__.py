"""Test and benchmark harness: real servers (OctoPrint, a loopback receiver) started
and awaited one way, plugins built with OctoPrint's real settings, and ``eventually()``.

Shared by ``tests/`` and ``benchmarks/`` (which must not import ``tests``); nothing
here is a test, and nothing here is shipped with the plugin.
"""
