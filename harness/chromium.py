"""Headless Chromium for the browser tests of the plugin and of the collector: Debian's
``chromium`` (``make test`` installs it), never a browser a test tool downloads."""

from __future__ import annotations

import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: As root on a machine whose only network is loopback and the package registries.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
