"""Headless Chromium (playwright) on pages a collector serves: nothing may be
loaded from anywhere but the collector itself (the pages promise no CDN, no
script from elsewhere)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from harness.chromium import CHROMIUM, CHROMIUM_ARGS


@contextlib.contextmanager
def loopback_page(width: int = 1280, height: int = 1000) -> Iterator:
    """A playwright page whose requests outside loopback are refused; the block
    fails if the page tried any."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": height})
        outside = []
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith("http://127.0.0.1:")
                else (outside.append(route.request.url), route.abort())
            ),
        )
        yield context.new_page()
        assert outside == []
        browser.close()
