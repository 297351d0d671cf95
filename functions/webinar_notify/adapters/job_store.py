"""Organiser jobs on record, in the same table:

    SERIES#<id> / JOB#<job id>   kind, state, progress, result; kept 30 days (TTL); an
                                 attendance import also its session and its two counts
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from ..core.organiser_jobs import JobState, OrganiserJob
from .dynamo import is_condition_failure, key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

JOB_TTL = timedelta(days=30)


class JobStore(Protocol):
    def create(self, job: OrganiserJob, now: datetime) -> None: ...
    def get(self, series_id: str, job_id: str) -> OrganiserJob | None: ...
    def update(self, series_id: str, job_id: str, now: datetime, *, state: JobState,
               done: int, result_key: str = "", error: str = "",
               recorded: int | None = None, not_registered: int | None = None) -> bool: ...
    def recent(self, series_id: str, limit: int) -> list[OrganiserJob]: ...
    def hand_on(self, series_id: str, job_id: str, step: int) -> bool: ...


class DynamoJobStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def create(self, job: OrganiserJob, now: datetime) -> None:
        item: dict[str, Any] = {
            **key(f"SERIES#{job.series_id}", f"JOB#{job.job_id}"), "kind": {"S": job.kind},
            "state": {"S": job.state}, "requested_by": {"S": job.requested_by},
            "created_at": {"S": job.created_at}, "updated_at": {"S": job.created_at},
            "done": {"N": "0"}, "step_no": {"N": "0"},
            "expires_at": {"N": str(int((now + JOB_TTL).timestamp()))}}
        if job.total is not None:
            item["total"] = {"N": str(job.total)}
        if job.session_id:
            item["session"] = {"S": job.session_id}
        self.client.put_item(TableName=self.table, Item=item,
                             ConditionExpression="attribute_not_exists(pk)")

    def get(self, series_id: str, job_id: str) -> OrganiserJob | None:
        item = self.client.get_item(TableName=self.table, ConsistentRead=True,
                                    Key=key(f"SERIES#{series_id}", f"JOB#{job_id}")).get("Item")
        return _job(dict(item)) if item else None

    def update(self, series_id: str, job_id: str, now: datetime, *, state: JobState,
               done: int, result_key: str = "", error: str = "",
               recorded: int | None = None, not_registered: int | None = None) -> bool:
        """Record progress (an attendance import's counts too, when given); a finished job is
        never changed again (False then), so a step that is delivered twice cannot undo the
        end."""
        counts = {name: value for name, value in (("recorded", recorded),
                                                   ("not_registered", not_registered))
                  if value is not None}
        try:
            self.client.update_item(
                TableName=self.table, Key=key(f"SERIES#{series_id}", f"JOB#{job_id}"),
                UpdateExpression="SET #state = :state, done = :done, updated_at = :now, "
                                 "result_key = :result, #error = :error"
                                 + "".join(f", {name} = :{name}" for name in counts),
                ConditionExpression="attribute_exists(pk) AND NOT #state IN (:done_state, "
                                    ":failed)",
                ExpressionAttributeNames={"#state": "state", "#error": "error"},
                ExpressionAttributeValues={
                    ":state": {"S": state}, ":done": {"N": str(done)},
                    ":now": {"S": now.isoformat()}, ":result": {"S": result_key},
                    ":error": {"S": error[:300]}, ":done_state": {"S": "done"},
                    ":failed": {"S": "failed"},
                    **{f":{name}": {"N": str(value)} for name, value in counts.items()}})
        except ClientError as error_:
            if is_condition_failure(error_):
                return False
            raise
        return True

    def hand_on(self, series_id: str, job_id: str, step: int) -> bool:
        """Step ``step`` ends and the next may begin: True for the first to say so. A
        message SQS delivered twice runs twice at once, and each copy would hand on a chain
        of its own: only one chain goes on (a step retried after a crash was never handed
        on, so its retry still may)."""
        try:
            self.client.update_item(
                TableName=self.table, Key=key(f"SERIES#{series_id}", f"JOB#{job_id}"),
                UpdateExpression="SET step_no = :next",
                ConditionExpression="step_no = :step",
                ExpressionAttributeValues={":step": {"N": str(step)},
                                           ":next": {"N": str(step + 1)}})
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def recent(self, series_id: str, limit: int) -> list[OrganiserJob]:
        """The newest jobs of a series (one Query)."""
        answer = self.client.query(
            TableName=self.table, Limit=limit, ScanIndexForward=False,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"SERIES#{series_id}"},
                                       ":prefix": {"S": "JOB#"}})
        return [_job(dict(item)) for item in answer["Items"]]


def _job(item: dict[str, Any]) -> OrganiserJob:
    return OrganiserJob(
        series_id=item["pk"]["S"].removeprefix("SERIES#"),
        job_id=item["sk"]["S"].removeprefix("JOB#"), kind=item["kind"]["S"],
        state=item["state"]["S"], requested_by=item["requested_by"]["S"],
        created_at=item["created_at"]["S"], updated_at=item.get("updated_at", {}).get("S", ""),
        done=int(item.get("done", {}).get("N", "0")),
        total=int(item["total"]["N"]) if "total" in item else None,
        result_key=item.get("result_key", {}).get("S", ""),
        error=item.get("error", {}).get("S", ""),
        session_id=item.get("session", {}).get("S", ""),
        recorded=int(item.get("recorded", {}).get("N", "0")),
        not_registered=int(item.get("not_registered", {}).get("N", "0")))
