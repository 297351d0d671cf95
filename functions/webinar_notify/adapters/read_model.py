"""What the organiser console reads: kept counters, one page of registrations, one person's
mail, the series' suppressed addresses. Every read is a Get, a BatchGet or one Query page, so
a page costs the same few requests whatever the size of the series.

Cursors are opaque to callers (URL-safe base64 of the series and the last key read) and are
checked before anything is read: one that is not a key of this series is a PayloadError.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from ..core.counts import (
    COUNT_SHARDS,
    MailRecord,
    SeriesCounts,
    SuppressionRecord,
    newest_first,
    parse_mail_attribute,
)
from ..core.errors import InvalidInputError, PayloadError, RetryableError
from ..core.registration import Registration
from ..core.text import registrant_id
from .conflicts import error_code, is_conflict_only, pause
from .dynamo import batch_get, key
from .ledger import sent_at
from .registration_counts import counters_of, registration_shard_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SEARCH_READS = 4  # Query pages one search may read to fill a page of matches
SEARCH_PAGE = 200  # items per such Query page (each well under DynamoDB's 1 MB)
MAX_PAGE = 500
LIFT_ATTEMPTS = 3
_KEY_PART = re.compile(r"[A-Za-z0-9_.:+#-]{1,128}")
_REGISTRANT_ID = re.compile(r"r[0-9a-f]{31}")
_SUPPRESSION_ID = re.compile(r"[0-9a-f]{32}")


class ReadModelPort(Protocol):
    def counts(self, series_id: str) -> SeriesCounts: ...
    def registrations_matching(self, series_id: str, query: str, cursor: str | None,
                               limit: int, *, registrant_key: str = ""
                               ) -> tuple[list[Registration], str | None]: ...
    def registrant_mail(self, series_id: str, registrant_id: str,
                        limit: int = 200) -> list[MailRecord]: ...
    def suppressions(self, series_id: str, cursor: str | None, limit: int
                     ) -> tuple[list[SuppressionRecord], str | None]: ...
    def lift_suppression(self, series_id: str, suppression_id: str) -> bool: ...


class SuppressedElsewhereError(InvalidInputError):
    """The address is on this series' list, but the suppression now in force was caused by
    another series' mail: only that series may lift it."""

    status = 403

    def __init__(self) -> None:
        super().__init__("this address was suppressed because of another series' mail; "
                         "only that series' editors can allow it again")


def mail_shard_key(series_id: str, shard: int) -> dict[str, Any]:
    return key(f"COUNTS#{series_id}#{shard}", "MAIL")


def series_counts_key(series_id: str) -> dict[str, Any]:
    """The series' other counts (today: attendance that matched none of its sessions)."""
    return key(f"SERIES#{series_id}", "COUNTS")


def encode_cursor(series_id: str, sort_key: str) -> str:
    raw = f"{series_id}\n{sort_key}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, series_id: str, prefix: str) -> str:
    """The sort key a cursor stands for; PayloadError unless it is one of this series' keys
    with this prefix."""
    try:
        if len(cursor) > 400:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise PayloadError("cursor: not a cursor this list handed out") from None
    owner, _, sort_key = raw.partition("\n")
    if owner != series_id or not sort_key.startswith(prefix) \
            or not _KEY_PART.fullmatch(sort_key.removeprefix(prefix)):
        raise PayloadError("cursor: not a cursor of this list")
    return sort_key


def _named_registrant(series_id: str, needle: str, registrant_key: str) -> str:
    """The registrant id a search names: itself, or an address's (with the key); else ""."""
    if _REGISTRANT_ID.fullmatch(needle):
        return needle
    if registrant_key and "@" in needle and len(needle) <= 254 and " " not in needle:
        return registrant_id(registrant_key, series_id, needle)
    return ""


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise PayloadError(f"limit: from 1 to {MAX_PAGE}")
    return limit


class ReadModel:
    """The read side of DynamoStore (mixed into it): needs ``client`` and ``table``."""

    client: DynamoDBClient
    table: str

    def _registration_of(self, item: dict[str, Any]) -> Registration:
        raise NotImplementedError  # the store knows its item format

    def counts(self, series_id: str) -> SeriesCounts:
        """The kept counters: every registration and mail counter shard and the series' other
        counts in one BatchGetItem."""
        keys = [maker(series_id, s) for s in range(COUNT_SHARDS)
                for maker in (registration_shard_key, mail_shard_key)]
        registrations: dict[str, int] = {}
        mail: dict[tuple[str, str, str], int] = {}
        unmatched = 0
        for item in self._batch_get([*keys, series_counts_key(series_id)]):
            if item["sk"]["S"] == "COUNTS":
                unmatched = int(item.get("attendance_unmatched", {}).get("N", "0"))
            elif item["sk"]["S"] == "MAIL":
                for name, value in item.items():
                    parsed = parse_mail_attribute(name)
                    if parsed and "N" in value:
                        mail[parsed] = mail.get(parsed, 0) + int(value["N"])
            else:
                for name, n in counters_of(item).items():
                    registrations[name] = registrations.get(name, 0) + n
        return SeriesCounts.from_counters(registrations, mail, attendance_unmatched=unmatched)

    def registrations_matching(self, series_id: str, query: str, cursor: str | None,
                               limit: int, *, registrant_key: str = ""
                               ) -> tuple[list[Registration], str | None]:
        """One page of registrations, by registrant id; ``query`` (case-insensitive) keeps
        those whose name or address contains it. An address (with ``registrant_key``) or a
        registrant id is also looked up directly, so it is found on the first page."""
        check_limit(limit)
        start = decode_cursor(cursor, series_id, "REG#") if cursor else None
        needle = query.strip().casefold()
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":prefix": {"S": "REG#"}}}
        if not needle:
            answer = self._query(request, start, limit)
            last = answer.get("LastEvaluatedKey")
            return ([self._registration_of(dict(i)) for i in answer["Items"]],
                    encode_cursor(series_id, last["sk"]["S"]) if last else None)
        request["FilterExpression"] = "contains(#search, :q)"
        request["ExpressionAttributeNames"] = {"#search": "search"}
        request["ExpressionAttributeValues"][":q"] = {"S": needle}
        # The direct hit leads the first page, so later pages leave it out.
        direct = _named_registrant(series_id, needle, registrant_key)
        found = self._direct(series_id, direct) if start is None and direct else []
        shown = {direct}
        for _ in range(SEARCH_READS):
            answer = self._query(request, start, max(limit, SEARCH_PAGE))
            for item in answer["Items"]:
                registration = self._registration_of(dict(item))
                if registration.registrant_id not in shown:
                    found.append(registration)
                    shown.add(registration.registrant_id)
                if len(found) >= limit:
                    return found, encode_cursor(series_id, item["sk"]["S"])
            last = answer.get("LastEvaluatedKey")
            if not last:
                return found, None
            start = last["sk"]["S"]
        return found, encode_cursor(series_id, start) if start else None

    def registrant_mail(self, series_id: str, registrant_id: str,
                        limit: int = 200) -> list[MailRecord]:
        """Every email sent to this person in this series, newest first: one Query of their
        part of the ledger (what was sent before the ledger moved there is in it once
        ``webinar-notify ledger migrate`` copied it)."""
        check_limit(limit)
        items = self.client.query(
            TableName=self.table, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"LEDGER#{series_id}#{registrant_id}"}}
        )["Items"]
        return newest_first([MailRecord(
            kind=item.get("kind", {}).get("S", ""),
            session_ids=tuple(v["S"] for v in item.get("sessions", {}).get("L", [])),
            sent_at=sent_at(item),
            delivery=item.get("delivery", {}).get("S", ""),
            delivery_at=item.get("delivery_at", {}).get("S", ""),
            detail=item.get("delivery_detail", {}).get("S", ""))
            for item in items])[:limit]

    def suppressions(self, series_id: str, cursor: str | None, limit: int
                     ) -> tuple[list[SuppressionRecord], str | None]:
        """The addresses (as keyed hashes) this series' email made bounce or complain."""
        check_limit(limit)
        start = decode_cursor(cursor, series_id, "SUPPRESSED#") if cursor else None
        answer = self._query({
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":prefix": {"S": "SUPPRESSED#"}}}, start, limit)
        last = answer.get("LastEvaluatedKey")
        return ([SuppressionRecord(suppression_id=i["sk"]["S"].removeprefix("SUPPRESSED#"),
                                   reason=i.get("reason", {}).get("S", ""),
                                   since=i.get("since", {}).get("S", ""))
                 for i in answer["Items"]],
                encode_cursor(series_id, last["sk"]["S"]) if last else None)

    def lift_suppression(self, series_id: str, suppression_id: str) -> bool:
        """Mail this address again (on its owner's request): the series' entry and the global
        one go together. False, changing nothing, when this series never suppressed it;
        SuppressedElsewhereError, changing nothing, when the suppression in force was caused
        by another series' mail (an item stored before the cause was recorded has none, and
        the series listing it may lift it)."""
        if not _SUPPRESSION_ID.fullmatch(suppression_id):
            raise PayloadError("suppression: not a suppression id")
        listed = key(f"SERIES#{series_id}", f"SUPPRESSED#{suppression_id}")
        writes: list[Any] = [
            {"Delete": {"TableName": self.table, "Key": listed,
                        "ConditionExpression": "attribute_exists(pk)"}},
            {"Delete": {"TableName": self.table,
                        "Key": key(f"SUPPRESSED#{suppression_id}", "SUPPRESSED"),
                        "ConditionExpression": "attribute_not_exists(caused_by) OR "
                                               "caused_by = :series",
                        "ExpressionAttributeValues": {":series": {"S": series_id}}}}]
        for attempt in range(LIFT_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=writes)
                return True
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                if not is_conflict_only(error):
                    reasons = [str(r.get("Code")) for r in
                               error.response.get("CancellationReasons") or []]
                    if reasons[:1] == ["ConditionalCheckFailed"] or \
                            (not reasons and not self._listed(listed)):
                        return False
                    raise SuppressedElsewhereError from None
            pause(attempt)
        raise RetryableError("the suppression is being changed right now; try again")

    def _listed(self, item_key: dict[str, Any]) -> bool:
        return "Item" in self.client.get_item(TableName=self.table, Key=item_key,
                                              ConsistentRead=True)

    def _direct(self, series_id: str, wanted: str) -> list[Registration]:
        """The registration with this id, if stored."""
        item = self.client.get_item(TableName=self.table,
                                    Key=key(f"SERIES#{series_id}", f"REG#{wanted}"),
                                    ConsistentRead=True).get("Item")
        return [self._registration_of(dict(item))] if item else []

    def _query(self, request: dict[str, Any], start: str | None, limit: int) -> dict[str, Any]:
        page = {**request, "Limit": limit}
        if start is not None:
            page["ExclusiveStartKey"] = {"pk": request["ExpressionAttributeValues"][":pk"],
                                         "sk": {"S": start}}
        return dict(self.client.query(**page))

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return batch_get(self.client, self.table, keys)
