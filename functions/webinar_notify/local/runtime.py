"""The real handlers on embedded moto: an HTTP request or a queue message in, the same code
path as on AWS, with a virtual clock and an outbox instead of SES."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import boto3

from .. import bootstrap
from ..adapters.accounts import AccountsAdmin
from ..adapters.audit import DynamoAudit
from ..adapters.clock import Clock
from ..adapters.exports import LocalExports
from ..adapters.job_queue import MemoryJobQueue
from ..adapters.job_store import DynamoJobStore
from ..adapters.ledger import DynamoLedger
from ..adapters.mailer import Mailer, OutgoingMessage
from ..adapters.memory_queue import MemoryQueue
from ..adapters.schedule_store import DynamoScheduleStore
from ..adapters.secrets import StaticSecrets
from ..adapters.store import DynamoStore
from ..core.organiser_access import Role
from ..core.series import Series
from ..services.answers import Published
from . import aws_calls, aws_limits
from .accounts import LocalPool, OnDemandPool, add_organiser
from .events import LocalContext, http_api_event, scheduled_event, sqs_event
from .infra import REGION, LocalResources, create_resources, verify_sender
from .provider_api import LocalFetcher, ProviderAnswer
from .queues import InMemory, LocalQueue, MotoSqs

LOCAL_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "POWERTOOLS_SERVICE_NAME": "webinar-notify",
    "POWERTOOLS_METRICS_NAMESPACE": "WebinarNotify",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
MAX_DRAIN_ROUNDS = 10_000
LOCAL_ORGANISER = "arn:aws:iam::123456789012:user/local-organiser"
# Local function names and the template's logical ids, whose roles their calls are checked by.
LOGICAL_IDS = {"webinar-notify-api": "ApiFunction", "webinar-notify-sender": "SenderFunction",
               "webinar-notify-scheduler": "SchedulerFunction",
               "webinar-notify-feedback": "FeedbackFunction",
               "webinar-notify-jobs": "JobsFunction"}


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: dict[str, Any]  # a JSON answer, parsed
    text: str = ""  # the body as sent: an HTML page, a calendar, the JSON text
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)  # every header the handler set
    cookies: tuple[str, ...] = ()  # payload 2.0 `cookies`: one Set-Cookie header each


@dataclass(frozen=True, slots=True)
class LocalSettings:
    webhook_secrets: Mapping[str, str]
    token_secret: str = "local-development-only"  # noqa: S105 (signs links in local outboxes)
    registrant_key: str = "local-development-only"
    public_base_url: str = "http://localhost:8000"
    quiet: bool = True  # no metrics and only warnings in the output
    queue: Literal["memory", "sqs"] = "memory"  # moto's SQS is exact but slow at depth
    # What a provider's API answers (Eventbrite's orders), by URL: see provider_api.py.
    provider_api: Mapping[str, ProviderAnswer] = field(default_factory=dict)
    # The SAM template the local resources are built from (default: the one installed with
    # the package, or the checkout's in an editable install: kit.sam_template()).
    sam_template: Path | None = None


class LocalRuntime:
    """moto started, resources built from the template, the real services installed."""

    def __init__(self, resources: LocalResources, clock: Clock, mailer: Mailer,
                 settings: LocalSettings) -> None:
        self.resources = resources
        self.sign_in = OnDemandPool()  # the organisers' user pool, made at first use
        self.clock = clock
        self.mailer = mailer
        self.sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.store = DynamoStore(dynamodb, resources.table)
        self.schedule = DynamoScheduleStore(dynamodb, resources.table)
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=resources.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.quiet = settings.quiet
        self.jobs = MemoryJobQueue()  # organiser jobs' continuations, run by drain()
        self.fetcher = LocalFetcher(settings.provider_api)  # the provider APIs' stand-in
        self.feedback_queue = MotoSqs(self.sqs, resources.feedback_queue_url,
                                      resources.feedback_dead_letter_url)
        self.feedback_queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=resources.feedback_queue_url,
            AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queue: LocalQueue = (
            InMemory(MemoryQueue(clock, resources.max_receive_count))
            if settings.queue == "memory"
            else MotoSqs(self.sqs, resources.queue_url, resources.dead_letter_url))
        self.accepted = AcceptedCount(mailer)
        self.services = bootstrap.build(
            store=self.store, ledger=DynamoLedger(dynamodb, resources.table),
            schedule=self.schedule, audit=DynamoAudit(dynamodb, resources.table),
            queue=self.queue.port, mailer=self.accepted,
            secrets=StaticSecrets(settings.webhook_secrets, settings.token_secret,
                                  settings.registrant_key),
            clock=clock, public_base_url=settings.public_base_url, fetcher=self.fetcher,
            accounts=self.sign_in, verifier=self.sign_in,
            job_store=DynamoJobStore(dynamodb, resources.table), job_queue=self.jobs,
            exports=LocalExports(boto3.client("s3", region_name=REGION),
                                 resources.export_bucket))
        bootstrap.install(self.services)

    @property
    def pool(self) -> LocalPool:
        """The organisers' user pool on moto (the template's), with its app client."""
        return self.sign_in.pool

    @property
    def accounts_admin(self) -> AccountsAdmin:
        """What an operator's credentials do to the pool: add organisers."""
        return self.sign_in.admin()

    def add_organiser(self, email: str, name: str, series_id: str, role: Role,
                      password: str | None = None) -> str:
        """A local organiser account with this role on the series; its password."""
        return add_organiser(self.accounts_admin, email, name, series_id, role, password)

    def push_series(self, series: Series) -> Published:
        """Publish a series file as an operator would, quietly: through the organiser's one
        publish path, but without an organiser request (so no notices, no audit entry)."""
        verify_sender(series.sender.email)
        return self.services.organiser.publish(series, quiet=True)

    def request(self, method: str, path: str, headers: Mapping[str, str],
                body: bytes, iam_caller: str | None = None,
                jwt_claims: Mapping[str, Any] | None = None) -> HttpAnswer:
        """Deliver one HTTP request to the API function, exactly as API Gateway would; with
        ``iam_caller``, as its IAM authorizer passes a request it verified; with
        ``jwt_claims``, as its JWT authorizer passes a verified token's claims."""
        from ..entrypoints import api

        event = http_api_event(method, path, headers, body, self.clock.now(), iam_caller,
                               jwt_claims)
        answer = self._invoke(api.lambda_handler, event, LocalContext("webinar-notify-api"))
        sent = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
        content_type = next((v for k, v in sent.items() if k.lower() == "content-type"), "")
        text = str(answer.get("body") or "")
        if answer.get("isBase64Encoded"):
            text = base64.b64decode(text).decode("utf-8", "replace")
        cookies = tuple(str(c) for c in answer.get("cookies") or ())
        parsed = json.loads(text or "{}") if content_type.startswith("application/json") else {}
        return HttpAnswer(int(answer["statusCode"]), parsed, text, content_type, sent, cookies)

    def organiser(self, path: str, body: dict[str, Any], idempotency_key: str,
                  caller: str = LOCAL_ORGANISER) -> HttpAnswer:
        """An organiser action, as the API receives it once IAM has authenticated the caller."""
        headers = {"content-type": "application/json", "idempotency-key": idempotency_key}
        return self.request("POST", path, headers, json.dumps(body).encode(), caller)

    def tick(self) -> dict[str, Any]:
        """One scheduled run of the scheduler function, as EventBridge invokes it."""
        from ..entrypoints import scheduler

        return self._invoke(scheduler.lambda_handler, scheduled_event(self.clock.now()),
                            LocalContext("webinar-notify-scheduler", timeout_ms=300_000))

    def feedback(self, *events: Mapping[str, Any]) -> dict[str, Any]:
        """SES events (see ses_events.py) as SNS puts them on the feedback queue (raw), handed
        to the feedback function in batches as the queue's event source would (a failed
        record is visible again at once, until the queue dead-letters it); what it counted."""
        from ..entrypoints import feedback

        for event in events:
            self.sqs.send_message(QueueUrl=self.resources.feedback_queue_url,
                                  MessageBody=json.dumps(event))
        with feedback.counting() as counted:
            for _round in range(MAX_DRAIN_ROUNDS):
                batch: list[dict[str, Any]] = []
                while (room := self.resources.feedback_batch_size - len(batch)) > 0:
                    received = self.sqs.receive_message(
                        QueueUrl=self.resources.feedback_queue_url, AttributeNames=["All"],
                        MaxNumberOfMessages=min(10, room)).get("Messages", [])
                    if not received:
                        break
                    batch += [dict(message) for message in received]
                if not batch:
                    break
                result = self._invoke(feedback.lambda_handler,
                                      sqs_event(batch, self.feedback_queue_arn),
                                      LocalContext("webinar-notify-feedback"))
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
                self.feedback_queue.settle(batch, failed)
        return dict(counted)

    def next_wakeup(self) -> datetime | None:
        """The earliest moment anything is due: a reminder slot, or a delayed message."""
        times = [t for t in (self.schedule.next_wakeup(), self.queue.next_visible()) if t]
        return min(times, default=None)

    def drain(self) -> int:
        """Run the sender over the queue until nothing visible is left, as the SQS event source
        would; a failed record is visible again at once (no waiting in virtual time). Waiting
        organiser jobs run too, as their own queue's event source would run them."""
        from ..entrypoints import sender

        handled = 0
        self.run_jobs()
        for _round in range(MAX_DRAIN_ROUNDS):
            messages = self.queue.receive()
            if not messages:
                return handled
            result = self._invoke(sender.lambda_handler, sqs_event(messages, self.queue_arn),
                                  LocalContext("webinar-notify-sender"))
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            self.queue.settle(messages, failed)
            handled += len(messages) - len(failed)
        return handled

    def drain_sent(self) -> int:
        """``drain``, and how many emails the mailer accepted meanwhile: what the runner
        reports as sent (a job handled may have been suppressed, withdrawn, expired or put
        back instead)."""
        before = self.accepted.count
        self.drain()
        return self.accepted.count - before

    def run_jobs(self) -> int:
        """Run the job function over every waiting organiser job step (and the steps they hand
        on), one message per invocation as the job queue's event source does."""
        from ..entrypoints import jobs

        steps = 0
        while (body := self.jobs.take()) is not None:
            receives = 1
            while True:
                message = {"MessageId": f"job-step-{steps}", "ReceiptHandle": "local",
                           "Body": body,
                           "Attributes": {"ApproximateReceiveCount": str(receives)}}
                result = self._invoke(jobs.lambda_handler, sqs_event([message], "local-jobs"),
                                      LocalContext("webinar-notify-jobs", timeout_ms=900_000))
                steps += 1
                if not result.get("batchItemFailures"):
                    break
                receives += 1  # SQS delivers it again, until the job gives up on it
        return steps

    def dead_letters(self) -> int:
        return self.queue.dead_letters()

    def _invoke(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]],
                event: dict[str, Any], context: LocalContext) -> dict[str, Any]:
        """Call a Lambda handler as the template's function (its AWS calls are attributed to
        that function's role); when quiet, its metric lines (EMF on stdout) are not shown."""
        with aws_calls.acting_as(LOGICAL_IDS.get(context.function_name, "")):
            if not self.quiet:
                return dict(handler(event, context))
            with contextlib.redirect_stdout(io.StringIO()):
                return dict(handler(event, context))


class AcceptedCount:
    """The mailer, counting the emails it accepted (the sender's threads share it)."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self.count = 0
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> str:
        answer = self.mailer.send(message)
        with self._lock:
            self.count += 1
        return answer


@contextmanager
def local_runtime(clock: Clock, mailer: Mailer | Callable[[], Mailer],
                  settings: LocalSettings) -> Iterator[LocalRuntime]:
    """Start moto with the local environment, build the template's resources, yield a runtime.

    ``mailer`` may be a factory, for mailers whose AWS client must be made inside moto.
    """
    from moto import mock_aws

    overrides = dict(LOCAL_ENVIRONMENT)
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    from ..entrypoints import api, sender  # noqa: F401 (their loggers exist before we set them)

    logging.getLogger("webinar-notify").setLevel(logging.WARNING if settings.quiet
                                                 else logging.INFO)
    try:
        with mock_aws(), aws_limits.enforced():
            resolved = mailer if hasattr(mailer, "send") else mailer()
            yield LocalRuntime(create_resources(template_path=settings.sam_template), clock,
                               resolved, settings)
    finally:
        bootstrap.install(None)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

