"""The send queue as the local runner drains it: in memory (default) or moto's SQS.

Both hand the sender handler the same SQS-shaped records and apply the outcome as the SQS
event source does: successes deleted, failures back in the queue, and after maxReceiveCount
receives a message goes to the dead-letter queue.

Both also let the runner look at what waits in the queue and its dead-letter queue without
receiving it (``look``, ``look_dead``): a state dump must not change what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..adapters.memory_queue import MemoryQueue, QueuedMessage
from ..adapters.queue import SendQueue, SqsQueue

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


@dataclass(frozen=True, slots=True)
class Waiting:
    """A message as it waits: its body, how often it was received, and (in virtual time, for
    the in-memory queue) when it becomes visible."""

    body: str
    receives: int
    visible_at: datetime | None = None


class LocalQueue(Protocol):
    port: SendQueue  # what the services send to

    def receive(self) -> list[dict[str, Any]]: ...
    def settle(self, messages: list[dict[str, Any]], failed: set[str]) -> None: ...
    def dead_letters(self) -> int: ...
    def dead_bodies(self) -> list[str]: ...
    def next_visible(self) -> datetime | None: ...
    def depth(self) -> int: ...
    def send_raw(self, body: str) -> None: ...
    def look(self) -> list[Waiting]: ...
    def look_dead(self) -> list[Waiting]: ...


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

    def look(self) -> list[Waiting]:
        return [Waiting(m.body, m.receives, m.visible_at) for m in self.queue.look()]

    def look_dead(self) -> list[Waiting]:
        return [Waiting(m.body, m.receives, m.visible_at) for m in self.queue.look_dead()]


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
        return [m.body for m in self.look_dead()]

    def next_visible(self) -> datetime | None:
        return None

    def depth(self) -> int:
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def send_raw(self, body: str) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=body)

    def look(self) -> list[Waiting]:
        return self._moto_messages(self.url)

    def look_dead(self) -> list[Waiting]:
        return self._moto_messages(self.dead_letter_url)

    def _moto_messages(self, url: str) -> list[Waiting]:
        """Every message moto holds for this queue, read from moto's own model: any
        ReceiveMessage, even with a zero visibility timeout, would count a receive and could
        move a message to the dead-letter queue. Their times are moto's wall clock, not the
        virtual one, so none is given."""
        from moto.sqs.models import sqs_backends

        account, name = url.rstrip("/").split("/")[-2:]  # .../<account>/<queue name>
        queue = sqs_backends[account][self.client.meta.region_name].get_queue(name)
        return [Waiting(m.body, m.approximate_receive_count) for m in list(queue._messages)]
