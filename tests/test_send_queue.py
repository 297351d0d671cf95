"""The send queue keeps within SQS's size limits: batches split by bytes as well as by count,
and a message SQS would refuse is refused by the local queue too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest

from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.memory_queue import MemoryQueue
from webinar_notify.adapters.queue import (
    SQS_MAX_BYTES,
    MessageTooLargeError,
    SqsQueue,
    sqs_batches,
)
from webinar_notify.core.jobs import EmailJob
from webinar_notify.core.registration import Registrant
from webinar_notify.local import aws_limits
from webinar_notify.local.infra import LocalResources, create_resources


def _job(number: int, padding: int = 0) -> EmailJob:
    return EmailJob(kind="reminder", series_id="s", series_revision=1, registrant_id=f"r{number}",
                    recipient=Registrant(f"p{number}@example.org", "P" + "x" * padding,
                                         "Europe/Brussels"),
                    session_ids=("s1",), key=f"k{number}")


@pytest.fixture
def sqs() -> Iterator[LocalResources]:
    from moto import mock_aws

    with mock_aws(), aws_limits.enforced():
        yield create_resources()


def test_batches_hold_ten_messages_and_256_kb_at_most() -> None:
    assert [len(b) for b in sqs_batches(["x"] * 25)] == [10, 10, 5]
    large = "y" * (100 * 1024)
    assert [len(b) for b in sqs_batches([large] * 5)] == [2, 2, 1]
    assert all(sum(len(m) for m in b) <= SQS_MAX_BYTES for b in sqs_batches([large] * 5))


def test_ten_large_jobs_reach_sqs_in_several_batches(sqs: LocalResources) -> None:
    jobs = [_job(i, padding=40 * 1024) for i in range(10)]  # 400 KB together, 40 KB each
    SqsQueue(boto3.client("sqs"), sqs.queue_url).send(jobs)

    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=sqs.queue_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "10"


def test_a_message_sqs_would_refuse_is_refused_by_both_queues(sqs: LocalResources) -> None:
    too_large = [_job(1, padding=SQS_MAX_BYTES)]
    with pytest.raises(MessageTooLargeError):
        SqsQueue(boto3.client("sqs"), sqs.queue_url).send(too_large)
    memory = MemoryQueue(VirtualClock(datetime(2024, 1, 1, tzinfo=UTC)), max_receive_count=5)
    with pytest.raises(MessageTooLargeError):
        memory.send(too_large)
    assert not memory.waiting and memory.requests == 0
