"""An instance's own data: its record, in the published shape, without quarantine."""

from __future__ import annotations

from types import SimpleNamespace

from testkit.schemas import NOW, check_schema

from tracking_collector.publish import own_data


def test_own_data_document_shows_the_record_and_no_quarantine_state():
    day = int(NOW // 86400)
    record = SimpleNamespace(
        instance="2f0c3a5e-9a3b-4d44-8f3e-1a2b3c4d5e6f",
        first_seen=NOW - 86400,
        last_seen=NOW,
        last_print=None,
        env={
            "version": "1.11.8",
            "python": "3.11.2",
            "os": "linux",
            "bits": "64",
            "cores": "4",
            "pi_model": None,
            "octopi": None,
            "firmware": "Marlin",
            "plugins": "octolapse:0.4.5,themeify:1.2.2",
            "achievements": "night_owl,the_wizard",
            "browser": "Chrome",
            "country": "DE",
            "city": "Berlin",
        },
        held="suspect",
        cohort="c1",
        days=[(day, 0b101, "1.11.8", 1, 1, 0, 0)],
        print_hours=[(day, 2, 600)],
        events=[
            SimpleNamespace(
                ts=NOW, event="install_plugin", version="1.11.8", fields={"plugin": "x"}
            )
        ],
    )
    doc = own_data.document(record.instance, record)
    check_schema(doc, "OwnData")
    assert doc["environment"]["plugins"] == [
        {"id": "octolapse", "version": "0.4.5"},
        {"id": "themeify", "version": "1.2.2"},
    ]
    assert doc["environment"]["achievements"] == ["night_owl", "the_wizard"]
    assert doc["days"][0]["active_hours"] == [0, 2]
    assert doc["days"][0]["finished_print_seconds"] == {"2": 600}
    assert doc["events"][0]["event"] == "install_plugin"
    assert "suspect" not in str(doc) and "c1" not in str(doc)
