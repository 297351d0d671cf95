"""Seats, waitlists and pending approvals per session, applied with conditional writes.

Keys (``pk`` / ``sk``), in the series' partition of the one table; every sort key starts with
``SEATS#<session>#`` (session ids have no ``#``), which no other item's does:

    SERIES#<id> / SEATS#<session>#COUNT              confirmed, waitlisted, pending (numbers)
    SERIES#<id> / SEATS#<session>#WHO#<registrant>   one registrant's standing: state, since,
                                                     and for the waitlisted their line key
    SERIES#<id> / SEATS#<session>#LINE#<µs>#<reg.>   one place in the line: arrival time in
                                                     microseconds (16 digits), the registrant
                                                     id as the tiebreak; a Query reads the
                                                     line in order
    SERIES#<id> / SEATS#<session>#TELL#<registrant>  promoted, not yet told: written by the
                                                     promotion itself, deleted once their
                                                     confirmation is queued (mark_notified)

Every change is one TransactWriteItems of two or three of these items (the standing, the
counter and, for the line, its place), so a count never drifts from the standings it counts:

- a seat is taken only while confirmed < capacity and nobody waits (the line goes first);
- a standing is created only where none exists, and removed only from the state it is in,
  so a duplicated webhook can neither take a second seat nor give one back twice;
- a promotion deletes the place in line under a condition: of two promoters that read the
  same first person, one wins and the other moves on; the counter's condition stops them at
  capacity. Nobody is promoted twice, and no seat is given twice;
- a promotion writes, in the same transaction, a note that the person is still to be told.
  ``Seated.unnotified`` and ``Released.unnotified`` list everyone promoted in the session and
  not yet told, so a crash after a promotion (or a repeated webhook) still sends their
  confirmation; the sender calls ``mark_notified`` once it is queued (the email's delivery
  key, the standing's ``since``, makes a second send of it one email). Giving the seat back
  removes the note.

No address is stored: registrant ids only. Items are a few hundred bytes; no transaction
has more than four actions, each on a different item (DynamoDB allows 100, not two on one).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from botocore.exceptions import ClientError

from ..core.errors import PayloadError, RetryableError
from ..core.policies import SeatCounts, SeatState, Standing, has_free_seat, promotions
from .conflicts import error_code, pause
from .dynamo import batch_get, key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

MAX_PAGE = 500
TRANSACT_ATTEMPTS = 6  # a transaction that only met another one on the same item, sent again
PROMOTION_ROUNDS = 1_000  # reads of the line's head in one promote call (each promotes >= 1)
HEAD_READ = 100  # places read at once from the line's head
_LINE_KEY = re.compile(r"[0-9]{16}#r?[A-Za-z0-9_.:+-]{1,128}")
Outcome = Literal["done", "refused", "full"]


@dataclass(frozen=True, slots=True)
class WaitlistEntry:
    registrant_id: str
    place: int  # 1 = next to be promoted, as of this read
    joined: datetime


@dataclass(frozen=True, slots=True)
class Seated:
    """A registrant's standing after asking for a seat, and anyone else promoted on the way
    (a seat freed meanwhile goes to the first in line): each of them needs their email."""

    standing: Standing
    promoted: tuple[str, ...] = ()
    unnotified: tuple[str, ...] = ()  # promoted in the session, not yet told (module doc)


@dataclass(frozen=True, slots=True)
class Released:
    """What a cancellation or a dropped session gave up, and who was promoted into it."""

    previous: SeatState | None
    promoted: tuple[str, ...] = ()
    unnotified: tuple[str, ...] = ()  # promoted in the session, not yet told (module doc)


class Seats(Protocol):
    def take(self, series_id: str, session_id: str, registrant_id: str,
             capacity: int | None, at: datetime) -> Standing | None: ...
    def give_back(self, series_id: str, session_id: str, registrant_id: str) -> bool: ...
    def join_waitlist(self, series_id: str, session_id: str, registrant_id: str,
                      at: datetime) -> Standing: ...
    def leave_waitlist(self, series_id: str, session_id: str, registrant_id: str) -> bool: ...
    def promote(self, series_id: str, session_id: str, capacity: int | None,
                at: datetime) -> list[str]: ...
    def unnotified(self, series_id: str, session_id: str) -> list[str]: ...
    def mark_notified(self, series_id: str, session_id: str, registrant_id: str) -> bool: ...
    def mark_pending(self, series_id: str, session_id: str, registrant_id: str,
                     at: datetime) -> Standing: ...
    def clear_pending(self, series_id: str, session_id: str, registrant_id: str) -> bool: ...
    def standing(self, series_id: str, session_id: str, registrant_id: str
                 ) -> Standing | None: ...
    def standings(self, series_id: str, session_ids: Sequence[str], registrant_id: str,
                  places: bool = True) -> dict[str, Standing]: ...
    def counts(self, series_id: str, session_ids: Sequence[str]) -> dict[str, SeatCounts]: ...
    def waitlist(self, series_id: str, session_id: str, cursor: str | None, limit: int
                 ) -> tuple[list[WaitlistEntry], str | None]: ...


# ---- what the services do with any Seats ----------------------------------------------------

def seat_or_wait(seats: Seats, series_id: str, session_id: str, registrant_id: str,
                 capacity: int | None, at: datetime) -> Seated:
    """A seat if one is free and nobody waits, else a place at the end of the line; then the
    seats freed meanwhile go to the line's head (perhaps to this registrant). Idempotent: a
    registrant who already stands somewhere keeps that standing. One answered "waitlisted"
    may be promoted a moment later by another caller, whose ``promoted`` then names them.
    A retry by someone already waiting promotes too, so a crash between joining the line
    and promoting never leaves a seat free while people wait."""
    standing = seats.take(series_id, session_id, registrant_id, capacity, at)
    if standing is not None and standing.state != "waitlisted":
        return Seated(standing)  # seated at once (or pending): one request, nothing to tell
    joined = standing or seats.join_waitlist(series_id, session_id, registrant_id, at)
    promoted = seats.promote(series_id, session_id, capacity, at)
    now = joined
    if promoted:
        found = seats.standing(series_id, session_id, registrant_id)
        if found is None:  # left the line in the same instant: as if never asked
            raise RetryableError("the seat was changed concurrently; retry")
        now = found
    return Seated(now, tuple(r for r in promoted if r != registrant_id),
                  _others(seats, series_id, session_id, registrant_id))


def _others(seats: Seats, series_id: str, session_id: str, registrant_id: str
            ) -> tuple[str, ...]:
    """Those promoted in the session and not yet told, the caller aside (who is answered
    directly)."""
    return tuple(r for r in seats.unnotified(series_id, session_id) if r != registrant_id)


def release(seats: Seats, series_id: str, session_id: str, registrant_id: str,
            capacity: int | None, at: datetime) -> Released:
    """Give up whatever the registrant holds in the session (seat, place, pending), then
    promote as many as fit. The promotion runs even when nothing was held any more, so a
    repeated cancellation finishes one a crash left undone, and still promotes nobody twice."""
    undo: dict[SeatState, Callable[[str, str, str], bool]] = {
        "confirmed": seats.give_back, "waitlisted": seats.leave_waitlist,
        "pending": seats.clear_pending}
    previous: SeatState | None = None
    for _attempt in range(3):  # a standing that changed in between (promoted) is read again
        standing = seats.standing(series_id, session_id, registrant_id)
        if standing is None:
            break
        if undo[standing.state](series_id, session_id, registrant_id):
            previous = standing.state
            break
    promoted = seats.promote(series_id, session_id, capacity, at)
    return Released(previous, tuple(promoted),
                    _others(seats, series_id, session_id, registrant_id))


def admit(seats: Seats, series_id: str, session_id: str, registrant_id: str,
          capacity: int | None, at: datetime) -> Seated:
    """An approved registrant: no longer pending, and seated or waitlisted as a newcomer
    would be now (the place in line counts from the approval, not the registration)."""
    seats.clear_pending(series_id, session_id, registrant_id)
    return seat_or_wait(seats, series_id, session_id, registrant_id, capacity, at)


# ---- keys and cursors -----------------------------------------------------------------------

def _count_sk(session_id: str) -> str:
    return f"SEATS#{session_id}#COUNT"


def _who_sk(session_id: str, registrant_id: str) -> str:
    return f"SEATS#{session_id}#WHO#{registrant_id}"


def standing_sort_key(session_id: str, registrant_id: str) -> str:
    """The sort key of one registrant's standing in a session: what the sender's last check
    reads with the registration (adapters/store.py ``recipient``)."""
    return _who_sk(session_id, registrant_id)


def _line_prefix(session_id: str) -> str:
    return f"SEATS#{session_id}#LINE#"


def _tell_prefix(session_id: str) -> str:
    return f"SEATS#{session_id}#TELL#"


def line_key(at: datetime, registrant_id: str) -> str:
    """A place's order: arrival in microseconds, then the registrant id (a stable tiebreak
    that favours no one: ids are keyed hashes)."""
    micros = int(at.timestamp()) * 1_000_000 + at.microsecond
    return f"{micros:016d}#{registrant_id}"


def _joined(line: str) -> datetime:
    micros = int(line.partition("#")[0])
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(
        microsecond=micros % 1_000_000)


def encode_waitlist_cursor(series_id: str, session_id: str, offset: int, line: str) -> str:
    raw = f"seats\n{series_id}\n{session_id}\n{offset}\n{line}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_waitlist_cursor(cursor: str, series_id: str, session_id: str) -> tuple[int, str]:
    """(places before the page, the last line key read); PayloadError unless it is a cursor
    of this session's waitlist."""
    try:
        if len(cursor) > 600:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise PayloadError("cursor: not a cursor this list handed out") from None
    parts = raw.split("\n")
    if len(parts) != 5 or parts[:3] != ["seats", series_id, session_id] \
            or not parts[3].isdigit() or len(parts[3]) > 9 or not _LINE_KEY.fullmatch(parts[4]):
        raise PayloadError("cursor: not a cursor of this list")
    return int(parts[3]), parts[4]


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise PayloadError(f"limit: from 1 to {MAX_PAGE}")
    return limit


# ---- DynamoDB -------------------------------------------------------------------------------

class DynamoSeats:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def take(self, series_id: str, session_id: str, registrant_id: str,
             capacity: int | None, at: datetime) -> Standing | None:
        """Seat the registrant if a seat is free and nobody waits; their standing (new or
        as it was), or None when the session is full for them."""
        if capacity is not None and capacity <= 0:
            return self.standing(series_id, session_id, registrant_id)
        since = int(at.timestamp())
        room = "(attribute_not_exists(waitlisted) OR waitlisted <= :zero)"
        values: dict[str, Any] = {":one": {"N": "1"}, ":zero": {"N": "0"}}
        if capacity is not None:
            room += " AND (attribute_not_exists(confirmed) OR confirmed < :capacity)"
            values[":capacity"] = {"N": str(capacity)}
        outcome = self._transact([
            self._put_new(series_id, _who_sk(session_id, registrant_id),
                          {"state": {"S": "confirmed"}, "since": {"N": str(since)}}),
            self._count(series_id, session_id, "ADD confirmed :one", room, values)])
        if outcome == "done":
            return Standing("confirmed", since=since)
        if outcome == "refused":  # they stand somewhere already
            return self.standing(series_id, session_id, registrant_id)
        return None

    def give_back(self, series_id: str, session_id: str, registrant_id: str) -> bool:
        return self._remove(series_id, session_id, registrant_id, "confirmed") == "done"

    def join_waitlist(self, series_id: str, session_id: str, registrant_id: str,
                      at: datetime) -> Standing:
        line = line_key(at, registrant_id)
        since = int(at.timestamp())
        self._transact([
            self._put_new(series_id, _who_sk(session_id, registrant_id),
                          {"state": {"S": "waitlisted"}, "since": {"N": str(since)},
                           "line": {"S": line}}),
            self._put_new(series_id, _line_prefix(session_id) + line,
                          {"registrant": {"S": registrant_id}}),
            self._count(series_id, session_id, "ADD waitlisted :one", "",
                        {":one": {"N": "1"}})])
        standing = self.standing(series_id, session_id, registrant_id)
        if standing is None:
            raise RetryableError("the waitlist was changed concurrently; retry")
        return standing

    def leave_waitlist(self, series_id: str, session_id: str, registrant_id: str) -> bool:
        return self._remove(series_id, session_id, registrant_id, "waitlisted") == "done"

    def promote(self, series_id: str, session_id: str, capacity: int | None,
                at: datetime) -> list[str]:
        """The first in line, as many as the free seats, each once: a promotion that another
        promoter already made is skipped, and the counter's condition stops at capacity."""
        promoted: list[str] = []
        for _round in range(PROMOTION_ROUNDS):
            counts = self.counts(series_id, [session_id])[session_id]
            free = counts.waitlisted if capacity is None \
                else min(counts.waitlisted, capacity - counts.confirmed)
            if free <= 0:
                return promoted
            heads = self._line(series_id, session_id, None, min(free, HEAD_READ))[0]
            if not heads:
                return promoted
            for line, registrant_id in heads:
                outcome = self._promote_one(series_id, session_id, line, registrant_id,
                                            capacity, at)
                if outcome == "full":
                    return promoted
                if outcome == "done":
                    promoted.append(registrant_id)
        return promoted

    def unnotified(self, series_id: str, session_id: str) -> list[str]:
        """Promoted and not yet told, in registrant id order (a Query, paged)."""
        prefix = _tell_prefix(session_id)
        request: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":prefix": {"S": prefix}}}
        found: list[str] = []
        while True:
            answer = self.client.query(**request)
            found += [item["sk"]["S"].removeprefix(prefix) for item in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return found
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def mark_notified(self, series_id: str, session_id: str, registrant_id: str) -> bool:
        """Their confirmation is queued: the note goes (False when there was none)."""
        answer = self.client.delete_item(
            TableName=self.table, ReturnValues="ALL_OLD",
            Key=key(f"SERIES#{series_id}", _tell_prefix(session_id) + registrant_id))
        return bool(answer.get("Attributes"))

    def mark_pending(self, series_id: str, session_id: str, registrant_id: str,
                     at: datetime) -> Standing:
        since = int(at.timestamp())
        outcome = self._transact([
            self._put_new(series_id, _who_sk(session_id, registrant_id),
                          {"state": {"S": "pending"}, "since": {"N": str(since)}}),
            self._count(series_id, session_id, "ADD pending :one", "", {":one": {"N": "1"}})])
        if outcome == "done":
            return Standing("pending", since=since)
        standing = self.standing(series_id, session_id, registrant_id)
        if standing is None:
            raise RetryableError("the standing was changed concurrently; retry")
        return standing

    def clear_pending(self, series_id: str, session_id: str, registrant_id: str) -> bool:
        return self._remove(series_id, session_id, registrant_id, "pending") == "done"

    def standing(self, series_id: str, session_id: str, registrant_id: str
                 ) -> Standing | None:
        item = self.client.get_item(
            TableName=self.table, ConsistentRead=True,
            Key=key(f"SERIES#{series_id}", _who_sk(session_id, registrant_id))).get("Item")
        if not item:
            return None
        state: SeatState = item["state"]["S"]  # type: ignore[assignment]
        since = int(item["since"]["N"])
        if state != "waitlisted":
            return Standing(state, since=since)
        return Standing(state, self._place(series_id, session_id, item["line"]["S"]), since)

    def standings(self, series_id: str, session_ids: Sequence[str], registrant_id: str,
                  places: bool = True) -> dict[str, Standing]:
        """One registrant's standing in each of these sessions where they have one, read
        together (one BatchGetItem per 100 sessions, consistent); with ``places``, a
        waitlisted standing's place too (a counting Query each, as ``standing``)."""
        unique = list(dict.fromkeys(session_ids))
        keys = [key(f"SERIES#{series_id}", _who_sk(s, registrant_id)) for s in unique]
        found: dict[str, Standing] = {}
        for item in batch_get(self.client, self.table, keys) if keys else []:
            session_id = item["sk"]["S"].removeprefix("SEATS#").rpartition("#WHO#")[0]
            state: SeatState = item["state"]["S"]
            place = self._place(series_id, session_id, item["line"]["S"]) \
                if state == "waitlisted" and places else None
            found[session_id] = Standing(state, place, int(item["since"]["N"]))
        return {s: found[s] for s in unique if s in found}

    def counts(self, series_id: str, session_ids: Sequence[str]) -> dict[str, SeatCounts]:
        """Each session's counts (one BatchGetItem per 100 sessions); zeros where none."""
        found = {s: SeatCounts() for s in session_ids}
        unique = list(found)
        for start in range(0, len(unique), 100):
            keys = [key(f"SERIES#{series_id}", _count_sk(s)) for s in unique[start:start + 100]]
            for item in batch_get(self.client, self.table, keys):
                session_id = item["sk"]["S"].removeprefix("SEATS#").removesuffix("#COUNT")
                found[session_id] = SeatCounts(
                    **{name: int(item[name]["N"]) for name in
                       ("confirmed", "waitlisted", "pending") if name in item})
        return found

    def waitlist(self, series_id: str, session_id: str, cursor: str | None, limit: int
                 ) -> tuple[list[WaitlistEntry], str | None]:
        """One page of the line in order (a Query) and the cursor of the next, if any."""
        check_limit(limit)
        offset, after = decode_waitlist_cursor(cursor, series_id, session_id) if cursor \
            else (0, None)
        rows, more = self._line(series_id, session_id, after, limit)
        entries = [WaitlistEntry(registrant_id, offset + i + 1, _joined(line))
                   for i, (line, registrant_id) in enumerate(rows)]
        return entries, encode_waitlist_cursor(series_id, session_id, offset + len(rows),
                                               rows[-1][0]) if more and rows else None

    # -- the writes ------------------------------------------------------------------------

    def _promote_one(self, series_id: str, session_id: str, line: str, registrant_id: str,
                     capacity: int | None, at: datetime) -> Outcome:
        values: dict[str, Any] = {":one": {"N": "1"}, ":minus": {"N": "-1"}}
        room = ""
        if capacity is not None:
            room = "attribute_not_exists(confirmed) OR confirmed < :capacity"
            values[":capacity"] = {"N": str(capacity)}
        return self._transact([
            {"Delete": {"TableName": self.table,
                        "Key": key(f"SERIES#{series_id}", _line_prefix(session_id) + line),
                        "ConditionExpression": "attribute_exists(pk)"}},
            {"Update": {"TableName": self.table,
                        "Key": key(f"SERIES#{series_id}", _who_sk(session_id, registrant_id)),
                        "UpdateExpression": "SET #state = :confirmed, since = :since "
                                            "REMOVE line",
                        "ConditionExpression": "#state = :waitlisted AND line = :line",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": {
                            ":confirmed": {"S": "confirmed"}, ":waitlisted": {"S": "waitlisted"},
                            ":line": {"S": line}, ":since": {"N": str(int(at.timestamp()))}}}},
            {"Put": {"TableName": self.table, "Item": {
                **key(f"SERIES#{series_id}", _tell_prefix(session_id) + registrant_id),
                "since": {"N": str(int(at.timestamp()))}}}},
            self._count(series_id, session_id, "ADD confirmed :one, waitlisted :minus", room,
                        values)])

    def _remove(self, series_id: str, session_id: str, registrant_id: str,
                state: SeatState) -> Outcome:
        """Remove a standing only from the state it is in, and its count (and its place)."""
        names = {"#state": "state"}
        values: dict[str, Any] = {":state": {"S": state}}
        condition = "#state = :state"
        extra: list[dict[str, Any]] = []
        if state == "waitlisted":
            item = self.client.get_item(
                TableName=self.table, ConsistentRead=True,
                Key=key(f"SERIES#{series_id}", _who_sk(session_id, registrant_id))).get("Item")
            if not item or item["state"]["S"] != "waitlisted":
                return "refused"
            line = item["line"]["S"]
            condition += " AND line = :line"
            values[":line"] = {"S": line}
            extra.append({"Delete": {"TableName": self.table, "Key": key(
                f"SERIES#{series_id}", _line_prefix(session_id) + line)}})
        if state == "confirmed":  # a promoted person who cancels is not told of the seat
            extra.append({"Delete": {"TableName": self.table, "Key": key(
                f"SERIES#{series_id}", _tell_prefix(session_id) + registrant_id)}})
        return self._transact([
            {"Delete": {"TableName": self.table,
                        "Key": key(f"SERIES#{series_id}", _who_sk(session_id, registrant_id)),
                        "ConditionExpression": condition, "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values}},
            *extra,
            self._count(series_id, session_id, f"ADD {state} :minus", "",
                        {":minus": {"N": "-1"}})])

    def _put_new(self, series_id: str, sort_key: str, attributes: dict[str, Any]
                 ) -> dict[str, Any]:
        return {"Put": {"TableName": self.table,
                        "Item": {**key(f"SERIES#{series_id}", sort_key), **attributes},
                        "ConditionExpression": "attribute_not_exists(pk)"}}

    def _count(self, series_id: str, session_id: str, update: str, condition: str,
               values: dict[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": self.table, "Key": key(f"SERIES#{series_id}", _count_sk(session_id)),
            "UpdateExpression": update, "ExpressionAttributeValues": values}
        if condition:
            request["ConditionExpression"] = condition
        return {"Update": request}

    def _transact(self, writes: list[dict[str, Any]]) -> Outcome:
        """"done"; "full" when only the last action's condition failed (each transaction
        ends with the counter); "refused" when another's did (the standing or the place in
        line is not as expected). Cancelled only by another transaction on the same items:
        sent again after a short pause."""
        for attempt in range(TRANSACT_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
                return "done"
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                codes = [str(reason.get("Code", "None"))
                         for reason in error.response.get("CancellationReasons") or []]
                failed = [i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"]
                if failed:
                    return "full" if failed == [len(writes) - 1] else "refused"
                if "TransactionConflict" not in codes:
                    raise
            pause(attempt)
        raise RetryableError("seats are being changed concurrently; retry")

    def _line(self, series_id: str, session_id: str, after: str | None, limit: int
              ) -> tuple[list[tuple[str, str]], bool]:
        """Up to ``limit`` places after ``after`` (line keys), in order, and whether more
        follow (one more is read to tell, so a cursor never leads to an empty page)."""
        prefix = _line_prefix(session_id)
        request: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True, "Limit": limit + 1,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":prefix": {"S": prefix}}}
        if after is not None:
            request["ExclusiveStartKey"] = key(f"SERIES#{series_id}", prefix + after)
        rows: list[tuple[str, str]] = []
        while True:
            answer = self.client.query(**request)
            rows += [(item["sk"]["S"].removeprefix(prefix), item["registrant"]["S"])
                     for item in answer["Items"]]
            if len(rows) > limit or "LastEvaluatedKey" not in answer:
                return rows[:limit], len(rows) > limit
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _place(self, series_id: str, session_id: str, line: str) -> int:
        """1 + the places before this one (a Query that counts, page by page)."""
        prefix = _line_prefix(session_id)
        request: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True, "Select": "COUNT",
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :mine",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":first": {"S": prefix},
                                          ":mine": {"S": prefix + line}}}
        place = 0
        while True:
            answer = self.client.query(**request)
            place += int(answer["Count"])
            if "LastEvaluatedKey" not in answer:
                return place
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


# ---- in memory ------------------------------------------------------------------------------

@dataclass(slots=True)
class _Who:
    state: SeatState
    since: int
    line: str = ""


class MemorySeats:
    """The same rules in memory (tests/test_seats.py runs both): each call is atomic, as
    each DynamoDB transaction is; cursors and places are the same. Who is seated and who is
    promoted is decided by core.policies (has_free_seat, promotions), whose rules the
    DynamoDB conditions above write out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._who: dict[tuple[str, str, str], _Who] = {}
        self._lines: dict[tuple[str, str], list[str]] = {}  # sorted line keys
        self._counts: dict[tuple[str, str], dict[str, int]] = {}
        self._untold: dict[tuple[str, str], set[str]] = {}

    def take(self, series_id: str, session_id: str, registrant_id: str,
             capacity: int | None, at: datetime) -> Standing | None:
        with self._lock:
            if (series_id, session_id, registrant_id) in self._who:
                return self._standing(series_id, session_id, registrant_id)
            counts = self._count(series_id, session_id)
            if not has_free_seat(capacity, SeatCounts(**counts)):
                return None
            since = int(at.timestamp())
            self._who[series_id, session_id, registrant_id] = _Who("confirmed", since)
            counts["confirmed"] += 1
            return Standing("confirmed", since=since)

    def give_back(self, series_id: str, session_id: str, registrant_id: str) -> bool:
        return self._remove(series_id, session_id, registrant_id, "confirmed")

    def join_waitlist(self, series_id: str, session_id: str, registrant_id: str,
                      at: datetime) -> Standing:
        with self._lock:
            if (series_id, session_id, registrant_id) not in self._who:
                line = line_key(at, registrant_id)
                self._who[series_id, session_id, registrant_id] = _Who(
                    "waitlisted", int(at.timestamp()), line)
                bisect.insort(self._lines.setdefault((series_id, session_id), []), line)
                self._count(series_id, session_id)["waitlisted"] += 1
            found = self._standing(series_id, session_id, registrant_id)
            assert found is not None
            return found

    def leave_waitlist(self, series_id: str, session_id: str, registrant_id: str) -> bool:
        return self._remove(series_id, session_id, registrant_id, "waitlisted")

    def promote(self, series_id: str, session_id: str, capacity: int | None,
                at: datetime) -> list[str]:
        with self._lock:
            counts = self._count(series_id, session_id)
            line = self._lines.get((series_id, session_id), [])
            chosen = promotions(capacity, counts["confirmed"], line)
            del line[:len(chosen)]
            promoted = [place.partition("#")[2] for place in chosen]
            for registrant_id in promoted:
                self._who[series_id, session_id, registrant_id] = _Who(
                    "confirmed", int(at.timestamp()))
                counts["confirmed"] += 1
                counts["waitlisted"] -= 1
                self._untold.setdefault((series_id, session_id), set()).add(registrant_id)
            return promoted

    def unnotified(self, series_id: str, session_id: str) -> list[str]:
        with self._lock:
            return sorted(self._untold.get((series_id, session_id), ()))

    def mark_notified(self, series_id: str, session_id: str, registrant_id: str) -> bool:
        with self._lock:
            untold = self._untold.get((series_id, session_id), set())
            if registrant_id not in untold:
                return False
            untold.discard(registrant_id)
            return True

    def mark_pending(self, series_id: str, session_id: str, registrant_id: str,
                     at: datetime) -> Standing:
        with self._lock:
            if (series_id, session_id, registrant_id) not in self._who:
                self._who[series_id, session_id, registrant_id] = _Who(
                    "pending", int(at.timestamp()))
                self._count(series_id, session_id)["pending"] += 1
            found = self._standing(series_id, session_id, registrant_id)
            assert found is not None
            return found

    def clear_pending(self, series_id: str, session_id: str, registrant_id: str) -> bool:
        return self._remove(series_id, session_id, registrant_id, "pending")

    def standing(self, series_id: str, session_id: str, registrant_id: str
                 ) -> Standing | None:
        with self._lock:
            return self._standing(series_id, session_id, registrant_id)

    def standings(self, series_id: str, session_ids: Sequence[str], registrant_id: str,
                  places: bool = True) -> dict[str, Standing]:
        with self._lock:
            found = {s: self._standing(series_id, s, registrant_id) for s in session_ids}
        return {s: standing if places else Standing(standing.state, None, standing.since)
                for s, standing in found.items() if standing is not None}

    def counts(self, series_id: str, session_ids: Sequence[str]) -> dict[str, SeatCounts]:
        with self._lock:
            return {s: SeatCounts(**self._counts.get((series_id, s), {})) for s in session_ids}

    def waitlist(self, series_id: str, session_id: str, cursor: str | None, limit: int
                 ) -> tuple[list[WaitlistEntry], str | None]:
        check_limit(limit)
        offset, after = decode_waitlist_cursor(cursor, series_id, session_id) if cursor \
            else (0, None)
        with self._lock:
            line = self._lines.get((series_id, session_id), [])
            start = bisect.bisect_right(line, after) if after is not None else 0
            rows = line[start:start + limit]
            more = start + limit < len(line)
        entries = [WaitlistEntry(row.partition("#")[2], offset + i + 1, _joined(row))
                   for i, row in enumerate(rows)]
        return entries, encode_waitlist_cursor(series_id, session_id, offset + len(rows),
                                               rows[-1]) if more and rows else None

    def _remove(self, series_id: str, session_id: str, registrant_id: str,
                state: SeatState) -> bool:
        with self._lock:
            who = self._who.get((series_id, session_id, registrant_id))
            if who is None or who.state != state:
                return False
            del self._who[series_id, session_id, registrant_id]
            if who.line:
                self._lines[series_id, session_id].remove(who.line)
            self._untold.get((series_id, session_id), set()).discard(registrant_id)
            self._count(series_id, session_id)[state] -= 1
            return True

    def _standing(self, series_id: str, session_id: str, registrant_id: str
                  ) -> Standing | None:
        who = self._who.get((series_id, session_id, registrant_id))
        if who is None:
            return None
        place = bisect.bisect_left(self._lines[series_id, session_id], who.line) + 1 \
            if who.state == "waitlisted" else None
        return Standing(who.state, place, who.since)

    def _count(self, series_id: str, session_id: str) -> dict[str, int]:
        return self._counts.setdefault((series_id, session_id),
                                       {"confirmed": 0, "waitlisted": 0, "pending": 0})
