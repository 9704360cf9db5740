"""OctoPrint usage collector: a small tracking server for anonymous usage reports.

``create_app`` and ``Config`` are loaded on first use (PEP 562), not at import:
gunicorn's master imports this package to load ``gunicorn_conf``, and it must not
import Flask, the app or prometheus_client there. prometheus_client decides at its
own import whether it counts in files (multi-process mode) or in memory, and the
master sets ``PROMETHEUS_MULTIPROC_DIR`` only later, in ``on_starting``; the
workers it forks would inherit an in-memory client and /metrics would count nothing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Config", "create_app"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Config":
        from .settings import Config

        return Config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
