"""SQS entry point: send the batch's emails at once (a bounded pool, services/sending.py),
reporting partial batch failures record by record.

What it logs is paid per byte (benchmarks/cost.py): one INFO line per batch with its counts, and
a WARNING per email that failed or goes back to the queue with a fault, with its SQS message id
and the kind of error, never its text (SES error texts can hold addresses). Each email's outcome
is a DEBUG line (``LogLevel`` DEBUG in the template). Metrics are added once per batch and
outcome, with the batch's count.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..bootstrap import services
from ..core.jobs import EmailJob
from .tracing import traced

if TYPE_CHECKING:  # the sending service and its renderer load with the first batch
    from ..services.sending import Delivery

logger = Logger()
metrics = Metrics()
# A wholly failed batch is reported record by record like any other: no exception, so no
# traceback (SES error texts can hold addresses) reaches the logs.
_OUTCOME_METRICS = {"sent": "EmailsSent", "duplicate": "EmailsDuplicateSkipped",
                    "deferred": "EmailsDeferred", "retrying": "EmailsRetried",
                    "expired": "EmailsExpired", "skipped": "EmailsSkippedStale",
                    "suppressed": "EmailsSuppressed", "withdrawn": "EmailsWithdrawn",
                    "handed_back": "EmailsHandedBack", "failed": "EmailsFailed",
                    "counts_missed": "MailCountsMissed", "marks_missed": "SentMarksMissed"}
FAILED = "failed"  # records that raised: SQS delivers them again
COUNTS_MISSED = "counts_missed"  # sent, but the batch's counter write failed: a repair adds it
MARKS_MISSED = "marks_missed"  # sent, but not noted in the batch's sent log (see ledger.py)


def send_batch(records: list[dict[str, Any]], seconds_left: float | None) -> list[str]:
    """The message ids of the records that failed (SQS delivers those again)."""
    failed: list[str] = []
    jobs: list[tuple[str, EmailJob]] = []
    for record in records:
        try:
            jobs.append((record["messageId"], EmailJob.from_json(record["body"])))
        except Exception as error:  # poison: fails on every receive, then dead-lettered
            failed.append(_failure(record.get("messageId", ""), error))
    outcomes: Counter[str] = Counter({FAILED: len(failed)})
    if jobs:
        sender = services().sender
        results = sender.deliver_all([job for _id, job in jobs], seconds_left)
        outcomes[COUNTS_MISSED] = sender.counts_missed
        outcomes[MARKS_MISSED] = sender.marks_missed
        for (message_id, job), result in zip(jobs, results, strict=True):
            if isinstance(result, Exception):
                failed.append(_failure(message_id, result))
                outcomes[FAILED] += 1
            else:
                _report(message_id, job, result)
                outcomes[result.outcome] += 1
    for outcome, count in outcomes.items():
        if count:
            metrics.add_metric(name=_OUTCOME_METRICS[outcome],
                               unit=MetricUnit.Count, value=count)
    logger.info("batch handled", extra={"emails": len(records),
                                        "outcomes": {k: n for k, n in outcomes.items() if n}})
    return failed


def _failure(message_id: str, error: Exception) -> str:
    logger.warning("email not sent", extra={"message_id": message_id,
                                            "error": type(error).__name__})
    return message_id


def _report(message_id: str, job: EmailJob, result: Delivery) -> None:
    details = {"message_id": message_id, "kind": job.kind, "series": job.series_id,
               "registrant": job.registrant_id, "outcome": result.outcome}
    if result.cause:  # a fault along the way (the outcome says what became of it)
        logger.warning("email handled after a fault", extra={**details, "error": result.cause})
    else:
        logger.debug("email handled", extra=details)


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    seconds_left = context.get_remaining_time_in_millis() / 1000
    failed = send_batch(list(event.get("Records", [])), seconds_left)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
