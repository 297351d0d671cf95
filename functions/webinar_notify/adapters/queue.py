"""The send queue port and its SQS adapter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ..core.jobs import EmailJob

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

SQS_BATCH = 10


class SendQueueError(Exception):
    """SQS refused some messages even after a retry; the caller must not report success."""


class SendQueue(Protocol):
    def send(self, jobs: Sequence[EmailJob]) -> None: ...


class SqsQueue:
    def __init__(self, client: SQSClient, url: str) -> None:
        self.client = client
        self.url = url

    def send(self, jobs: Sequence[EmailJob]) -> None:
        for start in range(0, len(jobs), SQS_BATCH):
            entries = [{"Id": str(i), "MessageBody": job.to_json()}
                       for i, job in enumerate(jobs[start:start + SQS_BATCH])]
            for _attempt in range(3):
                failed = self.client.send_message_batch(
                    QueueUrl=self.url, Entries=entries).get("Failed", [])  # type: ignore[arg-type]
                if not failed:
                    break
                failed_ids = {f["Id"] for f in failed}
                entries = [e for e in entries if e["Id"] in failed_ids]
            else:
                raise SendQueueError(f"{len(entries)} messages were not accepted by SQS")
