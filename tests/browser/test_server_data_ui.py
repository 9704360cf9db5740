"""The settings pane's "What the server holds about this instance", in headless
Chromium against a real OctoPrint: the data of a real collector, and the plain
message of a server that does not offer it. Screenshots go to the artifacts folder."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from harness.octoprint import copy_basedir
from octoprint_tracking.core import server_view
from tests.browser.ui import QUIET, open_settings, open_ui, screenshot
from tests.conftest import reporting_to

pytestmark = pytest.mark.e2e

ON = {"plugins": {"usage_tracking": {"enabled": True, "consent_version": 2}}}


def scroll_to(page, selector="#usage_tracking_server_data"):
    page.locator(selector).evaluate("el => el.scrollIntoView({block: 'start'})")


def labels_shown(view):
    """(key, label) of each row of the environment table, as shown."""
    rows = view.locator("#usage_tracking_server_data_environment tr")
    return [
        (row.locator("td").get_attribute("data-key"), row.locator("th").inner_text())
        for row in rows.all()
    ]


def asks(page):
    """Requests the page makes to the plugin's server-data API."""
    seen = []
    page.on(
        "request", lambda r: seen.append(r.url) if "what=server_data" in r.url else None
    )
    return seen


def test_ask_the_server_shows_what_the_collector_holds(
    context, collector, template_basedir, tmp_path, artifacts
):
    basedir = copy_basedir(template_basedir, tmp_path / "base")
    server = reporting_to(collector, basedir, {**QUIET, **ON})
    try:
        page = context.new_page()
        requests_made = asks(page)
        open_settings(open_ui(page, server.url))
        pane = page.locator("#usage_tracking_server_data")
        expect(pane).to_contain_text("What the server holds about this instance")
        # Opening the pane asks nothing: only the button does.
        assert requests_made == []
        expect(page.locator("#usage_tracking_server_data_view")).to_have_count(0)

        page.click("#usage_tracking_server_data_ask")
        view = page.locator("#usage_tracking_server_data_view")
        expect(view).to_be_visible()
        assert len(requests_made) == 1
        version = view.locator(
            '#usage_tracking_server_data_environment [data-key="version"]'
        )
        expect(version).to_have_text("1.11.8")
        expect(view.locator("#usage_tracking_server_data_plugins")).to_contain_text(
            "usage_tracking"
        )
        expect(view.locator("tr.usage_tracking_server_data_day").first).to_contain_text(
            "1.11.8"
        )
        expect(
            view.locator("tr.usage_tracking_server_data_event", has_text="startup").first
        ).to_be_visible()
        expect(page.locator("#usage_tracking_server_data_first_seen")).not_to_have_text(
            "-"
        )
        # Every field the collector keeps has a label (core/server_view.py).
        labels = labels_shown(view)
        assert [key for key, _label in labels] == [k for k, _ in server_view.ENVIRONMENT]
        assert labels == list(server_view.ENVIRONMENT)
        scroll_to(page)
        screenshot(page, artifacts, "server-data-en", "#settings_dialog")
        scroll_to(page, "#usage_tracking_server_data_plugins")
        screenshot(page, artifacts, "server-data-days-en", "#settings_dialog")

        page = open_settings(open_ui(context.new_page(), server.url, "de"))
        page.click("#usage_tracking_server_data_ask")
        view = page.locator("#usage_tracking_server_data_view")
        expect(view).to_be_visible()
        german = dict(labels_shown(view))
        assert (german["octopiuptodate_build"], german["browser_version"],
                german["client_os"]) == ("OctoPi-UpToDate-Build", "Version des Browsers",
                                         "Betriebssystem des Browsers")  # fmt: skip
        assert all(label != key for key, label in german.items())
        expect(page.locator("#usage_tracking_server_data")).to_contain_text(
            "Zuerst gesehen"
        )
        scroll_to(page, "#usage_tracking_server_data_environment")
        screenshot(page, artifacts, "server-data-labels-de", "#settings_dialog")
    finally:
        server.stop()


def test_a_server_without_the_view_is_named_plainly_in_german(
    context, octoprint, receiver, artifacts
):
    receiver.instance_answer = (
        405, {"Content-Type": "application/json"},
        json.dumps({"ok": False, "error": "method_not_allowed"}).encode(),
    )  # fmt: skip
    server = octoprint(config={**QUIET, **ON})
    page = open_settings(open_ui(context.new_page(), server.url, "de"))
    page.click("#usage_tracking_server_data_ask")
    message = page.locator("#usage_tracking_server_data_message")
    expect(message).to_have_text(
        "Dieser Server bietet keine Ansicht der gespeicherten Daten an."
    )
    expect(page.locator("#usage_tracking_server_data_view")).to_have_count(0)
    assert [h.answered for h in receiver.received("")] == [405]
    scroll_to(page)
    screenshot(page, artifacts, "server-data-unsupported-de", "#settings_dialog")
