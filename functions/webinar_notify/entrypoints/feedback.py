"""SQS entry point: delivery events (sends, deliveries, delays, rejects, bounces, complaints)
from the SES configuration set, which publishes them to an SNS topic that feeds a queue.

The queue's event source hands them over in batches (one invocation for many emails, not one
each), so each batch is one set of metrics and at most one INFO line (counts only, never an
address), kept for what an operator may need to look at (bounces, complaints, rejects, delays,
unreadable or unknown events, counts not written). An event whose handling failed is reported
alone (``batchItemFailures``) and comes back; after the queue's receives it is dead-lettered.
Only the counts that are not zero become metrics (every alarm treats missing data as not
breaching). An SNS notification delivered straight to the function (as before the queue) is
still read, one event per record, and fails whole.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..bootstrap import services
from .tracing import traced

logger = Logger()
metrics = Metrics()
_METRICS = {"hard_bounces": "HardBounces", "soft_bounces": "SoftBounces",
            "complaints": "Complaints", "deliveries": "Deliveries", "delays": "Delays",
            "rejects": "Rejects", "unknown_delivery": "UnknownDeliveryTags",
            "lost_events": "LostDeliveryEvents", "counts_missed": "MailCountsMissed",
            "failed": "DeliveryEventsFailed"}
ROUTINE = {"deliveries"}  # counted by its metric alone
# What the invocations count, for a caller that asked (the local runner's timeline).
_counted: ContextVar[Counter[str] | None] = ContextVar("feedback_counted", default=None)


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """What the handler counts while in this block."""
    totals: Counter[str] = Counter()
    token = _counted.set(totals)
    try:
        yield totals
    finally:
        _counted.reset(token)


@logger.inject_lambda_context
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        records = list(event.get("Records", []))
        totals, failed = handle(records)
        seen = _counted.get()
        if seen is not None:
            seen.update(totals)
        if records and all("Sns" in r for r in records):  # straight from SNS: one event
            if failed:
                raise RuntimeError("a delivery event could not be recorded; SNS retries it")
            return dict(totals)
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
    finally:
        if metrics.metric_set:  # an event counted by no metric (unreadable, other) has none
            metrics.flush_metrics()


def handle(records: list[dict[str, Any]]) -> tuple[Counter[str], list[str]]:
    """Each SES event of the batch, counted; the counts, and the message ids of the records
    whose event could not be recorded (to be delivered again)."""
    totals: Counter[str] = Counter()
    events: list[tuple[str, dict[str, Any]]] = []
    for record in records:
        message = _ses_event(record)
        if message is None:  # poison: no retry can read it
            totals["unreadable"] += 1
        else:
            events.append((str(record.get("messageId", "")), message))
    failed: list[str] = []
    if events:
        results = services().feedback.handle_all([message for _id, message in events])
        for (message_id, _message), result in zip(events, results, strict=True):
            if isinstance(result, Exception):
                failed.append(message_id)
                totals["failed"] += 1
                logger.warning("delivery event not recorded",
                               extra={"message_id": message_id,
                                      "error": type(result).__name__})
            else:
                totals.update(result)
    for name, metric in _METRICS.items():
        if totals[name]:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=totals[name])
    counts = {name: count for name, count in totals.items() if count}
    if set(counts) - ROUTINE:
        logger.info("feedback handled", extra=counts)  # counts only, never an address
    else:
        logger.debug("feedback handled", extra=counts)
    return totals, failed


def _ses_event(record: dict[str, Any]) -> dict[str, Any] | None:
    """The SES event a record carries: an SQS message's body (raw, or an SNS envelope when
    the subscription does not deliver raw), or an SNS notification's message."""
    try:
        text = record["Sns"]["Message"] if "Sns" in record else record["body"]
        message = json.loads(text)
        if isinstance(message, dict) and message.get("Type") == "Notification" \
                and isinstance(message.get("Message"), str):
            message = json.loads(message["Message"])
    except (KeyError, TypeError, ValueError):
        return None
    return message if isinstance(message, dict) else None
