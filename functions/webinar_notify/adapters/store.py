"""The store port and its DynamoDB adapter (single table; Get, Put, Query; a Scan only for an
operator's ``counts repair``, adapters/mail_counts.py).

Keys (``pk`` / ``sk``):
    SERIES#<id> / SERIES                  the series document and its revision
    SERIES#<id> / REG#<registrant id>     one registration (no address in any key)
    SERIES#<id> / EVENT#<provider>#<hash> a webhook event already applied (TTL 400 days)
    SERIES#<id> / ERASED#<registrant id>  a tombstone: when that person's data was erased,
                                          so no older event can bring it back (TTL 400 days)
    COUNTS#<id>#<n> / REGISTRATIONS       the registration counters, moved in the same
                                          transaction as each write (registration_counts.py)
    SUPPRESSED#<sid> / SUPPRESSED         an address that bounced or complained (every series),
                                          with the series whose email caused it (caused_by)
    SERIES#<id> / SUPPRESSED#<sid>        ... listed under that series
    SERIES#<id> / COUNTS                  attendance that matched no session
    SERIES#<id> / PENDING#<id>            a registrant awaiting approval (arrived: µs), and
    SERIES#<id> / PENDINGAT#<µs>#<id>     ... the same in order of arrival; PENDINGAT marks
                                          that every pending registrant is in that order
The delivery ledger and the mail counters live in the same table (see ``ledger.py``); the
read side the console uses is in ``read_model.py``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from ..core.counts import PENDING_TALLY, SentMail, tally
from ..core.jobs import ORGANISER_COPY
from ..core.registration import Registrant, Registration
from ..core.send_check import Recipient
from ..core.series import Series
from ..core.series_document import parse_series, series_to_document
from .conflicts import is_conflict_only, pause
from .dynamo import StaleWriteError, batch_get, conditional, key
from .ledger import DeliveryStateWrites, DeliveryUpdate
from .mail_counts import MailCounts, MailTally
from .read_model import ReadModel, ReadModelPort, decode_cursor, encode_cursor
from .read_model import check_limit as check_page_limit
from .registration_counts import RegistrationCounts
from .seats import DynamoSeats, Seats, standing_sort_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

TOMBSTONE_TTL = timedelta(days=400)  # beyond any provider's retries and any series' lifetime
# As long as a tombstone: for a sender without timestamps, a replay after an erasure looks new
# and only its event id tells it apart.
EVENT_TTL = TOMBSTONE_TTL
ERASE_ATTEMPTS = 3
TRANSACT_ATTEMPTS = 4  # a transaction that met another one on a counter shard, sent again
# SERIES#<id> / PENDINGAT: from its "since" on, the pending index holds everyone awaiting
# approval. For an hour after that (a stack update's old code still finishing) the first page still
# mends entries without an order; after it, the first page costs nothing more.
PENDING_MARK = "PENDINGAT"
PENDING_MEND_WINDOW = 3600  # seconds


def erase_retrying(erase: Callable[[Registration, int], None],
                   latest: Callable[[str, str], Registration | None],
                   registration: Registration, erased_at: int) -> None:
    """One erasure (``erase``), tried again on the version written meanwhile (``latest``);
    one erased meanwhile still gets its tombstone."""
    for _ in range(ERASE_ATTEMPTS):
        try:
            erase(registration, erased_at)
            return
        except StaleWriteError:
            written = latest(registration.series_id, registration.registrant_id)
            registration = written if written is not None else \
                replace(registration, version=0, counted=frozenset())
    raise StaleWriteError


class Store(ReadModelPort, Protocol):
    seats: Seats  # seats, waitlists and pending approvals per session (same table)

    def get_series(self, series_id: str) -> Series | None: ...
    def put_series(self, series: Series, expected_revision: int | None,
                   tasks: dict[str, dict[str, Any]] | None = None) -> None: ...
    def get_registration(self, series_id: str, registrant_id: str) -> Registration | None: ...
    def registrations(self, series_id: str, registrant_ids: list[str]
                      ) -> dict[str, Registration]: ...
    def put_registration(self, registration: Registration, now: datetime) -> Registration: ...
    def registrations_page(self, series_id: str, cursor: dict[str, Any] | None, limit: int
                           ) -> tuple[list[Registration], dict[str, Any] | None]: ...
    def suppressed(self, suppression_ids: list[str]) -> set[str]: ...
    def suppress(self, suppression_id: str, reason: str, now: datetime,
                 series_id: str = "") -> None: ...
    def record_delivery(self, delivery_key: str, state: str, at: str, detail: str,
                        tally: MailTally | None = None) -> DeliveryUpdate: ...
    def add_mail_counts(self, tally: MailTally) -> None: ...
    def event_seen(self, series_id: str, provider: str, event_id: str) -> bool: ...
    def mark_attendance_known(self, series_id: str, session_id: str) -> None: ...
    def count_unmatched_attendance(self, series_id: str) -> None: ...
    def erase_registration(self, registration: Registration, erased_at: int) -> None: ...
    def erased_at(self, series_id: str, registrant_id: str) -> int | None: ...
    def recipient(self, series_id: str, registrant_id: str, suppression_id: str,
                  session_ids: Sequence[str] = ()) -> Recipient: ...
    def pending_page(self, series_id: str, cursor: str | None, limit: int
                     ) -> tuple[list[Registration], str | None]: ...
    def registration_counters(self, series_id: str) -> dict[int, dict[str, int]]: ...
    def replace_registration_counters(self, series_id: str, shard: int, was: dict[str, int],
                                      now: dict[str, int]) -> None: ...
    def mail_counters(self, series_id: str) -> dict[int, dict[str, int]]: ...
    def replace_mail_counters(self, series_id: str, shard: int, was: dict[str, int],
                              now: dict[str, int]) -> None: ...
    def sent_mail_page(self, series_id: str, cursor: dict[str, Any] | None, limit: int
                       ) -> tuple[list[SentMail], dict[str, Any] | None]: ...
    def attendance_known(self, series_id: str, session_id: str) -> bool: ...
    def mark_event(self, series_id: str, provider: str, event_id: str, now: datetime) -> None: ...


class DynamoStore(ReadModel, RegistrationCounts, MailCounts, DeliveryStateWrites):
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table
        self.seats: Seats = DynamoSeats(client, table)
        self.wall_clock: Callable[[], float] = time.time  # the pending index's mend window

    def get_series(self, series_id: str) -> Series | None:
        item = self._get(key(f"SERIES#{series_id}", "SERIES"))
        return parse_series(json.loads(item["doc"]["S"])) if item else None

    def put_series(self, series: Series, expected_revision: int | None,
                   tasks: dict[str, dict[str, Any]] | None = None) -> None:
        """Store a revision (expected_revision None: "must not exist yet"), and with it, in
        one transaction, the tasks it brings (the notices of its changes)."""
        item = {**key(f"SERIES#{series.id}", "SERIES"),
                "doc": {"S": json.dumps(series_to_document(series), ensure_ascii=False)},
                "revision": {"N": str(series.revision)}}
        condition = _version_condition("revision", expected_revision)
        if not tasks:
            conditional(lambda: self.client.put_item(TableName=self.table, Item=item,
                                                     **condition))
            return
        writes: list[Any] = [{"Put": {"TableName": self.table, "Item": item, **condition}}]
        writes += [{"Put": {"TableName": self.table, "Item": {
            **key(f"SERIES#{series.id}", f"TASK#{task_key}"),
            "doc": {"S": json.dumps(doc, ensure_ascii=False)}}}}
            for task_key, doc in tasks.items()]
        self._transact(writes)

    def get_registration(self, series_id: str, registrant_id: str) -> Registration | None:
        item = self._get(key(f"SERIES#{series_id}", f"REG#{registrant_id}"))
        return _registration(item) if item else None

    def registrations(self, series_id: str, registrant_ids: list[str]
                      ) -> dict[str, Registration]:
        """The registrations of these people that still exist, by id (BatchGetItem, 100 a
        request): an erased person is simply not there."""
        keys = [key(f"SERIES#{series_id}", f"REG#{rid}") for rid in dict.fromkeys(registrant_ids)]
        found = [_registration(item) for item in batch_get(self.client, self.table, keys)]
        return {r.registrant_id: r for r in found}

    def put_registration(self, registration: Registration, now: datetime) -> Registration:
        """Write the next version; StaleWriteError when another writer got there first."""
        r = registration.registrant
        version = registration.version + 1
        item: dict[str, Any] = {
            **key(f"SERIES#{registration.series_id}", f"REG#{registration.registrant_id}"),
            "email": {"S": r.email}, "full_name": {"S": r.full_name},
            "time_zone": {"S": r.time_zone}, "whole_series": {"BOOL": registration.whole_series},
            "status": {"S": registration.status},
            "last_event": {"N": str(registration.last_event)},
            "version": {"N": str(version)}, "updated_at": {"S": now.isoformat()},
        }
        if registration.session_ids:
            item["sessions"] = {"SS": sorted(registration.session_ids)}
        if r.language:
            item["language"] = {"S": r.language}
        if registration.join_urls:
            item["join_urls"] = {"M": {k: {"S": v} for k, v in registration.join_urls.items()}}
        if registration.consent:
            item["consent"] = {"S": registration.consent}
        if registration.since:
            item["since"] = {"M": {k: {"N": str(v)} for k, v in registration.since.items()}}
        if registration.reminders_off:
            item["reminders_off"] = {"BOOL": True}
        if registration.announcements_off:
            item["announcements_off"] = {"BOOL": True}
        if registration.interests:
            item["interests"] = {"SS": sorted(registration.interests)}
        if registration.attended:
            item["attended"] = {"SS": sorted(registration.attended)}
        if not registration.opted_in:
            item["opted_in"] = {"BOOL": False}
        if registration.approval != "approved":
            item["approval"] = {"S": registration.approval}
        item["search"] = {"S": f"{r.full_name}\n{r.email}".casefold()}  # the console's search
        condition = _version_condition("version", registration.version or None)
        moved = self._counts_update(registration.series_id, registration.registrant_id,
                                    registration.counted,
                                    tally(registration))
        if moved is None:
            conditional(lambda: self.client.put_item(TableName=self.table, Item=item,
                                                     **condition))
        else:
            self._transact([{"Put": {"TableName": self.table, "Item": item, **condition}},
                            moved, *self._pending_index(registration, now)])
        return _registration(item)

    def _pending_index(self, registration: Registration, at: datetime
                       ) -> list[dict[str, Any]]:
        """The organisers' list of registrants awaiting approval follows the counter of the
        same name, in the same transaction: per pending registrant, ``PENDING#<id>`` with
        the moment they joined the list, and ``PENDINGAT#<µs>#<id>``, which a Query reads in
        order of arrival."""
        was = PENDING_TALLY in registration.counted
        now = PENDING_TALLY in tally(registration)
        series_id, rid = registration.series_id, registration.registrant_id
        if now and not was:
            arrived = f"{int(at.timestamp()) * 1_000_000 + at.microsecond:016d}"
            return [{"Put": {"TableName": self.table, "Item": {
                        **key(f"SERIES#{series_id}", f"PENDING#{rid}"),
                        "arrived": {"S": arrived}}}},
                    {"Put": {"TableName": self.table, "Item": key(
                        f"SERIES#{series_id}", f"PENDINGAT#{arrived}#{rid}")}}]
        if was and not now:
            return self._pending_removal(series_id, rid)
        return []

    def _pending_removal(self, series_id: str, rid: str) -> list[dict[str, Any]]:
        """The deletes that take a registrant off the pending list (its arrival read first)."""
        index = key(f"SERIES#{series_id}", f"PENDING#{rid}")
        found = self.client.get_item(TableName=self.table, Key=index,
                                     ConsistentRead=True).get("Item") or {}
        if "arrived" not in found:  # unless the index was mended meanwhile (then: stale)
            return [{"Delete": {"TableName": self.table, "Key": index,
                                "ConditionExpression": "attribute_not_exists(arrived)"}}]
        return [{"Delete": {"TableName": self.table, "Key": index,
                            "ConditionExpression": "arrived = :arrived",
                            "ExpressionAttributeValues": {":arrived": found["arrived"]}}},
                {"Delete": {"TableName": self.table, "Key": key(
                    f"SERIES#{series_id}", f"PENDINGAT#{found['arrived']['S']}#{rid}")}}]

    def pending_page(self, series_id: str, cursor: str | None, limit: int
                     ) -> tuple[list[Registration], str | None]:
        """One page of the registrants awaiting approval (a Query of the index, then one
        BatchGetItem of their registrations), in order of arrival, and the next cursor.

        The first page's Query also reads ``PENDINGAT``, the mark that the index holds every
        pending registrant: where it is missing or recent, entries written before the index
        had an order are given one first (``_mend_pending_index``)."""
        check_page_limit(limit)
        request: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":prefix": {"S": "PENDINGAT#"}}}
        if cursor:
            answer = self._query(request, decode_cursor(cursor, series_id, "PENDINGAT#"), limit)
        else:
            answer = self._first_pending(series_id, request, limit)
        ids = [item["sk"]["S"].rpartition("#")[2] for item in answer["Items"]]
        found = {item["sk"]["S"]: item for item in batch_get(
            self.client, self.table,
            [key(f"SERIES#{series_id}", f"REG#{rid}") for rid in ids])} if ids else {}
        page = [registration for rid in ids if f"REG#{rid}" in found
                and _is_pending(registration := _registration(found[f"REG#{rid}"]))]
        last = answer.get("LastEvaluatedKey")
        return page, encode_cursor(series_id, last["sk"]["S"]) if last else None

    def _first_pending(self, series_id: str, request: dict[str, Any],
                       limit: int) -> dict[str, Any]:
        """The first page of the index with its mark in the same Query (one item more,
        ``PENDINGAT`` sorting just before ``PENDINGAT#``); mended first while it is needed."""
        answer = self.client.query(**{
            **request, "Limit": limit + 1,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :mark AND :end",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":mark": {"S": PENDING_MARK},
                                          ":end": {"S": PENDING_MARK + "$"}}})
        items = answer["Items"]
        complete = items[0] if items and items[0]["sk"]["S"] == PENDING_MARK else None
        now = int(self.wall_clock())
        mended = 0
        if complete is None or now - int(complete["since"]["N"]) < PENDING_MEND_WINDOW:
            mended = self._mend_pending_index(series_id)
            if complete is None:
                self._put_mark(series_id, now)
        if mended:
            return self._query(request, None, limit)
        items = items[1:] if complete is not None else items
        if len(items) > limit:  # no mark: the one item more is the next page's
            return {"Items": items[:limit], "LastEvaluatedKey": {
                "pk": items[limit - 1]["pk"], "sk": items[limit - 1]["sk"]}}
        return {**answer, "Items": items}

    def _put_mark(self, series_id: str, now: int) -> None:
        """The index is whole from ``now`` on (the first such moment is kept)."""
        with suppress(StaleWriteError):  # marked by another reader meanwhile
            conditional(lambda: self.client.put_item(
                TableName=self.table, ConditionExpression="attribute_not_exists(pk)",
                Item={**key(f"SERIES#{series_id}", PENDING_MARK), "since": {"N": str(now)}}))

    def _mend_pending_index(self, series_id: str) -> int:
        """Give each ``PENDING#<id>`` written before the index had an order (no ``arrived``)
        the moment its registration was made and its ``PENDINGAT#`` twin, in one conditional
        transaction each: one approved, declined or erased meanwhile is left as it is. How
        many were mended."""
        request: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True, "ProjectionExpression": "sk",
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "FilterExpression": "attribute_not_exists(arrived)",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":prefix": {"S": "PENDING#"}}}
        bare: list[str] = []
        while True:
            answer = self.client.query(**request)
            bare += [item["sk"]["S"].removeprefix("PENDING#") for item in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        mended = 0
        for registration in self.registrations(series_id, bare).values() if bare else ():
            if not _is_pending(registration):
                continue
            rid, arrived = registration.registrant_id, f"{registered_at(registration):016d}"
            try:
                self._transact([
                    {"Update": {"TableName": self.table,
                                "Key": key(f"SERIES#{series_id}", f"PENDING#{rid}"),
                                "UpdateExpression": "SET arrived = :arrived",
                                "ConditionExpression":
                                    "attribute_exists(pk) AND attribute_not_exists(arrived)",
                                "ExpressionAttributeValues": {":arrived": {"S": arrived}}}},
                    {"Put": {"TableName": self.table, "Item": key(
                        f"SERIES#{series_id}", f"PENDINGAT#{arrived}#{rid}")}}])
                mended += 1
            except StaleWriteError:
                continue  # decided, erased or mended meanwhile
        return mended

    def registrations_page(self, series_id: str, cursor: dict[str, Any] | None, limit: int
                           ) -> tuple[list[Registration], dict[str, Any] | None]:
        """One page of a series' registrations (a Query, never a Scan) and the next cursor."""
        request: dict[str, Any] = {
            "TableName": self.table, "Limit": limit,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":prefix": {"S": "REG#"}}}
        if cursor:
            request["ExclusiveStartKey"] = cursor
        answer = self.client.query(**request)
        return ([_registration(dict(item)) for item in answer["Items"]],
                dict(answer["LastEvaluatedKey"]) if "LastEvaluatedKey" in answer else None)

    def suppressed(self, suppression_ids: list[str]) -> set[str]:
        """Which of these addresses (by suppression id) must never be mailed again."""
        found: set[str] = set()
        unique = list(dict.fromkeys(suppression_ids))
        for start in range(0, len(unique), 100):
            keys = [key(f"SUPPRESSED#{sid}", "SUPPRESSED") for sid in unique[start:start + 100]]
            found.update(item["pk"]["S"].removeprefix("SUPPRESSED#") for item in batch_get(
                self.client, self.table, keys, consistent=False, projection="pk"))
        return found

    def suppress(self, suppression_id: str, reason: str, now: datetime,
                 series_id: str = "") -> None:
        """Never mail this address again, in any series; with the series whose email it
        was, listed there too (for its organisers' delivery page), and recorded as its cause:
        only that series may lift it. A later bounce in another series makes that one the
        cause; one whose series is not known keeps the cause recorded before."""
        details = {"reason": {"S": reason}, "since": {"S": now.isoformat()}}
        values = {":reason": details["reason"], ":since": details["since"]}
        if series_id:
            values[":cause"] = {"S": series_id}
        self.client.update_item(
            TableName=self.table, Key=key(f"SUPPRESSED#{suppression_id}", "SUPPRESSED"),
            UpdateExpression="SET reason = :reason, since = :since"
                             + (", caused_by = :cause" if series_id else ""),
            ExpressionAttributeValues=values)
        if series_id:
            self.client.put_item(TableName=self.table, Item={
                **key(f"SERIES#{series_id}", f"SUPPRESSED#{suppression_id}"), **details})

    def erase_registration(self, registration: Registration, erased_at: int) -> None:
        """Erasure: the registration, the only item holding the address, is deleted, and in
        the same transaction a tombstone (registrant id and time, no address) is written and
        the counts lose what it counted. A version written meanwhile is read and erased."""
        erase_retrying(self._erase, self.get_registration, registration, erased_at)

    def _erase(self, registration: Registration, erased_at: int) -> None:
        series_id, registrant_id = registration.series_id, registration.registrant_id
        expires = erased_at + int(TOMBSTONE_TTL.total_seconds())
        writes: list[Any] = [
            {"Delete": {"TableName": self.table,
                        "Key": key(f"SERIES#{series_id}", f"REG#{registrant_id}"),
                        **_version_condition("version", registration.version or None)}},
            {"Put": {"TableName": self.table, "Item": {
                **key(f"SERIES#{series_id}", f"ERASED#{registrant_id}"),
                "erased_at": {"N": str(erased_at)}, "expires_at": {"N": str(expires)}}}}]
        moved = self._counts_update(series_id, registrant_id, registration.counted,
                                    frozenset())
        if PENDING_TALLY in registration.counted:
            writes += self._pending_removal(series_id, registrant_id)
        self._transact(writes + ([moved] if moved else []))

    def _transact(self, writes: list[Any]) -> None:
        """One transaction; a failed condition cancels it as a whole: StaleWriteError, read
        again and retry. One cancelled only because another transaction held an item (two
        registrations on one counter shard) is sent again after a jittered pause, and after
        a few such pauses is a StaleWriteError too."""
        for attempt in range(TRANSACT_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=writes)
                return
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != \
                        "TransactionCanceledException":
                    raise
                if not is_conflict_only(error) or attempt == TRANSACT_ATTEMPTS - 1:
                    raise StaleWriteError from None
            pause(attempt)

    def recipient(self, series_id: str, registrant_id: str, suppression_id: str,
                  session_ids: Sequence[str] = ()) -> Recipient:
        """The suppression and registration of one recipient, and their seat standing in
        ``session_ids``, in one BatchGetItem (eventually consistent, 0.5 read units an item,
        found or not): what the sender reads just before sending. The tombstone matters
        only where the registration is gone, so only then is it read, with a GetItem."""
        wanted = {"suppressed": key(f"SUPPRESSED#{suppression_id}", "SUPPRESSED"),
                  "registration": key(f"SERIES#{series_id}", f"REG#{registrant_id}")}
        wanted |= {f"seat:{s}": key(f"SERIES#{series_id}", standing_sort_key(s, registrant_id))
                   for s in session_ids}
        found = {(got["pk"]["S"], got["sk"]["S"]): got for got in batch_get(
            self.client, self.table, list(wanted.values()), consistent=False)}

        def read(name: str) -> dict[str, Any] | None:
            return found.get((wanted[name]["pk"]["S"], wanted[name]["sk"]["S"]))

        registration = read("registration")
        standings = {s: str(seat["state"]["S"]) for s in session_ids
                     if (seat := read(f"seat:{s}")) is not None}
        # Only where it decides: no registration, an address still reachable, not a test copy.
        gone = registration is None and read("suppressed") is None \
            and registrant_id != ORGANISER_COPY
        erased = gone and self.client.get_item(
            TableName=self.table, Key=key(f"SERIES#{series_id}", f"ERASED#{registrant_id}"),
            ProjectionExpression="pk").get("Item") is not None
        return Recipient(suppressed=read("suppressed") is not None,
                         registration=_registration(registration) if registration else None,
                         erased=erased, standings=standings)

    def erased_at(self, series_id: str, registrant_id: str) -> int | None:
        """When this person's data was erased from the series (unix seconds), if it was."""
        item = self._get(key(f"SERIES#{series_id}", f"ERASED#{registrant_id}"))
        return int(item["erased_at"]["N"]) if item else None

    def count_unmatched_attendance(self, series_id: str) -> None:
        """Attendance for no session of the series (e.g. an occurrence that matches none)."""
        self.client.update_item(
            TableName=self.table, Key=key(f"SERIES#{series_id}", "COUNTS"),
            UpdateExpression="ADD attendance_unmatched :one",
            ExpressionAttributeValues={":one": {"N": "1"}})

    def mark_attendance_known(self, series_id: str, session_id: str) -> None:
        self.client.put_item(TableName=self.table,
                             Item=key(f"SERIES#{series_id}", f"ATTENDANCE#{session_id}"))

    def attendance_known(self, series_id: str, session_id: str) -> bool:
        return self._get(key(f"SERIES#{series_id}", f"ATTENDANCE#{session_id}")) is not None

    def event_seen(self, series_id: str, provider: str, event_id: str) -> bool:
        return self._get(_event_key(series_id, provider, event_id)) is not None

    def mark_event(self, series_id: str, provider: str, event_id: str, now: datetime) -> None:
        self.client.put_item(TableName=self.table, Item={
            **_event_key(series_id, provider, event_id),
            "expires_at": {"N": str(int((now + EVENT_TTL).timestamp()))}})

    def _registration_of(self, item: dict[str, Any]) -> Registration:
        return _registration(item)

    def _get(self, item_key: dict[str, Any]) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, Key=item_key,
                                    ConsistentRead=True).get("Item")
        return dict(item) if item else None


def _version_condition(attribute: str, expected: int | None) -> dict[str, Any]:
    if expected is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": f"{attribute} = :expected",
            "ExpressionAttributeValues": {":expected": {"N": str(expected)}}}


def _event_key(series_id: str, provider: str, event_id: str) -> dict[str, Any]:
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:32]
    return key(f"SERIES#{series_id}", f"EVENT#{provider}#{digest}")


def registered_at(registration: Registration) -> int:
    """When a registrant joined the pending list, as far as a registration written before the
    list had an order tells (µs; its first registration, or 0 if unknown)."""
    return min(registration.since.values(), default=0) * 1_000_000


def _is_pending(registration: Registration) -> bool:
    return registration.status == "active" and registration.approval == "pending"


def _registration(item: dict[str, Any]) -> Registration:
    """A stored registration, knowing what it counts."""
    registration = Registration(
        series_id=item["pk"]["S"].removeprefix("SERIES#"),
        registrant_id=item["sk"]["S"].removeprefix("REG#"),
        registrant=Registrant(email=item["email"]["S"], full_name=item["full_name"]["S"],
                              time_zone=item["time_zone"]["S"],
                              join_url=None, language=item.get("language", {}).get("S", "")),
        session_ids=frozenset(item.get("sessions", {}).get("SS", [])),
        whole_series=item["whole_series"]["BOOL"],
        status=item["status"]["S"],
        consent=item.get("consent", {}).get("S", ""),
        since={k: int(v["N"]) for k, v in item.get("since", {}).get("M", {}).items()},
        reminders_off=item.get("reminders_off", {}).get("BOOL", False),
        announcements_off=item.get("announcements_off", {}).get("BOOL", False),
        interests=frozenset(item.get("interests", {}).get("SS", [])),
        attended=frozenset(item.get("attended", {}).get("SS", [])),
        opted_in=item.get("opted_in", {}).get("BOOL", True),
        approval=item.get("approval", {}).get("S", "approved"),
        join_urls={k: v["S"] for k, v in item.get("join_urls", {}).get("M", {}).items()},
        last_event=int(item["last_event"]["N"]),
        version=int(item["version"]["N"]),
    )
    return replace(registration, counted=tally(registration))
