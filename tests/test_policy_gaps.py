"""Registration policies where they meet the rest of the series, through the real handlers on
moto: a session added to the series, reminders, an organiser's cancellation of a session, a
promotion's email (docs/registration_policies.md)."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from html import escape
from typing import Any

import pytest

from conftest import SERIES_ID, Harness, registration_body
from test_console_pages import BASE, sign_in
from test_email_defects import Page, glued
from test_registration_policies_e2e import S1, calendars, counts, mail, publish
from webinar_notify.core.errors import PayloadError
from webinar_notify.core.kinds import ConfirmationPayload
from webinar_notify.core.policies import Policy, SeatCounts
from webinar_notify.core.series_document import series_to_document
from webinar_notify.local import aws_calls

SERIES = f"/organiser/series/{SERIES_ID}"


def message(harness: Harness, entry: dict[str, object]) -> EmailMessage:
    return email.message_from_bytes((harness.outbox_dir / str(entry["file"])).read_bytes(),
                                    policy=email.policy.default)


def text(harness: Harness, entry: dict[str, object]) -> str:
    return str(message(harness, entry).get_body(("plain",)).get_content())  # type: ignore[union-attr]


def methods(harness: Harness, entry: dict[str, object]) -> list[str]:
    """The METHOD of every calendar object the email carries (inline or attached)."""
    found = []
    for part in message(harness, entry).walk():
        if part.get_content_type() == "text/calendar":
            found += [line.removeprefix("METHOD:") for line in
                      str(part.get_content()).splitlines() if line.startswith("METHOD:")]
    return found


def add_session(harness: Harness, key: str) -> dict[str, Any]:
    """The organiser pushes the series file with a ninth session, s9 (not quiet)."""
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None
    doc = series_to_document(stored)
    last = {k: v for k, v in doc["sessions"][-1].items() if k != "capacity"}
    doc["sessions"].append({**last, "id": "s9", "title": "Bonus: Questions",
                            "start": "2024-06-13T15:00+02:00", "sequence": 0})
    answer = harness.runtime.organiser(f"{SERIES}/push", {"series": doc}, key)
    assert answer.status == 200, answer.body
    return dict(answer.body)


def test_a_session_added_to_a_capacity_series_seats_whole_series_registrants_in_order(
        harness: Harness) -> None:
    roomy = {f"s{i}": 100 for i in range(1, 9)}  # the sessions there are: room for all
    publish(harness, Policy(capacity=2, session_capacity=roomy))  # a new one: 2 seats
    people = harness.register_many(3)  # for the whole series
    assert counts(harness, "s1") == SeatCounts(confirmed=3)
    harness.register(email="s1-only@example.org", event_id="s1o", sessions=["s1"])
    before = len(mail(harness))

    add_session(harness, "push-s9")
    news = mail(harness)[before:]
    assert counts(harness, "s9") == SeatCounts(confirmed=2, waitlisted=1)
    offered = {str(e["to"]): e for e in news if e["kind"] == "update"}
    waiting = [e for e in news if e["kind"] == "waitlisted"]
    assert len(offered) == 2 and len(waiting) == 1
    assert set(offered) | {str(waiting[0]["to"])} == set(people)
    assert all(calendars(harness, e) == ["s9"] for e in offered.values())
    assert calendars(harness, waiting[0]) == [] and waiting[0]["sessions"] == ["s9"]
    assert "Place 1 on the waitlist" in text(harness, waiting[0])
    assert not [e for e in news if e["to"] == "s1-only@example.org"]

    # a seated person drops s9: the one waiting is promoted, with its invitation
    form = {"content-type": "application/x-www-form-urlencoded"}
    dropped = harness.runtime.request("POST", harness.manage_path(sorted(offered)[0]), form,
                                      b"action=drop&session=s9")
    assert dropped.status == 200
    promoted = [e for e in mail(harness, "confirmation") if e["to"] == waiting[0]["to"]
                and "s9" in calendars(harness, e)]
    assert len(promoted) == 1
    assert counts(harness, "s9") == SeatCounts(confirmed=2, waitlisted=0)


def test_a_session_added_under_manual_approval_marks_the_pending_and_seats_the_approved(
        harness: Harness) -> None:
    publish(harness, Policy(approval="manual", auto_approve_domains=frozenset({"estro.org"})))
    harness.register(email="ada@estro.org", event_id="a")
    harness.register(email="bob@example.org", event_id="b")
    before = len(mail(harness))

    add_session(harness, "push-s9")
    news = mail(harness)[before:]
    assert counts(harness, "s9") == SeatCounts(confirmed=1, pending=1)
    assert [(e["to"], e["kind"]) for e in news] == [("ada@estro.org", "update")]

    bob = harness.registration("bob@example.org").registrant_id
    answer = harness.runtime.organiser(f"{SERIES}/approvals",
                                       {"decision": "approve", "registrants": [bob]}, "k-1")
    assert answer.status == 200
    [confirmed] = [e for e in mail(harness, "confirmation") if e["to"] == "bob@example.org"]
    assert "s9" in calendars(harness, confirmed)
    assert counts(harness, "s9") == SeatCounts(confirmed=2)


def test_a_reminder_lists_ahead_only_the_sessions_the_person_holds_a_seat_for(
        harness: Harness) -> None:
    publish(harness, Policy(session_capacity={"s2": 0, "s3": 1}))
    harness.register(email="first@example.org", event_id="f", sessions=["s3"])
    harness.register(email="ada@example.org", event_id="a", sessions=["s1", "s2", "s3", "s4"])
    harness.clock.set(S1 - timedelta(days=1))
    harness.runtime.tick()
    [reminder] = mail(harness, "reminder")
    body = text(harness, reminder)
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None
    titles = {s.id: s.title for s in stored.sessions}
    assert titles["s4"] in body
    assert titles["s2"] not in body and titles["s3"] not in body  # waiting for both


def test_cancelling_a_session_sends_no_calendar_cancel_to_those_only_waiting_for_it(
        harness: Harness) -> None:
    publish(harness, Policy(session_capacity={"s2": 1}))
    harness.register(email="seated@example.org", event_id="s", sessions=["s2"])
    harness.register(email="waiting@example.org", event_id="w", sessions=["s2"])
    before = len(mail(harness))

    answer = harness.runtime.organiser(f"{SERIES}/sessions/s2/cancel", {}, "cancel-s2")
    assert answer.status == 200, answer.body
    news = mail(harness)[before:]
    assert Counter((str(e["to"]), str(e["kind"])) for e in news) == Counter(
        {("seated@example.org", "cancellation"): 1})
    [cancelled] = news
    assert methods(harness, cancelled) == ["CANCEL"]


def test_an_organisers_cancel_of_a_registrant_cancels_in_calendars_only_what_was_seated(
        harness: Harness) -> None:
    publish(harness, Policy(session_capacity={"s1": 1, "s2": 1}))
    harness.register(email="first@example.org", event_id="f", sessions=["s2"])
    harness.register(email="ada@example.org", event_id="a", sessions=["s1", "s2"])
    harness.register(email="bob@example.org", event_id="b", sessions=["s1"])  # waits for s1
    before = len(mail(harness))

    editor = sign_in(harness)
    for address in ("bob@example.org", "ada@example.org"):
        path = f"{BASE}/registrants/{harness.registration(address).registrant_id}"
        asked = editor.post(path, editor.form(editor.get(path).text, action="cancel"))
        done = editor.post(path, editor.form(asked.text, action="cancel_confirmed"))
        assert done.status == 200 and "Registration cancelled." in done.text
    news = mail(harness)[before:]
    [cancelled] = [e for e in news if e["kind"] == "cancellation"]
    assert cancelled["to"] == "ada@example.org" and cancelled["sessions"] == ["s1"]
    assert methods(harness, cancelled) == ["CANCEL"]
    assert not [e for e in news if e["to"] == "bob@example.org"]  # only waited: nothing
    assert counts(harness, "s1") == SeatCounts()
    assert counts(harness, "s2") == SeatCounts(confirmed=1)


def test_a_promotion_says_a_seat_opened_up_and_an_ordinary_confirmation_does_not(
        harness: Harness) -> None:
    publish(harness, Policy(session_capacity={"s1": 1}))
    harness.register(email="ada@example.org", event_id="a", sessions=["s1"])
    harness.register(email="bob@example.org", event_id="b", sessions=["s1"])
    harness.post(registration_body("ada@example.org", "", "a-cancel",
                                   created=harness.clock.now(),
                                   event_type="registration.cancelled"))
    confirmations = {str(e["to"]): e for e in mail(harness, "confirmation")}
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None
    title = stored.sessions[0].title

    promoted = confirmations["bob@example.org"]
    assert calendars(harness, promoted) == ["s1"]
    assert str(message(harness, promoted)["Subject"]).startswith(
        f"A seat opened up: {title}")
    assert f"A seat opened up: you are now registered for {title}." in " ".join(
        text(harness, promoted).split())
    assert "Thank you for registering" not in text(harness, promoted)
    html = message(harness, promoted).get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f"A seat opened up: you are now registered for {escape(title)}." in html
    assert glued(text(harness, promoted)) == [] and glued("".join(Page(html).flow)) == []

    ordinary = confirmations["ada@example.org"]
    assert "A seat opened up" not in text(harness, ordinary)
    assert "Thank you for registering. You are registered for this session." in text(
        harness, ordinary)


def test_the_promoted_flag_travels_with_the_confirmation_job() -> None:
    payload = ConfirmationPayload(promoted=True)
    assert payload.to_doc() == {"promoted": True}
    assert ConfirmationPayload.from_doc(payload.to_doc()) == payload
    assert ConfirmationPayload.from_doc({}).promoted is False
    assert ConfirmationPayload().to_doc() == {}  # an ordinary confirmation's job unchanged
    with pytest.raises(PayloadError, match="promoted is not true or false"):
        ConfirmationPayload.from_doc({"promoted": "yes"})


def test_the_manage_page_and_the_feed_read_the_standings_together(harness: Harness) -> None:
    publish(harness, Policy(capacity=1))
    harness.register(email="first@example.org", event_id="f", sessions=["s2", "s4"])
    harness.register(email="ada@example.org", event_id="a")  # whole series: waits in s2, s4
    manage = harness.manage_path("ada@example.org")
    feed = harness.link(r"http://localhost:8000(/calendar/\S+\.ics)", to="ada@example.org")
    calls: list[tuple[str, str]] = []

    def seen(service: str, operation: str, params: Any) -> None:
        if service == "dynamodb":
            keys = [params.get("Key", {})] + [k for request in params.get(
                "RequestItems", {}).values() for k in request.get("Keys", [])]
            if any(str(k.get("sk", {}).get("S", "")).startswith("SEATS#") for k in keys):
                calls.append((operation, "SEATS"))
    stop = aws_calls.watch(seen)
    try:
        page = harness.runtime.request("GET", manage, {}, b"")
        listed = harness.runtime.request("GET", feed, {}, b"")
    finally:
        stop()
    assert page.status == 200 and listed.status == 200
    assert page.text.count("you are on its waitlist, place 1.") == 2  # s2 and s4
    uids = {line.removeprefix("UID:").split(".")[0] for line in listed.text.splitlines()
            if line.startswith("UID:")}
    assert uids == {"s1", "s3", "s5", "s6", "s7", "s8"}  # not s2, s4: waiting
    # one read of the standings each (not one per session)
    assert calls == [("BatchGetItem", "SEATS"), ("BatchGetItem", "SEATS")]


def test_a_quiet_push_adding_a_session_under_a_policy_is_refused_and_changes_nothing(
        harness: Harness) -> None:
    publish(harness, Policy(capacity=2))
    harness.register_many(1)
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None
    doc = series_to_document(stored)
    doc["sessions"].append({**doc["sessions"][-1], "id": "s9", "sequence": 0,
                            "start": "2024-06-13T15:00+02:00"})
    for key, body in (("q-dry", {"dry_run": True}), ("q-1", {})):
        answer = harness.runtime.organiser(f"{SERIES}/push",
                                           {"series": doc, "quiet": True, **body}, key)
        assert answer.status == 400
        assert answer.body["error"].startswith("quiet: session 's9' is new")
    after = harness.runtime.store.get_series(SERIES_ID)
    assert after is not None and after.revision == stored.revision
    assert after.session("s9") is None
