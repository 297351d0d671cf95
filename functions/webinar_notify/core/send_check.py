"""Whether a queued email is still wanted when its turn comes.

Minutes can pass between queueing and sending (hours when sending is deferred), and in that
time the person may have erased their data, cancelled, dropped the session or opted out of
that kind of email. The sender reads the person's registration, tombstone and suppression in
the one request it makes before sending anyway, and withdraws what is no longer wanted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .announcements import Announcement
from .jobs import ORGANISER_COPY, EmailJob
from .registration import Registration
from .series import Series
from .tasks import in_audience


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the sender reads about the recipient just before sending."""

    suppressed: bool  # the address bounced or complained, in any series
    registration: Registration | None  # as stored now (None: gone, or never there)
    erased: bool  # a tombstone: the person erased their data in this series


def withdrawn(job: EmailJob, recipient: Recipient, series: Series,
              announcement: Announcement | None) -> bool:
    """True when the person no longer wants this email, by the rules that queued it, applied
    to the registration as it is now: anything to a person who erased their data (and did not
    register again); a reminder after a cancellation, an opt-out, or the session dropped or
    cancelled; a session's update after the person left it (a new session's offer: after
    they cancelled); an announcement after an opt-out or once they are out of its audience.
    Confirmations and cancellations still go: they tell of a change."""
    if job.registrant_id == ORGANISER_COPY:
        return False
    registration = recipient.registration
    if registration is None:
        return recipient.erased
    if job.kind == "reminder":
        scheduled = [s.id for s in series.sessions if not s.cancelled]
        return registration.reminders_off or not _holds(registration, job, scheduled)
    if job.kind == "update":
        if job.extra.get("notice") == "new_session":
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
