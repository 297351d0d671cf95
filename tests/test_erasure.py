"""Erasure that stays erased: after "delete my data" no replay and no older event brings the
person back or mails them; only a registration made after the erasure does."""

from __future__ import annotations

from datetime import timedelta

import boto3

from conftest import SERIES_ID, WEBHOOK, Harness, registration_body
from webinar_notify.core.signatures import sign

ADDRESS = "erase.me@example.org"


def _table_text(harness: Harness) -> str:
    """Every item of the table, as text (a test may scan; the code never does)."""
    client = boto3.client("dynamodb", region_name="eu-west-1")
    return str(client.scan(TableName=harness.runtime.resources.table)["Items"])


def _mails_to(harness: Harness) -> list[str]:
    harness.runtime.drain()
    return [str(e["kind"]) for e in harness.outbox.entries() if e["to"] == ADDRESS]


def test_a_replay_or_an_older_event_cannot_bring_an_erased_person_back(
        harness: Harness) -> None:
    body = registration_body(ADDRESS, "Erase Me", "evt-first", created=harness.clock.now(),
                             sessions=["s1", "s2"])
    signed = {"Content-Type": "application/json",
              "Webinar-Signature": sign("test-webhook-secret",
                                        int(harness.clock.now().timestamp()), body)}
    assert harness.runtime.request("POST", WEBHOOK, signed, body).status == 202
    assert _mails_to(harness) == ["confirmation"]
    harness.clock.advance(timedelta(minutes=2))
    harness.erase(ADDRESS)
    assert harness.registration(ADDRESS) is None
    dump = _table_text(harness)
    assert "erase.me" not in dump.lower() and "Erase Me" not in dump
    assert "ERASED#" in dump  # the tombstone: a registrant id and a time, no address

    # (a) the very same signed body again, as the form would retry it
    again = harness.runtime.request("POST", WEBHOOK, signed, body)
    assert (again.status, again.body["status"]) == (200, "duplicate")
    assert harness.items("REG#") == []
    # ... and once its event-dedup key has expired (DynamoDB's TTL), re-signed
    client = boto3.client("dynamodb", region_name="eu-west-1")
    for item in harness.items("EVENT#"):
        client.delete_item(TableName=harness.runtime.resources.table,
                           Key={"pk": item["pk"], "sk": item["sk"]})
    replay = harness.post(body)
    assert (replay.status, replay.body["status"]) == (200, "ignored")

    # (b) an older event under another id: a registration and a cancellation
    for event_id, event_type in (("evt-older", "registration.created"),
                                 ("evt-older-cancel", "registration.cancelled")):
        older = registration_body(ADDRESS, "Erase Me", event_id, event_type=event_type,
                                  created=harness.clock.now() - timedelta(minutes=1))
        answer = harness.post(older)
        assert (answer.status, answer.body["status"]) == (200, "ignored"), event_id

    # (b') a cancellation made after the erasure (a refund at the form): nothing to cancel, and
    # storing it would store the address again
    harness.clock.advance(timedelta(seconds=1))
    late_cancel = harness.post(registration_body(
        ADDRESS, "Erase Me", "evt-late-cancel", event_type="registration.cancelled",
        created=harness.clock.now()))
    assert (late_cancel.status, late_cancel.body["status"]) == (200, "ignored")

    assert harness.registration(ADDRESS) is None and harness.items("REG#") == []
    assert "erase.me" not in _table_text(harness).lower()
    assert _mails_to(harness) == ["confirmation"]  # nothing sent since the erasure

    # (c) a registration made after the erasure is a person choosing to come back
    harness.clock.advance(timedelta(seconds=1))
    newer = harness.post(registration_body(ADDRESS, "Erase Me", "evt-newer",
                                           created=harness.clock.now(), sessions=["s3"]))
    assert (newer.status, newer.body["status"]) == (202, "registered")
    stored = harness.registration(ADDRESS)
    assert stored is not None and stored.session_ids == frozenset({"s3"})
    assert _mails_to(harness) == ["confirmation", "confirmation"]


def test_the_erasure_moment_is_after_everything_applied_even_with_a_fast_clock(
        harness: Harness) -> None:
    """A provider whose clock runs ahead stamps events after our 'now': the tombstone takes
    the later of the two, so a late retry of that event is still older than the erasure."""
    ahead = harness.clock.now() + timedelta(minutes=3)
    body = registration_body(ADDRESS, "Erase Me", "evt-ahead", created=ahead)
    assert harness.post(body).status == 202
    harness.erase(ADDRESS)
    retry = harness.post(registration_body(ADDRESS, "Erase Me", "evt-ahead-retry",
                                           created=ahead))
    assert (retry.status, retry.body["status"]) == (200, "ignored")
    assert harness.registration(ADDRESS) is None
    assert _mails_to(harness) == ["confirmation"]


def test_erasing_one_series_leaves_other_people_alone(harness: Harness) -> None:
    harness.post(registration_body(ADDRESS, "Erase Me", "evt-e", created=harness.clock.now()))
    harness.register(email="keep@example.org", name="Keep", event_id="evt-k")
    harness.erase(ADDRESS)
    late = harness.register(email="keep@example.org", name="Keep", event_id="evt-k2",
                            sessions=["s2"])
    assert late.status == 202
    assert harness.registration("keep@example.org") is not None


def test_a_reminder_queued_before_an_erasure_is_withdrawn(harness: Harness) -> None:
    """Minutes (or, deferred, hours) pass between queueing and sending: a reminder already on
    the queue when the person erases their data is not sent; the others' are."""
    harness.register(email=ADDRESS, name="Erase Me", event_id="evt-q", sessions=["s1"])
    harness.register(email="stays@example.org", name="Stays", event_id="evt-s", sessions=["s1"])
    manage = harness.manage_path(ADDRESS)  # from the confirmation
    series = harness.runtime.store.get_series(SERIES_ID)
    assert series is not None
    harness.clock.set(series.sessions[0].start - timedelta(days=7))
    harness.runtime.tick()  # the 7-day reminders are queued, not yet sent
    assert harness.queued() == 2
    harness.erase(ADDRESS, manage)

    harness.runtime.drain()

    reminded = [str(e["to"]) for e in harness.outbox.entries() if e["kind"] == "reminder"]
    assert reminded == ["stays@example.org"]
    assert ADDRESS not in _table_text(harness).lower()  # and claiming it wrote no ledger item
