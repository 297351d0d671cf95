"""The series' mail counters: added to in batches (a tally), read as stored, and the ledger
items they count, for a repair (``services/counts_repair.py``); mixed into the DynamoDB store:

    COUNTS#<series>#<shard 0..7> / MAIL      "<kind>|<session or ->|<state>" -> n
    LEDGER#<series>#<registrant> / <key>     one email (DELIVERY#<key> before it moved)

A counter item holds every kind, session and state of its shard, so it outgrows 1 KB and
each write of it costs a write unit per KB: the sender and the feedback function add up a
whole batch first (``MailTally``) and write each shard they touched once, with the batch's
sums. Should that write fail after the emails' own records were written, the counts are short
(never doubled) until a repair recounts them from the ledger.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..core.counts import COUNT_SHARDS, SentMail, count_shard, parse_mail_attribute
from .conflicts import is_write_conflict, pause
from .dynamo import batch_get
from .registration_counts import replace_counters

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


ADD_ATTEMPTS = 5  # a counter write refused while a transaction held the shard


def mail_counter_key(series_id: str, shard: int) -> dict[str, Any]:
    return {"pk": {"S": f"COUNTS#{series_id}#{shard}"}, "sk": {"S": "MAIL"}}


class MailTally:
    """A batch's additions to the mail counters, per series and shard (thread-safe: the
    sender's pool adds to it at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sums: dict[tuple[str, int], Counter[str]] = {}

    def add(self, series_id: str, delivery_key: str, attribute: str, n: int = 1) -> None:
        """One email counted under ``attribute`` on its own shard."""
        with self._lock:
            shard = self._sums.setdefault((series_id, count_shard(delivery_key)), Counter())
            shard[attribute] += n

    def take(self) -> dict[tuple[str, int], Counter[str]]:
        """The sums so far, which the tally then forgets."""
        with self._lock:
            sums, self._sums = self._sums, {}
        return sums

    def total(self) -> int:
        """How many counts it holds."""
        with self._lock:
            return sum(n for sums in self._sums.values() for n in sums.values())

    def __bool__(self) -> bool:
        return bool(self._sums)


def write_tally(write: Callable[[MailTally], None], tally: MailTally) -> int:
    """Write a batch's tally with ``write``; how many counts it could not add (0 when it
    wrote them, or had none). What they count happened (sent, recorded), so a failure leaves
    the counts short, never doubled, until a repair; the caller's metric says by how many."""
    if not tally:
        return 0
    pending = tally.total()
    try:
        write(tally)
    except Exception:
        return pending
    return 0


def add_counts(client: DynamoDBClient, table: str,
               sums: dict[tuple[str, int], Counter[str]]) -> None:
    """One ADD per shard with the sums of every attribute on it; a write refused because a
    transaction held the shard was not applied, so it is sent again after a pause."""
    for (series_id, shard), counts in sums.items():
        names = sorted(name for name, n in counts.items() if n)
        if not names:
            continue
        request: dict[str, Any] = {
            "TableName": table, "Key": mail_counter_key(series_id, shard),
            "UpdateExpression": "ADD " + ", ".join(f"#a{i} :n{i}" for i in range(len(names))),
            "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(names)},
            "ExpressionAttributeValues": {f":n{i}": {"N": str(counts[name])}
                                          for i, name in enumerate(names)}}
        for attempt in range(ADD_ATTEMPTS):
            try:
                client.update_item(**request)
                break
            except ClientError as error:
                if not is_write_conflict(error) or attempt == ADD_ATTEMPTS - 1:
                    raise
            pause(attempt)


class MailCounts:
    client: DynamoDBClient
    table: str

    def add_mail_counts(self, tally: MailTally) -> None:
        """Write a batch's tally (see the module's note on what a failure costs)."""
        add_counts(self.client, self.table, tally.take())

    def mail_counters(self, series_id: str) -> dict[int, dict[str, int]]:
        """The mail counters as stored, per shard (one BatchGetItem)."""
        found: dict[int, dict[str, int]] = {shard: {} for shard in range(COUNT_SHARDS)}
        keys = [mail_counter_key(series_id, s) for s in range(COUNT_SHARDS)]
        for item in batch_get(self.client, self.table, keys):
            found[int(item["pk"]["S"].rpartition("#")[2])] = {
                name: int(value["N"]) for name, value in item.items()
                if "N" in value and parse_mail_attribute(name)}
        return found

    def replace_mail_counters(self, series_id: str, shard: int, was: dict[str, int],
                              now: dict[str, int]) -> None:
        """A repair: StaleWriteError if any of them moved since ``was`` was read."""
        replace_counters(self.client, self.table, mail_counter_key(series_id, shard), was, now)

    def sent_mail_page(self, series_id: str, cursor: dict[str, Any] | None, limit: int
                       ) -> tuple[list[SentMail], dict[str, Any] | None]:
        """One page of a Scan for the series' emails (a repair's read, seldom run: the
        ledger keeps each email under its registrant, and the registrations of erased people
        are gone; what was recorded before the ledger moved counts once ``webinar-notify
        ledger migrate`` copied it); and the next cursor. A page may be empty while the cursor
        goes on."""
        request: dict[str, Any] = {
            "TableName": self.table, "Limit": limit,
            "FilterExpression": "begins_with(pk, :ledger)",
            "ExpressionAttributeValues": {":ledger": {"S": f"LEDGER#{series_id}#"}}}
        if cursor:
            request["ExclusiveStartKey"] = cursor
        answer = self.client.scan(**request)
        return ([SentMail(
            delivery_key=item["sk"]["S"], registrant_id=item["pk"]["S"].rpartition("#")[2],
            kind=item.get("kind", {}).get("S", ""),
            session_ids=tuple(v["S"] for v in item.get("sessions", {}).get("L", [])),
            states=frozenset(item.get("events", {}).get("SS", []))
            | ({item["delivery"]["S"]} if "delivery" in item else set()),
            sent_log=item.get("sent_log", {}).get("S", ""))
            for item in answer["Items"]],
            dict(answer["LastEvaluatedKey"]) if "LastEvaluatedKey" in answer else None)
