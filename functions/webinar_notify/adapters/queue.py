"""The send queue port and its SQS adapter."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from ..core.jobs import EmailJob

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

SQS_BATCH = 10
PARALLEL_BATCHES = 8


class SendQueueError(Exception):
    """SQS refused some messages even after a retry; the caller must not report success."""


class SendQueue(Protocol):
    def send(self, jobs: Sequence[EmailJob], delay_seconds: int = 0) -> None: ...


class SqsQueue:
    def __init__(self, client: SQSClient, url: str) -> None:
        self.client = client
        self.url = url

    def send(self, jobs: Sequence[EmailJob], delay_seconds: int = 0) -> None:
        """SendMessageBatch in tens, several batches at a time; failed entries are retried."""
        batches = [jobs[start:start + SQS_BATCH] for start in range(0, len(jobs), SQS_BATCH)]
        if len(batches) <= 1:
            for batch in batches:
                self._send_batch(batch, delay_seconds)
            return
        with ThreadPoolExecutor(max_workers=PARALLEL_BATCHES) as pool:
            list(pool.map(lambda batch: self._send_batch(batch, delay_seconds), batches))

    def _send_batch(self, jobs: Sequence[EmailJob], delay_seconds: int) -> None:
        entries = [{"Id": str(i), "MessageBody": job.to_json(), "DelaySeconds": delay_seconds}
                   for i, job in enumerate(jobs)]
        for _attempt in range(3):
            failed = self.client.send_message_batch(
                QueueUrl=self.url, Entries=entries).get("Failed", [])  # type: ignore[arg-type]
            if not failed:
                return
            failed_ids = {f["Id"] for f in failed}
            entries = [e for e in entries if e["Id"] in failed_ids]
        raise SendQueueError(f"{len(entries)} messages were not accepted by SQS")
