"""The delivery ledger: one item per email, so that no email goes out twice.

A sender claims the email's key (a conditional write), sends, then marks it sent. A redelivered
message finds "sent" and sends nothing. A claim that is older than the lease belongs to a
sender that crashed and may be taken over. The one window left: SES accepted the email and
the sender died before marking it sent; the email is then sent again after the lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from botocore.exceptions import ClientError

from .dynamo import is_condition_failure, key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

ClaimResult = Literal["claimed", "sent", "busy"]
LEDGER_TTL = timedelta(days=400)  # outlives any series: a resent email is worse than a row


class Ledger(Protocol):
    def claim(self, delivery_key: str, now: datetime, lease: timedelta) -> ClaimResult: ...
    def complete(self, delivery_key: str, now: datetime, message_id: str) -> None: ...
    def release(self, delivery_key: str) -> None: ...


class DynamoLedger:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def claim(self, delivery_key: str, now: datetime, lease: timedelta) -> ClaimResult:
        try:
            self.client.update_item(
                TableName=self.table, Key=key(f"DELIVERY#{delivery_key}", "DELIVERY"),
                UpdateExpression="SET #state = :sending, claimed_at = :now, expires_at = :exp",
                ConditionExpression="attribute_not_exists(pk) OR "
                                    "(#state = :sending AND claimed_at < :stale)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":sending": {"S": "sending"}, ":now": {"N": str(int(now.timestamp()))},
                    ":stale": {"N": str(int((now - lease).timestamp()))},
                    ":exp": {"N": str(int((now + LEDGER_TTL).timestamp()))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            old = cast(dict[str, Any], dict(error.response).get("Item", {}))
            return "sent" if old.get("state", {}).get("S") == "sent" else "busy"
        return "claimed"

    def complete(self, delivery_key: str, now: datetime, message_id: str) -> None:
        self.client.update_item(
            TableName=self.table, Key=key(f"DELIVERY#{delivery_key}", "DELIVERY"),
            UpdateExpression="SET #state = :sent, sent_at = :now, message_id = :id",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":sent": {"S": "sent"}, ":now": {"S": now.isoformat()},
                                       ":id": {"S": message_id}})

    def release(self, delivery_key: str) -> None:
        """Give a claim back after a failure before SES accepted the email."""
        try:
            self.client.delete_item(
                TableName=self.table, Key=key(f"DELIVERY#{delivery_key}", "DELIVERY"),
                ConditionExpression="#state = :sending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":sending": {"S": "sending"}})
        except ClientError as error:
            if not is_condition_failure(error):
                raise


class MemoryLedger:
    """The ledger's local stand-in, with DynamoLedger's rules (its contract test runs both):
    fast enough for fault soaks of thousands of emails."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def claim(self, delivery_key: str, now: datetime, lease: timedelta) -> ClaimResult:
        old = self.items.get(delivery_key)
        stale = int((now - lease).timestamp())
        if old is None or (old["state"] == "sending" and old["claimed_at"] < stale):
            self.items[delivery_key] = {"state": "sending", "claimed_at": int(now.timestamp())}
            return "claimed"
        return "sent" if old["state"] == "sent" else "busy"

    def complete(self, delivery_key: str, now: datetime, message_id: str) -> None:
        self.items[delivery_key] = {**self.items.get(delivery_key, {}), "state": "sent",
                                    "sent_at": now.isoformat(), "message_id": message_id}

    def release(self, delivery_key: str) -> None:
        if self.items.get(delivery_key, {}).get("state") == "sending":
            del self.items[delivery_key]
