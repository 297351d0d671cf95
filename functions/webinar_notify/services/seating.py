"""Registration policies applied to registrations: seats taken, waitlists joined, pending
approvals marked, seats given back, and the emails each of these owes someone.

Every step is idempotent (adapters/seats.py), so a retried webhook or a repeated click runs
it again to finish what a crash left undone, and each email has a key that is the same for
every caller that sees the same change, so the delivery ledger sends it once:

- a confirmation: its sessions and the moment each seat was taken (``Standing.since``), the
  same for the person's own registration and for whoever saw them promoted;
- a waitlist email: its sessions and the moment each place was taken;
- "awaiting approval": once per registration; a decline: once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from ..adapters.queue import SendQueue
from ..adapters.seats import Seats, admit, release, seat_or_wait
from ..adapters.store import Store
from ..core.jobs import EmailJob, delivery_key
from ..core.kinds import (
    ConfirmationPayload,
    DeclinedPayload,
    PendingPayload,
    WaitlistedPayload,
)
from ..core.policies import SeatState
from ..core.registration import Registration
from ..core.series import Series
from ..core.tasks import Notice

Promotion = tuple[str, str]  # (session, registrant id): someone else given a seat
RegistrationReader = Callable[[str, str], Registration | None]  # store.get_registration


@dataclass(slots=True)
class SeatNews:
    """Where one registrant stands after their sessions were seated, and who else was
    promoted on the way."""

    confirmed: dict[str, int] = field(default_factory=dict)  # session -> seat since
    waitlisted: dict[str, tuple[int, int]] = field(default_factory=dict)  # -> (place, since)
    pending: list[str] = field(default_factory=list)
    promoted: list[Promotion] = field(default_factory=list)


def ahead(series: Series, now: datetime) -> list[str]:
    """The sessions a seat can still be taken in: not cancelled, not over."""
    return [s.id for s in series.sessions if not s.cancelled and s.end > now]


def take_seats(seats: Seats, series: Series, registration: Registration,
               now: datetime) -> SeatNews:
    """Seat (or line up, or mark pending) the registrant in every session they hold that is
    ahead; a declined or cancelled registration holds nothing."""
    news = SeatNews()
    if registration.status != "active" or registration.approval == "declined":
        return news
    for session_id in registration.sessions_in(ahead(series, now)):
        _seat_one(seats, series, registration, session_id, now, news)
    return news


def _seat_one(seats: Seats, series: Series, registration: Registration, session_id: str,
              now: datetime, news: SeatNews) -> None:
    """One session of an active registration: pending, seated or lined up, noted in news."""
    if registration.approval == "pending":
        seats.mark_pending(series.id, session_id, registration.registrant_id, now)
        news.pending.append(session_id)
        return
    capacity = series.policy.capacity_of(session_id)
    seated = seat_or_wait(seats, series.id, session_id, registration.registrant_id,
                          capacity, now)
    if seated.standing.state == "pending":  # approved since: line up from now
        seated = admit(seats, series.id, session_id, registration.registrant_id,
                       capacity, now)
    _note(news, session_id, seated.standing.state, seated.standing.place,
          seated.standing.since)
    news.promoted += [(session_id, r) for r in seated.unnotified]


def seat_in_new_session(store: Store, queue: SendQueue, series: Series, notice: Notice,
                        page: Sequence[Registration], offers: Sequence[EmailJob],
                        now: datetime) -> list[EmailJob]:
    """A session added to the series, for one page of its registrations (the notice's
    fan-out): every whole-series registrant is seated in it, lined up or marked pending, as
    their registration would have been. ``offers`` are the notice's emails ("a new session,
    yours too", with its invitation): they go only to those seated; those lined up get the
    waitlist email with their place instead, the pending nothing more. Those who registered
    after the session was added were seated and told by their own registration. Queues the
    emails, tells whoever was promoted on the way, and returns what it queued.

    Idempotent, as the fan-out needs: a page done again after a crash stands everyone where
    they stand, and queues the same emails under the same keys."""
    seats, session_id = store.seats, notice.session_id
    if session_id not in ahead(series, now):
        return []  # cancelled or over meanwhile: nothing to seat, nothing to offer
    news = SeatNews()
    standing: dict[str, tuple[Registration, SeatNews]] = {}
    for registration in page:
        if not registration.whole_series or registration.status != "active" \
                or registration.approval == "declined":
            continue
        own = SeatNews()
        _seat_one(seats, series, registration, session_id, now, own)
        news.promoted += own.promoted
        if registration.registered_since(session_id) <= notice.created.timestamp():
            standing[registration.registrant_id] = (registration, own)
    told = list(news.promoted)
    jobs: list[EmailJob] = []
    for offer in offers:
        if offer.registrant_id not in standing:
            continue
        registration, own = standing[offer.registrant_id]
        if own.confirmed:
            jobs.append(offer)
            if series.policy.capacity_of(session_id) is not None:  # perhaps promoted
                told.append((session_id, offer.registrant_id))
        elif own.waitlisted:
            jobs += news_jobs(series, registration, SeatNews(waitlisted=own.waitlisted))
    jobs += promotion_jobs(seats, store.get_registration, series, news.promoted)
    send_and_mark(queue, seats, series, jobs, SeatNews(promoted=told))
    return jobs


def admit_seats(seats: Seats, series: Series, registration: Registration,
                now: datetime) -> SeatNews:
    """An organiser approved the registrant: each pending session is seated or lined up as
    for a newcomer now."""
    news = SeatNews()
    for session_id in registration.sessions_in(ahead(series, now)):
        seated = admit(seats, series.id, session_id, registration.registrant_id,
                       series.policy.capacity_of(session_id), now)
        _note(news, session_id, seated.standing.state, seated.standing.place,
              seated.standing.since)
        news.promoted += [(session_id, r) for r in seated.unnotified]
    return news


def clear_seats(seats: Seats, series: Series, registration: Registration) -> None:
    """An organiser declined the registrant: nothing pending is left for them."""
    for session_id in registration.sessions_in([s.id for s in series.sessions]):
        seats.clear_pending(series.id, session_id, registration.registrant_id)


def give_up_seats(seats: Seats, series: Series, registrant_id: str,
                  session_ids: Iterable[str], now: datetime
                  ) -> tuple[dict[str, SeatState], list[Promotion]]:
    """Whatever the registrant held in these sessions (seat, place, pending), given back;
    the first in line promoted into each freed seat. What each of them was (sessions where
    nothing was held are left out), and who was promoted."""
    previous: dict[str, SeatState] = {}
    promoted: list[Promotion] = []
    for session_id in session_ids:
        released = release(seats, series.id, session_id, registrant_id,
                           series.policy.capacity_of(session_id), now)
        if released.previous is not None:
            previous[session_id] = released.previous
        promoted += [(session_id, r) for r in released.unnotified]
    return previous, promoted


def dropped_sessions(series: Series, requested: Sequence[str] | None,
                     registration: Registration | None) -> list[str]:
    """The sessions a cancellation gives up: those asked (None: all) that the registration
    (as stored after it) no longer holds."""
    held = set(registration.sessions_in([s.id for s in series.sessions])) \
        if registration is not None else set()
    asked = requested if requested is not None else [s.id for s in series.sessions]
    return [s for s in asked if series.session(s) is not None and s not in held]


# ---- the emails -------------------------------------------------------------------------

def seated_cancels(cancels: Iterable[EmailJob], held: Mapping[str, SeatState]
                   ) -> list[EmailJob]:
    """Calendar cancellations (METHOD:CANCEL) cut to the sessions the person held a seat in:
    a session they only waited for, or awaited approval for, never reached their calendar,
    so they get no email about it (docs/registration_policies.md). A session with no
    standing (a registration older than the policy) kept its seat."""
    return [replace(job, session_ids=kept) for job in cancels
            if (kept := tuple(s for s in job.session_ids
                              if held.get(s, "confirmed") == "confirmed"))]


def news_jobs(series: Series, registration: Registration, news: SeatNews) -> list[EmailJob]:
    """The registrant's own emails: a confirmation of the seated sessions (with their
    invitations), a waitlist email with the places, or "awaiting approval"."""
    jobs: list[EmailJob] = []
    if news.confirmed:
        jobs.append(confirmation(series, registration, news.confirmed))
    if news.waitlisted:
        waiting = tuple(s.id for s in series.sessions if s.id in news.waitlisted)
        jobs.append(EmailJob(
            kind="waitlisted", series_id=series.id, series_revision=series.revision,
            registrant_id=registration.registrant_id,
            recipient=replace(registration.registrant, join_url=None), session_ids=waiting,
            payload=WaitlistedPayload(tuple((s, news.waitlisted[s][0]) for s in waiting)),
            key=delivery_key("waitlisted", series.id, registration.registrant_id,
                             *((s, news.waitlisted[s][1]) for s in waiting))))
    if news.pending:
        jobs.append(pending_job(series, registration))
    return jobs


def confirmation(series: Series, registration: Registration,
                 since: dict[str, int], promoted: bool = False) -> EmailJob:
    """A confirmation of the sessions whose seats the person holds, keyed by when each seat
    was taken: the same email whoever queues it (their own registration, or the promoter).
    ``promoted``: the seat came from the waitlist, and the email says so ("A seat opened
    up")."""
    sessions = tuple(s.id for s in series.sessions if s.id in since)
    payload = ConfirmationPayload.of(opted_in=registration.opted_in,
                                     join_urls=registration.join_urls)
    return EmailJob(
        kind="confirmation", series_id=series.id, series_revision=series.revision,
        registrant_id=registration.registrant_id, recipient=registration.registrant,
        session_ids=sessions, payload=replace(payload, promoted=promoted),
        key=delivery_key("confirmation", series.id, registration.registrant_id,
                         *sessions, "seat", *(since[s] for s in sessions)))


def promotion_jobs(seats: Seats, get_registration: RegistrationReader, series: Series,
                   promoted: Iterable[Promotion]) -> list[EmailJob]:
    """A confirmation with the invitation for everyone promoted into a seat and not yet told
    (who still holds it, and is still registered)."""
    jobs = []
    for session_id, registrant_id in promoted:
        registration = get_registration(series.id, registrant_id)
        standing = seats.standing(series.id, session_id, registrant_id)
        if registration is None or registration.status != "active" \
                or standing is None or standing.state != "confirmed":
            continue
        jobs.append(confirmation(series, registration, {session_id: standing.since},
                                 promoted=True))
    return jobs


def pending_job(series: Series, registration: Registration) -> EmailJob:
    """"Received, awaiting approval": once per registration, with no invitation."""
    sessions = tuple(registration.sessions_in([s.id for s in series.sessions
                                               if not s.cancelled]))
    return EmailJob(
        kind="pending", series_id=series.id, series_revision=series.revision,
        registrant_id=registration.registrant_id,
        recipient=replace(registration.registrant, join_url=None), session_ids=sessions,
        payload=PendingPayload(),
        key=delivery_key("pending", series.id, registration.registrant_id))


def declined_job(series: Series, registration: Registration, reason: str) -> EmailJob:
    """The decline, with the organiser's reason when there is one; once per registration."""
    return EmailJob(
        kind="declined", series_id=series.id, series_revision=series.revision,
        registrant_id=registration.registrant_id,
        recipient=replace(registration.registrant, join_url=None), session_ids=(),
        payload=DeclinedPayload(reason),
        key=delivery_key("declined", series.id, registration.registrant_id))


def _note(news: SeatNews, session_id: str, state: SeatState, place: int | None,
          since: int) -> None:
    if state == "confirmed":
        news.confirmed[session_id] = since
    elif state == "waitlisted":
        news.waitlisted[session_id] = (place or 1, since)
    else:
        news.pending.append(session_id)


def send_and_mark(queue: SendQueue, seats: Seats, series: Series, jobs: list[EmailJob],
                  news: SeatNews) -> None:
    """Queue the emails, then clear the "not yet told" notes of everyone they tell (a crash
    in between sends them again under the same keys: one email each). The registrant's own
    seats in capacity-limited sessions are cleared too: they may have been promoted in their
    own call, and are told by their own confirmation."""
    if jobs:
        queue.send(jobs)
    told = list(news.promoted) + [
        (s, registrant) for job in jobs if job.kind == "confirmation"
        for s in job.session_ids if series.policy.capacity_of(s) is not None
        for registrant in (job.registrant_id,) if (s, registrant) not in news.promoted]
    for session_id, registrant_id in dict.fromkeys(told):
        seats.mark_notified(series.id, session_id, registrant_id)


def raised_sessions(stored: Series | None, merged: Series, now: datetime) -> tuple[str, ...]:
    """The sessions ahead whose capacity a new revision raised or removed: their lines move
    on (an organiser job promotes as many as now fit)."""
    if stored is None:
        return ()
    raised = []
    for session_id in ahead(merged, now):
        before = stored.policy.capacity_of(session_id)
        after = merged.policy.capacity_of(session_id)
        if before is not None and (after is None or after > before):
            raised.append(session_id)
    return tuple(raised)


def promote_raised(seats: Seats, get_registration: RegistrationReader, queue: SendQueue,
                   series: Series, session_id: str, now: datetime) -> int:
    """Fill a session's free seats from its line, and tell everyone promoted (also those a
    crash left untold); how many were told."""
    seats.promote(series.id, session_id, series.policy.capacity_of(session_id), now)
    news = SeatNews(promoted=[(session_id, r) for r in seats.unnotified(series.id,
                                                                          session_id)])
    jobs = promotion_jobs(seats, get_registration, series, news.promoted)
    send_and_mark(queue, seats, series, jobs, news)
    return len(jobs)


def give_up_and_tell(store: Store, queue: SendQueue, series: Series, registrant_id: str,
                     session_ids: Iterable[str] | None, now: datetime) -> dict[str, SeatState]:
    """A cancellation, a drop or an erasure under a registration policy: the seats given
    back (None: every session), the first in line promoted and told. What was held."""
    if not series.policy.counts_seats:
        return {}
    held, promoted = give_up_seats(store.seats, series, registrant_id,
                                   [s.id for s in series.sessions] if session_ids is None
                                   else session_ids, now)
    news = SeatNews(promoted=promoted)
    send_and_mark(queue, store.seats, series,
                  promotion_jobs(store.seats, store.get_registration, series, promoted), news)
    return held
