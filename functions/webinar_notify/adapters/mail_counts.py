"""The series' mail counters as stored, and the ledger items they count, for a repair
(``services/counts_repair.py``); mixed into the DynamoDB store:

    COUNTS#<series>#<shard 0..7> / MAIL      "<kind>|<session or ->|<state>" -> n
    DELIVERY#<key> / DELIVERY                one email; in the `Mail` index once it was sent
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.counts import COUNT_SHARDS, SentMail, parse_mail_attribute
from .dynamo import batch_get
from .registration_counts import replace_counters

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


def mail_counter_key(series_id: str, shard: int) -> dict[str, Any]:
    return {"pk": {"S": f"COUNTS#{series_id}#{shard}"}, "sk": {"S": "MAIL"}}


class MailCounts:
    client: DynamoDBClient
    table: str

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
        """One page of the series' sent emails (a Query of the `Mail` index), and the next
        cursor."""
        request: dict[str, Any] = {
            "TableName": self.table, "IndexName": "Mail", "Limit": limit,
            "KeyConditionExpression": "mail_pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"MAIL#{series_id}"}}}
        if cursor:
            request["ExclusiveStartKey"] = cursor
        answer = self.client.query(**request)
        return ([SentMail(
            delivery_key=item["pk"]["S"].removeprefix("DELIVERY#"),
            registrant_id=item.get("registrant", {}).get("S", ""),
            kind=item.get("kind", {}).get("S", ""),
            session_ids=tuple(v["S"] for v in item.get("sessions", {}).get("L", [])),
            states=frozenset(item.get("events", {}).get("SS", []))
            | ({item["delivery"]["S"]} if "delivery" in item else set()))
            for item in answer["Items"]],
            dict(answer["LastEvaluatedKey"]) if "LastEvaluatedKey" in answer else None)
