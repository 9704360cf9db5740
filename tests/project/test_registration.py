"""The plugin repository registration file (extras/usage_tracking.md) says what the
package says: id, Python and OctoPrint versions, and its screenshots exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = ROOT / "extras"
REQUIRED = (
    "layout id title description authors license date homepage source archive tags "
    "screenshots featuredimage compatibility"
).split()


def front_matter() -> dict:
    text = (EXTRAS / "usage_tracking.md").read_text()
    match = re.match(r"^---\n(.*?)\n---\n(.+)", text, re.DOTALL)
    assert match, "front matter between --- lines, then the page text"
    assert len(match[2].split()) > 50, "a page text"
    return yaml.safe_load(match[1])


def pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text()


def test_has_every_field_of_the_registration_format():
    data = front_matter()
    assert [k for k in REQUIRED if not data.get(k)] == []
    assert data["layout"] == "plugin"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", str(data["date"]))
    assert set(data["compatibility"]) == {"octoprint", "os", "python"}


def test_id_versions_and_archive_match_the_package():
    data = front_matter()
    assert 'usage_tracking = "octoprint_tracking"' in pyproject()
    assert data["id"] == "usage_tracking"
    requires_python = re.search(r'requires-python = "([^"]+)"', pyproject())[1]
    assert data["compatibility"]["python"] == requires_python
    octoprint_min = re.search(r'"OctoPrint>=([\d.]+)"', pyproject())[1]
    assert data["compatibility"]["octoprint"] == [octoprint_min]
    homepage = re.search(r'Homepage = "([^"]+)"', pyproject())[1]
    assert data["homepage"] == data["source"] == homepage
    assert data["archive"].startswith(homepage + "/archive/")


def test_every_screenshot_is_shipped_in_extras():
    data = front_matter()
    urls = [s["url"] for s in data["screenshots"]] + [data["featuredimage"]]
    for url in urls:
        assert url.startswith("/assets/img/plugins/usage_tracking/"), url
        shipped = EXTRAS / "screenshots" / Path(url).name
        assert shipped.is_file() and shipped.read_bytes()[:4] == b"\x89PNG", url
    assert all(s.get("alt") and s.get("caption") for s in data["screenshots"])
