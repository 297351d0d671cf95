"""Organiser actions on record: an audit trail, and answers kept by idempotency key.

    SERIES#<id>      / AUDIT#<time>#<key hash>   who did what, when, to how many recipients
    IDEMPOTENCY#<h>  / IDEMPOTENCY               the answer given to (caller, key), for 7 days
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from .dynamo import is_condition_failure, key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

KEPT_FOR = timedelta(days=7)


class Audit(Protocol):
    def record(self, series_id: str, entry: dict[str, Any], now: datetime) -> None: ...
    def answered(self, caller: str, idempotency_key: str) -> dict[str, Any] | None: ...
    def remember(self, caller: str, idempotency_key: str, answer: dict[str, Any],
                 now: datetime) -> None: ...


class DynamoAudit:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def record(self, series_id: str, entry: dict[str, Any], now: datetime) -> None:
        digest = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:12]
        self.client.put_item(TableName=self.table, Item={
            **key(f"SERIES#{series_id}", f"AUDIT#{now.isoformat()}#{digest}"),
            "entry": {"S": json.dumps(entry, ensure_ascii=False)}})

    def answered(self, caller: str, idempotency_key: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, ConsistentRead=True,
                                    Key=_idempotency_key(caller, idempotency_key)).get("Item")
        return json.loads(item["answer"]["S"]) if item else None

    def remember(self, caller: str, idempotency_key: str, answer: dict[str, Any],
                 now: datetime) -> None:
        try:
            self.client.put_item(
                TableName=self.table, ConditionExpression="attribute_not_exists(pk)",
                Item={**_idempotency_key(caller, idempotency_key),
                      "answer": {"S": json.dumps(answer, ensure_ascii=False)},
                      "expires_at": {"N": str(int((now + KEPT_FOR).timestamp()))}})
        except ClientError as error:
            if not is_condition_failure(error):  # a concurrent retry answered first: fine
                raise


def _idempotency_key(caller: str, idempotency_key: str) -> dict[str, Any]:
    digest = hashlib.sha256(f"{caller}\n{idempotency_key}".encode()).hexdigest()[:40]
    return key(f"IDEMPOTENCY#{digest}", "IDEMPOTENCY")
