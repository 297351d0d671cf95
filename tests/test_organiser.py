"""Organiser actions: session changes that update calendars, cancellations, announcements."""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from conftest import SERIES_ID, Harness
from webinar_notify import bootstrap
from webinar_notify.core.text import suppression_id
from webinar_notify.services import announcing

ROOT = Path(__file__).resolve().parents[1]
SERIES = "/organiser/series/reirradiation-2023"
S4 = datetime(2024, 1, 9, 14, 0, tzinfo=UTC)  # 15:00 CET


def act(harness: Harness, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    answer = harness.runtime.organiser(f"{SERIES}{path}", body, idempotency_key=key)
    harness.runtime.drain()
    return {"http": answer.status, **answer.body}


def sent(harness: Harness, kind: str) -> list[tuple[dict[str, object], EmailMessage]]:
    result = []
    for entry in harness.outbox.entries():
        if entry["kind"] == kind:
            raw = (harness.outbox_dir / str(entry["file"])).read_bytes()
            message = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            result.append((entry, message))
    return result


def calendars(message: EmailMessage) -> list[tuple[str, Calendar]]:
    return [(part.get_content_type(), Calendar.from_ical(part.get_content()))
            for part in message.walk()
            if part.get_content_type() in ("text/calendar", "application/ics")]


def test_moving_s4_sends_one_update_with_the_same_uid_and_a_higher_sequence(
        harness: Harness) -> None:
    addresses = harness.register_many(3, sessions=["s4"])
    register_other = harness.register(email="other@example.org", event_id="x",
                                      sessions=["s1"])
    assert register_other.status == 202
    harness.runtime.drain()
    [(_, confirmation), *_] = sent(harness, "confirmation")
    [(_, first_ics)] = calendars(confirmation)[:1]

    harness.clock.advance(timedelta(days=1))
    answer = act(harness, "/sessions/s4", {"start": "2024-01-09T16:00:00+01:00"}, "move-s4")

    assert answer["http"] == 200 and answer["notices"] == ["notice#s4#1"]
    updates = sent(harness, "update")
    assert Counter(str(e["to"]) for e, _ in updates) == Counter({a: 1 for a in addresses})
    _entry, message = updates[0]
    assert message["Subject"] == "New time: Challenges in Accumulating Doses"
    parts = calendars(message)
    assert [kind for kind, _ in parts] == ["text/calendar", "application/ics"]
    inline = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert inline.get_param("method") == "REQUEST"
    event = parts[0][1].events[0]
    assert str(event["UID"]) == str(first_ics.events[0]["UID"]) == \
        "s4.reirradiation-2023@events.estro.example"
    assert int(event["SEQUENCE"]) == int(first_ics.events[0]["SEQUENCE"]) + 1 == 1
    assert event["DTSTART"].dt == datetime(2024, 1, 9, 15, 0, tzinfo=UTC)
    assert event["DTSTAMP"].dt > first_ics.events[0]["DTSTAMP"].dt
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Was: Tue 9 Jan 2024 15:00 CET" in text and "Now: Tue 9 Jan 2024 16:00 CET" in text
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert re.search(r"<del>(<[^>]+>)*Tue 9 Jan 2024 15:00 CET", html)

    # Its reminders follow the new time: none at the old moments, one each at the new ones.
    new_start = S4 + timedelta(hours=1)
    for moment in (S4 - timedelta(days=7), new_start - timedelta(days=7),
                   S4 - timedelta(days=1), new_start - timedelta(days=1),
                   S4 - timedelta(hours=1), new_start - timedelta(hours=1)):
        harness.clock.set(moment)
        harness.runtime.tick()
        harness.runtime.drain()
    reminders = Counter((str(e["to"]), str(e["sent_at"])) for e, _ in sent(harness, "reminder")
                        if e["sessions"] == ["s4"])
    assert reminders == Counter({(a, t): 1 for a in addresses
                                 for t in ("2024-01-02T15:00:00Z", "2024-01-08T15:00:00Z",
                                           "2024-01-09T14:00:00Z")})


def test_the_same_action_twice_does_it_once(harness: Harness) -> None:
    harness.register_many(2, sessions=["s4"])
    first = act(harness, "/sessions/s4", {"duration_minutes": 90}, "same-key")
    again = act(harness, "/sessions/s4", {"duration_minutes": 90}, "same-key")
    other_key = act(harness, "/sessions/s4", {"duration_minutes": 90}, "other-key")
    assert first == again and other_key["outcome"] == "unchanged"
    assert len(sent(harness, "update")) == 2


def test_cancelling_s6_sends_one_cancel_each_and_no_reminder_follows(harness: Harness) -> None:
    addresses = harness.register_many(3)
    answer = act(harness, "/sessions/s6/cancel", {}, "cancel-s6")
    assert answer["http"] == 200
    cancellations = sent(harness, "cancellation")
    assert Counter(str(e["to"]) for e, _ in cancellations) == Counter({a: 1 for a in addresses})
    message = cancellations[0][1]
    inline = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert inline.get_param("method") == "CANCEL"
    event = Calendar.from_ical(inline.get_content()).events[0]
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
    assert str(event["UID"]) == "s6.reirradiation-2023@events.estro.example"
    s6 = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)
    for moment in (s6 - timedelta(days=7), s6 - timedelta(days=1), s6 - timedelta(hours=1)):
        harness.clock.set(moment)
        harness.runtime.tick()
        harness.runtime.drain()
    assert not [e for e, _ in sent(harness, "reminder") if e["sessions"] == ["s6"]]


def test_pushing_a_moved_session_in_the_series_file_sends_updates(
        harness: Harness, tmp_path: Path) -> None:
    addresses = harness.register_many(2, sessions=["s4"])
    text = (ROOT / "series" / "reirradiation-2023.yaml").read_text()
    moved = tmp_path / "series.yaml"
    moved.write_text(text.replace('start: "2024-01-09T15:00"', 'start: "2024-01-09T16:00"'))
    answer = harness.runtime.organiser(f"{SERIES}/push", {"series": _yaml(moved)},
                                       idempotency_key="push-1")
    harness.runtime.drain()
    assert answer.status == 200 and answer.body["changed_sessions"] == ["s4"]
    assert sorted(str(e["to"]) for e, _ in sent(harness, "update")) == sorted(addresses)


def test_a_quiet_push_sends_nothing(harness: Harness, tmp_path: Path) -> None:
    harness.register_many(2)
    text = (ROOT / "series" / "reirradiation-2023.yaml").read_text()
    fixed = tmp_path / "series.yaml"
    fixed.write_text(text.replace("title: Challenges in Accumulating Doses",
                                  "title: Challenges in Accumulating Dose"))
    answer = harness.runtime.organiser(f"{SERIES}/push",
                                       {"series": _yaml(fixed), "quiet": True}, "quiet-1")
    harness.runtime.drain()
    assert answer.status == 200 and answer.body["notices"] == []
    assert sent(harness, "update") == []


def test_an_announcement_to_the_interest_list_skips_unsubscribed_and_suppressed(
        harness: Harness) -> None:
    interested = harness.register_many(4, interests=["estro24-pre-meeting"])
    harness.register(email="not-interested@example.org", event_id="n")
    harness.register(email="bounced@example.org", event_id="b",
                     interests=["estro24-pre-meeting"])
    harness.runtime.store.suppress(suppression_id("local-development-only",
                                                  "bounced@example.org"), "bounce",
                                   harness.clock.now())
    harness.update_registration(interested[0], announcements_off=True)
    harness.runtime.drain()

    preview = act(harness, "/announcements", {
        "id": "pre-meeting-open", "subject": "Registration for the Glasgow course is open",
        "body_markdown": "Register **now**: <https://estro.example/glasgow>",
        "audience": {"interest": "estro24-pre-meeting"}, "dry_run": True}, "preview")
    assert preview["recipients"] == 3
    answer = act(harness, "/announcements", {
        "id": "pre-meeting-open", "subject": "Registration for the Glasgow course is open",
        "body_markdown": "Register **now**: <https://estro.example/glasgow>",
        "audience": {"interest": "estro24-pre-meeting"}}, "send")

    # An interest list is not a kept count: how many is known once the job has sent it.
    assert answer["http"] == 202 and answer["recipients"] is None and answer["job"]
    announcements = sent(harness, "announcement")
    assert sorted(str(e["to"]) for e, _ in announcements) == sorted(interested[1:])
    job = bootstrap.services().jobs.job(SERIES_ID, answer["job"])
    assert (job.kind, job.state, job.done) == ("fan_out", "done", 3)
    message = announcements[0][1]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<strong>now</strong>" in html
    assert not calendars(message)


def test_a_scheduled_announcement_can_be_cancelled_before_it_goes(harness: Harness) -> None:
    harness.register_many(2)
    later = harness.clock.now() + timedelta(days=2)
    body = {"id": "survey", "subject": "Tell us", "body_markdown": "A survey.",
            "audience": {"all": True}, "send_at": later.isoformat()}
    scheduled = act(harness, "/announcements", body, "schedule")
    assert scheduled["http"] == 202 and scheduled["status"] == "scheduled"
    assert act(harness, "/announcements/survey/cancel", {}, "cancel")["http"] == 200
    harness.clock.set(later + timedelta(minutes=5))
    harness.runtime.tick()
    harness.runtime.drain()
    assert sent(harness, "announcement") == []

    other = {**body, "id": "survey-2"}
    assert act(harness, "/announcements", other, "schedule-2")["http"] == 202
    harness.clock.set(later + timedelta(minutes=10))
    harness.runtime.tick()
    harness.runtime.drain()
    assert len(sent(harness, "announcement")) == 2
    too_late = act(harness, "/announcements/survey-2/cancel", {}, "cancel-2")
    assert too_late["http"] == 409


def test_attendees_and_absentees(harness: Harness) -> None:
    addresses = harness.register_many(4, sessions=["s1"])
    harness.clock.set(datetime(2023, 10, 27, 9, 0, tzinfo=UTC))
    refused = act(harness, "/announcements", {
        "id": "thanks", "subject": "Thanks", "body_markdown": "Recording: …",
        "audience": {"attended": "s1"}}, "too-early")
    assert refused["http"] == 400 and "not known" in refused["error"]
    imported = act(harness, "/sessions/s1/attendance", {"emails": addresses[:3]}, "attendance")
    assert (imported["http"], imported["kind"], imported["total"]) == (202, "attendance", 3)
    act(harness, "/announcements", {"id": "missed", "subject": "We missed you",
                                    "body_markdown": "The recording is online.",
                                    "audience": {"absent": "s1"}}, "absent")
    assert [str(e["to"]) for e, _ in sent(harness, "announcement")] == [addresses[3]]


def test_bad_organiser_input_gets_a_clear_4xx_and_changes_nothing(harness: Harness) -> None:
    before = harness.runtime.store.get_series("reirradiation-2023")
    cases = [
        ("/sessions/s9", {"title": "x"}, 404),
        ("/sessions/s4", {"start": "2024-03-31T02:30"}, 400),  # does not exist in Brussels
        ("/sessions/s4", {"colour": "red"}, 400),
        ("/announcements", {"id": "A B", "subject": "x", "body_markdown": "y",
                            "audience": {"all": True}}, 400),
        ("/announcements", {"id": "a", "subject": "x", "body_markdown": "y",
                            "audience": {"interest": "nope"}}, 400),
        ("/announcements/none/cancel", {}, 404),
    ]
    for i, (path, body, status) in enumerate(cases):
        answer = act(harness, path, body, f"bad-{i}")
        assert answer["http"] == status, (path, answer)
        assert answer["error"]
    assert harness.runtime.store.get_series("reirradiation-2023") == before
    missing_key = harness.runtime.organiser(f"{SERIES}/sessions/s4", {"title": "x"}, "")
    assert missing_key.status == 400 and "Idempotency-Key" in missing_key.body["error"]


def test_an_organiser_route_without_iam_credentials_is_refused(harness: Harness) -> None:
    answer = harness.runtime.request("POST", f"{SERIES}/sessions/s4",
                                     {"idempotency-key": "k"}, b'{"title": "Hijacked"}')
    assert answer.status == 403
    stored = harness.runtime.store.get_series("reirradiation-2023")
    assert stored is not None and stored.session("s4").title == "Challenges in Accumulating Doses"  # type: ignore[union-attr]


def test_an_idempotency_key_outside_the_signature_is_refused(harness: Harness) -> None:
    """IAM checks only the headers a request signs: an unsigned key could be swapped on a
    captured request to carry the action out twice."""
    unsigned_key = ("AWS4-HMAC-SHA256 Credential=AKIA/20231002/eu-west-1/execute-api/aws4_request,"
                    f" SignedHeaders=content-type;host;x-amz-date, Signature={'0' * 64}")
    signed_key = unsigned_key.replace("content-type;host", "content-type;host;idempotency-key")
    answers = [harness.runtime.request(
        "POST", f"{SERIES}/sessions/s4",
        {"content-type": "application/json", "idempotency-key": key, "authorization": auth},
        b'{"title": "Hijacked"}', "arn:aws:iam::123456789012:user/organiser")
        for key, auth in (("k1", unsigned_key), ("k2", signed_key))]

    assert [a.status for a in answers] == [403, 200]
    assert "Idempotency-Key" in answers[0].body["error"]


def test_an_organiser_body_that_is_not_utf_8_gets_a_400(harness: Harness) -> None:
    answer = harness.runtime.request(
        "POST", f"{SERIES}/sessions/s4",
        {"content-type": "application/octet-stream", "idempotency-key": "k-bytes"},
        b"\xff\xfe{}", "arn:aws:iam::123456789012:user/organiser")

    assert answer.status == 400 and "UTF-8" in answer.body["error"]
    stored = harness.runtime.store.get_series("reirradiation-2023")
    assert stored is not None and stored.session("s4").title == "Challenges in Accumulating Doses"  # type: ignore[union-attr]


def _yaml(path: Path) -> dict[str, Any]:
    from webinar_notify.organiser_requests import _json_safe
    from webinar_notify.series_files import read_yaml

    return dict(_json_safe(read_yaml(path, ValueError)))  # type: ignore[arg-type]


def test_a_follow_up_split_into_attendees_and_absentees(harness: Harness) -> None:
    addresses = harness.register_many(3, sessions=["s3"])
    too_early = act(harness, "/sessions/s3/attendance", {"emails": addresses}, "early")
    assert too_early["http"] == 400 and "not taken place" in too_early["error"]
    harness.clock.set(datetime(2023, 12, 5, 9, 0, tzinfo=UTC))
    act(harness, "/sessions/s3/attendance", {"emails": addresses[:2]}, "attendance-s3")
    answer = act(harness, "/follow-ups", {
        "session": "s3", "recording_url": "https://estro.example/rec/s3",
        "survey_url": "https://estro.example/survey/s3", "split": True}, "follow-up-s3")
    assert answer["http"] == 202 and answer["recipients"] is None  # attendance: not counted
    by_address = {str(e["to"]): m for e, m in sent(harness, "announcement")}
    assert set(by_address) == set(addresses)
    attended = by_address[addresses[0]].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    absent = by_address[addresses[2]].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Thank you for joining" in attended and "survey/s3" in attended
    assert "We missed you" in absent and "rec/s3" in absent and "survey/s3" not in absent


def test_the_organiser_scenario_end_to_end(tmp_path: Path) -> None:
    import io
    import json

    from webinar_notify.local.scenario import load_scenario
    from webinar_notify.local.simulate import simulate

    report = simulate(load_scenario(ROOT / "scenarios" / "organiser.yaml"), tmp_path / "out",
                      io.StringIO())
    entries = [json.loads(line) for line in (tmp_path / "out" / "log.jsonl").read_text()
               .splitlines()]

    def parsed(entry: dict[str, Any]) -> EmailMessage:
        raw = (tmp_path / "out" / entry["file"]).read_bytes()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message

    s4_people = {"marie.tremblay@example.com", "fatimah.alharbi@example.org",
                 "soren.norgaard@example.com"}
    updates = [e for e in entries if e["kind"] == "update"]
    assert sorted(e["to"] for e in updates) == sorted(s4_people)
    for entry in updates:
        [(_, ics), _] = calendars(parsed(entry))
        event = ics.events[0]
        assert str(event["UID"]) == "s4.reirradiation-2023@events.estro.example"
        assert int(event["SEQUENCE"]) == 1
    s4_reminders = Counter(e["sent_at"] for e in entries
                           if e["kind"] == "reminder" and e["sessions"] == ["s4"])
    assert s4_reminders == Counter({"2024-01-02T15:00:00Z": 3, "2024-01-08T15:00:00Z": 3,
                                    "2024-01-09T14:00:00Z": 3})

    cancellations = [e for e in entries if e["kind"] == "cancellation"]
    assert sorted(e["to"] for e in cancellations) == sorted(
        {"marie.tremblay@example.com", "soren.norgaard@example.com",
         "joao.conceicao@example.org"})
    assert not [e for e in entries if e["kind"] == "reminder" and e["sessions"] == ["s6"]]

    announcements = [(e, parsed(e)) for e in entries if e["kind"] == "announcement"]
    course = [e["to"] for e, m in announcements
              if m["Subject"].startswith("Registration for the Reirradiation pre-meeting")]
    assert sorted(course) == ["marie.tremblay@example.com", "soren.norgaard@example.com"]
    assert not [m for _e, m in announcements if m["Subject"].startswith("Halfway through")]
    assert report.dead_letters == 0


def test_a_new_session_is_offered_to_whole_series_registrants_and_a_new_link_updates(
        harness: Harness, tmp_path: Path) -> None:
    whole = harness.register_many(2)
    harness.register(email="s1-only@example.org", event_id="s1o", sessions=["s1"])
    harness.runtime.drain()
    text = (ROOT / "series" / "reirradiation-2023.yaml").read_text()
    extra = text.replace("coming:", '''  - id: s9
    title: "Bonus: Questions and Answers"
    start: "2024-06-13T15:00"
    duration_minutes: 60
coming:''').replace("    title: Reirradiation Challenges & Opportunities\n",
                    "    title: Reirradiation Challenges & Opportunities\n"
                    "    join_url: https://zoom.example/j/s1\n")
    changed = tmp_path / "series.yaml"
    changed.write_text(extra)
    answer = harness.runtime.organiser(f"{SERIES}/push", {"series": _yaml(changed)}, "push-s9")
    harness.runtime.drain()
    assert answer.status == 200 and sorted(answer.body["notices"]) == ["notice#s1#1",
                                                                       "notice#s9#0"]
    updates = sent(harness, "update")
    new = sorted(str(e["to"]) for e, m in updates if m["Subject"].startswith("New session"))
    linked = sorted(str(e["to"]) for e, m in updates if m["Subject"].startswith("Updated"))
    assert new == sorted(whole)
    assert linked == sorted([*whole, "s1-only@example.org"])


def test_a_key_reused_for_another_request_is_refused(harness: Harness) -> None:
    harness.register_many(1)
    first = act(harness, "/sessions/s4", {"title": "A"}, "shared-key")
    other = act(harness, "/sessions/s5", {"title": "B"}, "shared-key")
    assert first["http"] == 200 and other["http"] == 422
    stored = harness.runtime.store.get_series("reirradiation-2023")
    assert stored is not None and stored.session("s5").title.startswith("Dose")  # type: ignore[union-attr]


def test_interest_only_sign_ups_get_the_course_news_and_cancelled_people_do_not(
        harness: Harness) -> None:
    from conftest import registration_body

    assert harness.register(email="curious@example.org", event_id="c", sessions=[],
                            interests=["estro24-pre-meeting"]).status == 202
    harness.register(email="left@example.org", event_id="l",
                     interests=["estro24-pre-meeting"])
    harness.clock.advance(timedelta(minutes=1))
    harness.post(registration_body("left@example.org", "", "l-cancel",
                                   created=harness.clock.now(),
                                   event_type="registration.cancelled"))
    harness.runtime.drain()
    assert [e["kind"] for e in harness.outbox.entries() if e["to"] == "curious@example.org"] \
        == []  # no sessions: nothing to confirm
    act(harness, "/announcements", {"id": "open", "subject": "Open", "body_markdown": "Open.",
                                    "audience": {"interest": "estro24-pre-meeting"}}, "open")
    assert [str(e["to"]) for e, _ in sent(harness, "announcement")] == ["curious@example.org"]


def test_someone_who_registered_after_a_session_is_not_told_they_missed_it(
        harness: Harness) -> None:
    early = harness.register_many(2, sessions=["s1", "s2"])
    harness.clock.set(datetime(2023, 10, 28, 9, 0, tzinfo=UTC))  # after s1
    harness.register(email="late@example.org", event_id="late")  # the whole series
    harness.runtime.drain()
    act(harness, "/sessions/s1/attendance", {"emails": early[:1]}, "att")
    act(harness, "/announcements", {"id": "missed", "subject": "Missed", "body_markdown": "x",
                                    "audience": {"absent": "s1"}}, "missed")
    assert [str(e["to"]) for e, _ in sent(harness, "announcement")] == [early[1]]


def test_the_local_signature_check_covers_the_body() -> None:
    import hashlib

    from botocore.credentials import Credentials

    from webinar_notify.local.sigv4 import verify
    from webinar_notify.request_signing import sign

    url = "http://127.0.0.1:8000/organiser/series/x/push"
    now = datetime.now(UTC)
    for header in ("UNSIGNED-PAYLOAD", hashlib.sha256(b"{}").hexdigest()):
        headers = sign(Credentials("K", "S"), "eu-west-1", "POST", url, b"{}",
                       {"X-Amz-Content-SHA256": header})
        headers["Host"] = "127.0.0.1:8000"
        assert verify("K", "S", "POST", url, b'{"other": 1}', headers, now) is False
    good = sign(Credentials("K", "S"), "eu-west-1", "POST", url, b"{}", {})
    good["Host"] = "127.0.0.1:8000"
    assert verify("K", "S", "POST", url, b"{}", good, now) is True
    assert verify("K", "S", "POST", url, b"{}", good, now + timedelta(minutes=6)) is False


def _everything(harness: Harness) -> tuple[list[dict[str, Any]], list[dict[str, object]], int]:
    """The table (but for idempotency records, which any request leaves), the outbox and the
    queue: what a dry run must leave as it was."""
    table = sorted((i for i in harness.items("") if not i["pk"]["S"].startswith("IDEMPOTENCY#")),
                   key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
    return table, list(harness.outbox.entries()), harness.queued()


def test_a_dry_run_of_a_move_counts_exactly_whom_the_move_then_emails(harness: Harness) -> None:
    addresses = harness.register_many(3, sessions=["s4"])
    harness.register(email="other@example.org", event_id="o", sessions=["s1"])
    harness.register(email="bounced@example.org", event_id="b", sessions=["s4"])
    harness.runtime.store.suppress(suppression_id("local-development-only",
                                                  "bounced@example.org"), "bounce",
                                   harness.clock.now())
    harness.runtime.drain()
    harness.clock.advance(timedelta(days=1))
    before = _everything(harness)

    dry = act(harness, "/sessions/s4", {"start": "2024-01-09T16:00:00+01:00", "dry_run": True},
              "move-s4-dry")

    assert _everything(harness) == before  # nothing stored, queued, sent or audited
    assert dry["http"] == 200 and dry["dry_run"] is True and dry["outcome"] == "updated"
    [notice] = dry["notices"]
    assert {k: notice[k] for k in ("kind", "session", "recipients", "subject")} == {
        "kind": "update", "session": "s4", "recipients": 3,
        "subject": "New time: Challenges in Accumulating Doses"}
    assert "Was: Tue 9 Jan 2024 15:00 CET" in notice["text"]
    assert "Now: Tue 9 Jan 2024 16:00 CET" in notice["text"]
    assert re.search(r"<del>(<[^>]+>)*Tue 9 Jan 2024 15:00 CET", notice["html"])
    assert dry["recipients"] == 3

    real = act(harness, "/sessions/s4", {"start": "2024-01-09T16:00:00+01:00"}, "move-s4")

    # Sent by a job, about so many from the kept counts (the suppressed address is in them)
    assert real["http"] == 200 and real["recipients"] == 4 and real["job"]
    updates = Counter(str(e["to"]) for e, _ in sent(harness, "update"))
    assert updates == Counter({a: 1 for a in addresses})  # exactly the dry run's three
    job = harness.runtime.services.jobs.job(SERIES_ID, real["job"])
    assert (job.state, job.done) == ("done", dry["recipients"])
    assert sent(harness, "update")[0][1]["Subject"] == notice["subject"]


def test_previews_count_in_a_bounded_number_of_reads_and_say_when_they_estimate(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request must not grow with the audience: counting one by one stops after
    COUNT_PAGES pages; a notice is then "about" the kept count, an interest list "at least"."""
    harness.register_many(5, sessions=["s4"], interests=["estro24-pre-meeting"])
    monkeypatch.setattr(announcing, "COUNT_PAGE_SIZE", 1)
    pages: list[object] = []
    store = harness.runtime.store
    reading = store.registrations_page
    monkeypatch.setattr(store, "registrations_page",
                        lambda *a, **k: pages.append(a) or reading(*a, **k))

    dry = act(harness, "/sessions/s4", {"start": "2024-01-09T16:00:00+01:00", "dry_run": True},
              "bounded-move")
    assert len(pages) == announcing.COUNT_PAGES  # 4 pages of one, not all 5
    assert (dry["recipients"], dry["recipients_bound"]) == (5, "about")
    assert [(n["recipients"], n["recipients_bound"]) for n in dry["notices"]] == [(5, "about")]

    pages.clear()
    monkeypatch.setattr(announcing, "COUNT_PAGE_SIZE", 2)
    monkeypatch.setattr(announcing, "COUNT_PAGES", 1)
    preview = act(harness, "/announcements", {
        "id": "glasgow", "subject": "Glasgow", "body_markdown": "Soon.",
        "audience": {"interest": "estro24-pre-meeting"}, "dry_run": True}, "bounded-preview")
    assert len(pages) == 1
    assert (preview["recipients"], preview["recipients_bound"]) == (2, "at least")

    monkeypatch.setattr(announcing, "COUNT_PAGE_SIZE", 500)
    exact = act(harness, "/announcements", {
        "id": "glasgow", "subject": "Glasgow", "body_markdown": "Soon.",
        "audience": {"interest": "estro24-pre-meeting"}, "dry_run": True}, "exact-preview")
    assert (exact["recipients"], exact["recipients_bound"]) == (5, "exact")


def test_dry_runs_of_a_cancellation_and_a_push_change_nothing(harness: Harness,
                                                              tmp_path: Path) -> None:
    addresses = harness.register_many(2)  # the whole series
    harness.register(email="s6-only@example.org", event_id="s6", sessions=["s6"])
    harness.runtime.drain()
    text = (ROOT / "series" / "reirradiation-2023.yaml").read_text()
    moved = tmp_path / "series.yaml"
    moved.write_text(text.replace('start: "2024-01-09T15:00"', 'start: "2024-01-09T16:00"'))
    before = _everything(harness)

    cancel = act(harness, "/sessions/s6/cancel", {"dry_run": True}, "cancel-dry")
    push = act(harness, "/push", {"series": _yaml(moved), "dry_run": True}, "push-dry")
    quiet = act(harness, "/sessions/s4", {"title": "Typo", "quiet": True, "dry_run": True},
                "quiet-dry")
    bad = act(harness, "/sessions/s4", {"title": "X", "dry_run": "yes"}, "bad-dry")

    assert _everything(harness) == before
    s6 = "Proton Reirradiation: Current Status & Challenges"
    assert [(n["kind"], n["session"], n["recipients"], n["subject"]) for n in cancel["notices"]
            ] == [("cancellation", "s6", 3, f"Cancelled: {s6}")]
    assert s6 in cancel["notices"][0]["text"] and "<html" in cancel["notices"][0]["html"]
    assert push["changed_sessions"] == ["s4"]
    assert [(n["kind"], n["session"], n["recipients"]) for n in push["notices"]] == [
        ("update", "s4", 2)]
    assert quiet["notices"] == [] and quiet["recipients"] == 0 and quiet["quiet"] is True
    assert bad["http"] == 400 and "dry_run" in bad["error"]

    act(harness, "/sessions/s6/cancel", {}, "cancel")
    assert sorted(str(e["to"]) for e, _ in sent(harness, "cancellation")) == sorted(
        [*addresses, "s6-only@example.org"])


def test_a_change_confirmed_after_another_one_is_refused_and_sends_nothing(
        harness: Harness) -> None:
    """Two organisers preview moves of s4; the first confirms. The second confirm carries
    the revision its dry run showed, and must not silently undo the first move."""
    harness.register_many(2, sessions=["s4"])
    first = act(harness, "/sessions/s4", {"start": "2024-01-09T16:00:00+01:00",
                                          "dry_run": True}, "dry-1")
    second = act(harness, "/sessions/s4", {"start": "2024-01-09T17:00:00+01:00",
                                           "dry_run": True}, "dry-2")
    assert first["revision"] == second["revision"]
    done = act(harness, "/sessions/s4", {"start": "2024-01-09T16:00:00+01:00",
                                         "revision": first["revision"]}, "go-1")
    assert done["http"] == 200 and done["recipients"] == 2
    late = act(harness, "/sessions/s4", {"start": "2024-01-09T17:00:00+01:00",
                                         "revision": second["revision"]}, "go-2")
    assert late["http"] == 409 and "look at it again" in late["error"]
    series = harness.runtime.store.get_series(SERIES_ID)
    assert series is not None and series.session("s4").start.hour == 16  # type: ignore[union-attr]
    assert len(sent(harness, "update")) == 2  # the first move's updates only
    bad = act(harness, "/sessions/s4", {"title": "x", "revision": "7"}, "go-3")
    assert bad["http"] == 400 and "revision" in bad["error"]
