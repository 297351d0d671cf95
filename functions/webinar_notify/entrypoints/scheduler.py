"""EventBridge schedule entry point: every few minutes, decide what is due and enqueue it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..bootstrap import services
from .tracing import traced

logger = Logger()
metrics = Metrics()
SAFETY_MARGIN = timedelta(seconds=30)  # stop fanning out this long before the timeout


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = services().clock.now()
    deadline = now + timedelta(milliseconds=context.get_remaining_time_in_millis()) \
        - SAFETY_MARGIN
    report = services().scheduler.run(deadline)
    for name, value in (("RemindersEnqueued", report.enqueued),
                        # notices and announcements (a reminder's are the sender's)
                        ("FanOutSuppressed", report.suppressed),
                        ("ReminderSlotsSent", len(report.sent_slots)),
                        ("ReminderSlotsDropped", len(report.dropped_slots)),
                        ("ReminderSlotsUnfinished", report.unfinished),
                        ("FanOutsOvertaken", report.overtaken),
                        ("SchedulerSeriesFailed", len(report.failed))):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    summary = {"enqueued": report.enqueued, "sent_slots": report.sent_slots,
               "dropped_slots": report.dropped_slots, "suppressed": report.suppressed,
               "unfinished": report.unfinished, "overtaken": report.overtaken,
               "failed": report.failed}
    logger.info("scheduler run", extra=summary)
    return summary
