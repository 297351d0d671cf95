"""SQS entry point: send each queued email, reporting partial batch failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..bootstrap import services
from ..core.jobs import EmailJob

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# A wholly failed batch is reported record by record like any other: no exception, so no
# traceback (SES error texts can hold addresses) reaches the logs.
_OUTCOME_METRICS = {"sent": "EmailsSent", "duplicate": "EmailsDuplicateSkipped",
                    "deferred": "EmailsDeferred", "retrying": "EmailsRetried",
                    "expired": "EmailsExpired", "skipped": "EmailsSkippedStale",
                    "suppressed": "EmailsSuppressed", "withdrawn": "EmailsWithdrawn"}
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def send_one(record: SQSRecord) -> str:
    try:
        job = EmailJob.from_json(record.body)
        result = services().sender.deliver(job)
    except Exception as error:
        metrics.add_metric(name="EmailsFailed", unit=MetricUnit.Count, value=1)
        logger.warning("email not sent", extra={"message_id": record.message_id,
                                                "error": type(error).__name__})
        raise
    details = {"kind": job.kind, "series": job.series_id, "registrant": job.registrant_id,
               "outcome": result.outcome}
    if result.cause:  # a fault before SES accepted: back on the queue, and worth a look
        logger.warning("email retried later", extra={**details, "error": result.cause})
    else:
        logger.info("email handled", extra=details)
    metrics.add_metric(name=_OUTCOME_METRICS[result.outcome], unit=MetricUnit.Count, value=1)
    return result.outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=send_one,
                                         processor=processor, context=context))
