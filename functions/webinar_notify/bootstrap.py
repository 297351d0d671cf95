"""The composition root: the one place that builds real adapters and wires the services.

Lambda entry points call ``services()``, which builds everything from the environment once
per container. The local runner and the tests call ``install()`` with adapters of their own
(moto-backed clients, the outbox mailer, a virtual clock) and then run the same handlers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import boto3
from botocore.config import Config

from .adapters.audit import Audit, DynamoAudit
from .adapters.clock import Clock, SystemClock
from .adapters.fetcher import Fetcher, HttpsFetcher
from .adapters.ledger import DynamoLedger, Ledger
from .adapters.mailer import Mailer, SesMailer
from .adapters.queue import SendQueue, SqsQueue
from .adapters.rate_limit import RateLimiter
from .adapters.schedule_store import DynamoScheduleStore, ScheduleStore
from .adapters.secrets import Secrets, SsmSecrets
from .adapters.store import DynamoStore, Store
from .core.render import Renderer
from .services.feedback import Feedback
from .services.intake import Intake
from .services.manage import ManagePage
from .services.organising import Organiser
from .services.preferences import Preferences
from .services.scheduling import Scheduler, ScheduleSettings
from .services.sending import Sender, SendSettings, SeriesCache

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Services:
    store: Store
    clock: Clock
    intake: Intake
    sender: Sender
    manage: ManagePage
    scheduler: Scheduler
    organiser: Organiser
    preferences: Preferences
    feedback: Feedback


def build(*, store: Store, ledger: Ledger, schedule: ScheduleStore, audit: Audit,
          queue: SendQueue,
          mailer: Mailer, secrets: Secrets, clock: Clock, public_base_url: str,
          templates_dir: Path | None = None, lease: timedelta = timedelta(seconds=60),
          send_rate_per_instance: float = 0.0, fetcher: Fetcher | None = None) -> Services:
    renderer = Renderer(templates_dir or find_templates())
    scheduler = Scheduler(store, schedule, queue, secrets, clock, ScheduleSettings())
    return Services(
        store=store,
        clock=clock,
        intake=Intake(store, queue, secrets, clock, fetcher=fetcher),
        sender=Sender(ledger, SeriesCache(store, clock), mailer, renderer, secrets, clock,
                      SendSettings(public_base_url=public_base_url, lease=lease), queue,
                      RateLimiter(send_rate_per_instance), schedule, suppressions=store),
        manage=ManagePage(store, secrets, renderer, clock, queue),
        scheduler=scheduler,
        organiser=Organiser(store, schedule, scheduler, audit, secrets, clock, queue, renderer),
        preferences=Preferences(store, secrets, renderer, clock),
        feedback=Feedback(store, secrets, clock),
    )


def from_environment(env: Mapping[str, str] = os.environ) -> Services:
    """Real AWS adapters, configured by the variables infra/template.yaml sets."""
    table = env["TABLE_NAME"]
    dynamodb = boto3.client("dynamodb")
    return build(
        store=DynamoStore(dynamodb, table),
        ledger=DynamoLedger(dynamodb, table),
        schedule=DynamoScheduleStore(dynamodb, table),
        audit=DynamoAudit(dynamodb, table),
        queue=SqsQueue(boto3.client("sqs"), env["SEND_QUEUE_URL"]),
        # No SDK retries for SES: a retried call whose first answer was lost sends twice.
        # Throttling and errors go back to SQS, where the ledger guards every retry. Timeouts
        # far below the function's: a hung call then fails that one email, which is retried,
        # instead of timing out the invocation and sending its whole batch back.
        mailer=SesMailer(boto3.client("sesv2", config=Config(
            retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=15)),
            env["SES_CONFIGURATION_SET"]),
        secrets=SsmSecrets(boto3.client("ssm"), env["WEBHOOK_SECRETS_PATH"],
                           env["TOKEN_SECRET_PARAMETER"], env["REGISTRANT_KEY_PARAMETER"]),
        clock=SystemClock(),
        fetcher=HttpsFetcher(),
        public_base_url=env.get("PUBLIC_BASE_URL", ""),  # only the sender links out
        templates_dir=Path(env["TEMPLATES_DIR"]) if env.get("TEMPLATES_DIR") else None,
        lease=timedelta(seconds=int(env.get("SENDER_TIMEOUT_SECONDS", "60"))),
        # Each of at most SENDER_CONCURRENCY instances paces itself to its share of the rate.
        send_rate_per_instance=float(env.get("SES_SEND_RATE", "0"))
        / max(1, int(env.get("SENDER_CONCURRENCY", "1"))),
    )


def find_templates() -> Path:
    """templates/ beside the package in a Lambda artifact, or at the top of a checkout."""
    for candidate in (PACKAGE_DIR.parent / "templates", PACKAGE_DIR.parents[1] / "templates"):
        if (candidate / "confirmation.html").exists():
            return candidate
    raise FileNotFoundError("templates/ not found; set TEMPLATES_DIR")


_installed: Services | None = None


def services() -> Services:
    global _installed
    if _installed is None:
        _installed = from_environment()
    return _installed


def install(replacement: Services | None) -> None:
    """Use these services from now on (None: build from the environment on next use)."""
    global _installed
    _installed = replacement
