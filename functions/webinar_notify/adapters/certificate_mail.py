"""Certificates issued and not yet emailed: the list the certificate email reads and clears.

One item per certificate, in the series' partition of the application's table, holding only
the registrant id and the certificate's scope (no address, no name):

    SERIES#<id> / CERTMAIL#<registrant id>#<scope>      {"at": when it was issued}

Adding is idempotent (the same certificate is one item). The email step reads the list (one
Query, paged), sends each email under its own delivery key, then ``done`` removes the item.
An item whose certificate was erased meanwhile is the email step's to drop: the certificate
store no longer has it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PREFIX = "CERTMAIL#"


class CertificateMail(Protocol):
    def add(self, series_id: str, registrant_id: str, scope: str, at: datetime) -> None: ...
    def pending(self, series_id: str) -> list[tuple[str, str]]: ...
    def done(self, series_id: str, registrant_id: str, scope: str) -> None: ...


def _sk(registrant_id: str, scope: str) -> str:
    return f"{PREFIX}{registrant_id}#{scope}"


def _pair(sk: str) -> tuple[str, str]:
    rid, _, scope = sk.removeprefix(PREFIX).partition("#")
    return rid, scope


class MemoryCertificateMail:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def add(self, series_id: str, registrant_id: str, scope: str, at: datetime) -> None:
        self.items.setdefault((series_id, _sk(registrant_id, scope)), at.isoformat())

    def pending(self, series_id: str) -> list[tuple[str, str]]:
        return [_pair(sk) for (sid, sk) in sorted(self.items) if sid == series_id]

    def done(self, series_id: str, registrant_id: str, scope: str) -> None:
        self.items.pop((series_id, _sk(registrant_id, scope)), None)


class DynamoCertificateMail:
    """PutItem, Query and DeleteItem on the application's table."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def add(self, series_id: str, registrant_id: str, scope: str, at: datetime) -> None:
        self.client.put_item(TableName=self.table, Item={
            "pk": {"S": f"SERIES#{series_id}"}, "sk": {"S": _sk(registrant_id, scope)},
            "body": {"S": json.dumps({"at": at.isoformat()})}})

    def pending(self, series_id: str) -> list[tuple[str, str]]:
        return [_pair(sk) for sk in self._keys(series_id)]

    def _keys(self, series_id: str) -> Iterator[str]:
        request: dict[str, Any] = {
            "TableName": self.table, "ProjectionExpression": "sk",
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":prefix": {"S": PREFIX}}}
        while True:
            answer = self.client.query(**request)
            for item in answer["Items"]:
                yield item["sk"]["S"]
            if not answer.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def done(self, series_id: str, registrant_id: str, scope: str) -> None:
        self.client.delete_item(TableName=self.table, Key={
            "pk": {"S": f"SERIES#{series_id}"}, "sk": {"S": _sk(registrant_id, scope)}})
