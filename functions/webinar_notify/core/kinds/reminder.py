"""The reminder: a session soon, how long until it starts, the join link, the other sessions
ahead, and its calendar entry as a file; with a one-click unsubscribe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..i18n import tr
from ..schedule import until
from ..series import Series
from .common import (
    Inputs,
    Kind,
    NoFields,
    context,
    email,
    ics_file,
    invite,
    language_of,
    live_sessions,
    one_session,
    session_view,
    unsubscribe_headers,
)

if TYPE_CHECKING:
    from ..jobs import EmailJob, EmailKind
    from ..mime import Email


@dataclass(frozen=True, slots=True)
class ReminderPayload(NoFields):
    """Nothing beyond the job: the session, the person and the sessions ahead are in it."""

    KIND: ClassVar[EmailKind] = "reminder"


def compose(series: Series, job: EmailJob, payload: ReminderPayload, given: Inputs) -> Email:
    session = one_session(series, job)
    recipient, now = job.recipient, given.now
    ahead = [s for s in live_sessions(series, job.also) if s.start > now and s.id != session.id]
    lang = language_of(series, job)
    view = context(series, job, given.links, [session], now) | {
        "session": session_view(series, session, recipient.time_zone, recipient.join_url, now,
                                lang),
        "ahead": [session_view(series, s, recipient.time_zone, None, now, lang)
                  for s in ahead],
    }
    # The moment first, then how far off it is from when the email is written: both stay
    # true whenever the email is read, even when a crowded reminder goes out early.
    subject = tr(lang, "Reminder: %(title)s, %(when)s (%(soon)s)", title=session.title,
                 when=view["session"]["starts_local"], soon=until(session.start, now, lang))
    unsubscribe = given.links.unsubscribe_for("all")
    text, html = given.renderer.render_pair("reminder", view | {
        "subject": subject, "unsubscribe": unsubscribe}, lang, series)
    entry = invite(series, session, job, now, lang, join_url=recipient.join_url)
    return email(series, job, now, subject, text, html, attachments=[ics_file(entry)],
                 headers=unsubscribe_headers(series, unsubscribe))


REMINDER = Kind(ReminderPayload, compose)
