"""Driving OctoPrint's web UI with Playwright: start a server for it, log in, wait
for it, open our pane."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from harness.octoprint import ADMIN, OctoPrint, copy_basedir
from tests.conftest import new_server

API = "/api/plugin/usage_tracking"
#: Only our wizard: the plugin blacklist would bring its own step.
QUIET = {"server": {"pluginBlacklist": {"enabled": False}}}


def start_server(
    template_basedir, tmp_path_factory, receiver, config=None, ours=None, policy=None
) -> OctoPrint:
    """A real OctoPrint for a browser, on a copy of the template basedir, reporting to
    ``receiver``: ``config`` goes into config.yaml, ``ours`` (the plugin's settings)
    into ``plugins.usage_tracking``, ``policy`` is the machine policy's text."""
    basedir = copy_basedir(template_basedir, tmp_path_factory.mktemp("ui") / "basedir")
    config = {**QUIET, **(config or {})}
    if ours is not None:
        config["plugins"] = {"usage_tracking": ours}
    return new_server(basedir, receiver, config, policy=policy).start()


def open_ui(page: Page, url: str, lang: str = "en", user=ADMIN) -> Page:
    """Load the UI in ``lang`` (OctoPrint's ``l10n`` parameter), logging in through
    the login form when asked, and wait until OctoPrint's startup has completed."""
    target = f"{url}/?l10n={lang}"
    page.goto(target)
    if page.locator("#login-user").count():
        page.fill("#login-user", user[0])
        page.fill("#login-password", user[1])
        page.click("#login-button")
        page.wait_for_url(lambda u: "/login" not in u)
    page.wait_for_function("window.OctoPrint && OctoPrint.coreui.startedUp === true")
    page.wait_for_function("OctoPrint.coreui.viewmodels.loginStateViewModel.isUser()")
    return page


def reload_ui(page: Page, url: str, lang: str = "en") -> Page:
    """Reload and wait until the page sent its webui_load (our view model's
    onUserLoggedIn), so every request of a page load has been made."""
    with page.expect_response(
        lambda r: r.url.endswith(API) and r.request.method == "POST"
    ):
        page.goto(f"{url}/?l10n={lang}")
    page.wait_for_function("window.OctoPrint && OctoPrint.coreui.startedUp === true")
    return page


def open_settings(page: Page) -> Page:
    page.click("#navbar_show_settings")
    expect(page.locator("#settings_dialog")).to_be_visible()
    page.click('#settings_dialog_menu a[href="#settings_plugin_usage_tracking"]')
    expect(page.locator("#settings_plugin_usage_tracking")).to_be_visible()
    return page


def save_settings(page: Page) -> None:
    with page.expect_response(
        lambda r: r.url.endswith("/api/settings") and r.request.method == "POST"
    ) as response:
        page.click('#settings_dialog [data-test-id="settings-save"]')
    assert response.value.ok, response.value.status
    expect(page.locator("#settings_dialog")).to_be_hidden()


def screenshot(page: Page, artifacts: Path, name: str, selector: str) -> Path:
    """A screenshot of the modal that holds ``selector`` (the wizard or settings)."""
    path = artifacts / f"{name}.png"
    page.locator(selector).screenshot(path=str(path), animations="disabled")
    return path
