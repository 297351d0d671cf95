"""SES events reach the feedback function through a queue, in batches: each email's state is
written once per state, the series' mail counters once per shard and batch, a bounce
suppresses at once, and one event that cannot be recorded comes back alone."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import SERIES_ID, Harness, send_through
from webinar_notify.adapters.ledger import DynamoLedger, ledger_key
from webinar_notify.adapters.mail_counts import MailTally
from webinar_notify.adapters.store import DynamoStore
from webinar_notify.core.counts import COUNT_SHARDS
from webinar_notify.core.text import registrant_id, suppression_id
from webinar_notify.local import aws_calls
from webinar_notify.local.infra import load_template
from webinar_notify.local.ses_events import ses_event
from webinar_notify.services.counts_repair import repair_counts

KEY = "local-development-only"
S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)
RESOURCES = load_template()["Resources"]


@contextmanager
def _writes() -> Iterator[list[tuple[str, str, Mapping[str, Any]]]]:
    """The DynamoDB writes made meanwhile: (function, operation, request)."""
    seen: list[tuple[str, str, Mapping[str, Any]]] = []

    def record(service: str, operation: str, params: Mapping[str, Any]) -> None:
        if service == "dynamodb" and operation in ("UpdateItem", "PutItem",
                                                    "TransactWriteItems"):
            seen.append((aws_calls.current_function.get(), operation, params))

    stop = aws_calls.watch(record)
    try:
        yield seen
    finally:
        stop()


def _counter_writes(writes: list[tuple[str, str, Mapping[str, Any]]], function: str) -> int:
    return sum(1 for who, _op, params in writes if who == function
               and params.get("Key", {}).get("sk", {}).get("S") == "MAIL")


def _reminded(harness: Harness, count: int) -> list[dict[str, Any]]:
    """``count`` registrants of s1, their confirmations and the 7-day reminders sent."""
    for i in range(count):
        harness.register(f"person{i}@example.org", f"Person {i}", f"e{i}", sessions=["s1"])
    harness.runtime.drain()
    harness.clock.set(S1 - timedelta(days=7))
    harness.runtime.tick()
    harness.runtime.drain()
    return harness.outbox.entries()


def test_a_batch_records_each_state_once_and_writes_each_counter_shard_once(
        harness: Harness) -> None:
    entries = _reminded(harness, 12)
    assert len(entries) == 24  # 12 confirmations, 12 reminders
    events = [ses_event(e, "Delivery", at=harness.clock.now()) for e in entries]
    events.append(events[0])  # SNS delivers at least once: the same event twice
    bounced = next(e for e in entries if e["kind"] == "reminder")
    events.append(ses_event(bounced, "Bounce", at=harness.clock.now()))
    with _writes() as writes:
        totals = harness.runtime.feedback(*events)
    assert totals == {"deliveries": 25, "duplicate_events": 1, "hard_bounces": 1}
    assert not [w for w in writes if w[1] == "TransactWriteItems"]
    assert _counter_writes(writes, "FeedbackFunction") <= COUNT_SHARDS  # not one per email
    store = harness.runtime.store
    counts = store.counts(SERIES_ID)
    assert (counts.mail_count("sent"), counts.mail_count("delivered"),
            counts.mail_count("bounced", kind="reminder", session="s1")) == (24, 24, 1)
    sid = suppression_id(KEY, str(bounced["to"]))
    assert store.suppressed([sid]) == {sid}  # the bounce suppresses within its batch
    assert repair_counts(store, SERIES_ID) == {}  # the counters agree with the ledger


def test_the_sender_counts_a_batch_once_per_shard(harness: Harness) -> None:
    for i in range(12):
        harness.register(f"person{i}@example.org", f"Person {i}", f"e{i}", sessions=["s1"])
    harness.clock.set(S1 - timedelta(days=7))
    with _writes() as writes:
        harness.runtime.drain()  # the twelve confirmations
        harness.runtime.tick()
        harness.runtime.drain()  # and twelve reminders
    assert len(harness.outbox.entries()) == 24
    counts = harness.runtime.store.counts(SERIES_ID)
    assert (counts.mail_count("sent", kind="confirmation"),
            counts.mail_count("sent", kind="reminder", session="s1")) == (12, 12)
    # Each batch writes the shards it touched once (the local queue hands the sender ten
    # messages at a time: four batches here), not one write per email.
    assert _counter_writes(writes, "SenderFunction") <= 4 * COUNT_SHARDS
    assert _counter_writes(writes, "SenderFunction") < 24


def test_an_event_that_cannot_be_recorded_comes_back_alone_and_counts_once(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = _reminded(harness, 3)
    store = harness.runtime.services.feedback.store
    real = store.record_delivery
    failing = {str(entries[1]["tags"]["delivery"])}
    from webinar_notify.adapters.mailer import delivery_key_of

    def flaky(delivery_key: str, *args: Any, **kwargs: Any) -> Any:
        for tag in list(failing):
            if delivery_key_of(tag) == delivery_key:
                failing.discard(tag)  # fails on the first receive only
                raise ClientError({"Error": {"Code": "InternalServerError",
                                             "Message": "try again"}}, "UpdateItem")
        return real(delivery_key, *args, **kwargs)

    monkeypatch.setattr(store, "record_delivery", flaky)
    totals = harness.runtime.feedback(*[ses_event(e, "Delivery", at=harness.clock.now())
                                        for e in entries])
    assert totals == {"deliveries": 6, "failed": 1}  # the failed one came back and was counted
    assert harness.runtime.store.counts(SERIES_ID).mail_count("delivered") == 6
    assert harness.runtime.feedback_queue.dead_letters() == 0


def test_an_unreadable_message_is_counted_not_retried(harness: Harness) -> None:
    entries = _reminded(harness, 1)
    harness.runtime.sqs.send_message(QueueUrl=harness.runtime.resources.feedback_queue_url,
                                     MessageBody="not json")
    totals = harness.runtime.feedback(ses_event(entries[0], "Delivery", at=harness.clock.now()))
    assert totals == {"deliveries": 1, "unreadable": 1}
    assert harness.runtime.feedback_queue.depth() == 0
    assert harness.runtime.feedback_queue.dead_letters() == 0


def test_an_event_wrapped_in_an_sns_envelope_is_read_too(harness: Harness) -> None:
    """Raw delivery is the template's; a subscription without it wraps each event."""
    [entry, *_] = _reminded(harness, 1)
    envelope = {"Type": "Notification", "MessageId": "n-1", "TopicArn": "arn:aws:sns:x",
                "Message": json.dumps(ses_event(entry, "Delivery", at=harness.clock.now()))}
    harness.runtime.sqs.send_message(QueueUrl=harness.runtime.resources.feedback_queue_url,
                                     MessageBody=json.dumps(envelope))
    assert harness.runtime.feedback() == {"deliveries": 1}


def test_counts_a_failed_counter_write_missed_are_reported_and_repaired(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = _reminded(harness, 2)
    store = harness.runtime.services.feedback.store

    def down(_tally: MailTally) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}},
                          "UpdateItem")

    monkeypatch.setattr(store, "add_mail_counts", down)
    totals = harness.runtime.feedback(*[ses_event(e, "Delivery", at=harness.clock.now())
                                        for e in entries])
    assert totals == {"deliveries": 4, "counts_missed": 4}  # states written, counts short
    monkeypatch.undo()
    real = harness.runtime.store
    assert real.counts(SERIES_ID).mail_count("delivered") == 0
    person = registrant_id(KEY, SERIES_ID, "person0@example.org")
    assert [m.delivery for m in real.registrant_mail(SERIES_ID, person)] == \
        ["delivered", "delivered"]  # each email's own state was written
    assert repair_counts(real, SERIES_ID) == {"mail confirmation|s1|delivered": (0, 2),
                                              "mail reminder|s1|delivered": (0, 2)}
    assert real.counts(SERIES_ID).mail_count("delivered") == 4


def test_two_events_of_one_email_racing_each_other_count_each_state_once(
        harness: Harness) -> None:
    """The conditional write refuses what the state read before it no longer holds."""
    entry = _reminded(harness, 1)[-1]
    from webinar_notify.adapters.mailer import delivery_key_of

    delivery_key = delivery_key_of(str(entry["tags"]["delivery"]))
    assert delivery_key is not None
    client = harness.runtime.store.client
    table = harness.runtime.resources.table
    first = DynamoStore(client, table)
    stale = dict(client.get_item(TableName=table, Key=ledger_key(delivery_key))["Item"])
    assert first.record_delivery(delivery_key, "complained", "t1", "abuse").outcome == "recorded"

    class StaleReads(DynamoStore):  # reads the item as it was before the complaint
        def _ledger_item(self, delivery_key: str) -> tuple[dict[str, Any], dict[str, Any]]:
            return ledger_key(delivery_key), stale

    late = StaleReads(client, table)
    assert late.record_delivery(delivery_key, "complained", "t2", "abuse").outcome == \
        "duplicate"
    assert late.record_delivery(delivery_key, "delivered", "t3", "").outcome == "recorded"
    counts = harness.runtime.store.counts(SERIES_ID)
    assert (counts.mail_count("complained"), counts.mail_count("delivered")) == (1, 1)
    person = registrant_id(KEY, SERIES_ID, "person0@example.org")
    [reminder] = [m for m in harness.runtime.store.registrant_mail(SERIES_ID, person)
                  if m.kind == "reminder"]
    assert reminder.delivery == "complained"  # a later "delivered" never hides it


def test_the_template_feeds_the_function_from_a_queue_in_small_windows() -> None:
    queue = RESOURCES["FeedbackQueue"]["Properties"]
    source = RESOURCES["FeedbackFunctionQueue"]["Properties"]
    function = RESOURCES["FeedbackFunction"]["Properties"]
    timeout = function.get("Timeout", load_template()["Globals"]["Function"]["Timeout"])
    window = source["MaximumBatchingWindowInSeconds"]
    assert source["BatchSize"] <= 10 or window >= 1  # Lambda's rule above 10
    assert window <= 5  # a bounce suppresses within seconds
    assert queue["VisibilityTimeout"] >= 6 * timeout + window
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 5
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == \
        {"GetAtt": "FeedbackDeadLetterQueue.Arn"}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    alarmed = [r["Properties"]["Dimensions"][0]["Value"] for r in RESOURCES.values()
               if r["Type"] == "AWS::CloudWatch::Alarm"
               and r["Properties"].get("Namespace") == "AWS/SQS"]
    assert {"GetAtt": "FeedbackDeadLetterQueue.QueueName"} in alarmed
    assert "Events" not in function  # no SNS invocation per event any more
    assert Counter(r["Type"] for r in RESOURCES.values())["AWS::SNS::Subscription"] >= 1


def test_a_batch_tally_counts_alike_in_memory_and_on_dynamodb(harness: Harness) -> None:
    """The stand-in the fault soaks use keeps DynamoDB's rules for batch counts too."""
    from webinar_notify.adapters.memory_store import MemoryStore
    from webinar_notify.core.jobs import EmailJob, delivery_key
    from webinar_notify.core.registration import Registrant

    memory = MemoryStore()
    dynamo = harness.runtime.store
    backends = [(memory, memory.ledger),
                (dynamo, DynamoLedger(dynamo.client, harness.runtime.resources.table))]
    jobs = [EmailJob(kind="reminder", series_id=SERIES_ID, series_revision=1,
                     registrant_id=f"r{i}", recipient=Registrant(f"p{i}@example.org", "",
                                                                 "Europe/Brussels"),
                     session_ids=("s1",), key=delivery_key("reminder", SERIES_ID, f"r{i}", "s1"))
            for i in range(6)]
    seen = []
    for store, ledger in backends:
        sent = send_through(ledger, jobs, S1)
        assert store.counts(SERIES_ID).mail_count("sent", "reminder", "s1") == 0  # not yet
        ledger.count(sent)
        events = MailTally()
        outcomes = [store.record_delivery(job.key, "delivered", "t1", "", events).outcome
                    for job in [*jobs, jobs[0]]]
        assert outcomes == ["recorded"] * 6 + ["duplicate"]
        store.add_mail_counts(events)
        counts = store.counts(SERIES_ID)
        seen.append((counts.mail_count("sent", "reminder", "s1"),
                     counts.mail_count("delivered", "reminder", "s1")))
    assert seen == [(6, 6), (6, 6)]


def test_a_sender_batch_whose_count_fails_is_sent_once_and_repaired(
        harness: Harness, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Sent is sent: a failed counter write leaves the counts short, never the email twice."""
    ledger = harness.runtime.services.sender.ledger

    def down(_tally: MailTally) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}},
                          "UpdateItem")

    monkeypatch.setattr(ledger, "count", down)
    for i in range(3):
        harness.register(f"person{i}@example.org", f"Person {i}", f"e{i}", sessions=["s1"])
    harness.runtime.drain()
    harness.runtime.drain()
    assert len(harness.outbox.entries()) == 3 and harness.queued() == 0
    assert '"MailCountsMissed":[3.0]' in capsys.readouterr().out  # the sender's metric, once
    store = harness.runtime.store
    assert store.counts(SERIES_ID).mail_count("sent") == 0
    assert repair_counts(store, SERIES_ID) == {"mail confirmation|s1|sent": (0, 3)}
    assert store.counts(SERIES_ID).mail_count("sent") == 3


def test_delivery_events_are_off_by_default_can_be_recorded_and_bounces_always_arrive(
        ) -> None:
    from webinar_notify.local.iam import Stack

    def events(**parameters: str) -> set[str]:
        resources = Stack(parameters=parameters).resources
        return set(resources["FeedbackEventDestination"]["Properties"]["EventDestination"]
                   ["MatchingEventTypes"])

    default, recorded = events(), events(DeliveryEvents="Recorded")
    assert recorded == {"delivery", "bounce", "complaint", "reject", "deliveryDelay"}
    assert default == recorded - {"delivery"}  # suppression and the states worth a look stay
