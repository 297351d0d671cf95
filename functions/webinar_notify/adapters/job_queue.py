"""The job queue port: continuations of organiser jobs, one message each, and its SQS adapter.
Locally the runner keeps them in memory and runs the job function over them."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Protocol

from ..core.organiser_jobs import Continuation

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class JobQueue(Protocol):
    def send(self, continuation: Continuation, delay_seconds: int = 0) -> None: ...


class SqsJobQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def send(self, continuation: Continuation, delay_seconds: int = 0) -> None:
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=continuation.to_json(),
                                 DelaySeconds=delay_seconds)


class MemoryJobQueue:
    """The local stand-in: messages wait here until the runner hands them to the handler."""

    def __init__(self) -> None:
        self.waiting: deque[str] = deque()

    def send(self, continuation: Continuation, delay_seconds: int = 0) -> None:
        self.waiting.append(continuation.to_json())  # locally nothing waits: it runs next

    def take(self) -> str | None:
        return self.waiting.popleft() if self.waiting else None

    def look(self) -> tuple[str, ...]:
        """The waiting messages' bodies, in order, left waiting."""
        return tuple(self.waiting)
