"""Headless Chromium on the plugin page, the badge and the dashboard's transparency
section of a collector that received a known fleet, with screenshots."""

from __future__ import annotations

import re

import pytest
import requests
from testkit import artifacts_dir, eventually, new_id
from testkit.browser import loopback_page
from testkit.known_fleet import INSTALLED_OCTOLAPSE, OCTOLAPSE, SIZE, fleet_collector

REFUSED = {"invalid_instance_id": 4, "invalid_event": 2}


@pytest.fixture(scope="module")
def fleet_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pages")
    with fleet_collector(tmp, str(tmp / "pages.sqlite"), min_group=3) as result:
        server, fleet = result
        for _ in range(REFUSED["invalid_instance_id"]):
            requests.get(f"{server.url}/track/not-a-uuid/ping/", timeout=10)
        for _ in range(REFUSED["invalid_event"]):
            requests.get(f"{server.url}/track/{new_id()}/no%20such/", timeout=10)
        assert requests.delete(f"{server.url}/track/{fleet[-1].id}/", timeout=10).ok

        def reported() -> bool:
            doc = requests.get(f"{server.url}/api/transparency?days=1", timeout=10)
            return doc.json()["days"][-1]["refused"] == REFUSED

        eventually(reported)
        yield result


@pytest.fixture(scope="module")
def page():
    with loopback_page(1280, 1000) as page:
        yield page


def test_the_plugin_page_shows_adoption_versions_events_and_its_badge(fleet_server, page):
    from playwright.sync_api import expect

    server, _ = fleet_server
    page.goto(server.url + "/plugins/octolapse")
    tiles = page.locator(".tile")
    expect(tiles.first).to_contain_text(str(len(OCTOLAPSE)))
    adoption = page.locator("section", has_text="Active instances per day")
    expect(adoption.locator("svg polyline")).to_have_count(1)
    # The fleet was active on several days of the week, all of it on the last.
    today = adoption.locator("circle title", has_text=f": {len(OCTOLAPSE)}")
    expect(today.last).to_be_attached()
    versions = page.locator("section", has_text="Versions of octolapse per day")
    version = versions.locator("rect title", has_text=f"0.4.5: {len(OCTOLAPSE)}")
    expect(version.last).to_be_attached()
    events = page.locator("section", has_text="Install and uninstall events")
    installs = re.compile(f"^{len(INSTALLED_OCTOLAPSE)}$")
    expect(events.locator("td", has_text=installs)).to_have_count(1)
    badge = page.locator("section", has_text="Badge for a README")
    expect(badge.locator("svg title")).to_have_text(f"instances (30d): {len(OCTOLAPSE)}")
    expect(badge.locator("pre").nth(1)).to_contain_text("img.shields.io/endpoint?url=")
    assert page.locator("script").count() == 0
    page.screenshot(
        path=str(artifacts_dir() / "collector-plugin-page.png"), full_page=True
    )


def test_an_unknown_plugin_page_says_nothing_is_published(fleet_server, page):
    from playwright.sync_api import expect

    server, _ = fleet_server
    page.goto(server.url + "/plugins/nosuchplugin")
    expect(page.locator("p.empty").first).to_contain_text("Nothing is published")
    expect(page.locator(".tile b").first).to_have_text("–")
    expect(page.locator("section", has_text="Badge").locator("svg title")).to_have_text(
        "instances (30d): not published"
    )


@pytest.mark.parametrize(
    ("plugin", "message", "artifact"),
    [
        ("octolapse", str(len(OCTOLAPSE)), "collector-badge.png"),
        ("nosuchplugin", "not published", "collector-badge-not-published.png"),
    ],
)
def test_the_badge_draws_in_shields_flat_style(
    fleet_server, page, plugin, message, artifact
):
    server, _ = fleet_server
    response = page.goto(f"{server.url}/badge/{plugin}.svg")
    assert response.headers["content-type"].startswith("image/svg+xml")
    svg = page.locator("svg")
    assert svg.get_attribute("aria-label") == f"instances (30d): {message}"
    box = svg.bounding_box()
    # Drawn at the size it declares: 20 px high, two boxes filling its width.
    assert (box["width"], box["height"]) == (float(svg.get_attribute("width")), 20.0)
    widths = [float(r.get_attribute("width")) for r in svg.locator("g rect").all()]
    assert widths[0] + widths[1] == widths[2] == box["width"]
    svg.screenshot(path=str(artifacts_dir() / artifact))


def test_the_dashboard_shows_the_transparency_section(fleet_server, page):
    from playwright.sync_api import expect

    server, _ = fleet_server
    page.goto(server.url + "/")
    section = page.locator("section", has_text="Transparency: reports and instances")
    today = section.locator("tbody tr").first
    refused = today.locator("td").nth(2).locator("span")
    expect(refused).to_have_text(str(sum(REFUSED.values())))
    expect(refused).to_have_attribute("title", "invalid_instance_id 4, invalid_event 2")
    expect(today.locator("td").nth(6)).to_have_text("1")  # forgotten
    expect(section.locator("svg rect title", has_text="refused: 6")).to_have_count(1)
    assert int(today.locator("td").nth(1).inner_text()) >= SIZE
    section.scroll_into_view_if_needed()
    section.screenshot(path=str(artifacts_dir() / "collector-transparency.png"))


def test_the_dashboard_links_each_shown_plugin_to_its_page(fleet_server, page):
    from playwright.sync_api import expect

    server, _ = fleet_server
    page.goto(server.url + "/")
    plugins = page.locator("section", has_text="Third-party plugins")
    plugins.locator("a", has_text="octolapse").click()
    expect(page).to_have_url(server.url + "/plugins/octolapse")
    expect(page.locator("h1")).to_have_text("octolapse: OctoPrint plugin usage")
