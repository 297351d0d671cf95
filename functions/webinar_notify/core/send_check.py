"""Whether a queued email is still wanted when its turn comes.

Minutes can pass between queueing and sending (hours when sending is deferred), and in that
time the person may have erased their data, cancelled, dropped the session or opted out of
that kind of email. The sender reads the person's registration and suppression in the one
request it makes before sending anyway (and their tombstone only where the registration is
gone), and withdraws what is no longer wanted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .announcements import Announcement
from .jobs import ORGANISER_COPY, EmailJob
from .kinds import UpdatePayload
from .registration import Registration
from .series import Series
from .tasks import in_audience


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the sender reads about the recipient just before sending."""

    suppressed: bool  # the address bounced or complained, in any series
    registration: Registration | None  # as stored now (None: gone, or never there)
    erased: bool  # no registration, a reachable address, and a tombstone: erased here
    # Their seat in the sessions the email is about (seat_sessions), where they have one:
    # "confirmed", "waitlisted" or "pending" (core/policies).
    standings: Mapping[str, str] = field(default_factory=dict)


SEATED_KINDS = frozenset({"reminder", "update", "cancellation", "announcement", "waitlisted"})


def seat_sessions(job: EmailJob, series: Series | None = None) -> tuple[str, ...]:
    """The sessions whose seat standing the check needs (read with the rest, in one request):
    those of a reminder, a session's change, a session announcement or a waitlist email; under
    a registration policy, also a reminder's other sessions ahead (``seated_ahead``)."""
    if job.kind not in SEATED_KINDS or job.registrant_id == ORGANISER_COPY:
        return ()
    if job.kind == "reminder" and series is not None and series.policy.counts_seats:
        return job.session_ids + tuple(s for s in job.also if s not in job.session_ids)
    return job.session_ids


def seated_ahead(job: EmailJob, recipient: Recipient) -> EmailJob:
    """A reminder lists as "sessions ahead" only those the person holds a seat for, not
    those they wait for or await approval for (no standing read: a registration older than
    the policy, which keeps its seats)."""
    if job.kind != "reminder" or not job.also:
        return job
    also = tuple(s for s in job.also if recipient.standings.get(s, "confirmed") == "confirmed")
    return job if also == job.also else replace(job, also=also)


def withdrawn(job: EmailJob, recipient: Recipient, series: Series,
              announcement: Announcement | None) -> bool:
    """True when the person no longer wants this email, by the rules that queued it, applied
    to the registration as it is now: anything to a person who erased their data (and did not
    register again); a reminder after a cancellation, an opt-out, or the session dropped or
    cancelled; a session's update after the person left it (a new session's offer: after
    they cancelled); an announcement after an opt-out or once they are out of its audience.
    Confirmations and cancellations still go: they tell of a change.

    Under a registration policy: nothing but the decline to a person not approved (and not
    even the "awaiting approval" email once they are decided); a reminder, a session's
    change or a session announcement only where they hold a seat (a registration that
    predates the policy has no standing and keeps its seat); a waitlist email only while
    they still wait for one of its sessions."""
    if job.registrant_id == ORGANISER_COPY:
        return False
    registration = recipient.registration
    if registration is None:
        return recipient.erased
    if job.kind in ("declined", "pending"):
        return registration.approval != job.kind
    if registration.approval != "approved":
        return True
    if job.kind == "waitlisted":
        return not any(recipient.standings.get(s) == "waitlisted" for s in job.session_ids)
    if job.kind in SEATED_KINDS and job.session_ids and not any(
            recipient.standings.get(s, "confirmed") == "confirmed" for s in job.session_ids):
        return True
    if job.kind == "reminder":
        scheduled = [s.id for s in series.sessions if not s.cancelled]
        return registration.reminders_off or not _holds(registration, job, scheduled)
    if job.kind == "update":
        if isinstance(job.payload, UpdatePayload) and job.payload.notice == "new_session":
            return registration.status != "active" or not registration.whole_series
        return not _holds(registration, job, [s.id for s in series.sessions])
    if job.kind == "announcement":
        return registration.announcements_off or (
            announcement is not None and not in_audience(registration, announcement, series))
    return False


def _holds(registration: Registration, job: EmailJob, session_ids: list[str]) -> bool:
    """Still registered (and active) for a session the email is about."""
    held = registration.sessions_in(session_ids)
    return any(s in held for s in job.session_ids)
