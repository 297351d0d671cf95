"""An in-process stand-in for the SQS send queue, on the virtual clock.

The local runner uses it so that a fan-out to 10,000 people takes seconds, not the hour moto's
SQS needs (its send time grows with the queue's depth), and so that delayed messages wait in
virtual time. It keeps SQS's semantics that matter here: at-least-once delivery, delays,
receive counts and a dead-letter list after maxReceiveCount. It counts the SQS requests that
the same traffic would cost.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..core.jobs import EmailJob
from .clock import Clock
from .queue import sqs_batches

BATCH = 10


@dataclass
class QueuedMessage:
    message_id: str
    body: str
    visible_at: datetime
    receives: int = 0


class MemoryQueue:
    def __init__(self, clock: Clock, max_receive_count: int) -> None:
        self.clock = clock
        self.max_receive_count = max_receive_count
        self.waiting: deque[QueuedMessage] = deque()
        self.dead: list[QueuedMessage] = []
        self.requests = 0  # SQS requests the same traffic would cost
        self._ids = itertools.count(1)

    def send(self, jobs: Sequence[EmailJob], delay_seconds: int = 0) -> None:
        self.send_bodies([job.to_json() for job in jobs], delay_seconds)

    def send_bodies(self, bodies: Sequence[str], delay_seconds: int = 0) -> None:
        batches = sqs_batches(bodies)  # refuses what SQS would refuse, as SqsQueue does
        visible = self.clock.now() + timedelta(seconds=delay_seconds)
        self.waiting.extend(QueuedMessage(f"m{next(self._ids)}", body, visible)
                            for body in bodies)
        self.requests += len(batches)

    def receive(self) -> list[QueuedMessage]:
        """Up to 10 visible messages, as one ReceiveMessage call returns them."""
        now = self.clock.now()
        batch: list[QueuedMessage] = []
        not_yet: list[QueuedMessage] = []
        while self.waiting and len(batch) < BATCH:
            message = self.waiting.popleft()
            (batch if message.visible_at <= now else not_yet).append(message)
        self.waiting.extendleft(reversed(not_yet))
        for message in batch:
            message.receives += 1
        self.requests += 1
        return batch

    def settle(self, batch: list[QueuedMessage], failed: set[str]) -> None:
        """Delete what succeeded (one DeleteMessageBatch); failures return, or go to the DLQ."""
        for message in batch:
            if message.message_id not in failed:
                continue
            if message.receives >= self.max_receive_count:
                self.dead.append(message)
            else:
                self.waiting.appendleft(message)
        if len(failed) < len(batch):
            self.requests += 1

    def next_visible(self) -> datetime | None:
        return min((m.visible_at for m in self.waiting), default=None)

    def look(self) -> tuple[QueuedMessage, ...]:
        """Copies of the waiting messages, in queue order, without receiving them: receive
        counts, visibility and the request count stay as they were (SQS has no such call;
        it is the local runner's view of the queue)."""
        return tuple(replace(message) for message in self.waiting)

    def look_dead(self) -> tuple[QueuedMessage, ...]:
        """Copies of the messages in the dead-letter list, as ``look`` gives the waiting."""
        return tuple(replace(message) for message in self.dead)
