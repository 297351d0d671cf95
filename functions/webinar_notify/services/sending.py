"""Sending one queued email: check suppression, claim it in the ledger, compose it, hand it
to the mailer.

An address that bounced or complained since the job was queued gets nothing, nor does a person
who erased their data, cancelled or opted out of that kind of email since (core/send_check.py):
both are read in the one request made before the claim (and a second, for the tombstone, only
where the registration is gone). Redelivered or
duplicated jobs find their claim and send nothing (adapters/ledger.py says how a claim whose
sender died is told from one that was sent). A failure before the mailer
accepted the email gives the claim back and puts the job back on the queue with a growing
delay, as SES throttling or another sender holding the claim do, so a passing fault never uses
up the receives that lead to the dead-letter queue; only a job that keeps failing, or that
cannot be read, ends there. A process that dies writes nothing more: its claims expire after the
lease, and the emails its batch's sent log does not name are sent again (the one documented
duplicate: accepted by SES in the last moment before the log was written).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from ..adapters.clock import Clock
from ..adapters.ledger import Ledger, SentLog
from ..adapters.mail_counts import write_tally
from ..adapters.mailer import Mailer, OutgoingMessage
from ..adapters.queue import SendQueue
from ..adapters.rate_limit import RateLimiter
from ..adapters.schedule_store import ScheduleStore
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core import mime, tokens
from ..core.announcements import Announcement
from ..core.compose import Links, compose
from ..core.errors import (
    InvalidInputError,
    NotFoundError,
    RetryableError,
    StaleJobError,
    WebinarNotifyError,
)
from ..core.jobs import EmailJob
from ..core.kinds import AnnouncementPayload, CertificateFile
from ..core.kinds.common import language_of
from ..core.render import Renderer
from ..core.send_check import Recipient, seat_sessions, seated_ahead, withdrawn
from ..core.series import Series
from ..core.tasks import announcement_from_doc
from ..core.text import suppression_id

SendOutcome = Literal["sent", "duplicate", "deferred", "retrying", "expired", "skipped",
                      "suppressed", "withdrawn", "handed_back"]
# Throttling, a held claim and failures before SES accepted share one budget of retries on the
# queue (about 75 minutes of growing delays); then the message fails for real, and after the
# queue's 5 receives it is dead-lettered.
MAX_DEFERRALS = 8
MAX_DELAY = timedelta(seconds=900)  # SQS's longest delay
LINKS_LAST = timedelta(days=365)  # after the series' last session
SERIES_CACHE_SECONDS = 60
# What an invocation keeps in hand after its last start: one SES call at its read timeout (15 s)
# and the ledger's write, so no email is cut off by the function's timeout.
FINISH_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class SendSettings:
    public_base_url: str
    lease: timedelta  # at least the sender function's timeout: a live claim is never retaken
    retry_delay: timedelta = timedelta(seconds=60)  # after SES throttled us


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one job, and for a retry the kind of fault (never its text, which may
    hold an address)."""

    outcome: SendOutcome
    cause: str = ""


class SeriesCache:
    """The series as of at least the job's revision, read once per container and minute."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._cached: dict[str, tuple[Series, float]] = {}

    def get(self, series_id: str, min_revision: int) -> Series:
        now = self.clock.now().timestamp()
        hit = self._cached.get(series_id)
        if hit and hit[0].revision >= min_revision and now - hit[1] < SERIES_CACHE_SECONDS:
            return hit[0]
        series = self.store.get_series(series_id)
        if series is None:
            raise NotFoundError(f"series {series_id!r} no longer exists")
        self._cached[series_id] = (series, now)
        return series


class Recipients(Protocol):
    """What the sender reads about a recipient just before sending (one request; two where
    the registration is gone)."""

    def recipient(self, series_id: str, registrant_id: str, suppression_id: str,
                  session_ids: Sequence[str] = ()) -> Recipient: ...


# A certificate email's certificate as it stands now, and its PDF in the reader's language
# (None: erased or revoked since it was queued).
CertificateFiles = Callable[[EmailJob, str], CertificateFile | None]


class Sender:
    def __init__(self, ledger: Ledger, series: SeriesCache, mailer: Mailer, renderer: Renderer,
                 secrets: Secrets, clock: Clock, settings: SendSettings, queue: SendQueue,
                 limiter: RateLimiter, schedule: ScheduleStore,
                 recipients: Recipients, pool: int = 1,
                 certificate_files: CertificateFiles | None = None) -> None:
        self.certificate_files = certificate_files
        self.pool = max(1, pool)  # threads sending one batch at once
        self.schedule = schedule
        self.recipients = recipients
        self._announcements: dict[tuple[str, str], Announcement] = {}
        self.ledger = ledger
        self.series = series
        self.mailer = mailer
        self.queue = queue
        self.limiter = limiter
        self.renderer = renderer
        self.secrets = secrets
        self.clock = clock
        self.settings = settings
        self.counts_missed = 0  # of the last batch: counts its counter write could not add
        self.marks_missed = 0  # of the last batch: sent emails its sent log could not note

    def deliver_all(self, jobs: Sequence[EmailJob], seconds_left: float | None = None
                    ) -> list[Delivery | Exception]:
        """Deliver a batch at once, ``pool`` emails at a time; what became of each job, in
        order (an exception where ``deliver`` raised, for that record alone to fail).

        With ``seconds_left`` (the invocation's time), jobs that cannot start before
        FINISH_SECONDS before the end are handed back to the queue as they are (no deferral
        counted): those the pacer says will not get a slot at once, and, checked again by
        each worker before it claims one, any that a slow SES or DynamoDB left unstarted, so
        a batch never runs into the timeout (which would fail it whole and send again what
        SES accepted but the ledger had not yet recorded)."""
        startable = len(jobs)
        deadline = None
        if seconds_left is not None:
            deadline = time.monotonic() + seconds_left - FINISH_SECONDS
            slots = self.limiter.slots_within(seconds_left - FINISH_SECONDS)
            startable = len(jobs) if slots is None else min(len(jobs), slots)
        now, later = list(jobs[:startable]), list(jobs[startable:])
        if len(now) > 1:  # the secrets read once here, not by every thread at once
            self.secrets.registrant_key()
            self.secrets.token_secrets()
        results: list[Delivery | Exception | None]
        log = self.ledger.sent_log(self.clock.now())  # and the batch's counts, once per shard
        if len(now) <= 1 or self.pool == 1:
            results = [self._outcome(job, deadline, log) for job in now]
        else:
            with ThreadPoolExecutor(max_workers=min(self.pool, len(now))) as threads:
                # Each email runs in a copy of the caller's context (which function calls).
                futures = [threads.submit(contextvars.copy_context().run, self._outcome, job,
                                          deadline, log) for job in now]
                results = [future.result() for future in futures]
        self._close(log)
        late = [job for job, result in zip(now, results, strict=True) if result is None]
        back = iter(self._hand_back(late + later) if late or later else [])
        return [result if result is not None else next(back) for result in results] + list(back)

    def _outcome(self, job: EmailJob, deadline: float | None, log: SentLog
                 ) -> Delivery | Exception | None:
        """What became of one job; None when its time to start had passed (hand it back)."""
        if deadline is not None and time.monotonic() >= deadline:
            return None
        try:
            return self.deliver(job, log)
        except Exception as error:  # reported for this record; the others go on
            return error

    def _close(self, log: SentLog) -> None:
        """The batch's sent log written out and its counts added. Sent is sent: a failure
        leaves a count short (a repair recounts it) or an email unnoted (sent again only if
        a message brings it back after the lease); the sender's metrics say so."""
        log.flush(last=True)
        self.marks_missed = log.missed
        self.counts_missed = write_tally(self.ledger.count, log.tally)  # MailCountsMissed

    def _hand_back(self, jobs: list[EmailJob]) -> list[Delivery | Exception]:
        try:
            self.queue.send(jobs)
        except Exception as error:  # the records stay on the queue and come back
            return [error] * len(jobs)
        return [Delivery("handed_back")] * len(jobs)

    def _record_expired(self, job: EmailJob, now: datetime) -> None:
        """Listed and counted for the organiser. Best effort: a failure to record it must not
        bring the email back, and the EmailsExpired metric (and its alarm) counts it anyway."""
        with contextlib.suppress(Exception):
            self.ledger.expire(job, now)

    def deliver(self, job: EmailJob, log: SentLog) -> Delivery:
        """One job of a batch, noted in the batch's sent ``log`` once SES accepted it."""
        now = self.clock.now()
        if job.not_after is not None and now >= job.not_after:
            return self._expired(job, now)  # e.g. a 1-hour reminder held up past the start
        try:
            unwanted, recipient = self._unwanted(job)
            if unwanted:
                return Delivery(unwanted)
            job = seated_ahead(job, recipient)
            claim = self.ledger.claim(job, now, self.settings.lease, log)
        except RetryableError as error:  # e.g. DynamoDB throttled the read: try later
            return self._retry(job, error)
        except WebinarNotifyError:
            raise
        except Exception as error:  # DynamoDB failing: a claim it may have made will expire
            return self._retry(job, error)
        if claim == "sent":
            return Delivery("duplicate")
        if claim == "busy":  # look again once that sender's lease is over
            return Delivery(self._defer(job, self.settings.lease))
        try:
            message = self._message(job)
            self.limiter.acquire()
            self.mailer.send(message)  # SES's events name the email by its delivery tag
        except StaleJobError:
            self.ledger.release(job, log)
            return Delivery("skipped")
        except RetryableError:
            self.ledger.release(job, log)
            return Delivery(self._defer(job, self.settings.retry_delay))
        except InvalidInputError:  # e.g. the series is gone: no retry can help
            self.ledger.release(job, log)
            raise
        except Exception as error:  # before SES accepted, or its answer was lost: try later
            self.ledger.release(job, log)
            return self._retry(job, error)
        # A BaseException (the runtime going down) releases nothing: as after a crash, the
        # claim expires after the lease.
        log.sent(job)
        return Delivery("sent")

    def _unwanted(self, job: EmailJob
                  ) -> tuple[Literal["suppressed", "withdrawn"] | None, Recipient]:
        """The recipient's look-up, and why the email is no longer wanted, if it is not: the
        address bounced or complained (a reminder's fan-out leaves that to this look-up), or
        the person erased their data, cancelled or opted out since it was queued."""
        series = self.series.get(job.series_id, job.series_revision)
        recipient = self.recipients.recipient(
            job.series_id, job.registrant_id,
            suppression_id(self.secrets.registrant_key(), job.recipient.email),
            seat_sessions(job, series))
        if recipient.suppressed:
            return "suppressed", recipient
        if (recipient.registration is not None or recipient.erased) \
                and withdrawn(job, recipient, series, self._announcement(job)):
            return "withdrawn", recipient
        return None, recipient

    def _expired(self, job: EmailJob, now: datetime) -> Delivery:
        """Too late to send. Counted and listed as expired only if the person still wanted
        it: a reminder to a suppressed address is "suppressed", as it would have been in
        time (one look-up per late email, rare, and alarmed). When the look-up fails, it
        counts as expired all the same, with the kind of failure for the log."""
        try:
            unwanted, _recipient = self._unwanted(job)
        except Exception as error:  # the series gone, DynamoDB failing: expired, said so
            self._record_expired(job, now)
            return Delivery("expired", type(error).__name__)
        if unwanted:
            return Delivery(unwanted)
        self._record_expired(job, now)
        return Delivery("expired")

    def _retry(self, job: EmailJob, error: Exception) -> Delivery:
        self._defer(job, self.settings.retry_delay)
        return Delivery("retrying", type(error).__name__)

    def _defer(self, job: EmailJob, base: timedelta) -> Literal["deferred"]:
        """Back on the queue later as a new message (with its own receive count), backing off
        exponentially with a spread per email, so a throttled burst does not come back all at
        once; a job deferred too often fails, and SQS's receives take over."""
        deferrals = job.deferrals
        if deferrals >= MAX_DEFERRALS:
            raise RetryableError(f"deferred {deferrals} times; giving up on this delivery")
        spread = timedelta(seconds=int(hashlib.sha256(job.key.encode()).hexdigest()[:4], 16) % 30)
        delay = min(base * 2 ** deferrals + spread, MAX_DELAY)
        self.queue.send([replace(job, deferrals=deferrals + 1)],
                        delay_seconds=int(delay.total_seconds()))
        return "deferred"

    def _message(self, job: EmailJob) -> OutgoingMessage:
        series = self.series.get(job.series_id, job.series_revision)
        announcement = self._announcement(job)
        certificate = self.certificate_files(job, language_of(series, job)) \
            if job.kind == "certificate" and self.certificate_files else None
        email = compose(series, job, now=self.clock.now(), renderer=self.renderer,
                        links=self._links(job, series), announcement=announcement,
                        certificate=certificate)
        return OutgoingMessage(raw=mime.build(email), sender=series.sender.email,
                               to=job.recipient.email, kind=job.kind, series_id=job.series_id,
                               session_ids=job.session_ids, subject=email.subject,
                               delivery_key=job.key,
                               announcement=announcement.id if announcement else "")

    def _announcement(self, job: EmailJob) -> Announcement | None:
        """An announcement's text, read once per container (it never changes once stored)."""
        payload = job.payload
        if not isinstance(payload, AnnouncementPayload):
            return None
        if payload.test_copy is not None:  # an organiser's test copy carries its text
            return payload.test_copy
        announcement_id = payload.announcement_id
        if not announcement_id:
            return None
        cache_key = (job.series_id, announcement_id)
        if cache_key not in self._announcements:
            doc = self.schedule.task(job.series_id, f"announcement#{announcement_id}")
            if doc is None:
                return None
            self._announcements[cache_key] = announcement_from_doc(doc)
        return self._announcements[cache_key]

    def _links(self, job: EmailJob, series: Series) -> Links:
        """Personal links, valid until a year after the series' last session."""
        secret = self.secrets.token_secrets()[0]
        base = self.settings.public_base_url.rstrip("/")
        last = max((s.end for s in series.sessions), default=self.clock.now())
        expires = (max(last, self.clock.now()) + LINKS_LAST).date()

        def link(purpose: str) -> str:
            token = tokens.make(secret, purpose, job.series_id, job.registrant_id,
                                expires=expires)
            return f"{base}/{purpose}/{job.series_id}/{token}"

        return Links(manage=link("manage"), unsubscribe=link("unsubscribe"),
                     calendar=link("calendar") + ".ics", opt_in=link("optin"))

