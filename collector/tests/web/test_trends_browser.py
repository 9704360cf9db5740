"""Headless Chromium (playwright) on the dashboard's trend charts, with screenshots."""

from __future__ import annotations

import pytest
from testkit import artifacts_dir
from testkit.browser import loopback_page
from testkit.known_fleet import OCTOLAPSE, SIZE, fleet_collector


@pytest.fixture(scope="module")
def fleet_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trends")
    # A minimum group small enough that the week's hourly counts of a 40-instance
    # fleet are drawn, not hidden.
    with fleet_collector(tmp, str(tmp / "trends.sqlite"), min_group=3) as result:
        yield result


@pytest.fixture(scope="module")
def page():
    # The dashboard promises no CDN and no script: any outside request fails it.
    with loopback_page() as page:
        yield page


def test_dashboard_charts_hourly_and_per_version_trends(fleet_server, page):
    from playwright.sync_api import expect

    server, _ = fleet_server
    page.goto(server.url + "/")
    hourly = page.locator("section", has_text="Unique instances per hour")
    # One line, broken where an hour is hidden (fewer than the minimum group).
    expect(hourly.locator("svg polyline").first).to_be_attached()
    # The peak hour holds the whole fleet; its point says so in its tooltip.
    expect(hourly.locator("circle title", has_text=f": {SIZE}")).to_have_count(1)
    versions = page.locator("section", has_text="by OctoPrint version (90 days)")
    expect(versions.locator("rect title", has_text="1.11.8: 24").first).to_be_attached()
    expect(page.locator("section", has_text="Print outcomes per day")).to_be_visible()
    assert page.locator("script").count() == 0
    page.screenshot(path=str(artifacts_dir() / "collector-trends.png"), full_page=True)


def test_choosing_a_plugin_charts_its_adoption(fleet_server, page):
    from playwright.sync_api import expect

    server, _ = fleet_server
    page.goto(server.url + "/")
    page.select_option("select[name=plugin]", "octolapse")
    page.click("form.pick button")
    expect(page).to_have_url(server.url + "/?plugin=octolapse")
    adoption = page.locator("section", has_text="Adoption of octolapse")
    today = adoption.locator("circle title", has_text=f": {len(OCTOLAPSE)}")
    expect(today.first).to_be_attached()
    adoption.scroll_into_view_if_needed()
    page.screenshot(
        path=str(artifacts_dir() / "collector-plugin-adoption.png"), full_page=True
    )
