"""From a job and the series to a finished email: context, bodies, calendar parts.

Each kind of email is one small function here plus a pair of templates; the sender does not
know which kind it sends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .calendar import session_invite
from .errors import PayloadError
from .jobs import EmailJob
from .mime import Email
from .render import Renderer
from .series import Contact, Series, Session
from .times import describe


@dataclass(frozen=True, slots=True)
class Links:
    """The personal URLs an email carries (built by the caller, which holds the secrets)."""

    manage: str


def compose(series: Series, job: EmailJob, *, now: datetime, renderer: Renderer,
            links: Links) -> Email:
    builder = _BUILDERS.get(job.kind)
    if builder is None:
        raise PayloadError(f"no composer for {job.kind} emails yet")
    return builder(series, job, now, renderer, links)


def _confirmation(series: Series, job: EmailJob, now: datetime, renderer: Renderer,
                  links: Links) -> Email:
    sessions = _sessions(series, job.session_ids)
    context = _context(series, job, links, sessions)
    subject = f"Registration confirmed: {series.title}"
    if len(sessions) == 1:
        subject = f"Registration confirmed: {sessions[0].title} ({series.title})"
    text, html = renderer.render_pair("confirmation", context | {"subject": subject})
    recipient = job.recipient
    calendars = [
        session_invite(series, session, recipient.email, recipient.full_name,
                       join_url=recipient.join_url)
        for session in sessions
    ]
    return _email(series, job, now, subject, text, html, calendars=calendars)


def _sessions(series: Series, ids: tuple[str, ...]) -> list[Session]:
    """The job's sessions that still exist and are not cancelled, in series order."""
    wanted = set(ids)
    return [s for s in series.sessions if s.id in wanted and not s.cancelled]


def _context(series: Series, job: EmailJob, links: Links,
             sessions: list[Session]) -> dict[str, Any]:
    recipient = job.recipient
    views = [session_view(series, s, recipient.time_zone, recipient.join_url) for s in sessions]
    return {
        "series": series,
        "name": recipient.full_name,
        "time_zone": recipient.time_zone,
        "series_city": series.time_zone.rsplit("/", 1)[-1].replace("_", " "),
        "series_time_shown": any(v["shows_series_time"] for v in views),
        "sessions": views,
        "links": links,
    }


def session_view(series: Series, session: Session, reader_zone: str,
                 personal_join_url: str | None) -> dict[str, Any]:
    when = describe(session.start, session.end, reader_zone, series.time_zone)
    return {
        "id": session.id,
        "title": session.title,
        "description": session.description,
        "starts": when.starts,
        "ends": when.ends,
        "minutes": when.minutes,
        "shows_series_time": when.shows_series_time,
        "join_url": personal_join_url or session.join_url,
        "calendar_file": f"{series.id}-{session.id}.ics",
    }


def _email(series: Series, job: EmailJob, now: datetime, subject: str, text: str, html: str,
           **extra: Any) -> Email:
    message_id = hashlib.sha256(job.key.encode()).hexdigest()[:32] + "@" + series.uid_host
    return Email(sender=series.sender, to=Contact(job.recipient.email, job.recipient.full_name),
                 reply_to=series.reply_to, subject=subject, text=text, html=html, date=now,
                 message_id=message_id, **extra)


_BUILDERS: dict[str, Callable[[Series, EmailJob, datetime, Renderer, Links], Email]] = {
    "confirmation": _confirmation,
}
