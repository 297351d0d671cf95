"""The shipped demo, end to end: what a registrant in Toronto really receives."""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from webinar_notify.core.schedule import registrant_moment, slots
from webinar_notify.local.demo_state import DEMO_SCENARIO
from webinar_notify.local.scenario import load_scenario
from webinar_notify.local.simulate import SimulationReport, simulate
from webinar_notify.series_files import load_series_file

ROOT = Path(__file__).resolve().parents[1]
ALL_SESSIONS = tuple(f"s{i}" for i in range(1, 9))


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


def _confirmations(outbox: Path) -> list[tuple[dict[str, object], EmailMessage]]:
    return [(e, m) for e, m in _emails(outbox) if e["kind"] == "confirmation"]


def test_one_confirmation_per_demo_registrant(demo: tuple[SimulationReport, str]) -> None:
    report, timeline = demo
    entries = [e for e, _ in _confirmations(report.outbox)]
    assert len(entries) == 5
    assert len({e["to"] for e in entries}) == 5
    assert report.dead_letters == 0
    assert report.index.exists() and f"Outbox: {report.emails} emails" in report.index.read_text()
    requests = (report.outbox / "requests.jsonl").read_text().splitlines()
    assert [json.loads(r)["status"] for r in requests] == [202, 200, 401, 202, 202, 202, 202]
    assert "mail confirmation" in timeline and "@" not in timeline


def test_toronto_sees_both_zones_on_each_sessions_own_date(
        demo: tuple[SimulationReport, str]) -> None:
    report, _ = demo
    [(_, message)] = [(e, m) for e, m in _confirmations(report.outbox)
                      if e["to"] == "marie.tremblay@example.com"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for body in (text, re.sub(r"<[^>]+>", "", html)):  # the HTML keeps times on one line
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
    [(_, message)] = [(e, m) for e, m in _confirmations(report.outbox)
                      if e["to"] == "liam.oconnor@example.net"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Fri 27 Oct 2023 00:00 AEDT (Thu 26 Oct 15:00 CEST)" in text


def test_sydney_gets_day_reminders_in_its_daytime_and_hour_reminders_exactly(
        demo: tuple[SimulationReport, str]) -> None:
    report, _ = demo
    series = load_series_file(ROOT / "series" / "reirradiation-2023.yaml")
    starts = {s.id: s.start for s in series.sessions if not s.cancelled}
    sydney = ZoneInfo("Australia/Sydney")
    seen: Counter[str] = Counter()
    for entry, _message in _emails(report.outbox):
        if entry["kind"] != "reminder" or entry["to"] != "liam.oconnor@example.net":
            continue
        at = datetime.fromisoformat(str(entry["sent_at"]).replace("Z", "+00:00"))
        ahead = starts[entry["sessions"][0]] - at  # type: ignore[index]
        if ahead <= timedelta(hours=1):
            assert ahead == timedelta(hours=1)
            seen["1h"] += 1
        else:
            assert time(8) <= at.astimezone(sydney).time() <= time(21), (entry, at)
            assert at.astimezone(sydney).time() != starts[  # not at the series' own clock
                entry["sessions"][0]].time()  # type: ignore[index]
            seen["day"] += 1
    assert seen == {"1h": 8, "day": 16}


def test_subset_registrants_get_only_their_sessions(demo: tuple[SimulationReport, str]) -> None:
    report, _ = demo
    by_address = {e["to"]: e for e, _ in _confirmations(report.outbox)}
    assert by_address["fatimah.alharbi@example.org"]["sessions"] == ["s1", "s2", "s5"]
    assert by_address["soren.norgaard@example.com"]["sessions"] == ["s1", "s3", "s4", "s8"]


ZONES = {"marie.tremblay@example.com": "America/Toronto",
         "fatimah.alharbi@example.org": "Asia/Riyadh",
         "liam.oconnor@example.net": "Australia/Sydney",
         "soren.norgaard@example.com": "Europe/Copenhagen",
         "joao.conceicao@example.org": "America/Sao_Paulo"}
REGISTERED = {  # from scenarios/demo.yaml: who registered for what, and when
    "marie.tremblay@example.com": (ALL_SESSIONS, "2023-10-02T13:05:00+00:00"),
    "fatimah.alharbi@example.org": (("s1", "s2", "s5"), "2023-10-03T07:40:00+00:00"),
    "liam.oconnor@example.net": (ALL_SESSIONS, "2023-10-04T22:15:00+00:00"),
    "soren.norgaard@example.com": (("s1", "s3", "s4", "s8"), "2023-10-09T11:30:00+00:00"),
    "joao.conceicao@example.org": (ALL_SESSIONS, "2023-10-25T20:20:00+00:00"),
}


def test_every_reminder_once_at_its_utc_instant_and_none_for_passed_offsets(
        demo: tuple[SimulationReport, str]) -> None:
    report, _ = demo
    series = load_series_file(ROOT / "series" / "reirradiation-2023.yaml")
    sent = Counter((e["to"], e["sessions"][0], e["sent_at"])  # type: ignore[index]
                   for e, _ in _emails(report.outbox) if e["kind"] == "reminder")
    expected: Counter[tuple[object, str, str]] = Counter()
    for address, (sessions, registered_at) in REGISTERED.items():
        for slot in (s for s in slots(series) if s.session_id in sessions):
            if slot.opens >= datetime.fromisoformat(registered_at):
                moment = registrant_moment(slot, ZONES[address], series.quiet_hours)
                expected[(address, slot.session_id,
                          moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))] += 1
    assert sent == expected
    assert sent[("marie.tremblay@example.com", "s1", "2023-10-26T12:00:00Z")] == 1
    assert sent[("marie.tremblay@example.com", "s2", "2023-11-06T13:00:00Z")] == 1
    assert sent[("marie.tremblay@example.com", "s1", "2023-10-19T13:00:00Z")] == 1
    # São Paulo registered the evening before s1: no 7-day or 1-day reminder for it.
    assert not [k for k in sent if k[0] == "joao.conceicao@example.org" and k[1] == "s1"
                and k[2] != "2023-10-26T12:00:00Z"]
    assert sum(sent.values()) == 91


def test_a_reminder_carries_the_calendar_entry_and_one_click_unsubscribe(
        demo: tuple[SimulationReport, str]) -> None:
    report, _ = demo
    [(_, message)] = [(e, m) for e, m in _emails(report.outbox)
                      if e["kind"] == "reminder" and e["to"] == "marie.tremblay@example.com"
                      and e["sent_at"] == "2023-10-26T12:00:00Z"]
    assert message["Subject"] == ("Reminder: Reirradiation Challenges & Opportunities, "
                                  "Thu 26 Oct 2023 09:00 EDT (in 1 hour)")
    assert message["List-Unsubscribe"].startswith("<http://localhost:8000/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/ics"
    assert not [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    event = Calendar.from_ical(attachment.get_content()).events[0]
    assert str(event["UID"]) == "s1.reirradiation-2023@events.estro.example"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "starts Thu 26 Oct 2023 09:00 EDT, in 1 hour." in text
    assert "Thu 26 Oct 2023 09:00 EDT (15:00 CEST)" in text
    assert "Challenges in the Clinical Reirradiation Workflow" in text  # sessions ahead


def test_a_late_registration_is_told_how_soon_the_session_starts(
        demo: tuple[SimulationReport, str]) -> None:
    report, _ = demo
    [(_, message)] = [(e, m) for e, m in _confirmations(report.outbox)
                      if e["to"] == "joao.conceicao@example.org"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Thu 26 Oct 2023 10:00 UTC-3 (15:00 CEST) (starts in 16 hours 40 minutes)" in text
