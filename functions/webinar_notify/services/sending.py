"""Sending one queued email: claim it in the ledger, compose it, hand it to the mailer.

Redelivered or duplicated jobs find their key already sent and send nothing. A failure
before the mailer accepted the email gives the claim back, so the retry sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from ..adapters.clock import Clock
from ..adapters.ledger import Ledger
from ..adapters.mailer import Mailer, OutgoingMessage
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core import mime, tokens
from ..core.compose import Links, compose
from ..core.errors import NotFoundError, RetryableError
from ..core.jobs import EmailJob
from ..core.render import Renderer
from ..core.series import Series

SendOutcome = Literal["sent", "duplicate"]
SERIES_CACHE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class SendSettings:
    public_base_url: str
    lease: timedelta  # at least the sender function's timeout: a live claim is never retaken


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


class Sender:
    def __init__(self, ledger: Ledger, series: SeriesCache, mailer: Mailer, renderer: Renderer,
                 secrets: Secrets, clock: Clock, settings: SendSettings) -> None:
        self.ledger = ledger
        self.series = series
        self.mailer = mailer
        self.renderer = renderer
        self.secrets = secrets
        self.clock = clock
        self.settings = settings

    def deliver(self, job: EmailJob) -> SendOutcome:
        claim = self.ledger.claim(job.key, self.clock.now(), self.settings.lease)
        if claim == "sent":
            return "duplicate"
        if claim == "busy":
            raise RetryableError("another sender holds this email; retry later")
        try:
            message = self._message(job)
            message_id = self.mailer.send(message)
        except BaseException:
            self.ledger.release(job.key)
            raise
        self.ledger.complete(job.key, self.clock.now(), message_id)
        return "sent"

    def _message(self, job: EmailJob) -> OutgoingMessage:
        series = self.series.get(job.series_id, job.series_revision)
        email = compose(series, job, now=self.clock.now(), renderer=self.renderer,
                        links=self._links(job))
        return OutgoingMessage(raw=mime.build(email), sender=series.sender.email,
                               to=job.recipient.email, kind=job.kind, series_id=job.series_id,
                               session_ids=job.session_ids, subject=email.subject)

    def _links(self, job: EmailJob) -> Links:
        secret = self.secrets.token_secrets()[0]
        token = tokens.make(secret, "manage", job.series_id, job.registrant_id)
        base = self.settings.public_base_url.rstrip("/")
        return Links(manage=f"{base}/manage/{job.series_id}/{token}")
