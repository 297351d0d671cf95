"""One contract, two stores: every test runs against DynamoStore on moto and against the
in-memory MemoryStore (and the DynamoDB schedule, audit and job stores against their
in-memory stand-ins), so figures measured on the one hold for the other."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from conftest import SERIES_FILE, SERIES_ID, send_through
from webinar_notify.adapters.audit import Audit, DynamoAudit
from webinar_notify.adapters.dynamo import StaleWriteError
from webinar_notify.adapters.job_store import DynamoJobStore, JobStore
from webinar_notify.adapters.ledger import DynamoLedger, Ledger, MemoryLedger
from webinar_notify.adapters.memory_store import (
    MemoryAudit,
    MemoryJobStore,
    MemoryScheduleStore,
    MemoryStore,
)
from webinar_notify.adapters.read_model import SuppressedElsewhereError, encode_cursor
from webinar_notify.adapters.schedule_store import DynamoScheduleStore, ScheduleStore
from webinar_notify.adapters.store import DynamoStore, Store
from webinar_notify.core.errors import PayloadError
from webinar_notify.core.jobs import ORGANISER_COPY, EmailJob, delivery_key
from webinar_notify.core.organiser_jobs import OrganiserJob
from webinar_notify.core.registration import Registrant, Registration
from webinar_notify.core.text import registrant_id, suppression_id
from webinar_notify.local import aws_limits
from webinar_notify.local.infra import REGION, create_table
from webinar_notify.series_files import load_series_file
from webinar_notify.services.counts_repair import recount, repair_counts

KEY = "local-development-only"
NOW = datetime(2023, 10, 2, 9, 0, tzinfo=UTC)


@dataclass
class Backend:
    store: Store
    ledger: Ledger
    schedule: ScheduleStore
    audit: Audit
    jobs: JobStore


_TABLES = itertools.count()


@pytest.fixture(scope="module")
def moto_dynamodb() -> Iterator[Any]:
    """moto's DynamoDB with AWS's limits, shared by the module: each test has its own table
    (a whole local runtime per test would cost a second each)."""
    from moto import mock_aws

    with mock_aws(), aws_limits.enforced():
        yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture(params=["dynamodb", "memory"])
def backend(request: pytest.FixtureRequest) -> Backend:
    series = load_series_file(SERIES_FILE)
    if request.param == "memory":
        memory = MemoryStore(MemoryLedger())
        memory.put_series(series, None)
        return Backend(memory, memory.ledger, MemoryScheduleStore(memory), MemoryAudit(),
                       MemoryJobStore())
    client = request.getfixturevalue("moto_dynamodb")
    table = _table_as_in_the_template(client)
    store = DynamoStore(client, table)
    store.put_series(series, None)
    return Backend(store, DynamoLedger(client, table), DynamoScheduleStore(client, table),
                   DynamoAudit(client, table), DynamoJobStore(client, table))


def _table_as_in_the_template(client: Any) -> str:
    return create_table(client, f"contract-{next(_TABLES)}")


def person(i: int, *, sessions: frozenset[str] = frozenset(), name: str = "",
           opted_in: bool = True) -> Registration:
    address = f"person{i}@example.org"
    return Registration(SERIES_ID, registrant_id(KEY, SERIES_ID, address),
                        Registrant(address, name or f"Person {i}", "Europe/Brussels"),
                        sessions, whole_series=not sessions, opted_in=opted_in)


def totals(store: Store) -> tuple[int, int, int, int, dict[str, int]]:
    c = store.counts(SERIES_ID)
    return (c.registered, c.awaiting_opt_in, c.cancelled, c.whole_series, dict(c.per_session))


def test_writes_return_the_next_version_and_move_the_counts(backend: Backend) -> None:
    store = backend.store
    ada = store.put_registration(person(1), NOW)
    grace = store.put_registration(person(2, sessions=frozenset({"s1", "s2"})), NOW)
    store.put_registration(person(3, opted_in=False), NOW)
    assert (ada.version, grace.version) == (1, 1)
    assert store.get_registration(SERIES_ID, ada.registrant_id) == ada
    assert totals(store) == (2, 1, 0, 1, {"s1": 1, "s2": 1})

    grace = store.put_registration(replace(grace, session_ids=frozenset({"s3"})), NOW)
    store.put_registration(replace(ada, status="cancelled"), NOW)
    assert grace.version == 2
    assert totals(store) == (1, 1, 1, 0, {"s3": 1})
    assert recount(store, SERIES_ID) == {s: {k: v for k, v in c.items() if v} for s, c in
                                         store.registration_counters(SERIES_ID).items()
                                         if any(c.values())}


def test_a_stale_write_changes_nothing(backend: Backend) -> None:
    store = backend.store
    first = store.put_registration(person(1), NOW)
    store.put_registration(replace(first, reminders_off=True), NOW)
    before = totals(store)
    for stale in (person(1), replace(first, status="cancelled"),
                  replace(first, version=7), replace(person(9), version=1)):
        with pytest.raises(StaleWriteError):
            store.put_registration(stale, NOW)
    assert totals(store) == before
    assert store.get_registration(SERIES_ID, first.registrant_id).reminders_off  # type: ignore[union-attr]
    assert store.get_registration(SERIES_ID, person(9).registrant_id) is None

    series = store.get_series(SERIES_ID)
    assert series is not None
    with pytest.raises(StaleWriteError):
        store.put_series(replace(series, revision=series.revision + 1), series.revision - 1)
    with pytest.raises(StaleWriteError):
        store.put_series(series, None)
    store.put_series(replace(series, revision=series.revision + 1), series.revision)
    assert store.get_series(SERIES_ID).revision == series.revision + 1  # type: ignore[union-attr]


def test_pages_visit_everyone_once_in_key_order_and_refuse_forged_cursors(
        backend: Backend) -> None:
    store = backend.store
    for i in range(23):
        store.put_registration(person(i), NOW)
    expected = sorted(person(i).registrant_id for i in range(23))

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = store.registrations_matching(SERIES_ID, "", cursor, 5)
        assert len(page) <= 5
        seen += [r.registrant_id for r in page]
        if cursor is None:
            break
    assert seen == expected

    raw: list[str] = []
    position = None
    while True:
        rows, position = store.registrations_page(SERIES_ID, position, 10)
        raw += [r.registrant_id for r in rows]
        if position is None:
            break
    assert raw == expected

    for bad in ("not a cursor", "////", "eA", encode_cursor("other-series", "REG#r1"),
                encode_cursor(SERIES_ID, "SERIES"), encode_cursor(SERIES_ID, "REG#a b")):
        with pytest.raises(PayloadError):
            store.registrations_matching(SERIES_ID, "", bad, 5)
    for limit in (0, 501):
        with pytest.raises(PayloadError):
            store.registrations_matching(SERIES_ID, "", None, limit)


def test_search_finds_names_and_addresses_and_leads_with_a_direct_hit(
        backend: Backend) -> None:
    store = backend.store
    for i in range(30):
        store.put_registration(person(i, name="Heidi Rønde" if i == 17 else ""), NOW)

    found, _ = store.registrations_matching(SERIES_ID, "  PERSON 2", None, 50)
    assert sorted(r.registrant.full_name for r in found) == sorted(
        ["Person 2", *(f"Person {n}" for n in range(20, 30))])
    found, _ = store.registrations_matching(SERIES_ID, "rønde", None, 50)
    assert [r.registrant.email for r in found] == ["person17@example.org"]
    found, _ = store.registrations_matching(SERIES_ID, "nobody", None, 50)
    assert found == []

    [direct, *rest], _ = store.registrations_matching(SERIES_ID, "Person3@Example.org", None, 5,
                                                      registrant_key=KEY)
    assert direct.registrant.email == "person3@example.org" and direct not in rest
    by_id, _ = store.registrations_matching(SERIES_ID, person(4).registrant_id, None, 5)
    assert [r.registrant.email for r in by_id] == ["person4@example.org"]

    pages: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = store.registrations_matching(SERIES_ID, "person", cursor, 7,
                                                    registrant_key=KEY)
        pages += [r.registrant_id for r in page]
        if cursor is None:
            break
    assert sorted(pages) == sorted(person(i).registrant_id for i in range(30))  # by address


def test_suppressions_are_global_listed_per_series_and_lifted_only_there(
        backend: Backend) -> None:
    store = backend.store
    ids = [suppression_id(KEY, f"gone{i}@example.org") for i in range(5)]
    for sid in ids:
        store.suppress(sid, "bounce", NOW, SERIES_ID)
    other = suppression_id(KEY, "elsewhere@example.org")
    store.suppress(other, "complaint", NOW, "another-series")
    assert store.suppressed([*ids, other, "0" * 32]) == {*ids, other}

    listed: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = store.suppressions(SERIES_ID, cursor, 2)
        listed += [s.suppression_id for s in page]
        assert all(s.reason == "bounce" and s.since == NOW.isoformat() for s in page)
        if cursor is None:
            break
    assert listed == sorted(ids)

    assert store.lift_suppression(SERIES_ID, other) is False  # another series' doing
    assert store.lift_suppression(SERIES_ID, ids[0]) is True
    assert store.lift_suppression(SERIES_ID, ids[0]) is False
    assert store.suppressed([ids[0], other]) == {other}
    with pytest.raises(PayloadError):
        store.lift_suppression(SERIES_ID, "not-an-id")


@pytest.mark.parametrize("reason", ["bounce", "complaint"])
def test_only_the_series_whose_mail_caused_a_suppression_may_lift_it(
        backend: Backend, reason: str) -> None:
    store = backend.store
    sid = suppression_id(KEY, "both@example.org")
    store.suppress(sid, reason, NOW, SERIES_ID)  # this series' mail first,
    store.suppress(sid, reason, NOW + timedelta(days=1), "another-series")  # then another's
    assert [s.suppression_id for s in store.suppressions(SERIES_ID, None, 50)[0]] == [sid]

    with pytest.raises(SuppressedElsewhereError, match="another series' mail"):
        store.lift_suppression(SERIES_ID, sid)
    assert store.suppressed([sid]) == {sid}  # nothing changed
    assert [s.suppression_id for s in store.suppressions(SERIES_ID, None, 50)[0]] == [sid]

    assert store.lift_suppression("another-series", sid) is True
    assert store.suppressed([sid]) == set()
    assert store.lift_suppression(SERIES_ID, sid) is True  # its own entry, left behind
    assert store.suppressions(SERIES_ID, None, 50)[0] == []
    store.suppress(sid, reason, NOW + timedelta(days=2), "")  # cause unknown: kept as it was
    assert store.lift_suppression(SERIES_ID, sid) is False


def test_a_suppression_stored_before_its_cause_was_recorded_is_lifted_by_its_series(
        moto_dynamodb: Any) -> None:
    table = _table_as_in_the_template(moto_dynamodb)
    store = DynamoStore(moto_dynamodb, table)
    sid = suppression_id(KEY, "older@example.org")
    for pk, sk in ((f"SUPPRESSED#{sid}", "SUPPRESSED"),
                   (f"SERIES#{SERIES_ID}", f"SUPPRESSED#{sid}")):
        moto_dynamodb.put_item(TableName=table, Item={
            "pk": {"S": pk}, "sk": {"S": sk}, "reason": {"S": "bounce"},
            "since": {"S": NOW.isoformat()}})
    assert store.lift_suppression(SERIES_ID, sid) is True
    assert store.suppressed([sid]) == set()


def test_erasure_leaves_a_tombstone_and_takes_the_person_off_the_counts(
        backend: Backend) -> None:
    store = backend.store
    old = store.put_registration(person(1, sessions=frozenset({"s2"})), NOW)
    store.put_registration(person(2), NOW)
    store.put_registration(replace(old, interests=frozenset({"course"})), NOW)  # meanwhile

    store.erase_registration(old, 1_700_000_000)  # the stale version read earlier
    assert store.get_registration(SERIES_ID, old.registrant_id) is None
    assert store.erased_at(SERIES_ID, old.registrant_id) == 1_700_000_000
    assert store.erased_at(SERIES_ID, person(2).registrant_id) is None
    assert totals(store) == (1, 0, 0, 1, {})
    store.erase_registration(old, 1_700_000_100)  # erased again: only the tombstone moves
    assert store.erased_at(SERIES_ID, old.registrant_id) == 1_700_000_100
    assert totals(store) == (1, 0, 0, 1, {})


def test_the_senders_look_up_tells_a_registrant_an_erased_person_and_a_stranger_apart(
        backend: Backend) -> None:
    """The one read before a send: the tombstone counts only where the registration is gone
    (a person who registered again after erasing is not "erased")."""
    store = backend.store
    kept = store.put_registration(person(1), NOW)
    gone = store.put_registration(person(2), NOW)
    store.erase_registration(gone, 1_700_000_000)
    sid = suppression_id(KEY, person(3).registrant.email)
    store.suppress(sid, "Bounce", NOW, SERIES_ID)
    tombstone_reads: list[str] = []
    if isinstance(store, DynamoStore):  # a GetItem only where the registration is gone
        get_item = store.client.get_item

        def counted(**request: Any) -> Any:
            tombstone_reads.append(request["Key"]["sk"]["S"].partition("#")[0])
            return get_item(**request)

        store.client.get_item = counted  # type: ignore[method-assign]

    present = store.recipient(SERIES_ID, kept.registrant_id, "no-such-address")
    assert present.registration is not None and not present.erased
    assert not present.suppressed
    erased = store.recipient(SERIES_ID, gone.registrant_id, "no-such-address")
    assert erased.registration is None and erased.erased
    stranger = store.recipient(SERIES_ID, person(3).registrant_id, sid)
    assert stranger.registration is None and not stranger.erased and stranger.suppressed
    copy = store.recipient(SERIES_ID, ORGANISER_COPY, "no-such-address")
    assert copy.registration is None and not copy.erased
    back = store.put_registration(person(2), NOW)  # registered again after erasing
    again = store.recipient(SERIES_ID, back.registrant_id, "no-such-address")
    assert again.registration is not None and not again.erased
    if isinstance(store, DynamoStore):
        del store.client.get_item  # type: ignore[attr-defined]
        assert tombstone_reads == ["ERASED"]  # the erased one: the stranger is suppressed


def test_counters_are_repaired_only_over_what_was_read(backend: Backend) -> None:
    store = backend.store
    for i in range(12):
        store.put_registration(person(i, sessions=frozenset({"s1"}) if i % 2 else frozenset()),
                               NOW)
    stored = store.registration_counters(SERIES_ID)
    shard = next(s for s, c in stored.items() if c.get("registered"))
    broken = {**stored[shard], "registered": stored[shard]["registered"] + 5}
    with pytest.raises(StaleWriteError):  # "was" is not what is stored
        store.replace_registration_counters(SERIES_ID, shard, broken, stored[shard])
    store.replace_registration_counters(SERIES_ID, shard, stored[shard], broken)
    assert store.counts(SERIES_ID).registered == 17

    assert repair_counts(store, SERIES_ID) == {"registered": (17, 12)}
    assert totals(store) == (12, 0, 0, 6, {"s1": 6})
    assert repair_counts(store, SERIES_ID) == {}


def _email(i: int, kind: str, session: str) -> EmailJob:
    who = person(i)
    return EmailJob(kind=kind, series_id=SERIES_ID, series_revision=1,  # type: ignore[arg-type]
                    registrant_id=who.registrant_id, recipient=who.registrant,
                    session_ids=(session,),
                    key=delivery_key(kind, SERIES_ID, who.registrant_id, session))  # type: ignore[arg-type]


def _test_copy() -> EmailJob:
    """An organiser's test copy of an announcement: kept on the ledger, counted nowhere."""
    return replace(_email(2, "announcement", "s1"), registrant_id=ORGANISER_COPY,
                   session_ids=(),
                   key=delivery_key("announcement", SERIES_ID, ORGANISER_COPY, "copy"))


def test_mail_records_are_newest_first_and_delivery_states_count_once(
        backend: Backend) -> None:
    store, ledger = backend.store, backend.ledger
    sent = [(_email(1, "confirmation", "s1"), NOW),
            (_email(1, "reminder", "s1"), NOW + timedelta(days=3)),
            (_email(2, "reminder", "s1"), NOW + timedelta(days=3))]
    for job, at in sent:
        ledger.count(send_through(ledger, [job], at))

    reminded = sent[1][0].key
    outcomes = [store.record_delivery(reminded, "complained", "t1", "abuse").outcome,
                store.record_delivery(reminded, "delivered", "t2", "").outcome,
                store.record_delivery(reminded, "delivered", "t3", "").outcome,
                store.record_delivery(_email(3, "reminder", "s1").key, "bounced", "t4",
                                      "").outcome,
                store.record_delivery("not-a-delivery-key", "bounced", "t5", "").outcome]
    assert outcomes == ["recorded", "recorded", "duplicate", "unknown", "unknown"]

    mail = store.registrant_mail(SERIES_ID, person(1).registrant_id)
    assert [(m.kind, m.session_ids, m.delivery, m.detail) for m in mail] == [
        ("reminder", ("s1",), "complained", "abuse"), ("confirmation", ("s1",), "", "")]
    assert store.registrant_mail(SERIES_ID, person(3).registrant_id) == []
    counts = store.counts(SERIES_ID)
    assert (counts.mail_count("sent"), counts.mail_count("sent", "reminder", "s1"),
            counts.mail_count("complained"), counts.mail_count("delivered")) == (3, 2, 1, 1)


def test_a_test_copy_and_its_bounce_leave_the_series_counts_as_they_were(
        backend: Backend) -> None:
    store, ledger = backend.store, backend.ledger
    job = _email(1, "reminder", "s1")
    ledger.count(send_through(ledger, [job], NOW))
    before = store.counts(SERIES_ID)
    copy = _test_copy()
    ledger.count(send_through(ledger, [copy], NOW))
    assert store.record_delivery(copy.key, "bounced", "t1", "Permanent/General").outcome \
        == "recorded"
    assert store.counts(SERIES_ID) == before
    assert before.mail_count("sent") == 1
    assert ledger.claim(copy, NOW + timedelta(hours=1), timedelta(minutes=5),
                        ledger.sent_log(NOW)) == "sent"
    [shown] = store.registrant_mail(SERIES_ID, ORGANISER_COPY)
    assert (shown.kind, shown.delivery) == ("announcement", "bounced")


def test_the_mail_counters_are_repaired_from_the_ledger(backend: Backend) -> None:
    store, ledger = backend.store, backend.ledger
    jobs = [_email(i, "reminder", "s1") for i in range(6)]
    jobs.append(_test_copy())
    ledger.count(send_through(ledger, jobs, NOW))
    store.record_delivery(jobs[0].key, "delivered", "t1", "")
    store.record_delivery(jobs[0].key, "complained", "t2", "abuse")
    store.record_delivery(jobs[-1].key, "bounced", "t3", "")
    assert repair_counts(store, SERIES_ID) == {}

    stored = store.mail_counters(SERIES_ID)
    shard = next(s for s, c in stored.items() if c.get("reminder|s1|sent"))
    wrong = {**stored[shard], "reminder|s1|sent": 40, "reminder|s1|bounced": 2}
    store.replace_mail_counters(SERIES_ID, shard, stored[shard], wrong)
    broken = 40 - stored[shard]["reminder|s1|sent"] + 6
    assert store.counts(SERIES_ID).mail_count("sent") == broken

    assert repair_counts(store, SERIES_ID) == {"mail reminder|s1|bounced": (2, 0),
                                               "mail reminder|s1|sent": (broken, 6)}
    counts = store.counts(SERIES_ID)
    assert {state: counts.mail_count(state) for state in
            ("sent", "delivered", "complained", "bounced")} == \
        {"sent": 6, "delivered": 1, "complained": 1, "bounced": 0}
    with pytest.raises(StaleWriteError):  # "was" is not what is stored
        store.replace_mail_counters(SERIES_ID, shard, wrong, stored[shard])


def test_events_and_attendance_are_remembered(backend: Backend) -> None:
    store = backend.store
    assert not store.event_seen(SERIES_ID, "zoom", "e1")
    store.mark_event(SERIES_ID, "zoom", "e1", NOW)
    assert store.event_seen(SERIES_ID, "zoom", "e1")
    assert not store.event_seen(SERIES_ID, "tally", "e1")
    assert not store.attendance_known(SERIES_ID, "s1")
    store.mark_attendance_known(SERIES_ID, "s1")
    assert store.attendance_known(SERIES_ID, "s1") and not store.attendance_known(SERIES_ID, "s2")
    assert store.counts(SERIES_ID).attendance_unmatched == 0
    store.count_unmatched_attendance(SERIES_ID)
    store.count_unmatched_attendance(SERIES_ID)
    assert store.counts(SERIES_ID).attendance_unmatched == 2


def test_schedule_claims_are_fenced_and_plans_generational(backend: Backend) -> None:
    schedule, lease = backend.schedule, timedelta(minutes=5)
    first = schedule.claim(SERIES_ID, "slot", NOW, lease)
    assert first is not None and first.fence == 1
    assert schedule.claim(SERIES_ID, "slot", NOW + timedelta(minutes=1), lease) is None
    assert schedule.progress(SERIES_ID, replace(first, cursor={"k": "1"}, enqueued=25), NOW,
                             lease)
    second = schedule.claim(SERIES_ID, "slot", NOW + timedelta(minutes=6), lease)  # taken over
    assert second is not None and (second.fence, second.cursor, second.enqueued) == (
        2, {"k": "1"}, 25)
    assert not schedule.progress(SERIES_ID, first, NOW, lease)  # the overrun run is refused
    assert not schedule.settle(SERIES_ID, first, NOW)
    assert schedule.settle(SERIES_ID, replace(second, enqueued=40), NOW)
    assert schedule.decisions(SERIES_ID)["slot"].state == "done"
    assert schedule.decisions(SERIES_ID)["slot"].enqueued == 40
    assert not schedule.drop(SERIES_ID, "slot", NOW)

    assert schedule.put_task(SERIES_ID, "news", {"kind": "announcement", "n": 1})
    assert not schedule.put_task(SERIES_ID, "news", {"kind": "other"})
    assert schedule.task(SERIES_ID, "news") == {"kind": "announcement", "n": 1}
    assert schedule.cancel(SERIES_ID, "news", NOW)
    assert not schedule.cancel(SERIES_ID, "news", NOW)

    generation = schedule.plan_generation(SERIES_ID)
    assert schedule.set_next_due(SERIES_ID, NOW + timedelta(hours=1), generation)
    assert not schedule.set_next_due(SERIES_ID, NOW, generation)  # a stale plan
    assert schedule.series_due(NOW + timedelta(hours=1)) == [SERIES_ID]
    assert schedule.next_wakeup() == NOW + timedelta(hours=1)


def test_the_audit_trail_is_newest_first_and_keys_answer_once(backend: Backend) -> None:
    audit = backend.audit
    for minute in range(5):
        audit.record(SERIES_ID, {"action": f"a{minute}"}, NOW + timedelta(minutes=minute))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = audit.entries(SERIES_ID, cursor, 2)
        seen += [entry["action"] for entry in page]
        if cursor is None:
            break
    assert seen == ["a4", "a3", "a2", "a1", "a0"]
    with pytest.raises(PayloadError):
        audit.entries(SERIES_ID, encode_cursor(SERIES_ID, "REG#r1"), 2)

    assert audit.begin("caller", "k1", "f1", NOW) is None
    assert audit.begin("caller", "k1", "f1", NOW) == {"fingerprint": "f1",
                                                      "state": "in_progress"}
    audit.finish("caller", "k1", {"status": 202})
    assert audit.begin("caller", "k1", "f1", NOW) == {"fingerprint": "f1", "state": "done",
                                                      "answer": {"status": 202}}
    audit.abandon("caller", "k1")
    assert audit.begin("caller", "k1", "f2", NOW) is None


def test_a_finished_job_never_changes_again(backend: Backend) -> None:
    jobs = backend.jobs
    for job_id in ("20231002-090000-aaaaaaaaaa", "20231002-091000-bbbbbbbbbb"):
        jobs.create(OrganiserJob(SERIES_ID, job_id, "registrants_csv", "queued", "caller",
                                 NOW.isoformat(), total=10), NOW)
    newest = "20231002-091000-bbbbbbbbbb"
    assert jobs.update(SERIES_ID, newest, NOW, state="running", done=4)
    assert jobs.update(SERIES_ID, newest, NOW, state="done", done=10, result_key="x.csv")
    assert not jobs.update(SERIES_ID, newest, NOW, state="running", done=4)
    assert not jobs.update(SERIES_ID, "20231002-092000-cccccccccc", NOW, state="done", done=1)
    done = jobs.get(SERIES_ID, newest)
    assert done is not None and (done.state, done.done, done.result_key) == ("done", 10, "x.csv")
    assert [j.job_id for j in jobs.recent(SERIES_ID, 5)] == [newest,
                                                           "20231002-090000-aaaaaaaaaa"]


def test_parked_jobs_come_back_once_in_pages_and_waves_stay_the_schedulers(
        backend: Backend) -> None:
    schedule, wave = backend.schedule, "wave#s1#1d#20231026T1300Z#20231025T1000Z"
    for chunk in range(6):
        assert schedule.park(SERIES_ID, wave, f"p{chunk}", [f"j{chunk}a", f"j{chunk}b"], NOW)
    assert schedule.park(SERIES_ID, wave, "p0", ["j0a", "j0b"], NOW)  # a page done again
    first, cursor = schedule.parked_page(SERIES_ID, wave, None)
    assert cursor is not None
    rest, end = schedule.parked_page(SERIES_ID, wave, cursor)
    assert end is None and sorted(first + rest) == sorted(f"j{c}{x}" for c in range(6)
                                                         for x in "ab")
    assert schedule.put_task(SERIES_ID, wave, {"type": "wave", "slot": "s1#1d#20231026T1300Z",
                                               "moment": NOW.isoformat(),
                                               "closes": NOW.isoformat()})
    assert wave not in schedule.tasks(SERIES_ID) and wave in schedule.tasks(SERIES_ID, True)
    assert schedule.claim(SERIES_ID, wave, NOW, timedelta(minutes=5)) is not None
    assert not schedule.park(SERIES_ID, wave, "late", ["j9"], NOW)  # the wave has begun
