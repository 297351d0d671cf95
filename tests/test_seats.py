"""One contract, two seat stores: every test runs against DynamoSeats on moto (with AWS's limits
enforced) and against MemorySeats, including the concurrent ones (threads)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3
import pytest
from botocore.exceptions import ClientError

from webinar_notify.adapters.seats import (
    DynamoSeats,
    MemorySeats,
    Released,
    Seated,
    Seats,
    admit,
    encode_waitlist_cursor,
    line_key,
    release,
    seat_or_wait,
)
from webinar_notify.core.errors import PayloadError, RetryableError
from webinar_notify.core.policies import SeatCounts, Standing
from webinar_notify.local import aws_limits
from webinar_notify.local.infra import REGION, create_table

SERIES = "reirradiation-2023"
AT = datetime(2023, 10, 2, 9, 0, tzinfo=UTC)
T = TypeVar("T")
_TABLES = itertools.count()


def later(ms: int) -> datetime:
    return AT + timedelta(milliseconds=ms)


def rid(i: int) -> str:
    return f"r{i:031x}"


@pytest.fixture(scope="module")
def moto_dynamodb() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws(), aws_limits.enforced():
        yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture(params=["dynamodb", "memory"])
def seats(request: pytest.FixtureRequest) -> Seats:
    if request.param == "memory":
        return MemorySeats()
    return request.getfixturevalue("dynamo_seats")  # type: ignore[no-any-return]


@pytest.fixture
def dynamo_seats(request: pytest.FixtureRequest) -> DynamoSeats:
    request.getfixturevalue("atomic_moto")  # each request atomic, as DynamoDB's are
    client = request.getfixturevalue("moto_dynamodb")
    table = create_table(client, f"seats-{next(_TABLES)}")
    return DynamoSeats(client, table)


def counts(seats: Seats, session: str = "s1") -> SeatCounts:
    return seats.counts(SERIES, [session])[session]


def line(seats: Seats, session: str = "s1") -> list[str]:
    return [entry.registrant_id for entry in seats.waitlist(SERIES, session, None, 500)[0]]


def together(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls in threads released at the same moment; their results in call order."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], T]) -> None:
        start.wait()
        try:
            results[i] = call()
        except BaseException as error:  # re-raised below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results


# ---- seats ----------------------------------------------------------------------------------

def test_a_seat_is_taken_only_while_one_is_free_and_taking_again_changes_nothing(
        seats: Seats) -> None:
    for i in range(3):
        assert seats.take(SERIES, "s1", rid(i), 3, later(i)) == \
            Standing("confirmed", since=int(later(i).timestamp()))
    assert seats.take(SERIES, "s1", rid(9), 3, later(9)) is None
    assert seats.take(SERIES, "s1", rid(0), 3, later(10)) == Standing("confirmed",
                                                                      since=int(AT.timestamp()))
    assert counts(seats) == SeatCounts(confirmed=3)
    assert counts(seats, "s2") == SeatCounts()  # other sessions: their own seats
    assert seats.take(SERIES, "s2", rid(9), 3, later(9)) is not None
    assert seats.take(SERIES, "s3", rid(9), 0, later(9)) is None  # capacity 0: line only
    assert seats.take(SERIES, "s4", rid(9), None, later(9)) is not None  # unlimited


def test_a_seat_given_back_twice_is_freed_once(seats: Seats) -> None:
    for i in range(2):
        seats.take(SERIES, "s1", rid(i), 2, AT)
    assert seats.give_back(SERIES, "s1", rid(0)) is True
    assert seats.give_back(SERIES, "s1", rid(0)) is False
    assert seats.give_back(SERIES, "s1", rid(5)) is False
    assert counts(seats) == SeatCounts(confirmed=1)
    assert seats.standing(SERIES, "s1", rid(0)) is None


# ---- the waitlist ---------------------------------------------------------------------------

def test_the_line_keeps_arrival_order_with_a_stable_tiebreak(seats: Seats) -> None:
    seats.take(SERIES, "s1", rid(0), 1, AT)
    assert seats.take(SERIES, "s1", rid(1), 1, later(1)) is None
    for who, ms in ((3, 5), (2, 5), (1, 9), (4, 2)):  # r2 and r3 arrive in the same instant
        seats.join_waitlist(SERIES, "s1", rid(who), later(ms))
    assert line(seats) == [rid(4), rid(2), rid(3), rid(1)]
    assert seats.standing(SERIES, "s1", rid(3)) == \
        Standing("waitlisted", place=3, since=int(AT.timestamp()))
    again = seats.join_waitlist(SERIES, "s1", rid(3), later(50))  # a retried webhook
    assert again.place == 3
    assert counts(seats) == SeatCounts(confirmed=1, waitlisted=4)
    page = seats.waitlist(SERIES, "s1", None, 10)[0]
    assert [(e.place, e.joined) for e in page] == [(1, later(2)), (2, later(5)), (3, later(5)),
                                                   (4, later(9))]


def test_a_newcomer_never_takes_a_seat_ahead_of_the_line(seats: Seats) -> None:
    seats.take(SERIES, "s1", rid(0), 1, AT)
    seats.join_waitlist(SERIES, "s1", rid(1), later(1))
    seats.give_back(SERIES, "s1", rid(0))  # freed, not yet promoted
    assert seats.take(SERIES, "s1", rid(2), 1, later(2)) is None
    seated = seat_or_wait(seats, SERIES, "s1", rid(2), 1, later(2))
    assert seated.standing.state == "waitlisted" and seated.standing.place == 1
    assert seated.promoted == (rid(1),)  # the freed seat went to the head on the way
    assert counts(seats) == SeatCounts(confirmed=1, waitlisted=1)


def test_leaving_the_line_moves_the_others_up(seats: Seats) -> None:
    seats.take(SERIES, "s1", rid(0), 1, AT)
    for i in (1, 2, 3):
        seats.join_waitlist(SERIES, "s1", rid(i), later(i))
    assert seats.leave_waitlist(SERIES, "s1", rid(2)) is True
    assert seats.leave_waitlist(SERIES, "s1", rid(2)) is False
    assert seats.leave_waitlist(SERIES, "s1", rid(0)) is False  # a seat is not a place
    assert line(seats) == [rid(1), rid(3)]
    assert seats.standing(SERIES, "s1", rid(3)) == \
        Standing("waitlisted", place=2, since=int(AT.timestamp()))
    assert counts(seats) == SeatCounts(confirmed=1, waitlisted=2)


def test_the_waitlist_pages_in_order_and_refuses_foreign_cursors(seats: Seats) -> None:
    seats.take(SERIES, "s1", rid(0), 1, AT)
    for i in range(1, 8):
        seats.join_waitlist(SERIES, "s1", rid(i), later(i))
    seen: list[tuple[int, str]] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = seats.waitlist(SERIES, "s1", cursor, 3)
        pages += 1
        seen += [(e.place, e.registrant_id) for e in page]
        if cursor is None:
            break
    assert pages == 3  # 3 + 3 + 1: no empty page at the end
    assert seen == [(i, rid(i)) for i in range(1, 8)]
    assert seats.waitlist(SERIES, "s1", None, 7)[1] is None
    first_cursor = seats.waitlist(SERIES, "s1", None, 3)[1]
    assert first_cursor is not None
    for bad in ("nonsense!", first_cursor + "x",
                encode_waitlist_cursor(SERIES, "s2", 3, "0000000000000001#r1"),
                encode_waitlist_cursor("other", "s1", 3, "0000000000000001#r1")):
        with pytest.raises(PayloadError, match=r"^cursor: "):
            seats.waitlist(SERIES, "s1", bad, 3)
    with pytest.raises(PayloadError, match="limit: from 1 to 500"):
        seats.waitlist(SERIES, "s1", None, 0)
    with pytest.raises(PayloadError, match="cursor: "):
        seats.waitlist(SERIES, "s2", first_cursor, 3)


# ---- promotion ------------------------------------------------------------------------------

def test_promotion_takes_the_first_in_line_as_many_as_fit(seats: Seats) -> None:
    for i in range(3):
        seats.take(SERIES, "s1", rid(i), 3, AT)
    for i in (3, 4, 5):
        seats.join_waitlist(SERIES, "s1", rid(i), later(i))
    assert seats.promote(SERIES, "s1", 3, later(10)) == []  # full
    seats.give_back(SERIES, "s1", rid(1))
    assert seats.promote(SERIES, "s1", 3, later(10)) == [rid(3)]
    assert seats.promote(SERIES, "s1", 3, later(11)) == []  # once
    assert seats.standing(SERIES, "s1", rid(3)) == \
        Standing("confirmed", since=int(later(10).timestamp()))
    assert seats.promote(SERIES, "s1", 2, later(12)) == []  # lowered: nobody moves
    assert seats.promote(SERIES, "s1", 4, later(12)) == [rid(4)]
    assert seats.promote(SERIES, "s1", None, later(13)) == [rid(5)]  # unlimited
    assert counts(seats) == SeatCounts(confirmed=5)
    assert line(seats) == []


def test_a_cancellation_delivered_twice_promotes_one_person_once(seats: Seats) -> None:
    for i in range(2):
        seats.take(SERIES, "s1", rid(i), 2, AT)
    for i in (2, 3):
        seats.join_waitlist(SERIES, "s1", rid(i), later(i))
    first = release(seats, SERIES, "s1", rid(0), 2, later(10))
    second = release(seats, SERIES, "s1", rid(0), 2, later(11))
    assert (first.previous, first.promoted) == ("confirmed", (rid(2),))
    assert (second.previous, second.promoted) == (None, ())
    assert counts(seats) == SeatCounts(confirmed=2, waitlisted=1)
    assert release(seats, SERIES, "s1", rid(3), 2, later(12)).previous == "waitlisted"
    assert counts(seats) == SeatCounts(confirmed=2)


def test_a_release_repeated_after_a_crash_finishes_the_promotion(seats: Seats) -> None:
    seats.take(SERIES, "s1", rid(0), 1, AT)
    seats.join_waitlist(SERIES, "s1", rid(1), later(1))
    seats.give_back(SERIES, "s1", rid(0))  # the first delivery stopped here
    retried = release(seats, SERIES, "s1", rid(0), 1, later(5))
    assert (retried.previous, retried.promoted) == (None, (rid(1),))


def test_a_retried_registration_of_someone_waiting_fills_a_seat_freed_meanwhile(
        seats: Seats) -> None:
    """r1 joined the line and the call stopped before promoting; r0's cancellation stopped
    after giving the seat back. The retried registration promotes r1."""
    seats.take(SERIES, "s1", rid(0), 1, AT)
    assert seats.take(SERIES, "s1", rid(1), 1, later(1)) is None
    seats.join_waitlist(SERIES, "s1", rid(1), later(1))  # then a crash
    seats.give_back(SERIES, "s1", rid(0))  # then a crash
    retried = seat_or_wait(seats, SERIES, "s1", rid(1), 1, later(5))
    assert retried.standing == Standing("confirmed", since=int(later(5).timestamp()))
    assert counts(seats) == SeatCounts(confirmed=1)


def test_a_promotion_whose_email_was_lost_is_listed_until_marked_told(seats: Seats) -> None:
    """The promotion happened but its result was lost (a crash): a repeated cancellation
    promotes nobody new, yet still names the person to tell, until they are marked told."""
    for i in range(2):
        seats.take(SERIES, "s1", rid(i), 2, AT)
    for i in (2, 3):
        seats.join_waitlist(SERIES, "s1", rid(i), later(i))
    seats.give_back(SERIES, "s1", rid(0))
    assert seats.promote(SERIES, "s1", 2, later(10)) == [rid(2)]  # then a crash
    again = release(seats, SERIES, "s1", rid(0), 2, later(11))
    assert (again.previous, again.promoted, again.unnotified) == (None, (), (rid(2),))
    assert seat_or_wait(seats, SERIES, "s1", rid(5), 2, later(12)).unnotified == (rid(2),)
    assert seats.mark_notified(SERIES, "s1", rid(2)) is True
    assert seats.mark_notified(SERIES, "s1", rid(2)) is False
    assert release(seats, SERIES, "s1", rid(0), 2, later(13)).unnotified == ()
    assert seats.unnotified(SERIES, "s1") == []


def test_a_promoted_person_who_cancels_before_being_told_is_not_listed(seats: Seats) -> None:
    seats.take(SERIES, "s1", rid(0), 1, AT)
    seats.join_waitlist(SERIES, "s1", rid(1), later(1))
    seats.join_waitlist(SERIES, "s1", rid(2), later(2))
    assert release(seats, SERIES, "s1", rid(0), 1, later(5)).unnotified == (rid(1),)
    gone = release(seats, SERIES, "s1", rid(1), 1, later(6))
    assert (gone.previous, gone.promoted, gone.unnotified) == ("confirmed", (rid(2),), (rid(2),))
    assert seats.unnotified(SERIES, "s1") == [rid(2)]


# ---- transactions that meet others ---------------------------------------------------------

def _conflict() -> ClientError:
    return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"},
                        "CancellationReasons": [{"Code": "TransactionConflict"},
                                                {"Code": "None"}]}, "TransactWriteItems")


class _Conflicting:
    """A DynamoDB client whose first ``conflicts`` transactions meet another one."""

    def __init__(self, client: Any, conflicts: int) -> None:
        self._client, self.conflicts, self.calls = client, conflicts, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **request: Any) -> Any:
        self.calls += 1
        if self.calls <= self.conflicts:
            raise _conflict()
        return self._client.transact_write_items(**request)


def test_a_transaction_that_met_another_is_sent_again_then_given_up(
        dynamo_seats: DynamoSeats, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("webinar_notify.adapters.seats.pause", lambda _: None)
    twice = _Conflicting(dynamo_seats.client, 2)
    seats = DynamoSeats(twice, dynamo_seats.table)
    assert seats.take(SERIES, "s1", rid(0), 1, AT) == \
        Standing("confirmed", since=int(AT.timestamp()))
    assert twice.calls == 3
    assert counts(seats) == SeatCounts(confirmed=1)  # applied once
    always = DynamoSeats(_Conflicting(dynamo_seats.client, 100), dynamo_seats.table)
    with pytest.raises(RetryableError, match="concurrently"):
        always.take(SERIES, "s1", rid(1), 5, AT)
    assert counts(seats) == SeatCounts(confirmed=1)  # nothing applied


# ---- approval -------------------------------------------------------------------------------

def test_a_pending_registrant_holds_no_seat_and_is_seated_when_approved(seats: Seats) -> None:
    for i in range(3):
        assert seats.mark_pending(SERIES, "s1", rid(i), later(i)).state == "pending"
    assert seats.mark_pending(SERIES, "s1", rid(0), later(9)) == \
        Standing("pending", since=int(AT.timestamp()))
    assert seats.take(SERIES, "s1", rid(0), 1, later(9)) == \
        Standing("pending", since=int(AT.timestamp()))  # approval first
    assert counts(seats) == SeatCounts(pending=3)
    assert admit(seats, SERIES, "s1", rid(2), 1, later(20)).standing.state == "confirmed"
    waiting = admit(seats, SERIES, "s1", rid(0), 1, later(21)).standing  # full: waitlisted
    assert (waiting.state, waiting.place) == ("waitlisted", 1)
    assert seats.clear_pending(SERIES, "s1", rid(1)) is True  # declined
    assert seats.clear_pending(SERIES, "s1", rid(1)) is False
    assert seats.clear_pending(SERIES, "s1", rid(2)) is False  # confirmed, not pending
    assert counts(seats) == SeatCounts(confirmed=1, waitlisted=1, pending=0)


# ---- concurrency ----------------------------------------------------------------------------

def test_five_concurrent_takers_for_three_seats_then_a_duplicated_cancellation(
        seats: Seats) -> None:
    seated = together([
        lambda i=i: seat_or_wait(seats, SERIES, "s1", rid(i), 3, later(i))  # type: ignore[misc]
        for i in range(5)])
    confirmed = sorted(rid(i) for i, s in enumerate(seated) if s.standing.state == "confirmed")
    waiting = [rid(i) for i, s in enumerate(seated) if s.standing.state == "waitlisted"]
    assert len(confirmed) == 3 and len(waiting) == 2
    assert counts(seats) == SeatCounts(confirmed=3, waitlisted=2)
    in_line = seats.waitlist(SERIES, "s1", None, 10)[0]
    assert [e.place for e in in_line] == [1, 2]
    assert [e.registrant_id for e in in_line] == sorted(waiting)  # arrival order (later(i))
    assert all(not s.promoted for s in seated)

    cancelled = confirmed[0]
    twice = together([lambda: release(seats, SERIES, "s1", cancelled, 3, later(100))] * 2)
    promoted = [r for result in twice for r in result.promoted]
    assert promoted == [in_line[0].registrant_id]  # exactly one, once
    assert sorted(result.previous or "" for result in twice) == ["", "confirmed"]
    assert counts(seats) == SeatCounts(confirmed=3, waitlisted=1)
    assert seats.standing(SERIES, "s1", in_line[0].registrant_id) == \
        Standing("confirmed", since=int(later(100).timestamp()))


def test_raising_the_capacity_promotes_both_waiting_once(seats: Seats) -> None:
    together([lambda i=i: seat_or_wait(seats, SERIES, "s1", rid(i), 3, later(i))  # type: ignore[misc]
              for i in range(5)])
    waiting = line(seats)
    promoted = together([lambda: seats.promote(SERIES, "s1", 5, later(50))] * 3)
    assert sorted(r for batch in promoted for r in batch) == sorted(waiting)
    assert counts(seats) == SeatCounts(confirmed=5)
    assert line(seats) == []


def test_a_promotion_from_a_stale_read_of_the_line_is_refused(
        dynamo_seats: DynamoSeats) -> None:
    """Two promoters that read the same first place: the second one's write is refused by
    its condition, whatever the timing (the fake promotes under a lock)."""
    seats = dynamo_seats
    seats.take(SERIES, "s1", rid(0), 1, AT)
    seats.join_waitlist(SERIES, "s1", rid(1), later(1))
    place = line_key(later(1), rid(1))
    assert seats._promote_one(SERIES, "s1", place, rid(1), 5, later(2)) == "done"
    assert seats._promote_one(SERIES, "s1", place, rid(1), 5, later(3)) == "refused"
    assert counts(seats) == SeatCounts(confirmed=2)
    seats.join_waitlist(SERIES, "s1", rid(2), later(4))
    place = line_key(later(4), rid(2))
    assert seats._promote_one(SERIES, "s1", place, rid(2), 2, later(5)) == "full"
    assert counts(seats) == SeatCounts(confirmed=2, waitlisted=1)
    assert line(seats) == [rid(2)]


def test_two_concurrent_cancellations_promote_the_first_two_once_each(seats: Seats) -> None:
    for i in range(2):
        seats.take(SERIES, "s1", rid(i), 2, AT)
    for i in (2, 3, 4):
        seats.join_waitlist(SERIES, "s1", rid(i), later(i))
    results = together([lambda i=i: release(seats, SERIES, "s1", rid(i), 2,  # type: ignore[misc]
                                             later(10)) for i in (0, 1)])
    assert sorted(r for result in results for r in result.promoted) == [rid(2), rid(3)]
    assert counts(seats) == SeatCounts(confirmed=2, waitlisted=1)
    assert line(seats) == [rid(4)]


def test_a_promoted_seat_dates_from_the_promotion_as_the_release_reports_it(
        seats: Seats) -> None:
    """The same interleaving as below, in a fixed order: the release promotes the newcomer,
    whose seat then dates from the release (its email's delivery key), not from joining."""
    asked, freed = AT + timedelta(seconds=1), AT + timedelta(seconds=2)
    seats.take(SERIES, "s1", rid(0), 1, AT)
    assert seat_or_wait(seats, SERIES, "s1", rid(1), 1, asked).standing.state == "waitlisted"
    assert release(seats, SERIES, "s1", rid(0), 1, freed).promoted == (rid(1),)
    assert seats.standing(SERIES, "s1", rid(1)) == Standing("confirmed",
                                                            since=int(freed.timestamp()))


def test_a_seat_freed_while_a_newcomer_is_refused_is_never_lost(seats: Seats) -> None:
    asked, freed = AT + timedelta(seconds=1), AT + timedelta(seconds=2)  # distinct "since"s
    for session in ("a", "b", "c", "d", "e", "f"):  # a few rounds, for different interleavings
        seats.take(SERIES, session, rid(0), 1, AT)
        newcomer, cancelled = together([
            lambda s=session: seat_or_wait(seats, SERIES, s, rid(1), 1, asked),  # type: ignore[misc]
            lambda s=session: release(seats, SERIES, s, rid(0), 1, freed)])  # type: ignore[misc]
        assert isinstance(newcomer, Seated) and isinstance(cancelled, Released)
        assert seats.standing(SERIES, session, rid(1)) is not None
        assert seats.standing(SERIES, session, rid(1)).state == "confirmed"  # type: ignore[union-attr]
        assert counts(seats, session) == SeatCounts(confirmed=1)
        assert cancelled.previous == "confirmed"
        # Whoever tells the newcomer (their own call, the release that promoted them, or
        # both) tells the same seat: one "since", so one delivery key for its email.
        told = [newcomer.standing] if newcomer.standing.state == "confirmed" else []
        if rid(1) in cancelled.promoted:
            told.append(Standing("confirmed", since=int(freed.timestamp())))
        assert told and all(t == seats.standing(SERIES, session, rid(1)) for t in told)


def test_standings_in_many_sessions_are_read_together_as_each_alone(seats: Seats) -> None:
    sessions = [f"x{i}" for i in range(120)]  # more than one BatchGetItem's 100 keys
    me = rid(1)
    seats.take(SERIES, "x0", me, 1, AT)
    seats.take(SERIES, "x1", rid(2), 1, AT)
    seats.join_waitlist(SERIES, "x1", rid(3), later(1))
    seats.join_waitlist(SERIES, "x1", me, later(2))
    seats.mark_pending(SERIES, "x110", me, AT)
    calls: list[str] = []
    client = getattr(seats, "client", None)

    def count(**kwargs: Any) -> None:
        calls.append(kwargs["event_name"].rpartition(".")[2])
    if client is not None:
        client.meta.events.register("before-call.dynamodb", count)
    try:
        together_read = seats.standings(SERIES, sessions, me)
        bare = seats.standings(SERIES, sessions, me, places=False)
    finally:
        if client is not None:
            client.meta.events.unregister("before-call.dynamodb", count)

    alone = {s: found for s in sessions if (found := seats.standing(SERIES, s, me))}
    assert together_read == alone
    assert together_read["x0"] == Standing("confirmed", since=int(AT.timestamp()))
    assert together_read["x1"].state == "waitlisted" and together_read["x1"].place == 2
    assert together_read["x110"].state == "pending" and set(together_read) == {"x0", "x1", "x110"}
    assert bare["x1"] == Standing("waitlisted", None, together_read["x1"].since)
    assert seats.standings(SERIES, [], me) == {}
    if client is not None:  # 2 x 2 BatchGetItem (100 + 20 keys), one place counted once
        assert sorted(calls) == ["BatchGetItem"] * 4 + ["Query"]
