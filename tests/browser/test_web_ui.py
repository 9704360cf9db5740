"""The wizard and the settings pane in headless Chromium, against a real OctoPrint.

One server, started undecided, serves the tests of the first decision and of the
settings pane in order (the tests after the wizard rely on the owner's "Enable");
a second one, enabled under consent version 1, serves the consent-version bump.
Screenshots of the wizard, the pane and the preview in English and German are
written to the artifacts folder on every run.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from harness.wait import eventually
from octoprint_tracking.core import catalog
from tests.browser.ui import (
    API,
    QUIET,
    open_settings,
    open_ui,
    reload_ui,
    save_settings,
    screenshot,
    start_server,
)

pytestmark = pytest.mark.e2e

WIZARD = "#wizard_plugin_usage_tracking"
PANE = "#settings_plugin_usage_tracking"
#: The ping every 2 s: a report that is always on, used as a barrier in the receiver.
FAST_PING = {"plugins": {"usage_tracking": {"ping": 2}}}


@pytest.fixture(scope="module")
def fresh(template_basedir, tmp_path_factory, module_receiver):
    """An instance whose owner has not decided yet."""
    server = start_server(template_basedir, tmp_path_factory, module_receiver, FAST_PING)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(fresh):
    return fresh.session()


def wait_for_config(server, predicate, what):
    """config.yaml is written in the request that saved it; poll briefly anyway."""
    eventually(lambda: predicate(server.config), timeout=10, what=f"config.yaml: {what}")


def show_preview_controls(page):
    """Scroll the pane so that the preview's buttons are on top, its table below."""
    page.locator("#usage_tracking_preview_show").evaluate(
        "el => el.closest('.control-group').scrollIntoView({block: 'start'})"
    )


def finish_wizard(page):
    page.click("#wizard_dialog .button-finish")
    expect(page.locator("#wizard_dialog")).to_be_hidden()


# The first decision ------------------------------------------------------------------


def test_undecided_instance_asks_in_german(context, fresh, module_receiver, artifacts):
    page = open_ui(context.new_page(), fresh.url, "de")
    wizard = page.locator(WIZARD)
    expect(wizard).to_be_visible()
    expect(wizard.locator("h3")).to_have_text("Anonyme Nutzungsstatistik")
    expect(page.locator("#usage_tracking_wizard_enable")).to_have_text(
        "Anonyme Nutzungsstatistik aktivieren"
    )
    first = wizard.locator(".usage_tracking_first")
    first.locator("details summary").click()
    expect(first.get_by_text("Sekunden seit dem Start von OctoPrint")).to_be_visible()
    first.locator("details summary").click()
    screenshot(page, artifacts, "wizard-de", "#wizard_dialog")
    # Undecided: nothing may have left, not even this page's webui_load.
    assert module_receiver.attempts == []


def test_enable_in_wizard_starts_reports_and_wizard_is_gone_after_reload(
    context, fresh, module_receiver, artifacts
):
    page = open_ui(context.new_page(), fresh.url)
    wizard = page.locator(WIZARD).locator(".usage_tracking_first")
    expect(wizard).to_be_visible()
    # Every category is listed with what it sends, from the catalog.
    for _key, title, _since, entries in catalog.by_category():
        expect(wizard.locator("h5", has_text=title)).to_have_count(1)
        for report, field in entries:
            expect(
                wizard.locator(f'li[data-field="{report}.{field.name}"]')
            ).to_have_count(1)
    # Finishing without a decision is refused.
    page.click("#wizard_dialog .button-finish")
    refusal = page.locator(".modal", has_text="Please set up anonymous usage tracking")
    expect(refusal).to_be_visible()
    refusal.locator(".modal-footer .btn").click()
    expect(refusal).to_have_count(0)
    expect(page.locator("#wizard_dialog")).to_be_visible()
    screenshot(page, artifacts, "wizard-en", "#wizard_dialog")
    wizard.locator("details summary").click()
    screenshot(page, artifacts, "wizard-details-en", "#wizard_dialog")

    page.click("#usage_tracking_wizard_enable")
    expect(
        page.locator(f"{WIZARD} .usage_tracking_decision p:visible strong")
    ).to_have_text("enabled")
    finish_wizard(page)
    assert fresh.config["plugins"]["usage_tracking"]["enabled"] is True
    assert fresh.config["plugins"]["usage_tracking"]["consent_version"] == (
        catalog.CONSENT_VERSION
    )
    module_receiver.wait_for_event("startup")
    module_receiver.wait_for_event("ping")

    reload_ui(page, fresh.url)
    assert page.evaluate("CONFIG_WIZARD") is False
    expect(page.locator("#wizard_dialog")).to_be_hidden()
    expect(page.locator(WIZARD)).to_have_count(0)
    # A page load while tracking is on reports itself, with this browser's name.
    hit = module_receiver.wait_for_event("webui_load")[-1]
    assert hit.fields["browser_name"].startswith("Chrome"), hit.fields


# The settings pane --------------------------------------------------------------------


def test_pane_lists_each_category_with_its_fields_and_where_reports_go(
    context, fresh, module_receiver, artifacts
):
    page = open_settings(open_ui(context.new_page(), fresh.url))
    pane = page.locator(PANE)
    expect(page.locator("#usage_tracking_enabled")).to_be_checked()
    for key, _title, _since, entries in catalog.by_category():
        section = pane.locator(f"#usage_tracking_category_{key or 'ping'}")
        if key:
            expect(section.locator(f"#usage_tracking_event_{key}")).to_be_checked()
        for report, field in entries:
            expect(
                section.locator(f'li[data-field="{report}.{field.name}"]')
            ).to_contain_text(field.meaning)
    expect(pane.locator("#usage_tracking_server")).to_have_text(module_receiver.url)
    unique_id = fresh.config["plugins"]["usage_tracking"]["unique_id"]
    expect(pane.locator("#usage_tracking_unique_id")).to_have_text(unique_id)
    # No kill switch, nothing taken over, no problem: no notice.
    for notice in ("kill", "server", "problem"):
        expect(pane.locator(f"#usage_tracking_notice_{notice}")).to_be_hidden()
    pane.locator("#usage_tracking_category_startup details summary").click()
    screenshot(page, artifacts, "settings-en", "#settings_dialog")


def test_switching_a_category_off_saves_it_and_its_reports_stop(
    context, fresh, module_receiver
):
    page = open_settings(open_ui(context.new_page(), fresh.url))
    module_receiver.wait_for_event("webui_load")
    page.uncheck("#usage_tracking_event_webui_load")
    save_settings(page)
    wait_for_config(
        fresh,
        lambda c: c["plugins"]["usage_tracking"]["events"]["webui_load"] is False,
        "events.webui_load false",
    )
    loads = len(module_receiver.received("webui_load"))
    reload_ui(page, fresh.url)
    # A ping queued after this page's webui_load arrives after it: once it is in,
    # a webui_load that had passed the gate would be in too.
    pings = len(module_receiver.received("ping"))
    module_receiver.wait_for_event("ping", count=pings + 1)
    assert len(module_receiver.received("webui_load")) == loads


def test_preview_download_equals_what_is_sent(
    context, fresh, module_receiver, admin, artifacts
):
    page = open_settings(open_ui(context.new_page(), fresh.url))
    page.click("#usage_tracking_preview_show")
    preview = page.locator("#usage_tracking_preview")
    expect(preview.locator('tbody[data-report="startup"]')).to_be_visible()
    startup = preview.locator('tbody[data-report="startup"]')
    expect(startup.locator("tr", has_text="cores")).to_contain_text("Number of CPU cores")
    # The switch turned off before: shown, but marked as not sent.
    expect(preview.locator('tbody[data-report="webui_load"]')).to_contain_text(
        "not sent: switched off"
    )
    show_preview_controls(page)
    screenshot(page, artifacts, "preview-en", "#settings_dialog")

    with page.expect_download() as download:
        page.click("#usage_tracking_preview_download")
    assert download.value.suggested_filename == "usage-tracking-preview.json"
    downloaded = json.loads(open(download.value.path()).read())
    api = fresh.api(admin, "GET", API, params={"what": "preview"}).json()["preview"]

    def steady(reports):
        # The uptime in the ping is the only value that moves between two calls.
        for report in reports:
            report["fields"].pop("octoprint_uptime", None)
        return reports

    assert steady(downloaded) == steady(api)
    by_name = {r["report"]: r for r in downloaded}
    sent = module_receiver.received("startup")[-1].fields
    assert by_name["startup"]["fields"] == sent
    ping = module_receiver.received("ping")[-1].fields
    assert set(by_name["ping"]["fields"]) | {"octoprint_uptime"} == set(ping)
    assert by_name["ping"]["fields"]["printer_state"] == ping["printer_state"]
    assert set(by_name["pong"]["fields"]) == set(
        module_receiver.received("pong")[-1].fields
    )


def test_recently_sent_lists_delivered_reports(context, fresh, module_receiver):
    module_receiver.wait_for_event("pong")
    page = open_settings(open_ui(context.new_page(), fresh.url))
    journal = page.locator("#usage_tracking_journal")
    page.click("#usage_tracking_journal_refresh")
    for report in ("startup", "ping", "pong"):
        row = journal.locator("tr.usage_tracking_journal_entry", has_text=report).first
        expect(row).to_contain_text("delivered")
    startup = journal.locator("tr.usage_tracking_journal_entry", has_text="startup")
    expect(startup.first).to_contain_text(
        "version=" + module_receiver.received("startup")[-1].fields["version"]
    )


def test_pane_and_preview_in_german(context, fresh, artifacts):
    page = open_settings(open_ui(context.new_page(), fresh.url, "de"))
    pane = page.locator(PANE)
    expect(pane.locator("h3")).to_have_text("Anonyme Nutzungsstatistik")
    expect(pane).to_contain_text("Anonyme Nutzungsstatistik aktivieren")
    expect(pane).to_contain_text("Start und Beenden des Servers")
    expect(pane.locator("#usage_tracking_reset_id")).to_have_text("Kennung zurücksetzen")
    pane.locator("#usage_tracking_category_startup details summary").click()
    expect(pane.locator("#usage_tracking_category_features")).to_contain_text(
        "Webcam aktiviert (nur an/aus)"
    )
    screenshot(page, artifacts, "settings-de", "#settings_dialog")

    page.click("#usage_tracking_preview_show")
    preview = page.locator("#usage_tracking_preview")
    expect(preview.locator("thead")).to_contain_text("Bedeutung")
    expect(preview.locator('tbody[data-report="startup"]')).to_contain_text(
        "Anzahl der CPU-Kerne"
    )
    expect(page.locator("#usage_tracking_preview_show")).to_have_text(
        "Vorschau ausblenden"
    )
    show_preview_controls(page)
    screenshot(page, artifacts, "preview-de", "#settings_dialog")
    expect(page.locator("#usage_tracking_journal")).to_contain_text("zugestellt")


def test_refused_server_is_announced(context, fresh, admin):
    page = open_ui(context.new_page(), fresh.url)
    r = fresh.api(
        admin,
        "POST",
        "/api/settings",
        json={
            "plugins": {"usage_tracking": {"server": "http://example.com/{id}/{event}"}}
        },
    )
    assert r.ok, r.text
    expect(
        page.locator(".ui-pnotify", has_text="tracking server was refused")
    ).to_contain_text("must be an https:// address")
    assert fresh.config["plugins"]["usage_tracking"]["server"].startswith(
        "http://127.0.0.1"
    )


def test_last_delivery_problem_is_shown(context, fresh, module_receiver):
    module_receiver.set_mode("bad")
    rejected = len(module_receiver.attempts)
    module_receiver.wait_for(lambda _hits: len(module_receiver.attempts) > rejected)
    page = open_settings(open_ui(context.new_page(), fresh.url))
    expect(page.locator("#usage_tracking_notice_problem")).to_contain_text("HTTP 400")
    expect(page.locator("#usage_tracking_journal tr").nth(1)).to_contain_text(
        "rejected by the server"
    )


def test_kill_switch_is_named_and_no_wizard_shows(context, octoprint, receiver):
    server = octoprint(config=QUIET, env={"DO_NOT_TRACK": "1"})
    # reload_ui waits for the page's webui_load request: even that stays home.
    page = open_settings(reload_ui(open_ui(context.new_page(), server.url), server.url))
    assert page.evaluate("CONFIG_WIZARD") is False
    expect(page.locator("#usage_tracking_notice_kill")).to_contain_text("DO_NOT_TRACK")
    assert receiver.attempts == []


# A new consent version ----------------------------------------------------------------


def test_consent_bump_shows_only_whats_new_and_accept_sends_it(
    context, octoprint, receiver, artifacts
):
    server = octoprint(
        config={
            **QUIET,
            "plugins": {
                "usage_tracking": {"enabled": True, "consent_version": 1, "pong": 2}
            },
        }
    )
    # Until the owner accepts, the daily report leaves without the new fields.
    old = receiver.wait_for_event("pong")[0].fields
    assert not any(f.startswith(("stats_", "feature_")) for f in old), old

    page = open_ui(context.new_page(), server.url, "de")
    wizard = page.locator(WIZARD)
    expect(wizard.locator(".usage_tracking_upgrade")).to_be_visible()
    expect(wizard.locator(".usage_tracking_first")).to_be_hidden()
    expect(page.locator("#usage_tracking_wizard_accept")).to_have_text("Zustimmen")
    expect(wizard.locator(".usage_tracking_upgrade")).to_contain_text(
        "Zu jedem Bericht hinzugefügt"
    )
    screenshot(page, artifacts, "wizard-upgrade-de", "#wizard_dialog")

    page = open_ui(context.new_page(), server.url)
    wizard = page.locator(WIZARD)
    upgrade = wizard.locator(".usage_tracking_upgrade")
    expect(upgrade).to_be_visible()
    new = {
        f"{report}.{field.name}"
        for _key, _title, _since, entries in catalog.by_category()
        for report, field in entries
        if field.since > 1
    } | {f"*.{f.name}" for f in catalog.COMMON_FIELDS if f.since > 1}
    shown = {li.get_attribute("data-field") for li in upgrade.locator("li:visible").all()}
    assert shown == new
    titles = [
        title
        for _key, title, _since, entries in catalog.by_category()
        if any(field.since > 1 for _report, field in entries)
    ]
    expect(upgrade.locator("h5:visible")).to_have_text(titles + ["Added to any report"])
    screenshot(page, artifacts, "wizard-upgrade-en", "#wizard_dialog")

    page.click("#usage_tracking_wizard_accept")
    expect(
        page.locator(f"{WIZARD} .usage_tracking_decision p:visible strong")
    ).to_have_text("enabled")
    finish_wizard(page)
    assert server.config["plugins"]["usage_tracking"]["consent_version"] == 2
    receiver.wait_for(
        lambda hits: any(h.event == "pong" and "stats_users" in h.fields for h in hits)
    )
    reload_ui(page, server.url)
    expect(page.locator(WIZARD)).to_have_count(0)
