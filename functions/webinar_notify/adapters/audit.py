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
from .read_model import check_limit, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

KEPT_FOR = timedelta(days=7)


class Audit(Protocol):
    def record(self, series_id: str, entry: dict[str, Any], now: datetime) -> None: ...
    def begin(self, caller: str, idempotency_key: str, fingerprint: str,
              now: datetime) -> dict[str, Any] | None: ...
    def finish(self, caller: str, idempotency_key: str, answer: dict[str, Any]) -> None: ...
    def abandon(self, caller: str, idempotency_key: str) -> None: ...
    def entries(self, series_id: str, cursor: str | None, limit: int
                ) -> tuple[list[dict[str, Any]], str | None]: ...


class DynamoAudit:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def record(self, series_id: str, entry: dict[str, Any], now: datetime) -> None:
        digest = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:12]
        self.client.put_item(TableName=self.table, Item={
            **key(f"SERIES#{series_id}", f"AUDIT#{now.isoformat()}#{digest}"),
            "entry": {"S": json.dumps(entry, ensure_ascii=False)}})

    def entries(self, series_id: str, cursor: str | None, limit: int
                ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the series' trail, newest first (one Query), and the next cursor."""
        check_limit(limit)
        request: dict[str, Any] = {
            "TableName": self.table, "Limit": limit, "ScanIndexForward": False,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":prefix": {"S": "AUDIT#"}}}
        if cursor:
            request["ExclusiveStartKey"] = key(f"SERIES#{series_id}",
                                               decode_cursor(cursor, series_id, "AUDIT#"))
        answer = self.client.query(**request)
        last = answer.get("LastEvaluatedKey")
        return ([json.loads(item["entry"]["S"]) for item in answer["Items"]],
                encode_cursor(series_id, last["sk"]["S"]) if last else None)

    def begin(self, caller: str, idempotency_key: str, fingerprint: str,
              now: datetime) -> dict[str, Any] | None:
        """Claim the key for this request (None), or return what is already recorded for it:
        ``{"fingerprint", "state": "in_progress" | "done", "answer"?}``."""
        item_key = _idempotency_key(caller, idempotency_key)
        try:
            self.client.put_item(
                TableName=self.table, ConditionExpression="attribute_not_exists(pk)",
                Item={**item_key, "fingerprint": {"S": fingerprint},
                      "state": {"S": "in_progress"},
                      "expires_at": {"N": str(int((now + KEPT_FOR).timestamp()))}})
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            item = self.client.get_item(TableName=self.table, Key=item_key,
                                        ConsistentRead=True).get("Item", {})
            record: dict[str, Any] = {"fingerprint": item.get("fingerprint", {}).get("S", ""),
                                      "state": item.get("state", {}).get("S", "")}
            if "answer" in item:
                record["answer"] = json.loads(item["answer"]["S"])
            return record
        return None

    def finish(self, caller: str, idempotency_key: str, answer: dict[str, Any]) -> None:
        self.client.update_item(
            TableName=self.table, Key=_idempotency_key(caller, idempotency_key),
            UpdateExpression="SET #state = :done, answer = :answer",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":done": {"S": "done"},
                                       ":answer": {"S": json.dumps(answer, ensure_ascii=False)}})

    def abandon(self, caller: str, idempotency_key: str) -> None:
        """The action failed: let a retry with this key try again."""
        self.client.delete_item(TableName=self.table,
                                Key=_idempotency_key(caller, idempotency_key))


def _idempotency_key(caller: str, idempotency_key: str) -> dict[str, Any]:
    digest = hashlib.sha256(f"{caller}\n{idempotency_key}".encode()).hexdigest()[:40]
    return key(f"IDEMPOTENCY#{digest}", "IDEMPOTENCY")
