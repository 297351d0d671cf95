"""Copying the emails the ledger recorded before it moved under the registrant.

Before, each email was one item ``DELIVERY#<key> / DELIVERY``; now it sits under
``LEDGER#<series>#<registrant> / <key>`` (adapters/ledger.py). A copy in the new place is what
makes a new claim on the same email find it sent (a form sent again, a seat given again), what
the console lists for the person and what a recount counts. Only what the former ledger had
settled is copied: emails sent, and emails expired unsent. A claim it left unfinished
("sending", with no series or kind yet) is not: its email is claimed anew when asked for, as
the former ledger would after the lease, and once its sender marks it sent, a later run copies
it. Each copy is a conditional write (only where nothing is yet), so running it again, or
while emails go out, copies nothing twice; a run finding a copy in place adds to it the SES
reports the former item got since (a set union). The former items are left as they were and
expire with their TTL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .dynamo import is_condition_failure
from .ledger import ledger_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SETTLED = frozenset({"sent", "expired"})  # what the former ledger had finished with
# What a former item holds that the new one keeps (its key and its `Mail` index keys go).
KEPT = ("state", "claimed_at", "expires_at", "series", "registrant", "kind", "sessions",
        "sent_at", "events", "delivery", "delivery_at", "delivery_detail")


@dataclass(frozen=True, slots=True)
class MigrationReport:
    copied: int  # former items now also in the new place
    present: int  # already there (copied before, or claimed anew since)
    unreadable: int  # keys not made by ``delivery_key``: left where they are
    unfinished: int = 0  # claims the former ledger never settled: left for a later run


def migrate_ledger(client: DynamoDBClient, table: str, page: int = 500) -> MigrationReport:
    """Copy every former ledger item into its new place (a Scan of the table's former items:
    run once, by an operator, after the update)."""
    copied = present = unreadable = unfinished = 0
    request: dict[str, Any] = {
        "TableName": table, "Limit": page, "FilterExpression": "begins_with(pk, :former)",
        "ExpressionAttributeValues": {":former": {"S": "DELIVERY#"}}}
    while True:
        answer = client.scan(**request)
        for item in answer["Items"]:
            if item.get("state", {}).get("S") not in SETTLED:
                unfinished += 1
                continue
            try:
                new_key = ledger_key(item["pk"]["S"].removeprefix("DELIVERY#"))
            except ValueError:
                unreadable += 1
                continue
            try:
                client.put_item(TableName=table, ConditionExpression="attribute_not_exists(pk)",
                                Item=new_key | {name: item[name] for name in KEPT
                                                if name in item})
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
                present += 1
                if "events" in item:  # SES's reports since the copy: each state once
                    client.update_item(TableName=table, Key=new_key,
                                       UpdateExpression="ADD events :seen",
                                       ExpressionAttributeValues={":seen": item["events"]})
                continue
            copied += 1
        if "LastEvaluatedKey" not in answer:
            return MigrationReport(copied, present, unreadable, unfinished)
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
