"""Registration intake: a provider's webhook in, a stored registration and a queued
confirmation out. Safe to receive the same event any number of times, also concurrently."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..adapters.clock import Clock
from ..adapters.dynamo import StaleWriteError
from ..adapters.fetcher import Fetcher
from ..adapters.queue import SendQueue
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.errors import (
    InvalidInputError,
    NotFoundError,
    PayloadError,
    PayloadTooLargeError,
    RetryableError,
)
from ..core.jobs import EmailJob, delivery_key
from ..core.kinds import ConfirmationPayload
from ..core.policies import first_approval
from ..core.providers import (
    PROVIDERS,
    Attendance,
    DirectAnswer,
    EventbriteProvider,
    FetchFirst,
    Provider,
)
from ..core.registration import Registration, RegistrationEvent, apply_event
from ..core.series import Series
from ..core.text import registrant_id
from .seating import (
    SeatNews,
    dropped_sessions,
    give_up_seats,
    news_jobs,
    promotion_jobs,
    send_and_mark,
    take_seats,
)
from .suppression import is_suppressed

if TYPE_CHECKING:
    from .attendance import AttendanceIntake

T = TypeVar("T")
MAX_UNIX = 10**11  # far beyond any real timestamp; above it a number is not a time
MAX_BODY_BYTES = 256 * 1024
WRITE_ATTEMPTS = 5
Outcome = Literal["registered", "cancelled", "duplicate", "ignored", "answered", "attendance",
                  "unmatched"]


@dataclass(frozen=True, slots=True)
class IntakeResult:
    status: int
    outcome: Outcome
    registrant_id: str
    confirmation_queued: bool = False
    answer: dict[str, Any] | None = None  # a provider's own answer (Zoom's URL validation)

    def body(self) -> dict[str, object]:
        if self.answer is not None:
            return dict(self.answer)
        return {"status": self.outcome, "registrant": self.registrant_id,
                "confirmation_queued": self.confirmation_queued}


class Intake:
    def __init__(self, store: Store, queue: SendQueue, secrets: Secrets, clock: Clock,
                 providers: Mapping[str, Provider] = PROVIDERS,
                 fetcher: Fetcher | None = None,
                 attendance: AttendanceIntake | None = None) -> None:
        self.attendance = attendance  # presence and evaluations (services/attendance.py)
        self.fetcher = fetcher
        self.store = store
        self.queue = queue
        self.secrets = secrets
        self.clock = clock
        self.providers = providers

    def receive(self, provider_name: str, series_id: str, headers: Mapping[str, str],
                body: bytes, query: Mapping[str, str] | None = None) -> IntakeResult:
        """Verify, parse, store, enqueue; raises InvalidInputError (a 4xx) on bad input."""
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLargeError(f"body is larger than {MAX_BODY_BYTES} bytes")
        provider = self.providers.get(provider_name)
        if provider is None:
            raise NotFoundError(f"unknown provider {provider_name[:40]!r}")
        series = self.store.get_series(series_id)
        if series is None:
            raise NotFoundError(f"unknown series {series_id[:80]!r}")
        now = self.clock.now()
        lowered = {name.lower(): value for name, value in headers.items()}
        # A provider that cannot sign (Jotform) carries a secret token in the URL instead.
        lowered |= {f"?{name}": value for name, value in (query or {}).items()}
        secrets = self.secrets.webhook_secrets(series.id, provider.name)
        provider.verify(lowered, body, secrets, int(now.timestamp()))
        if self.attendance is not None and (
                handled := self.attendance.receive(provider, series, body, query or {})):
            return IntakeResult(handled.status, "answered", handled.registrant_id,
                                answer={"status": handled.outcome})
        event = _shaped(provider.name, lambda: provider.parse(body, series, secrets))
        if isinstance(event, DirectAnswer):
            return IntakeResult(event.status, "answered", "", answer=event.body)
        if isinstance(event, Attendance):
            return self._attendance(series, event)
        if isinstance(event, FetchFirst):
            event = self._fetched(series, provider, event)
        if not 0 < event.created < MAX_UNIX:  # a sender without timestamps: when we got it
            event = replace(event, created=int(now.timestamp()))
        rid = registrant_id(self.secrets.registrant_key(), series.id, event.registrant.email)
        if self.store.event_seen(series.id, provider.name, event.event_id):
            return IntakeResult(200, "duplicate", rid)
        _refuse_sessions_that_are_over(series, event, now)
        registration = apply_and_store(self.store, self.clock, series, event, rid)
        jobs: list[EmailJob] = []
        if series.policy.counts_seats:  # seats, a waitlist, approval
            jobs, news = self._seat(series, event, registration, now)
            send_and_mark(self.queue, self.store.seats, series, jobs, news)
        elif registration is not None and event.action == "created" \
                and not self._suppressed(event.registrant.email):
            job = confirmation_job(series, registration, now)
            if job is not None:
                jobs = [job]
                self.queue.send(jobs)
        self.store.mark_event(series.id, provider.name, event.event_id, now)
        if registration is None:
            return IntakeResult(200, "ignored", rid)
        outcome: Outcome = "registered" if event.action == "created" else "cancelled"
        return IntakeResult(202, outcome, rid, any(
            j.kind == "confirmation" and j.registrant_id == rid for j in jobs))

    def _fetched(self, series: Series, provider: Provider, pointer: FetchFirst
                 ) -> RegistrationEvent:
        """The data the delivery points at, read with the organiser's token for the provider."""
        if self.fetcher is None or not isinstance(provider, EventbriteProvider):
            raise InvalidInputError(f"this deployment cannot read {provider.name}'s API "
                                    "(no fetcher is configured)")
        tokens = self.secrets.webhook_secrets(series.id, f"{provider.name}-oauth")
        if not tokens:
            raise InvalidInputError(f"no `{provider.name}-oauth` secret for series {series.id}: "
                                    f"the order cannot be read from {provider.name}'s API")
        order = self.fetcher.get_json(pointer.url, tokens[0], pointer.allowed_host)
        return _shaped(provider.name, lambda: provider.parse_fetched(order, series))

    def _attendance(self, series: Series, seen: Attendance) -> IntakeResult:
        """Someone joined a session: remembered for attendee and absentee follow-ups. Joining
        something that is no session of the series is counted for the organiser to see."""
        rid = registrant_id(self.secrets.registrant_key(), series.id, seen.email)
        if seen.session_id is None:
            self.store.count_unmatched_attendance(series.id)
            return IntakeResult(200, "unmatched", rid)
        for _attempt in range(WRITE_ATTEMPTS):
            registration = self.store.get_registration(series.id, rid)
            if registration is None or seen.session_id in registration.attended:
                break
            try:
                self.store.put_registration(
                    replace(registration, attended=registration.attended | {seen.session_id}),
                    self.clock.now())
                break
            except StaleWriteError:
                continue
        self.store.mark_attendance_known(series.id, seen.session_id)
        return IntakeResult(200, "attendance", rid)

    def _seat(self, series: Series, event: RegistrationEvent,
              registration: Registration | None, now: datetime
              ) -> tuple[list[EmailJob], SeatNews]:
        """The registration policy applied after the registration is stored: seats taken or
        given back, and the emails that owes the person and anyone promoted. Idempotent, and
        run again on a retry of the same event (before it is marked seen)."""
        if registration is None:  # an older event, or one after an erasure: nothing changed
            return [], SeatNews()
        seats = self.store.seats
        own: list[EmailJob] = []
        if event.action == "created":
            news = take_seats(seats, series, registration, now)
            if not self._suppressed(event.registrant.email):
                own = news_jobs(series, registration, news)
        else:
            _given_up, promoted = give_up_seats(
                seats, series, registration.registrant_id,
                dropped_sessions(series, event.session_ids, registration), now)
            news = SeatNews(promoted=promoted)
        return own + promotion_jobs(seats, self.store.get_registration, series,
                                    news.promoted), news

    def _suppressed(self, email: str) -> bool:
        """A bounced or complaining address gets nothing, not even a confirmation."""
        return is_suppressed(self.store, self.secrets, email)


def apply_and_store(store: Store, clock: Clock, series: Series, event: RegistrationEvent,
                    rid: str) -> Registration | None:
    """Read, merge, write with a version check; retry when a concurrent write won.

    Returns the registration as stored now, or None when the event was older than what is
    stored (a late retry) and changed nothing. After an erasure only an event created later
    than the erasure may store the person again: a replay or a late retry of anything from
    before is ignored, so "delete my data" stays done.
    """
    session_ids = [s.id for s in series.sessions]
    for _attempt in range(WRITE_ATTEMPTS):
        existing = store.get_registration(series.id, rid)
        if existing is None and not _may_return(store, series.id, rid, event):
            return None
        updated = apply_event(existing, event, series.id, rid, session_ids, series.time_zone,
                              int(clock.now().timestamp()), series.double_opt_in)
        if existing is None and updated is not None:  # approval is decided once, when new
            updated = replace(updated, approval=first_approval(series.policy,
                                                               event.registrant.email))
        if updated is None:
            return existing if _already_applied(existing, event) else None
        try:
            return store.put_registration(updated, clock.now())
        except StaleWriteError:
            continue
    raise RetryableError("registration is being changed concurrently; retry")


def _may_return(store: Store, series_id: str, rid: str, event: RegistrationEvent) -> bool:
    """After an erasure only a registration made later may store the person again: not a
    replay, not a late retry, and not a cancellation (which would store the address anew)."""
    erased = store.erased_at(series_id, rid)
    return erased is None or (event.action == "created" and event.created > erased)


def _shaped(provider: str, parse: Callable[[], T]) -> T:
    """A signed payload of an unexpected shape (a list where an object belongs...) is the
    sender's error: a 400 naming the provider, never a 5xx."""
    try:
        return parse()
    except (AttributeError, TypeError, KeyError, ValueError, IndexError, OverflowError):
        raise PayloadError(f"the payload does not have the shape {provider} sends") from None


def _already_applied(existing: Registration | None, event: RegistrationEvent) -> bool:
    """The same event again (e.g. delivered concurrently): answer as the first delivery was."""
    return existing is not None and existing.last_event == event.created and (
        (existing.status == "active") == (event.action == "created"))


def _refuse_sessions_that_are_over(series: Series, event: RegistrationEvent,
                                   now: datetime) -> None:
    """A form offering a session that has ended is out of date: say so rather than confirm."""
    if event.action != "created":
        return
    for session_id in event.session_ids or ():
        session = series.session(session_id)
        if session is not None and session.end <= now:
            raise PayloadError(f"data.sessions: session {session_id!r} has already taken place")


def confirmation_job(series: Series, registration: Registration,
                     now: datetime) -> EmailJob | None:
    """One confirmation per distinct set of sessions still ahead (or under way); None when no
    session is left to confirm. The same set is the same email, however often it is asked;
    a session dropped and added again was registered at another moment, so its calendar
    gets its invitation back."""
    sessions = tuple(registration.sessions_in([s.id for s in series.sessions
                                               if not s.cancelled and s.end > now]))
    if not sessions:
        return None
    return EmailJob(
        kind="confirmation", series_id=series.id, series_revision=series.revision,
        registrant_id=registration.registrant_id, recipient=registration.registrant,
        session_ids=sessions,
        payload=ConfirmationPayload.of(opted_in=registration.opted_in,
                                       join_urls=registration.join_urls),
        key=delivery_key("confirmation", series.id, registration.registrant_id, *sessions,
                         *(registration.registered_since(s) for s in sessions)))
