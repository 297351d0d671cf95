"""SQS entry point: send the batch's emails at once (a bounded pool, services/sending.py),
reporting partial batch failures record by record."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..bootstrap import services
from ..core.jobs import EmailJob
from ..services.sending import Delivery
from .tracing import traced

logger = Logger()
metrics = Metrics()
# A wholly failed batch is reported record by record like any other: no exception, so no
# traceback (SES error texts can hold addresses) reaches the logs.
_OUTCOME_METRICS = {"sent": "EmailsSent", "duplicate": "EmailsDuplicateSkipped",
                    "deferred": "EmailsDeferred", "retrying": "EmailsRetried",
                    "expired": "EmailsExpired", "skipped": "EmailsSkippedStale",
                    "suppressed": "EmailsSuppressed", "withdrawn": "EmailsWithdrawn",
                    "handed_back": "EmailsHandedBack"}


def send_batch(records: list[dict[str, Any]], seconds_left: float | None) -> list[str]:
    """The message ids of the records that failed (SQS delivers those again)."""
    failed: list[str] = []
    jobs: list[tuple[str, EmailJob]] = []
    for record in records:
        try:
            jobs.append((record["messageId"], EmailJob.from_json(record["body"])))
        except Exception as error:  # poison: fails on every receive, then dead-lettered
            failed.append(_failure(record.get("messageId", ""), error))
    results = services().sender.deliver_all([job for _id, job in jobs], seconds_left)
    for (message_id, job), result in zip(jobs, results, strict=True):
        if isinstance(result, Delivery):
            _report(job, result)
        else:
            failed.append(_failure(message_id, result))
    return failed


def _failure(message_id: str, error: Exception) -> str:
    metrics.add_metric(name="EmailsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("email not sent", extra={"message_id": message_id,
                                            "error": type(error).__name__})
    return message_id


def _report(job: EmailJob, result: Delivery) -> None:
    details = {"kind": job.kind, "series": job.series_id, "registrant": job.registrant_id,
               "outcome": result.outcome}
    if result.cause:  # a fault before SES accepted: back on the queue, and worth a look
        logger.warning("email retried later", extra={**details, "error": result.cause})
    else:
        logger.info("email handled", extra=details)
    metrics.add_metric(name=_OUTCOME_METRICS[result.outcome], unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    seconds_left = context.get_remaining_time_in_millis() / 1000
    failed = send_batch(list(event.get("Records", [])), seconds_left)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
