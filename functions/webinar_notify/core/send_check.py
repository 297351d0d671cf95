"""Whether a queued email is still wanted when its turn comes.

Minutes can pass between queueing and sending (hours when sending is deferred), and in that
time the person may have erased their data, cancelled, dropped the session or opted out of
that kind of email. The sender reads the person's registration, tombstone and suppression in
the one request it makes before sending anyway, and withdraws what is no longer wanted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .jobs import ORGANISER_COPY, EmailJob
from .registration import Registration


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the sender reads about the recipient just before sending."""

    suppressed: bool  # the address bounced or complained, in any series
    registration: Registration | None  # as stored now (None: gone, or never there)
    erased: bool  # a tombstone: the person erased their data in this series


def withdrawn(job: EmailJob, recipient: Recipient) -> bool:
    """True when the person no longer wants this email: erased (and not registered again),
    or, for reminders and announcements, cancelled, the session dropped, or opted out.
    Confirmations, updates and cancellations still go: they tell of a change the person
    made or must know of."""
    if job.registrant_id == ORGANISER_COPY:
        return False
    registration = recipient.registration
    if registration is None:
        return recipient.erased
    if job.kind == "reminder":
        return registration.status != "active" or registration.reminders_off or not any(
            registration.whole_series or s in registration.session_ids
            for s in job.session_ids)
    if job.kind == "announcement":
        return registration.status != "active" or registration.announcements_off
    return False
