"""The machine policy, "nothing new" and "off reaches the server" in headless Chromium
against a real OctoPrint: the locked settings, the wizard under a policy, the
declined fields in the preview and the deletion request's state, in English and
German. Screenshots go to the artifacts folder."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from octoprint_tracking.core.address import instance_url
from octoprint_tracking.delivery import files
from tests.browser.ui import (
    API,
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
ADMIN_SET = "set by the administrator of this machine"


def scroll_to(page, selector):
    page.locator(selector).first.evaluate("el => el.scrollIntoView({block: 'start'})")


# A farm: everything decided and locked ---------------------------------------------


@pytest.fixture(scope="module")
def farm(template_basedir, tmp_path_factory, module_receiver):
    policy = (
        "enabled: true\nevents: {webui_load: false, slicing: false}\n"
        f"server: {module_receiver.url}\nlocked: [enabled, events, server]\n"
    )
    server = start_server(
        template_basedir, tmp_path_factory, module_receiver, policy=policy
    )
    yield server
    server.stop()


def test_locked_settings_are_shown_as_set_by_the_administrator(context, farm, artifacts):
    page = open_settings(open_ui(context.new_page(), farm.url))
    assert page.evaluate("CONFIG_WIZARD") is False, "the administrator decided"
    pane = page.locator(PANE)
    notice = pane.locator(".usage_tracking_policy_locked")
    expect(notice).to_contain_text("Set by the administrator of this machine")
    expect(notice).to_contain_text(
        "Anonymous usage tracking, What is sent, The tracking server"
    )
    expect(notice).to_contain_text("Web interface loaded (browser and OS)")
    enabled = page.locator("#usage_tracking_enabled")
    expect(enabled).to_be_checked()
    expect(enabled).to_be_disabled()
    expect(page.locator("#usage_tracking_event_webui_load")).not_to_be_checked()
    expect(page.locator("#usage_tracking_event_webui_load")).to_be_disabled()
    expect(page.locator("#usage_tracking_event_printjob")).to_be_disabled()
    expect(pane.locator(".usage_tracking_locked_note")).to_have_count(3)
    expect(pane.locator(".usage_tracking_locked_note").first).to_have_text(
        f"({ADMIN_SET})"
    )
    screenshot(page, artifacts, "settings-locked-en", "#settings_dialog")


def test_locked_settings_in_german(context, farm, artifacts):
    page = open_settings(open_ui(context.new_page(), farm.url, "de"))
    pane = page.locator(PANE)
    expect(pane.locator(".usage_tracking_policy_locked")).to_contain_text(
        "Vom Administrator dieses Rechners festgelegt"
    )
    expect(pane.locator(".usage_tracking_locked_note").first).to_have_text(
        "(vom Administrator dieses Rechners festgelegt)"
    )
    screenshot(page, artifacts, "settings-locked-de", "#settings_dialog")


# A policy that locks what is sent but leaves the decision to the owner --------------


@pytest.fixture
def classroom(template_basedir, tmp_path_factory, receiver):
    """Undecided, under a policy that locks what is sent: the wizard asks."""
    policy = "events: {webui_load: false}\nlocked: [events]\n"
    server = start_server(template_basedir, tmp_path_factory, receiver, policy=policy)
    yield server
    server.stop()


def test_the_wizard_names_what_the_administrator_set_and_offers_nothing_new(
    context, classroom, artifacts
):
    page = open_ui(context.new_page(), classroom.url)
    wizard = page.locator(WIZARD)
    expect(wizard.locator(".usage_tracking_policy_locked")).to_contain_text(
        "What is sent"
    )
    expect(wizard.locator(".usage_tracking_policy_locked")).to_contain_text(
        "Switched off: Web interface loaded (browser and OS)"
    )
    screenshot(page, artifacts, "wizard-locked-en", "#wizard_dialog")
    details = wizard.locator(".usage_tracking_first details")
    details.locator("summary").click()
    choice = page.locator("#usage_tracking_wizard_decline_new")
    expect(choice).to_be_visible()
    expect(wizard).to_contain_text("Nothing new without asking, and don't ask me")
    choice.check()
    screenshot(page, artifacts, "wizard-decline-new-en", "#wizard_dialog")
    page.click("#usage_tracking_wizard_enable")
    expect(wizard.locator(".usage_tracking_decision")).to_contain_text(
        "declined automatically"
    )
    page.click("#wizard_dialog .button-finish")
    ours = classroom.config["plugins"]["usage_tracking"]
    assert ours["enabled"] is True and ours["decline_new"] is True


def test_the_wizard_under_a_policy_in_german(context, classroom, artifacts):
    page = open_ui(context.new_page(), classroom.url, "de")
    wizard = page.locator(WIZARD)
    locked = wizard.locator(".usage_tracking_policy_locked")
    expect(locked).to_contain_text("Vom Administrator dieses Rechners festgelegt")
    expect(locked).to_contain_text("Was gesendet wird")
    expect(locked).to_contain_text(
        "Abgeschaltet: Weboberfläche geladen (Browser und Betriebssystem)"
    )
    wizard.locator(".usage_tracking_first details summary").click()
    expect(page.locator("#usage_tracking_wizard_decline_new")).not_to_be_checked()
    expect(wizard).to_contain_text("Nichts Neues ohne Nachfrage, und frag mich nicht")
    screenshot(page, artifacts, "wizard-locked-de", "#wizard_dialog")


# Declined fields and the deletion request -------------------------------------------


@pytest.fixture
def declining(template_basedir, tmp_path_factory, receiver):
    """Accepted version 1 with "nothing new"; the plugin is version 2."""
    config = {"enabled": True, "consent_version": 1, "decline_new": True}
    server = start_server(template_basedir, tmp_path_factory, receiver, ours=config)
    yield server
    server.stop()


def test_preview_shows_what_is_declined_and_off_asks_the_server_to_delete(
    context, declining, receiver, artifacts
):
    receiver.wait_for_event("startup")
    page = open_settings(open_ui(context.new_page(), declining.url))
    page.click("#usage_tracking_preview_show")
    pong = page.locator('#usage_tracking_preview tbody[data-report="pong"]')
    declined = pong.locator('tr[data-field="stats_users"] .label')
    expect(declined).to_be_visible()
    expect(declined).to_have_text("declined: never sent")
    expect(pong.locator('tr[data-field="version"] .label')).to_be_hidden()
    scroll_to(page, '#usage_tracking_preview tbody[data-report="pong"]')
    screenshot(page, artifacts, "preview-declined-en", "#settings_dialog")

    # Off, and ask the server to delete: while it does not answer, "requested".
    receiver.set_mode("error")
    forget = page.locator("#usage_tracking_forget")
    expect(forget).to_be_hidden()
    page.uncheck("#usage_tracking_enabled")
    expect(forget).to_be_visible()
    expect(page.locator(PANE)).to_contain_text(
        "One DELETE request to the tracking server, repeated until the server answers"
    )
    forget.check()
    save_settings(page)
    receiver.wait_for(lambda hits: any(h.method == "DELETE" for h in hits))
    open_settings(page)
    notice = page.locator("#usage_tracking_notice_deletion")
    expect(notice).to_have_attribute("data-state", "requested")
    expect(notice).to_contain_text("Deletion requested at")
    expect(forget).not_to_be_checked()
    scroll_to(page, PANE)
    screenshot(page, artifacts, "deletion-requested-en", "#settings_dialog")

    receiver.set_mode("ok")
    receiver.wait_for(
        lambda hits: any(h.method == "DELETE" and h.answered == 200 for h in hits)
    )
    page = open_settings(reload_ui(page, declining.url, "de"))
    notice = page.locator("#usage_tracking_notice_deletion")
    expect(notice).to_have_attribute("data-state", "confirmed")
    expect(notice).to_contain_text("Löschung vom Server bestätigt")
    scroll_to(page, PANE)
    screenshot(page, artifacts, "deletion-confirmed-de", "#settings_dialog")
    page.locator("#usage_tracking_journal_refresh").click()
    expect(
        page.locator("tr.usage_tracking_journal_entry", has_text="Löschanfrage").first
    ).to_contain_text("vom Server bestätigt")
    assert declining.config["plugins"]["usage_tracking"]["enabled"] is False
    assert {h.method for h in receiver.hits if h.time > receiver.deletes()[0].time} <= {
        "DELETE"
    }


def test_the_upgrade_wizard_can_switch_off_and_ask_the_server_to_delete(
    context, template_basedir, tmp_path_factory, receiver, artifacts
):
    config = {"enabled": True, "consent_version": 1}
    server = start_server(template_basedir, tmp_path_factory, receiver, ours=config)
    try:
        receiver.wait_for_event("startup")
        instance = server.config["plugins"]["usage_tracking"]["unique_id"]
        page = open_ui(context.new_page(), server.url)
        upgrade = page.locator(f"{WIZARD} .usage_tracking_upgrade")
        expect(upgrade).to_be_visible()
        forget = page.locator("#usage_tracking_wizard_upgrade_forget")
        expect(forget).to_be_visible()  # this instance has reported: there is data
        forget.check()
        scroll_to(page, "#usage_tracking_wizard_switch_off")
        screenshot(page, artifacts, "wizard-switch-off-forget-en", "#wizard_dialog")
        page.click("#usage_tracking_wizard_switch_off")
        expect(page.locator("#usage_tracking_wizard_forget_requested")).to_be_visible()
        receiver.wait_for(lambda hits: any(h.method == "DELETE" for h in hits))
        assert [h.instance for h in receiver.deletes()] == [instance]
        assert server.config["plugins"]["usage_tracking"]["enabled"] is False
    finally:
        server.stop()
    deleted_at = receiver.deletes()[0].time
    assert [h.method for h in receiver.hits if h.time >= deleted_at] == ["DELETE"]


def test_a_deletion_request_waits_while_the_policy_cannot_be_used(
    context, template_basedir, tmp_path_factory, receiver, artifacts
):
    config = {"enabled": False, "consent_version": 2}
    server = start_server(
        template_basedir, tmp_path_factory, receiver, ours=config, policy="enabled: 1\n"
    )
    try:
        instance = server.config["plugins"]["usage_tracking"]["unique_id"]
        # Asked before the policy broke (or by the CLI): kept, and not sent.
        files.write_deletion_request(
            str(server.basedir / "data" / "usage_tracking"),
            instance_url(receiver.url, instance),
        )
        s = server.session()
        server.wait_until(s, API, lambda st: (st["delivery"]["deletion"] or {}).get(
            "state") == "requested", what="the request taken up")  # fmt: skip
        page = open_settings(open_ui(context.new_page(), server.url))
        notice = page.locator("#usage_tracking_notice_deletion")
        expect(notice).to_have_attribute("data-state", "requested")
        expect(notice).to_contain_text(
            "It waits: nothing at all is sent until the policy of this machine can be "
            "used."
        )
        scroll_to(page, PANE)
        screenshot(page, artifacts, "deletion-waits-policy-en", "#settings_dialog")
    finally:
        server.stop()
    assert receiver.attempts == []
