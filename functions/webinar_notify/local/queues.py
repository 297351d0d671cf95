"""The send queue as the local runner drains it: in memory (default) or moto's SQS.

Both hand the sender handler the same SQS-shaped records and apply the outcome as the SQS
event source does: successes deleted, failures back in the queue, and after maxReceiveCount
receives a message goes to the dead-letter queue.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..adapters.memory_queue import MemoryQueue, QueuedMessage
from ..adapters.queue import SendQueue, SqsQueue

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class LocalQueue(Protocol):
    port: SendQueue  # what the services send to

    def receive(self) -> list[dict[str, Any]]: ...
    def settle(self, messages: list[dict[str, Any]], failed: set[str]) -> None: ...
    def dead_letters(self) -> int: ...
    def dead_bodies(self) -> list[str]: ...
    def next_visible(self) -> datetime | None: ...
    def depth(self) -> int: ...
    def send_raw(self, body: str) -> None: ...


class InMemory:
    def __init__(self, queue: MemoryQueue) -> None:
        self.queue = queue
        self.port: SendQueue = queue
        self._in_flight: dict[str, QueuedMessage] = {}

    def receive(self) -> list[dict[str, Any]]:
        batch = self.queue.receive()
        self._in_flight = {m.message_id: m for m in batch}
        return [{"MessageId": m.message_id, "ReceiptHandle": m.message_id, "Body": m.body,
                 "Attributes": {"ApproximateReceiveCount": str(m.receives)}} for m in batch]

    def settle(self, messages: list[dict[str, Any]], failed: set[str]) -> None:
        self.queue.settle(list(self._in_flight.values()), failed)
        self._in_flight = {}

    def dead_letters(self) -> int:
        return len(self.queue.dead)

    def dead_bodies(self) -> list[str]:
        return [m.body for m in self.queue.dead]

    def next_visible(self) -> datetime | None:
        return self.queue.next_visible()

    def depth(self) -> int:
        return len(self.queue.waiting)

    def send_raw(self, body: str) -> None:
        self.queue.send_bodies([body])


class MotoSqs:
    """moto's SQS: exact SQS behaviour, but slow for deep queues and delays in real time."""

    def __init__(self, client: SQSClient, url: str, dead_letter_url: str) -> None:
        self.client = client
        self.url = url
        self.dead_letter_url = dead_letter_url
        self.port: SendQueue = SqsQueue(client, url)

    def receive(self) -> list[dict[str, Any]]:
        answer = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                             AttributeNames=["All"])
        return [dict(message) for message in answer.get("Messages", [])]

    def settle(self, messages: list[dict[str, Any]], failed: set[str]) -> None:
        for message in messages:
            if message["MessageId"] in failed:  # visible again at once: no waiting locally
                self.client.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0)
            else:
                self.client.delete_message(QueueUrl=self.url,
                                           ReceiptHandle=message["ReceiptHandle"])

    def dead_letters(self) -> int:
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.dead_letter_url,
            AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def dead_bodies(self) -> list[str]:
        answer = self.client.receive_message(QueueUrl=self.dead_letter_url,
                                             MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [m["Body"] for m in answer.get("Messages", [])]

    def next_visible(self) -> datetime | None:
        return None

    def depth(self) -> int:
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def send_raw(self, body: str) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=body)
