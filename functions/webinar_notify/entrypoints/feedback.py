"""SNS entry point: delivery events (sends, deliveries, delays, rejects, bounces, complaints)
from the SES configuration set.

SNS invokes it once per event, so about once per email: a routine delivery writes only its
metric, and the INFO line (counts only, never an address) is kept for what an operator may
need to look at (bounces, complaints, rejects, delays, unreadable or unknown events). Only the
counts that are not zero become metrics (every alarm treats missing data as not breaching).
"""

from __future__ import annotations

import json
from collections import Counter
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
            "lost_events": "LostDeliveryEvents"}
ROUTINE = {"deliveries"}  # counted by its metric alone


@logger.inject_lambda_context
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return handle(event)
    finally:
        if metrics.metric_set:  # an event counted by no metric (unreadable, other) has none
            metrics.flush_metrics()


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """Each SES event of the notification, counted; the counts."""
    totals: Counter[str] = Counter()
    for record in event.get("Records", []):
        try:
            message = json.loads(record["Sns"]["Message"])
        except (KeyError, TypeError, ValueError):
            message = None
        if not isinstance(message, dict):
            totals["unreadable"] += 1
            continue
        totals.update(services().feedback.handle(message))
    for name, metric in _METRICS.items():
        if totals[name]:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=totals[name])
    counts = {name: count for name, count in totals.items() if count}
    if set(counts) - ROUTINE:
        logger.info("feedback handled", extra=counts)  # counts only, never an address
    else:
        logger.debug("feedback handled", extra=counts)
    return dict(totals)
