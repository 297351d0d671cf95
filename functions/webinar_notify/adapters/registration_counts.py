"""The series' registration counters (core.counts.tally keys), spread over a few items so a
burst of registrations does not queue up on one:

    COUNTS#<series>#<shard 0..7> / REGISTRATIONS    tally key -> n, for the registrants
                                                    whose id falls in that shard

Every registration write moves them in its own transaction; a repair sets them anew. Mixed
into the DynamoDB store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.counts import COUNT_SHARDS, count_shard, is_tally_key
from .dynamo import batch_get, conditional, key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


def registration_shard_key(series_id: str, shard: int) -> dict[str, Any]:
    return key(f"COUNTS#{series_id}#{shard}", "REGISTRATIONS")


def counters_of(item: dict[str, Any]) -> dict[str, int]:
    return {name: int(value["N"]) for name, value in item.items()
            if "N" in value and is_tally_key(name)}


def replace_counters(client: DynamoDBClient, table: str, item_key: dict[str, Any],
                     was: dict[str, int], now: dict[str, int]) -> None:
    """Set a counter item's counters from ``was`` to ``now`` in one conditional update;
    StaleWriteError if any of them moved since ``was`` was read. Other attributes stay."""
    names = sorted(set(was) | set(now))
    if not names:
        return
    values = {f":n{i}": {"N": str(now.get(n, 0))} for i, n in enumerate(names)}
    values |= {f":w{i}": {"N": str(was[n])} for i, n in enumerate(names) if n in was}
    conditions = [f"#c{i} = :w{i}" if n in was else f"attribute_not_exists(#c{i})"
                  for i, n in enumerate(names)]
    conditional(lambda: client.update_item(
        TableName=table, Key=item_key,
        UpdateExpression="SET " + ", ".join(f"#c{i} = :n{i}" for i in range(len(names))),
        ConditionExpression=" AND ".join(conditions),
        ExpressionAttributeNames={f"#c{i}": n for i, n in enumerate(names)},
        ExpressionAttributeValues=values))


class RegistrationCounts:
    client: DynamoDBClient
    table: str

    def registration_counters(self, series_id: str) -> dict[int, dict[str, int]]:
        """The registration counters as stored, per shard (one BatchGetItem)."""
        found: dict[int, dict[str, int]] = {shard: {} for shard in range(COUNT_SHARDS)}
        keys = [registration_shard_key(series_id, s) for s in range(COUNT_SHARDS)]
        for item in batch_get(self.client, self.table, keys):
            found[int(item["pk"]["S"].rpartition("#")[2])] = counters_of(item)
        return found

    def replace_registration_counters(self, series_id: str, shard: int, was: dict[str, int],
                                      now: dict[str, int]) -> None:
        """Move one shard's counters from ``was`` to ``now`` (a repair); StaleWriteError if
        any of them moved since ``was`` was read."""
        replace_counters(self.client, self.table, registration_shard_key(series_id, shard),
                         was, now)

    def _counts_update(self, series_id: str, registrant_id: str, before: frozenset[str],
                       after: frozenset[str]) -> dict[str, Any] | None:
        """The transaction's part that moves the counters from one tally to another (None
        when nothing counted changes)."""
        deltas = {name: 1 for name in after - before} | {name: -1 for name in before - after}
        if not deltas:
            return None
        names = sorted(deltas)
        return {"Update": {
            "TableName": self.table,
            "Key": registration_shard_key(series_id, count_shard(registrant_id)),
            "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names))),
            "ExpressionAttributeNames": {f"#c{i}": name for i, name in enumerate(names)},
            "ExpressionAttributeValues": {f":c{i}": {"N": str(deltas[name])}
                                          for i, name in enumerate(names)}}}
