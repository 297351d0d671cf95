"""SQS entry point of the job function: one continuation of an organiser job per message.

A step runs until shortly before the function's timeout, then puts what is left back on the
queue as a new message; a step that fails is retried by SQS from the same message, and a job
whose message has failed on every receive is marked failed for the organiser to see.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..bootstrap import services
from ..core.errors import PayloadError
from ..core.organiser_jobs import Continuation
from .tracing import traced

logger = Logger()
metrics = Metrics()
# After the soft margin's moment, a step stops at its next part (filling one takes seconds);
# at the hard one it stops even without one, and the next step reads those rows again.
SOFT_MARGIN = timedelta(seconds=120)
HARD_MARGIN = timedelta(seconds=30)
MAX_RECEIVES = 3  # the queue's maxReceiveCount: the last try marks the job failed


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    jobs = services().jobs
    failures: list[dict[str, str]] = []
    for record in SQSEvent(event).records:
        try:
            work = Continuation.from_json(record.body)
        except PayloadError:
            logger.warning("job message unreadable", extra={"message_id": record.message_id})
            continue  # nothing to retry: it would fail the same way every time
        end = services().clock.now() \
            + timedelta(milliseconds=context.get_remaining_time_in_millis())
        try:
            rest = jobs.step(work, end - SOFT_MARGIN, end - HARD_MARGIN)
        except Exception as error:
            logger.warning("job step failed", extra={"job": work.job_id, "kind": work.kind,
                                                     "error": type(error).__name__})
            if int(record.attributes.approximate_receive_count) >= MAX_RECEIVES:
                jobs.fail(work, f"the job failed {MAX_RECEIVES} times "
                                f"({type(error).__name__})")
                continue
            failures.append({"itemIdentifier": record.message_id})
            continue
        if rest is not None:
            services().job_queue.send(rest, jobs.fan_out_delay(rest))
        metrics.add_metric(name="JobSteps", unit=MetricUnit.Count, value=1)
        logger.info("job step", extra={"job": work.job_id, "kind": work.kind,
                                       "finished": rest is None})
    return {"batchItemFailures": failures}
