"""The scheduler's own records, in the same table.

    SCHEDULE      / SERIES#<id>              when the series next needs the scheduler, and the
                                             generation of that plan
    SERIES#<id>   / TASK#<task key>          a notice or announcement waiting for its moment
    SERIES#<id>   / DECISION#<task key>      one reminder slot, notice or announcement, decided
                                             once: fanning out (with a cursor and a lease),
                                             done, dropped, or cancelled before it went
    SERIES#<id>   / PARKED#<wave key>#<chunk> email jobs a pass parked for a later moment
                                             (quiet hours), sent by that wave (core/waves.py)

A run that dies while fanning out leaves a cursor; once its lease has passed, the next run
takes the slot over and carries on from there. Enqueuing a page twice is harmless: the
delivery ledger sends each email once. Every claim raises the decision's fence, and a run
writes its progress only under the fence it claimed with: a run that overran its lease finds
its writes refused and stops, instead of overwriting its successor's cursor.

The index entry is written only over the generation its writer read before it read anything
else (see ``plan_series``): a plan made from stale reads cannot hide a newer one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from botocore.exceptions import ClientError

from ..core.waves import is_wave
from .dynamo import is_condition_failure, key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PARKED_CHUNKS_PER_PAGE = 4  # chunks of at most PARK_CHUNK jobs: one page fits one run's step
PARK_CHUNK = 200  # jobs per parked item, well below DynamoDB's 400 KB an item
DecisionState = Literal["fanning", "done", "dropped", "cancelled"]


@dataclass(frozen=True, slots=True)
class Decision:
    slot_key: str
    state: DecisionState
    lease_until: int = 0
    cursor: dict[str, Any] | None = None
    enqueued: int = 0
    fence: int = 0  # raised by every claim: the claimant's writes carry it

    def settled(self, now: datetime) -> bool:
        """Nothing for a new run to do: done, dropped, or being fanned out right now."""
        return self.state != "fanning" or self.lease_until > now.timestamp()


class ScheduleStore(Protocol):
    def plan_generation(self, series_id: str) -> int: ...
    def set_next_due(self, series_id: str, when: datetime | None, generation: int) -> bool: ...
    def series_due(self, now: datetime) -> list[str]: ...
    def next_wakeup(self) -> datetime | None: ...
    def decisions(self, series_id: str) -> dict[str, Decision]: ...
    def claim(self, series_id: str, slot_key: str, now: datetime,
              lease: timedelta) -> Decision | None: ...
    def progress(self, series_id: str, decision: Decision, now: datetime,
                 lease: timedelta) -> bool: ...
    def settle(self, series_id: str, decision: Decision, now: datetime) -> bool: ...
    def drop(self, series_id: str, slot_key: str, now: datetime) -> bool: ...
    def put_task(self, series_id: str, task_key: str, doc: dict[str, Any]) -> bool: ...
    def tasks(self, series_id: str, waves: bool = False) -> dict[str, dict[str, Any]]: ...
    def task(self, series_id: str, task_key: str) -> dict[str, Any] | None: ...
    def cancel(self, series_id: str, task_key: str, now: datetime) -> bool: ...
    def park(self, series_id: str, wave_key: str, chunk: str, jobs: list[str],
             expires: datetime) -> bool: ...
    def parked_page(self, series_id: str, wave_key: str, cursor: dict[str, Any] | None
                    ) -> tuple[list[str], dict[str, Any] | None]: ...


class DynamoScheduleStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def plan_generation(self, series_id: str) -> int:
        """The generation of the series' index entry (0 when there is none)."""
        item = self.client.get_item(TableName=self.table, ConsistentRead=True,
                                    Key=key("SCHEDULE", f"SERIES#{series_id}")).get("Item")
        return int(item.get("generation", {}).get("N", "0")) if item else 0

    def set_next_due(self, series_id: str, when: datetime | None, generation: int) -> bool:
        """Write the plan over ``generation`` (as read before the plan's inputs); False when
        another plan was written meanwhile."""
        item = {**key("SCHEDULE", f"SERIES#{series_id}"),
                "generation": {"N": str(generation + 1)}}
        if when is not None:
            item["next_due"] = {"N": str(int(when.timestamp()))}
        condition = ({"ConditionExpression": "attribute_not_exists(pk)"} if generation == 0 else
                     {"ConditionExpression": "generation = :seen",
                      "ExpressionAttributeValues": {":seen": {"N": str(generation)}}})
        try:
            self.client.put_item(TableName=self.table, Item=item, **condition)
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def series_due(self, now: datetime) -> list[str]:
        return [series_id for series_id, due in self._index() if due <= now.timestamp()]

    def next_wakeup(self) -> datetime | None:
        times = [due for _series, due in self._index()]
        return datetime.fromtimestamp(min(times), UTC) if times else None

    def _index(self) -> list[tuple[str, int]]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "SCHEDULE"}}, ConsistentRead=True)
        return [(item["sk"]["S"].removeprefix("SERIES#"), int(item["next_due"]["N"]))
                for page in pages for item in page["Items"] if "next_due" in item]

    def decisions(self, series_id: str) -> dict[str, Decision]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table, ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"SERIES#{series_id}"},
                                       ":prefix": {"S": "DECISION#"}})
        found = (_decision(item) for page in pages for item in page["Items"])
        return {decision.slot_key: decision for decision in found}

    def claim(self, series_id: str, slot_key: str, now: datetime,
              lease: timedelta) -> Decision | None:
        """Take a slot that nobody decided, or whose fan-out was abandoned; None if taken."""
        taken = self._take_if_free(
            series_id, slot_key, now, "SET #state = :fanning, lease_until = :until, "
            "enqueued = if_not_exists(enqueued, :zero), "
            "fence = if_not_exists(fence, :zero) + :one",
            {":until": {"N": _ts(now + lease)}, ":one": {"N": "1"}})
        return _decision(taken) if taken is not None else None

    def progress(self, series_id: str, decision: Decision, now: datetime,
                 lease: timedelta) -> bool:
        """Remember how far the fan-out got, and keep the lease; False when the slot was taken
        over (the fence moved on) or settled meanwhile: the caller must stop."""
        return self._fenced(series_id, decision,
                            "SET cursor_key = :cursor, enqueued = :enqueued, lease_until = :until",
                            {":cursor": {"S": json.dumps(decision.cursor)},
                             ":until": {"N": _ts(now + lease)},
                             ":enqueued": {"N": str(decision.enqueued)}})

    def settle(self, series_id: str, decision: Decision, now: datetime) -> bool:
        """The fan-out reached the end: done, under the fence it was claimed with."""
        return self._fenced(series_id, decision,
                            "SET #state = :done, enqueued = :enqueued, decided_at = :at "
                            "REMOVE cursor_key, lease_until",
                            {":done": {"S": "done"}, ":enqueued": {"N": str(decision.enqueued)},
                             ":at": {"S": now.isoformat()}}, {"#state": "state"})

    def _fenced(self, series_id: str, decision: Decision, update: str,
                values: dict[str, Any], names: dict[str, str] | None = None) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=key(f"SERIES#{series_id}", f"DECISION#{decision.slot_key}"),
                UpdateExpression=update, ConditionExpression="fence = :fence AND #st = :fanning",
                ExpressionAttributeNames={"#st": "state", **(names or {})},
                ExpressionAttributeValues={":fence": {"N": str(decision.fence)},
                                           ":fanning": {"S": "fanning"}, **values})
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def drop(self, series_id: str, slot_key: str, now: datetime) -> bool:
        """Record a slot whose moment passed unseen; never over a live fan-out (False then)."""
        return self._take_if_free(
            series_id, slot_key, now, "SET #state = :dropped, decided_at = :at, "
            "enqueued = if_not_exists(enqueued, :zero)",
            {":dropped": {"S": "dropped"}, ":at": {"S": now.isoformat()}}) is not None

    def _take_if_free(self, series_id: str, slot_key: str, now: datetime, update: str,
                      values: dict[str, Any]) -> dict[str, Any] | None:
        """Apply ``update`` to a decision nobody holds (absent, or a fan-out whose lease ran
        out): the decision as it is now, or None when a live run holds it or it is settled."""
        try:
            answer = self.client.update_item(
                TableName=self.table, Key=key(f"SERIES#{series_id}", f"DECISION#{slot_key}"),
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(pk) OR "
                                    "(#state = :fanning AND lease_until < :now)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":fanning": {"S": "fanning"}, ":now": {"N": _ts(now)},
                                           ":zero": {"N": "0"}, **values},
                ReturnValues="ALL_NEW")
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return dict(answer["Attributes"])

    def put_task(self, series_id: str, task_key: str, doc: dict[str, Any]) -> bool:
        """Store a task once; False when a task with this key exists already."""
        try:
            self.client.put_item(
                TableName=self.table, ConditionExpression="attribute_not_exists(pk)",
                Item={**key(f"SERIES#{series_id}", f"TASK#{task_key}"),
                      "doc": {"S": json.dumps(doc, ensure_ascii=False)}})
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def tasks(self, series_id: str, waves: bool = False) -> dict[str, dict[str, Any]]:
        """The stored tasks (notices, announcements); with ``waves``, the scheduler's waves
        too (core/waves.py), which only the scheduler reads."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table, ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"SERIES#{series_id}"},
                                       ":prefix": {"S": "TASK#"}})
        found = {item["sk"]["S"].removeprefix("TASK#"): json.loads(item["doc"]["S"])
                 for page in pages for item in page["Items"]}
        return found if waves else {k: doc for k, doc in found.items() if not is_wave(doc)}

    def task(self, series_id: str, task_key: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, ConsistentRead=True,
                                    Key=key(f"SERIES#{series_id}", f"TASK#{task_key}")).get("Item")
        return json.loads(item["doc"]["S"]) if item else None

    def cancel(self, series_id: str, task_key: str, now: datetime) -> bool:
        """Decide a task as cancelled, if no run has taken it yet; False if one has."""
        try:
            self.client.put_item(
                TableName=self.table, ConditionExpression="attribute_not_exists(pk)",
                Item={**key(f"SERIES#{series_id}", f"DECISION#{task_key}"),
                      "state": {"S": "cancelled"}, "enqueued": {"N": "0"},
                      "decided_at": {"S": now.isoformat()}})
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def park(self, series_id: str, wave_key: str, chunk: str, jobs: list[str],
             expires: datetime) -> bool:
        """Keep ``jobs`` for a wave; False when the wave has begun (send them now: the
        ledger sends each email once). The chunk is written first and the wave's decision
        read after it (consistently), so a wave that begins later finds the chunk. A chunk
        written again (a pass resumed from its cursor) replaces itself."""
        self.client.put_item(
            TableName=self.table,
            Item={**key(f"SERIES#{series_id}", f"PARKED#{wave_key}#{chunk}"),
                  "jobs": {"L": [{"S": job} for job in jobs]},
                  "expires_at": {"N": _ts(expires)}})
        begun = self.client.get_item(
            TableName=self.table, ConsistentRead=True, ProjectionExpression="pk",
            Key=key(f"SERIES#{series_id}", f"DECISION#{wave_key}")).get("Item")
        return begun is None

    def parked_page(self, series_id: str, wave_key: str, cursor: dict[str, Any] | None
                    ) -> tuple[list[str], dict[str, Any] | None]:
        """One page of a wave's parked jobs (a few chunks), and where the next page starts."""
        request: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True, "Limit": PARKED_CHUNKS_PER_PAGE,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"SERIES#{series_id}"},
                                          ":prefix": {"S": f"PARKED#{wave_key}#"}}}
        if cursor:
            request["ExclusiveStartKey"] = cursor
        answer = self.client.query(**request)
        jobs = [job["S"] for item in answer["Items"] for job in item["jobs"]["L"]]
        return jobs, answer.get("LastEvaluatedKey")


def _decision(item: dict[str, Any]) -> Decision:
    cursor = item.get("cursor_key", {}).get("S")
    return Decision(slot_key=item["sk"]["S"].removeprefix("DECISION#"),
                    state=item["state"]["S"],
                    lease_until=int(item.get("lease_until", {}).get("N", "0")),
                    cursor=json.loads(cursor) if cursor else None,
                    enqueued=int(item.get("enqueued", {}).get("N", "0")),
                    fence=int(item.get("fence", {}).get("N", "0")))


def _ts(moment: datetime) -> str:
    return str(int(moment.timestamp()))
