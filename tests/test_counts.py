"""Counts kept with the writes: exact after every kind of change, repairable, and read at a
cost that does not grow with the series."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import SERIES_FILE, SERIES_ID, Harness, registration_body, send_through
from webinar_notify import cli
from webinar_notify.adapters.dynamo import StaleWriteError
from webinar_notify.adapters.ledger import DynamoLedger
from webinar_notify.adapters.mailer import delivery_tag
from webinar_notify.adapters.read_model import encode_cursor
from webinar_notify.adapters.store import DynamoStore
from webinar_notify.core.counts import tally
from webinar_notify.core.errors import PayloadError
from webinar_notify.core.jobs import EmailJob, delivery_key
from webinar_notify.core.registration import Registrant, Registration
from webinar_notify.core.text import registrant_id
from webinar_notify.local import aws_calls
from webinar_notify.local.ses_events import ses_event
from webinar_notify.series_files import load_series_file
from webinar_notify.services.counts_repair import recount, repair_counts
from webinar_notify.services.feedback import Feedback

KEY = "local-development-only"


def _kept(harness: Harness) -> dict[str, Any]:
    """The kept counts, after checking them against a recount of every registration."""
    store = harness.runtime.store
    counts = store.counts(SERIES_ID)
    kept = {shard: {k: v for k, v in c.items() if v}
            for shard, c in store.registration_counters(SERIES_ID).items()}
    assert {s: c for s, c in kept.items() if c} == recount(store, SERIES_ID)
    return {"registered": counts.registered, "awaiting": counts.awaiting_opt_in,
            "cancelled": counts.cancelled, "whole": counts.whole_series,
            "sessions": dict(counts.per_session), "s1": counts.session_registered("s1")}


def _cancel(harness: Harness, address: str, event_id: str, **data: Any) -> None:
    body = registration_body(address, "", event_id, created=harness.clock.now(),
                             event_type="registration.cancelled", **data)
    assert harness.post(body).status == 202


def test_counts_follow_every_kind_of_registration_change(harness: Harness) -> None:
    harness.register("ada@example.com", "Ada", "e1")  # the whole series
    harness.register("grace@example.org", "Grace", "e2", sessions=["s1", "s2"])
    assert _kept(harness) == {"registered": 2, "awaiting": 0, "cancelled": 0, "whole": 1,
                              "sessions": {"s1": 1, "s2": 1}, "s1": 2}

    harness.clock.advance(timedelta(minutes=1))  # registers again, for other sessions
    harness.register("grace@example.org", "Grace", "e3", sessions=["s3"])
    assert _kept(harness)["sessions"] == {"s1": 1, "s2": 1, "s3": 1}

    harness.clock.advance(timedelta(minutes=1))  # drops one session, then cancels
    _cancel(harness, "grace@example.org", "e4", sessions=["s1"])
    assert _kept(harness)["sessions"] == {"s2": 1, "s3": 1}
    harness.clock.advance(timedelta(minutes=1))
    _cancel(harness, "grace@example.org", "e5")
    assert _kept(harness) == {"registered": 1, "awaiting": 0, "cancelled": 1, "whole": 1,
                              "sessions": {}, "s1": 1}

    harness.update_registration("ada@example.com", opted_in=False)
    assert _kept(harness)["awaiting"] == 1 and _kept(harness)["registered"] == 0
    harness.update_registration("ada@example.com", opted_in=True)
    assert _kept(harness)["registered"] == 1 and _kept(harness)["awaiting"] == 0

    harness.clock.advance(timedelta(minutes=1))  # comes back for one session only
    harness.register("grace@example.org", "Grace", "e6", sessions=["s1"])
    assert _kept(harness) == {"registered": 2, "awaiting": 0, "cancelled": 0, "whole": 1,
                              "sessions": {"s1": 1}, "s1": 2}

    store = harness.runtime.store
    store.erase_registration(harness.registration("ada@example.com"),
                             int(harness.clock.now().timestamp()))
    assert _kept(harness) == {"registered": 1, "awaiting": 0, "cancelled": 0, "whole": 0,
                              "sessions": {"s1": 1}, "s1": 1}
    assert harness.registration("ada@example.com") is None


def test_double_opt_in_counts_as_awaiting_until_confirmed(harness: Harness) -> None:
    harness.runtime.push_series(replace(load_series_file(SERIES_FILE), double_opt_in=True))
    harness.register()
    assert _kept(harness)["awaiting"] == 1 and _kept(harness)["registered"] == 0
    path = harness.link(r"http://localhost:8000(/optin/\S+)")
    assert harness.runtime.request("POST", path, {}, b"").status == 200
    assert _kept(harness)["awaiting"] == 0 and _kept(harness)["registered"] == 1


def test_of_two_concurrent_writers_one_loses_and_the_counts_stay_exact(
        harness: Harness) -> None:
    harness.register("ada@example.com", "Ada", "e1", sessions=["s1"])
    store = harness.runtime.store
    first = harness.registration("ada@example.com")
    second = harness.registration("ada@example.com")
    store.put_registration(replace(first, session_ids=frozenset({"s1", "s2"})),
                           harness.clock.now())
    with pytest.raises(StaleWriteError):
        store.put_registration(replace(second, status="cancelled"), harness.clock.now())
    assert _kept(harness) == {"registered": 1, "awaiting": 0, "cancelled": 0, "whole": 0,
                              "sessions": {"s1": 1, "s2": 1}, "s1": 1}
    # an erasure from a stale read erases the newer version, and counts it out
    store.erase_registration(second, int(harness.clock.now().timestamp()))
    assert _kept(harness)["registered"] == 0 and _kept(harness)["sessions"] == {}


def test_repair_finds_and_fixes_a_broken_counter_and_leaves_the_rest(
        harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    harness.register("ada@example.com", "Ada", "e1")
    harness.register("grace@example.org", "Grace", "e2", sessions=["s2"])
    harness.runtime.drain()  # their confirmations, counted as sent
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    table = harness.runtime.resources.table
    store = harness.runtime.store
    shard_zero = store.registration_counters(SERIES_ID)[0].get("registered", 0)
    dynamodb.update_item(TableName=table, Key={"pk": {"S": f"COUNTS#{SERIES_ID}#0"},
                                               "sk": {"S": "MAIL"}},
                         UpdateExpression="ADD #sent :five",
                         ExpressionAttributeNames={"#sent": "confirmation|s2|sent"},
                         ExpressionAttributeValues={":five": {"N": "5"}})
    shard_key = {"pk": {"S": f"COUNTS#{SERIES_ID}#0"}, "sk": {"S": "REGISTRATIONS"}}
    dynamodb.update_item(  # a broken counter, a counter of nothing, and something else
        TableName=table, Key=shard_key,
        UpdateExpression="SET registered = :wrong, #ghost = :three, note = :note",
        ExpressionAttributeNames={"#ghost": "session:s9"},
        ExpressionAttributeValues={":wrong": {"N": "99"}, ":three": {"N": "3"},
                                   ":note": {"S": "kept"}})
    broken = 2 - shard_zero + 99
    assert store.counts(SERIES_ID).registered == broken

    assert cli.main(["counts", "repair", SERIES_ID, "--table", table,
                     "--region", "eu-west-1"]) == 0
    out = capsys.readouterr().out
    assert f"registered: {broken} -> 2" in out and "session:s9: 3 -> 0" in out
    assert "mail confirmation|s2|sent: 6 -> 1" in out and "3 counter(s) repaired" in out
    counts = store.counts(SERIES_ID)
    assert (counts.registered, counts.session_registered("s2"), counts.per_session) == \
        (2, 2, {"s2": 1})
    assert (counts.mail_count("sent", "confirmation", "s2"), counts.mail_count("sent")) == \
        (1, 2)
    assert repair_counts(store, SERIES_ID) == {}  # nothing left to fix
    item = dynamodb.get_item(TableName=table, Key=shard_key)["Item"]
    assert item["note"] == {"S": "kept"}


def test_repair_without_a_table_says_what_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["counts", "repair", SERIES_ID])
    assert "--table" in capsys.readouterr().err


@contextmanager
def _requests() -> Iterator[list[str]]:
    calls: list[str] = []

    def record(service: str, operation: str, params: Mapping[str, Any]) -> None:
        calls.append(f"{service} {operation}")

    stop = aws_calls.watch(record)
    try:
        yield calls
    finally:
        stop()


def _stored(harness: Harness, count: int, start: int = 0) -> None:
    """Registrations written as intake writes them, without sending their confirmations."""
    store = harness.runtime.store
    for i in range(start, start + count):
        address = f"person{i}@example.org"
        store.put_registration(Registration(
            SERIES_ID, registrant_id(KEY, SERIES_ID, address),
            Registrant(address, f"Person {i}", "Europe/Brussels"),
            frozenset({f"s{1 + i % 8}"}) if i % 3 else frozenset(), whole_series=not i % 3),
            harness.clock.now())


def _page_costs(harness: Harness) -> list[list[str]]:
    store = harness.runtime.store
    costs = []
    for read in (lambda: store.counts(SERIES_ID),
                 lambda: store.registrations_matching(SERIES_ID, "", None, 50),
                 lambda: store.registrant_mail(SERIES_ID, "r" + "0" * 31),
                 lambda: store.suppressions(SERIES_ID, None, 50)):
        with _requests() as calls:
            read()
        costs.append(calls)
    return costs


def test_the_overview_and_a_page_cost_the_same_requests_at_20_and_at_160(
        harness: Harness) -> None:
    _stored(harness, 20)
    small = _page_costs(harness)
    _stored(harness, 140, start=20)  # three pages of 50 and more
    large = _page_costs(harness)
    assert small == large
    assert [len(c) for c in large] == [1, 1, 1, 1]  # one BatchGetItem; Query pages
    assert not any("Scan" in call for calls in large for call in calls)
    counts = harness.runtime.store.counts(SERIES_ID)
    assert counts.registered == 160 and counts.whole_series == 54
    assert sum(counts.session_registered(f"s{n}") for n in range(1, 9)) == 54 * 8 + 106


def test_pages_and_search_visit_everyone_once_and_refuse_a_forged_cursor(
        harness: Harness) -> None:
    _stored(harness, 120)
    store = harness.runtime.store
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = store.registrations_matching(SERIES_ID, "", cursor, 50)
        seen += [r.registrant_id for r in page]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 120

    found, _ = store.registrations_matching(SERIES_ID, "PERSON 7", None, 50)
    assert {r.registrant.full_name for r in found} >= {"Person 7", "Person 70", "Person 77"}
    assert all("person 7" in r.registrant.full_name.lower() for r in found)
    [direct], _ = store.registrations_matching(SERIES_ID, "Person119@Example.org", None, 1,
                                               registrant_key=KEY)
    assert direct.registrant.email == "person119@example.org"
    assert all(tally(r) for r in found)

    other = store.suppressions(SERIES_ID, None, 1)[1]
    for bad in ("not a cursor", "////", "eA", "", other or "x",
                _cursor_of("other-series", "REG#r1"), _cursor_of(SERIES_ID, "SERIES")):
        with _requests() as calls, pytest.raises(PayloadError):
            store.registrations_matching(SERIES_ID, "", bad or "=", 50)
        assert calls == []  # refused before anything was read


def _cursor_of(series_id: str, sort_key: str) -> str:
    return encode_cursor(series_id, sort_key)


class _Conflicting:
    """The moto client, except that the next ``times`` calls of ``operation`` for which
    ``when`` holds are refused as DynamoDB refuses a write that meets a transaction (nothing
    applied)."""

    def __init__(self, client: Any, operation: str, times: int,
                 when: Callable[[dict[str, Any]], bool] = lambda request: True) -> None:
        self.client, self.operation, self.left, self.when = client, operation, times, when
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if name != self.operation:
            return real

        def call(**request: Any) -> Any:
            if self.left and self.when(request):
                self.left -= 1
                self.refused += 1
                raise _conflict(name, request)
            return real(**request)
        return call


def _conflict(operation: str, request: dict[str, Any]) -> ClientError:
    if operation == "transact_write_items":  # cancelled: another transaction held an item
        reasons = [{"Code": "None"}] * (len(request["TransactItems"]) - 1)
        return ClientError({"Error": {"Code": "TransactionCanceledException",
                                      "Message": "Transaction cancelled"},
                            "CancellationReasons": [*reasons, {
                                "Code": "TransactionConflict",
                                "Message": "Transaction is ongoing for the item"}]},
                           operation)
    return ClientError({"Error": {"Code": "TransactionConflictException",
                                  "Message": "Transaction is ongoing for the item"}}, operation)


def _job(i: int) -> EmailJob:
    address = f"person{i}@example.org"
    return EmailJob(kind="reminder", series_id=SERIES_ID, series_revision=1,
                    registrant_id=registrant_id(KEY, SERIES_ID, address),
                    recipient=Registrant(address, "", "Europe/Brussels"), session_ids=("s1",),
                    key=delivery_key("reminder", SERIES_ID,
                                     registrant_id(KEY, SERIES_ID, address), "s1"))


def test_a_batch_counts_its_emails_sent_in_one_write_and_a_repair_leaves_them(
        harness: Harness) -> None:
    """A batch's "sent" counts go on one counter shard of its own, not on each email's: one
    write per series and batch. The sums over the shards are what a repair checks."""
    ledger = DynamoLedger(boto3.client("dynamodb", region_name="eu-west-1"),
                          harness.runtime.resources.table)
    tally = send_through(ledger, [_job(i) for i in range(12)], harness.clock.now())
    with _requests() as calls:
        ledger.count(tally)
    assert calls == ["dynamodb UpdateItem"]
    store = harness.runtime.store
    assert store.counts(SERIES_ID).mail_count("sent", "reminder", "s1") == 12
    with _requests() as calls:
        assert repair_counts(store, SERIES_ID) == {}
    assert "dynamodb UpdateItem" not in calls  # right as they are: nothing rewritten


@pytest.mark.parametrize("conflicts", [1, 2])
def test_a_sent_count_refused_by_a_feedback_transaction_is_added_again(
        harness: Harness, conflicts: int) -> None:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    table = harness.runtime.resources.table
    adds = _Conflicting(client, "update_item", conflicts,
                        lambda request: request["UpdateExpression"].startswith("ADD"))
    ledger = DynamoLedger(adds, table)  # type: ignore[arg-type]
    for i in range(3):  # each a batch of its own, counted at its end
        ledger.count(send_through(ledger, [_job(i)], harness.clock.now()))
    assert adds.refused == conflicts
    assert harness.runtime.store.counts(SERIES_ID).mail_count("sent", "reminder", "s1") == 3


def test_a_delivery_event_meeting_conflicts_is_recorded_once_or_reported_lost(
        harness: Harness) -> None:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    table = harness.runtime.resources.table
    ledger = DynamoLedger(client, table)
    ledger.count(send_through(ledger, [_job(0), _job(1)], harness.clock.now()))

    def state(request: dict[str, Any]) -> bool:  # the email's own item, not its counter
        return bool(request["UpdateExpression"].startswith("ADD events"))

    busy = _Conflicting(client, "update_item", 4, state)  # a transaction held the item
    update = DynamoStore(busy, table).record_delivery(  # type: ignore[arg-type]
        _job(0).key, "delivered", "t1", "")
    assert (update.outcome, busy.refused) == ("recorded", 4)
    store = harness.runtime.store
    assert store.counts(SERIES_ID).mail_count("delivered") == 1

    always = _Conflicting(client, "update_item", 1_000, state)
    feedback = Feedback(DynamoStore(always, table),  # type: ignore[arg-type]
                        harness.runtime.services.feedback.secrets, harness.clock)
    event = ses_event({"tags": {"kind": "reminder", "series": SERIES_ID,
                                "delivery": delivery_tag(_job(1).key)},
                       "to": "person1@example.org"},
                      "Delivery", at=harness.clock.now())
    assert feedback.handle(event) == {"deliveries": 1, "lost_events": 1}
    counts = store.counts(SERIES_ID)
    assert (counts.mail_count("delivered"), counts.mail_count("sent")) == (1, 2)
    assert [m.delivery for m in store.registrant_mail(SERIES_ID, _job(1).registrant_id)] == [""]


def test_a_registration_meeting_another_transaction_on_its_shard_is_written_once(
        harness: Harness) -> None:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    busy = _Conflicting(client, "transact_write_items", 2)
    store = DynamoStore(busy, harness.runtime.resources.table)  # type: ignore[arg-type]
    for i in range(3):
        store.put_registration(Registration(
            SERIES_ID, registrant_id(KEY, SERIES_ID, f"person{i}@example.org"),
            Registrant(f"person{i}@example.org", f"Person {i}", "Europe/Brussels"),
            frozenset({"s1"}), whole_series=False), harness.clock.now())
    assert busy.refused == 2
    assert _kept(harness)["sessions"] == {"s1": 3}
