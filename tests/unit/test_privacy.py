"""Privacy rules as code: what survives of a value before it leaves the machine."""

from __future__ import annotations

import logging

import pytest

from octoprint_tracking.core import privacy
from octoprint_tracking.logsafe import RedactFilter


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "Failed to open /home/pi/.octoprint/uploads/Benchy.gcode",
            "Failed to open <path>",
        ),
        (r"Error in C:\Users\alice\print.gcode here", "Error in <path> here"),
        ("Could not reach 192.168.1.23:8080", "Could not reach <ip>:8080"),
        ("see http://octopi.local/x?y", "see <url>"),
        ("mail bob@example.com now", "mail <email> now"),
        ("opened Benchy.gcode", "opened <file>"),
        ("line\nbreak\x00", "line break"),
    ],
)
def test_scrub_text_removes_what_identifies(text, expected):
    assert privacy.scrub_text(text) == expected


def test_scrub_text_caps_length():
    assert len(privacy.scrub_text("a" * 500)) == privacy.TEXT_CAP


@pytest.mark.parametrize(
    "port,sent",
    [("/dev/ttyUSB0", "/dev/ttyUSB0"), ("COM3", "COM3"), ("VIRTUAL", "VIRTUAL"),
     ("/dev/serial/by-id/usb-Creality_CR10_SN123-if00", "other"),
     ("/home/alice/fakeport", "other"), ("192.168.1.5:23", "other")],
)  # fmt: skip
def test_ports_with_serial_numbers_or_addresses_are_not_sent(port, sent):
    assert privacy.scrub_port(port) == sent


def test_token_rejects_paths_and_sentences():
    assert privacy.token("octolapse") == "octolapse"
    assert privacy.token("/home/pi") is None
    assert privacy.token("two words") is None
    assert privacy.token(b"prusaslicer") == "prusaslicer"


def test_hash_path_never_contains_the_name():
    digest = privacy.hash_path("Secret Benchy.gcode", b"local-key")
    assert len(digest) == 40 and "Benchy" not in digest


def test_redact_filter_removes_id_and_server_from_urllib3_records(caplog):
    f = RedactFilter()
    f.add(["old-id-9"])
    f.add(["1234-abcd", "https://track.example.org/track/{id}/{event}/"])
    f.install()
    logger = logging.getLogger("urllib3.connectionpool")
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logger.debug('%s://%s:%s "%s %s %s" %s', "https", "track.example.org", 443,
                     "GET", "/track/1234-abcd/ping/?x=1", "HTTP/1.1", 200)  # fmt: skip
        logger.debug("DELETE /track/old-id-9/")
    text = caplog.text
    assert "1234-abcd" not in text and "track.example.org" not in text
    assert "old-id-9" not in text, "an id from before Reset ID stays redacted"
    assert "<redacted>" in text
    logger.removeFilter(f)


def test_redact_filter_removes_any_instance_id_it_was_never_told(caplog):
    f = RedactFilter()
    f.install()
    logger = logging.getLogger("urllib3.connectionpool")
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logger.debug('"%s %s %s" %s', "DELETE",
                     "/track/7D1E2F3A-4b5c-4d6e-8f90-a1b2c3d4e5f6/", "HTTP/1.1", 200)  # fmt: skip
    logger.removeFilter(f)
    assert caplog.messages == ['"DELETE /track/<redacted>/ HTTP/1.1" 200']
