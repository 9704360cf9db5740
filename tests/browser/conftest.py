"""Fixtures of the browser tests: one headless Chromium, and pages logged in to a real
``octoprint serve``."""

from __future__ import annotations

import pytest

from harness.chromium import CHROMIUM, CHROMIUM_ARGS
from harness.receiver import Receiver


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    # A 2-core machine runs OctoPrint and Chromium side by side: be patient.
    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def module_receiver():
    """A receiver shared by the tests of one module (they share one server)."""
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def context(browser):
    context = browser.new_context(
        viewport={"width": 1280, "height": 1000}, accept_downloads=True
    )
    context.set_default_timeout(30_000)
    yield context
    context.close()
