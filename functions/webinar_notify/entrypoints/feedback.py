"""SNS entry point: delivery events (sends, deliveries, delays, rejects, bounces, complaints)
from the SES configuration set."""

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


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
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
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=totals[name])
    logger.info("feedback handled", extra=dict(totals))  # counts only, never an address
    return dict(totals)
