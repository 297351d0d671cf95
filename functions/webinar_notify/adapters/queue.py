"""The send queue port and its SQS adapter."""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from ..core.jobs import EmailJob

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

SQS_BATCH = 10
SQS_MAX_BYTES = 256 * 1024  # SQS's limit for one message, and for one batch in all
PARALLEL_BATCHES = 8


class SendQueueError(Exception):
    """SQS refused some messages even after a retry; the caller must not report success."""


class MessageTooLargeError(SendQueueError):
    """A message over SQS's 256 KB: SQS would refuse it, so no queue here accepts it."""


def sqs_batches(bodies: Sequence[str]) -> list[list[str]]:
    """The bodies grouped as SendMessageBatch takes them: at most 10 a batch and 256 KB in all
    (ten large jobs together would be refused although each one alone fits)."""
    batches: list[list[str]] = []
    size = 0
    for body in bodies:
        length = len(body.encode("utf-8"))
        if length > SQS_MAX_BYTES:
            raise MessageTooLargeError(f"a message of {length} bytes is over SQS's "
                                       f"{SQS_MAX_BYTES} bytes")
        if not batches or len(batches[-1]) == SQS_BATCH or size + length > SQS_MAX_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(body)
        size += length
    return batches


class SendQueue(Protocol):
    def send(self, jobs: Sequence[EmailJob], delay_seconds: int = 0) -> None: ...


class SqsQueue:
    def __init__(self, client: SQSClient, url: str) -> None:
        self.client = client
        self.url = url

    def send(self, jobs: Sequence[EmailJob], delay_seconds: int = 0) -> None:
        """SendMessageBatch in tens (fewer when large), several batches at a time; failed
        entries are retried."""
        batches = sqs_batches([job.to_json() for job in jobs])
        if len(batches) <= 1:
            for batch in batches:
                self._send_batch(batch, delay_seconds)
            return
        with ThreadPoolExecutor(max_workers=PARALLEL_BATCHES) as pool:
            # Each batch runs in a copy of the caller's context, so context variables (e.g.
            # which function makes the call) hold in the worker threads too.
            futures = [pool.submit(contextvars.copy_context().run, self._send_batch, batch,
                                   delay_seconds) for batch in batches]
            for future in futures:
                future.result()

    def _send_batch(self, bodies: Sequence[str], delay_seconds: int) -> None:
        entries = [{"Id": str(i), "MessageBody": body, "DelaySeconds": delay_seconds}
                   for i, body in enumerate(bodies)]
        for _attempt in range(3):
            failed = self.client.send_message_batch(
                QueueUrl=self.url, Entries=entries).get("Failed", [])  # type: ignore[arg-type]
            if not failed:
                return
            failed_ids = {f["Id"] for f in failed}
            entries = [e for e in entries if e["Id"] in failed_ids]
        raise SendQueueError(f"{len(entries)} messages were not accepted by SQS")
