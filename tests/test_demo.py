"""The shipped demo, end to end: what a registrant in Toronto really receives."""

from __future__ import annotations

import email
import email.policy
import io
import json
from email.message import EmailMessage
from pathlib import Path

import pytest
from icalendar import Calendar

from webinar_notify.cli import DEMO_SCENARIO
from webinar_notify.local.scenario import load_scenario
from webinar_notify.local.simulate import SimulationReport, simulate


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulationReport, str]:
    out = io.StringIO()
    report = simulate(load_scenario(DEMO_SCENARIO), tmp_path_factory.mktemp("outbox"), out)
    return report, out.getvalue()


def _emails(outbox: Path) -> list[tuple[dict[str, object], EmailMessage]]:
    entries = [json.loads(line) for line in (outbox / "log.jsonl").read_text().splitlines()]
    return [(e, email.message_from_bytes((outbox / e["file"]).read_bytes(),
                                         policy=email.policy.default))  # type: ignore[misc]
            for e in entries]


def test_one_confirmation_per_demo_registrant(demo: tuple[SimulationReport, str]) -> None:
    report, timeline = demo
    entries = [e for e, _ in _emails(report.outbox)]
    assert [e["kind"] for e in entries] == ["confirmation"] * 5
    assert len({e["to"] for e in entries}) == 5
    assert report.dead_letters == 0
    assert report.index.exists() and "Outbox: 5 emails" in report.index.read_text()
    requests = (report.outbox / "requests.jsonl").read_text().splitlines()
    assert [json.loads(r)["status"] for r in requests] == [202, 200, 401, 202, 202, 202, 202]
    assert "mail confirmation" in timeline and "@" not in timeline


def test_toronto_sees_both_zones_on_each_sessions_own_date(
        demo: tuple[SimulationReport, str]) -> None:
    report, _ = demo
    [(_, message)] = [(e, m) for e, m in _emails(report.outbox)
                      if e["to"] == "marie.tremblay@example.com"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for body in (text, html):
        assert "26 Oct 2023 09:00 EDT (15:00 CEST)" in body
        assert "6 Nov 2023 09:00 EST (15:00 CET)" in body
        assert "10:30 EST (16:30 CET)" in body  # s5 runs to 16:30 in Brussels

    calendars = {part.get_filename(): Calendar.from_ical(part.get_content())
                 for part in message.iter_attachments()}
    assert len(calendars) == 8
    s1 = calendars["reirradiation-2023-s1.ics"].events[0]
    s2 = calendars["reirradiation-2023-s2.ics"].events[0]
    s5 = calendars["reirradiation-2023-s5.ics"].events[0]
    assert s1.to_ical().decode().count("DTSTART:20231026T130000Z") == 1
    assert "DTSTART:20231106T140000Z" in s2.to_ical().decode()
    assert "DTEND:20240205T153000Z" in s5.to_ical().decode()  # 16:30 CET
    assert str(s1["UID"]) == "s1.reirradiation-2023@events.estro.example"
    for part in message.iter_attachments():
        method = Calendar.from_ical(part.get_content())["METHOD"]
        assert part.get_param("method") == method == "REQUEST"
        event = Calendar.from_ical(part.get_content()).events[0]
        assert str(event["ATTENDEE"]) == "mailto:marie.tremblay@example.com"
        assert str(event["ORGANIZER"]) == "mailto:webinars@estro.example"


def test_sydney_sees_the_next_day(demo: tuple[SimulationReport, str]) -> None:
    report, _ = demo
    [(_, message)] = [(e, m) for e, m in _emails(report.outbox)
                      if e["to"] == "liam.oconnor@example.net"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Fri 27 Oct 2023 00:00 AEDT (Thu 26 Oct 15:00 CEST)" in text


def test_subset_registrants_get_only_their_sessions(demo: tuple[SimulationReport, str]) -> None:
    report, _ = demo
    by_address = {e["to"]: e for e, _ in _emails(report.outbox)}
    assert by_address["fatimah.alharbi@example.org"]["sessions"] == ["s1", "s2", "s5"]
    assert by_address["soren.norgaard@example.com"]["sessions"] == ["s1", "s3", "s4", "s8"]
