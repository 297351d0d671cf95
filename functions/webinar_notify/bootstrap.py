"""The composition root: the one place that builds real adapters and wires the services.

Lambda entry points call ``services()``, which builds everything from the environment once
per container. The local runner and the tests call ``install()`` with adapters of their own
(moto-backed clients, the outbox mailer, a virtual clock) and then run the same handlers.

A cold start pays only for what its function uses: every use case is built on first use, with
its imports (the scheduler and feedback functions never load Jinja2 or icalendar, only the API
loads the webhook providers and the console's sign-in), and every AWS client is made when first
called (adapters/lazy_client.py).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, TypedDict

import boto3
from botocore.config import Config

from . import kit
from .adapters.clock import Clock, SystemClock
from .adapters.lazy_client import on_first_use
from .adapters.rate_limit import MAX_POOL, pool_size
from .core.errors import NotConfiguredError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient

    from .adapters.accounts import Accounts
    from .adapters.audit import Audit
    from .adapters.certificate_store import CertificateStore
    from .adapters.exports import Exports
    from .adapters.fetcher import Fetcher
    from .adapters.job_queue import JobQueue
    from .adapters.job_store import JobStore
    from .adapters.ledger import Ledger
    from .adapters.mailer import Mailer
    from .adapters.queue import SendQueue
    from .adapters.schedule_store import ScheduleStore
    from .adapters.secrets import Secrets
    from .adapters.store import Store
    from .adapters.token_verifier import Verifier
    from .core.jobs import EmailJob
    from .core.kinds import CertificateFile
    from .core.organiser_jobs import Continuation
    from .core.registration import Registration
    from .core.series import Series
    from .services.certificates import Certificates
    from .services.feedback import Feedback
    from .services.intake import Intake
    from .services.manage import ManagePage
    from .services.organiser_jobs import OrganiserJobs
    from .services.organising import Organiser
    from .services.preferences import Preferences
    from .services.scheduling import Scheduler
    from .services.sending import Sender


class Makers(NamedTuple):
    """How each use case is built; each is called once, on first use."""

    intake: Callable[[], Intake]
    scheduler: Callable[[], Scheduler]
    feedback: Callable[[], Feedback]
    jobs: Callable[[], OrganiserJobs]
    rendering: Callable[[], Rendering]
    accounts: Callable[[], Accounts]
    verifier: Callable[[], Verifier]
    certificates: Callable[[], Certificates]


class Services:
    """Every use case, wired; each built on first use (see above)."""

    def __init__(self, *, store: Store, clock: Clock, job_queue: JobQueue, exports: Exports,
                 make: Makers) -> None:
        self.store = store
        self.clock = clock
        self.job_queue = job_queue
        self.exports = exports
        self._make = make

    @cached_property
    def intake(self) -> Intake:
        return self._make.intake()

    @cached_property
    def scheduler(self) -> Scheduler:
        return self._make.scheduler()

    @cached_property
    def feedback(self) -> Feedback:
        return self._make.feedback()

    @cached_property
    def jobs(self) -> OrganiserJobs:
        """Organiser work that grows with the audience, run off the request."""
        return self._make.jobs()

    @cached_property
    def certificates(self) -> Certificates:
        """Certificates assessed, issued, verified and revoked."""
        return self._make.certificates()

    @cached_property
    def accounts(self) -> Accounts:
        """Organisers signing in to the console (Cognito)."""
        return self._make.accounts()

    @cached_property
    def verifier(self) -> Verifier:
        """Their ID tokens, checked as the API's JWT authorizer does."""
        return self._make.verifier()

    @cached_property
    def sender(self) -> Sender:
        return self._make.rendering().sender

    @cached_property
    def manage(self) -> ManagePage:
        return self._make.rendering().manage

    @cached_property
    def organiser(self) -> Organiser:
        return self._make.rendering().organiser

    @cached_property
    def preferences(self) -> Preferences:
        return self._make.rendering().preferences


class Rendering(NamedTuple):
    """The use cases that render emails or pages, built together around one renderer."""

    sender: Sender
    manage: ManagePage
    organiser: Organiser
    preferences: Preferences


def build(*, store: Store, ledger: Ledger, schedule: ScheduleStore, audit: Audit,
          queue: SendQueue,
          mailer: Mailer, secrets: Secrets, clock: Clock, public_base_url: str,
          templates_dir: Path | None = None, lease: timedelta = timedelta(seconds=60),
          send_rate_per_instance: float = 0.0, send_pool: int = 1, send_rate: float = 0.0,
          fetcher: Fetcher | None = None,
          accounts: Accounts | None = None, verifier: Verifier | None = None,
          job_store: JobStore | None = None, job_queue: JobQueue | None = None,
          exports: Exports | None = None,
          sign_in: Callable[[], ConsoleSignIn] | None = None,
          certificate_store: CertificateStore | None = None) -> Services:
    """The services on these adapters. ``send_pool``: threads sending a batch; 1 sends one
    email at a time, as the local runner does, so that its outbox is in the same order on
    every run. ``sign_in``: accounts and verifier made on first use, instead of those given."""
    signing_in = cache(sign_in or (lambda: ConsoleSignIn(accounts or NoSignIn(),
                                                         verifier or NoSignIn())))
    job_queue, exports = job_queue or NoJobs(), exports or NoJobs()

    @cache
    def scheduler() -> Scheduler:
        from .services.scheduling import Scheduler, ScheduleSettings

        return Scheduler(store, schedule, queue, secrets, clock,
                         ScheduleSettings(send_rate=send_rate))

    def rows(series: Series, page: list[Registration] | None) -> str:
        # Imported on use: only the job function writes exports, not every function's start.
        from .services.console_views import ConsoleViews

        return ConsoleViews(store, schedule, audit, secrets, clock).csv_text(series, page)

    @cache
    def jobs() -> OrganiserJobs:
        from .services.organiser_jobs import OrganiserJobs

        return OrganiserJobs(store, job_store or NoJobs(), exports, job_queue, clock, rows,
                             scheduler=scheduler(), schedule=schedule,
                             certificates=certificates)

    @cache
    def kept_attendance() -> CertificateStore:
        return certificate_store or certificate_store_beside(store)

    @cache
    def certificates() -> Certificates:
        from .services.certificates import Certificates

        return Certificates(store, kept_attendance(), queue, secrets.certificate_secret, clock,
                            public_base_url)

    def intake() -> Intake:
        from .services.attendance import AttendanceIntake
        from .services.intake import Intake

        attendance = AttendanceIntake(store, kept_attendance(), secrets, clock,
                                      on_evaluation=lambda s, rid: certificates().assess(s, rid))
        return Intake(store, queue, secrets, clock, fetcher=fetcher, attendance=attendance)

    def feedback() -> Feedback:
        from .services.feedback import Feedback

        return Feedback(store, secrets, clock)

    def certificate_files(job: EmailJob, language: str) -> CertificateFile | None:
        from .services.certificates import certificate_file

        return certificate_file(kept_attendance(), job, language)

    @cache
    def rendering() -> Rendering:
        # Imported here: Jinja2 and icalendar load only in the functions that render.
        from .adapters.rate_limit import RateLimiter
        from .core.render import Renderer
        from .services.manage import ManagePage
        from .services.organising import Organiser
        from .services.preferences import Preferences
        from .services.sending import Sender, SendSettings, SeriesCache

        renderer = Renderer(templates_dir or find_templates())
        return Rendering(
            sender=Sender(ledger, SeriesCache(store, clock), mailer, renderer, secrets, clock,
                          SendSettings(public_base_url=public_base_url, lease=lease), queue,
                          RateLimiter(send_rate_per_instance), schedule, recipients=store,
                          pool=send_pool, certificate_files=certificate_files),
            manage=ManagePage(store, secrets, renderer, clock, queue, kept_attendance()),
            organiser=Organiser(store, schedule, scheduler(), audit, secrets, clock, queue,
                                renderer, jobs(), kept_attendance()),
            preferences=Preferences(store, secrets, renderer, clock))

    return Services(
        store=store, clock=clock, job_queue=job_queue, exports=exports,
        make=Makers(intake=intake, scheduler=scheduler, feedback=feedback, jobs=jobs,
                    rendering=rendering,
                    accounts=lambda: signing_in().accounts,
                    verifier=lambda: signing_in().verifier,
                    certificates=certificates),
    )


def from_environment(env: Mapping[str, str] = os.environ) -> Services:
    """Real AWS adapters, configured by the variables infra/template.yaml sets; each client
    is made when first used (adapters/lazy_client.py), and so is each adapter whose module only
    some functions need."""
    from .adapters.schedule_store import DynamoScheduleStore
    from .adapters.store import DynamoStore

    table = env["TABLE_NAME"]
    # As many connections as the sender has threads (botocore keeps 10 by default).
    connections = Config(max_pool_connections=MAX_POOL)
    # DynamoDB answers in milliseconds: short timeouts and a bounded retry budget (standard
    # mode, 3 attempts), so no call can outlast the sender's 20 s margin before its timeout.
    dynamodb = on_first_use(lambda: boto3.client("dynamodb", config=connections.merge(Config(
        connect_timeout=2, read_timeout=4, retries={"mode": "standard",
                                                    "total_max_attempts": 3}))))
    sqs = on_first_use(lambda: boto3.client("sqs"))
    # Each of at most SENDER_CONCURRENCY instances paces itself to its share of the rate,
    # with as many threads as that share keeps busy (adapters/rate_limit.py).
    share = float(env.get("SES_SEND_RATE", "0")) / max(1, int(env.get("SENDER_CONCURRENCY",
                                                                       "1")))
    return build(
        store=DynamoStore(dynamodb, table),
        ledger=adapter("ledger", "DynamoLedger", dynamodb, table),  # the sender's
        schedule=DynamoScheduleStore(dynamodb, table),
        audit=adapter("audit", "DynamoAudit", dynamodb, table),  # organisers'
        queue=adapter("queue", "SqsQueue", sqs, env["SEND_QUEUE_URL"]),
        # No SDK retries for SES: a retried call whose first answer was lost sends twice.
        # Throttling and errors go back to SQS, where the ledger guards every retry. Timeouts
        # far below the function's: a hung call then fails that one email, which is retried,
        # instead of timing out the invocation and sending its whole batch back.
        mailer=adapter("mailer", "SesMailer", on_first_use(lambda: boto3.client(
            "sesv2", config=connections.merge(Config(retries={"total_max_attempts": 1},
                                                     connect_timeout=5, read_timeout=15)))),
            env["SES_CONFIGURATION_SET"]),
        # Powertools' parameter provider (and the SSM client it touches at once) on first use.
        secrets=on_first_use(lambda: ssm_secrets(env)),
        clock=SystemClock(),
        fetcher=on_first_use(https_fetcher),  # only the intake fetches (Eventbrite's orders)
        public_base_url=env.get("PUBLIC_BASE_URL", ""),  # only the sender links out
        templates_dir=Path(env["TEMPLATES_DIR"]) if env.get("TEMPLATES_DIR") else None,
        lease=timedelta(seconds=int(env.get("SENDER_TIMEOUT_SECONDS", "60"))),
        send_rate_per_instance=share,
        send_rate=float(env.get("SES_SEND_RATE", "0")),  # the scheduler plans fan-outs by it
        send_pool=pool_size(share, int(env.get("SENDER_BATCH_SIZE", "10")),
                            int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "0"))),
        sign_in=lambda: console_sign_in(env),
        **organiser_jobs(env, dynamodb, sqs, table),
    )


def adapter(module: str, name: str, *args: object) -> Any:
    """``name(*args)`` from adapters/<module>.py, imported and made on first use: a function
    loads only the adapters it calls (the feedback function, for one, no ledger or queue)."""
    def make() -> Any:
        return getattr(importlib.import_module(f".adapters.{module}", __package__), name)(*args)

    return on_first_use(make)


def ssm_secrets(env: Mapping[str, str]) -> Secrets:
    from .adapters.secrets import SsmSecrets

    return SsmSecrets(boto3.client("ssm"), env["WEBHOOK_SECRETS_PATH"],
                      env["TOKEN_SECRET_PARAMETER"], env["REGISTRANT_KEY_PARAMETER"],
                      env.get("CERTIFICATE_SECRET_PARAMETER", ""))


def certificate_store_beside(store: Store) -> CertificateStore:
    """Presence, evaluations and certificates in the same table as the registrations (in
    memory beside an in-memory store)."""
    from .adapters.certificate_store import DynamoCertificateStore, MemoryCertificateStore
    from .adapters.store import DynamoStore

    if isinstance(store, DynamoStore):
        return DynamoCertificateStore(store.client, store.table)
    return MemoryCertificateStore()


def https_fetcher() -> Fetcher:
    from .adapters.fetcher import HttpsFetcher

    return HttpsFetcher()


class JobAdapters(TypedDict, total=False):
    job_store: JobStore
    job_queue: JobQueue
    exports: Exports


def organiser_jobs(env: Mapping[str, str], dynamodb: DynamoDBClient, sqs: SQSClient,
                   table: str) -> JobAdapters:
    """The job queue and the export bucket, for the functions the template gives them to (the
    API accepts jobs, the job function carries them out); none elsewhere."""
    queue_url, bucket = env.get("JOB_QUEUE_URL", ""), env.get("EXPORT_BUCKET", "")
    if not queue_url or not bucket:
        return {}
    from .adapters.exports import S3Exports
    from .adapters.job_queue import SqsJobQueue
    from .adapters.job_store import DynamoJobStore

    return {"job_store": DynamoJobStore(dynamodb, table),
            "job_queue": SqsJobQueue(sqs, queue_url),
            # Presigned links must be SigV4 (S3 refuses the older signature in new regions).
            "exports": S3Exports(on_first_use(lambda: boto3.client(
                "s3", config=Config(signature_version="s3v4"))), bucket)}


class ConsoleSignIn(NamedTuple):
    accounts: Accounts
    verifier: Verifier


def console_sign_in(env: Mapping[str, str]) -> ConsoleSignIn:
    """Sign-in and token checks for the user pool the template names (the API function's
    USER_POOL_ID and USER_POOL_CLIENT_ID); refused for functions without a console. Called
    on first use: PyJWT and cryptography load only where a console signs organisers in."""
    pool_id, client_id = env.get("USER_POOL_ID", ""), env.get("USER_POOL_CLIENT_ID", "")
    if not pool_id or not client_id:
        return ConsoleSignIn(NoSignIn(), NoSignIn())
    # A pool id starts with its region (eu-west-1_AbC123): the issuer's region, whatever ours.
    region = pool_id.partition("_")[0] or env.get("AWS_REGION", "")
    from .adapters.accounts import CognitoAccounts
    from .adapters.token_verifier import TokenVerifier

    cognito = on_first_use(lambda: boto3.client(
        "cognito-idp", region_name=region, config=Config(connect_timeout=3, read_timeout=5,
                                                         retries={"total_max_attempts": 2})))
    return ConsoleSignIn(CognitoAccounts(cognito, client_id),
                         TokenVerifier(region, pool_id, client_id))


class SignInUnavailable(NotConfiguredError):
    """This deployment has no user pool configured: nobody can sign in."""


NO_SIGN_IN = "signing in is not configured here (USER_POOL_ID)"


class NoSignIn:
    """Accounts and verifier where no user pool is configured: every attempt is refused."""

    def sign_in(self, username: str, password: str) -> NoReturn:
        raise SignInUnavailable(NO_SIGN_IN)

    def choose_password(self, username: str, session: str, new_password: str) -> NoReturn:
        raise SignInUnavailable(NO_SIGN_IN)

    def verify(self, id_token: str) -> NoReturn:
        raise SignInUnavailable(NO_SIGN_IN)


class JobsUnavailable(NotConfiguredError):
    """This function has no job queue or export bucket configured."""


NO_JOBS = "organiser jobs are not configured here (JOB_QUEUE_URL)"


class NoJobs:
    """Job queue, job store and exports where the template gives none: every use is refused,
    so that a job is never accepted where nothing would carry it out."""

    def __getattr__(self, name: str) -> NoReturn:
        raise JobsUnavailable(NO_JOBS)

    def send(self, continuation: Continuation, delay_seconds: int = 0) -> NoReturn:
        raise JobsUnavailable(NO_JOBS)


def find_templates() -> Path:
    """The email and page templates: ``TEMPLATES_DIR`` on Lambda, else the kit's (see kit.py)."""
    return kit.templates()


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
