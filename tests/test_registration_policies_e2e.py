"""Registration policies through the real handlers on moto: seats, the waitlist that promotes
itself, and approval by an organiser (docs/registration_policies.md)."""

from __future__ import annotations

import email
import email.policy
import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from conftest import SERIES_FILE, SERIES_ID, Harness, registration_body
from webinar_notify.core.errors import RetryableError
from webinar_notify.core.policies import Policy, SeatCounts
from webinar_notify.series_files import load_series_file

S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)  # s1 starts: 15:00 CEST


def publish(harness: Harness, policy: Policy) -> None:
    series = load_series_file(SERIES_FILE)
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None
    harness.runtime.store.put_series(replace(series, policy=policy, revision=stored.revision + 1),
                                     stored.revision)


def calendars(harness: Harness, entry: dict[str, object]) -> list[str]:
    """The sessions whose calendar invitation (text/calendar REQUEST) the email carries."""
    message = email.message_from_bytes((harness.outbox_dir / str(entry["file"])).read_bytes(),
                                       policy=email.policy.default)
    found = []
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            text = part.get_content()
            assert "METHOD:REQUEST" in text
            uid = next(line for line in text.splitlines() if line.startswith("UID:"))
            found.append(uid.removeprefix("UID:").split(".")[0])
    return sorted(set(found))


def mail(harness: Harness, kind: str | None = None) -> list[dict[str, object]]:
    harness.runtime.drain()
    return [e for e in harness.outbox.entries() if kind in (None, e["kind"])]


def concurrently(*calls: object) -> list[object]:
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int, call: object) -> None:
        barrier.wait()
        results[i] = call()  # type: ignore[operator]

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def counts(harness: Harness, session_id: str = "s1") -> SeatCounts:
    return harness.runtime.store.seats.counts(SERIES_ID, [session_id])[session_id]


def test_five_concurrent_registrations_for_three_seats_then_a_cancellation_delivered_twice(
        harness: Harness, atomic_moto: None) -> None:
    publish(harness, Policy(session_capacity={"s1": 3}))
    people = [f"p{i}@example.org" for i in range(5)]
    answers = concurrently(*(
        (lambda a=a, i=i: harness.register(email=a, name=f"P{i}", event_id=f"evt-{i}",
                                           sessions=["s1"]))
        for i, a in enumerate(people)))
    assert [a.status for a in answers] == [202] * 5  # type: ignore[attr-defined]

    confirmed = {str(e["to"]): e for e in mail(harness, "confirmation")}
    waitlisted = {str(e["to"]): e for e in mail(harness, "waitlisted")}
    assert len(confirmed) == 3 and len(waitlisted) == 2
    assert set(confirmed) | set(waitlisted) == set(people)
    assert all(calendars(harness, e) == ["s1"] for e in confirmed.values())
    assert all(calendars(harness, e) == [] for e in waitlisted.values())
    assert counts(harness) == SeatCounts(confirmed=3, waitlisted=2)
    line = [entry.registrant_id for entry in
            harness.runtime.store.seats.waitlist(SERIES_ID, "s1", None, 10)[0]]
    first_waiting = next(a for a in people if harness.registration(a).registrant_id == line[0])
    assert "Place 1 on the waitlist" in _text(harness, waitlisted[first_waiting])

    leaving = sorted(confirmed)[0]
    cancel = registration_body(leaving, "", "evt-cancel", created=harness.clock.now(),
                               event_type="registration.cancelled")
    again = registration_body(leaving, "", "evt-cancel-resent", created=harness.clock.now(),
                              event_type="registration.cancelled")
    statuses = concurrently(lambda: harness.post(cancel), lambda: harness.post(again))
    assert sorted(s.status for s in statuses) in ([200, 202], [202, 202])  # type: ignore[attr-defined]
    assert harness.post(cancel).status == 200  # the same delivery a third time: a duplicate

    promoted = [e for e in mail(harness, "confirmation") if str(e["to"]) not in confirmed]
    assert [str(e["to"]) for e in promoted] == [first_waiting]
    assert calendars(harness, promoted[0]) == ["s1"]
    assert counts(harness) == SeatCounts(confirmed=3, waitlisted=1)

    harness.clock.set(S1 - timedelta(days=1))
    harness.runtime.tick()
    reminded = Counter(str(e["to"]) for e in mail(harness, "reminder"))
    assert reminded == Counter({a: 1 for a in (set(confirmed) - {leaving}) | {first_waiting}})


def _text(harness: Harness, entry: dict[str, object]) -> str:
    message = email.message_from_bytes((harness.outbox_dir / str(entry["file"])).read_bytes(),
                                       policy=email.policy.default)
    return str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def decide(harness: Harness, key: str, **body: object) -> dict[str, object]:
    answer = harness.runtime.organiser(f"/organiser/series/{SERIES_ID}/approvals", body, key)
    assert answer.status in (200, 202), answer.body
    return dict(answer.body)


def test_manual_approval_no_invitation_nor_reminder_until_approved_and_a_decline_ends_it(
        harness: Harness) -> None:
    publish(harness, Policy(approval="manual", auto_approve_domains=frozenset({"estro.org"})))
    for i, address in enumerate(("ada@example.org", "bob@example.org", "eve@mail.estro.org")):
        assert harness.register(email=address, name=f"P{i}", event_id=f"evt-{i}",
                                sessions=["s1", "s2"]).status == 202

    pending = mail(harness, "pending")
    assert sorted(str(e["to"]) for e in pending) == ["ada@example.org", "bob@example.org"]
    assert all(calendars(harness, e) == [] for e in pending)
    assert [str(e["to"]) for e in mail(harness, "confirmation")] == ["eve@mail.estro.org"]
    assert harness.runtime.store.counts(SERIES_ID).awaiting_approval == 2
    waiting, _cursor = harness.runtime.store.pending_page(SERIES_ID, None, 10)
    assert sorted(r.registrant.email for r in waiting) == ["ada@example.org", "bob@example.org"]

    harness.clock.set(S1 - timedelta(days=7))
    harness.runtime.tick()
    assert [str(e["to"]) for e in mail(harness, "reminder")] == ["eve@mail.estro.org"]

    ada = harness.registration("ada@example.org").registrant_id
    bob = harness.registration("bob@example.org").registrant_id
    assert decide(harness, "k-1", decision="approve", registrants=[ada])["changed"] == [ada]
    [confirmed] = [e for e in mail(harness, "confirmation") if e["to"] == "ada@example.org"]
    assert calendars(harness, confirmed) == ["s1", "s2"]

    reason = "The course is for members.\nPlease join first."
    assert decide(harness, "k-2", decision="decline", emails=["bob@example.org"],
                  reason=reason)["changed"] == [bob]
    [declined] = mail(harness, "declined")
    assert declined["to"] == "bob@example.org" and calendars(harness, declined) == []
    assert "The course is for members.\nPlease join first." in _text(harness, declined)

    again = harness.runtime.organiser(f"/organiser/series/{SERIES_ID}/approvals",
                                      {"decision": "approve", "registrants": [bob]}, "k-3")
    assert again.status == 409 and "declined" in again.body["error"]
    both = decide(harness, "k-4", decision="decline", registrants=[ada, bob])
    assert both["changed"] == [] and set(both["refused"]) == {ada}  # bob: declined already

    harness.clock.set(S1 - timedelta(days=1))
    harness.runtime.tick()
    reminded = Counter(str(e["to"]) for e in mail(harness, "reminder"))
    assert reminded == Counter({"eve@mail.estro.org": 2, "ada@example.org": 1})
    assert not [e for e in mail(harness) if e["to"] == "bob@example.org"
                and e["kind"] not in ("pending", "declined")]
    assert harness.runtime.store.counts(SERIES_ID).awaiting_approval == 0
    assert harness.runtime.store.pending_page(SERIES_ID, None, 10) == ([], None)


def test_a_webhook_retried_after_a_crash_before_it_was_marked_seen_seats_once(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    publish(harness, Policy(session_capacity={"s1": 1}))
    assert harness.register(email="first@example.org", event_id="evt-a",
                            sessions=["s1"]).status == 202
    store = harness.runtime.store
    marking = store.mark_event

    def crash(*args: object) -> None:
        monkeypatch.setattr(store, "mark_event", marking)
        raise RetryableError("the runtime went down")
    monkeypatch.setattr(store, "mark_event", crash)
    body = registration_body("second@example.org", "S", "evt-b", created=harness.clock.now(),
                             sessions=["s1"])
    assert harness.post(body).status >= 500  # seated (waitlisted), queued, not marked seen
    assert harness.post(body).status == 202  # the provider's retry runs every step again
    assert harness.post(body).status == 200  # now a duplicate

    assert counts(harness) == SeatCounts(confirmed=1, waitlisted=1)
    assert [e["to"] for e in mail(harness, "waitlisted")] == ["second@example.org"]
    assert [e["to"] for e in mail(harness, "confirmation")] == ["first@example.org"]


def test_the_calendar_feed_lists_only_the_sessions_the_person_holds_a_seat_for(
        harness: Harness) -> None:
    publish(harness, Policy(session_capacity={"s2": 0}))  # s2: waitlist only
    harness.register(email="ada@example.org", sessions=["s1", "s2"])
    path = harness.link(r"http://localhost:8000(/calendar/\S+\.ics)", kind="confirmation")
    feed = harness.runtime.request("GET", path, {}, b"")
    assert feed.status == 200
    uids = [line for line in feed.text.splitlines() if line.startswith("UID:")]
    assert [u.removeprefix("UID:").split(".")[0] for u in uids] == ["s1"]  # no s2, no link

    # the limit lifted: seats for everyone waiting
    harness.runtime.store.seats.promote(SERIES_ID, "s2", None, harness.clock.now())
    later = harness.runtime.request("GET", path, {"if-none-match": feed.headers["ETag"]}, b"")
    assert later.status == 200  # the seat changed what the feed lists, so its tag too
    assert "UID:s2." in later.text
