"""From a job and the series to a finished email: context, bodies, calendar parts.

Each kind of email is one small function here plus a pair of templates; the sender does not
know which kind it sends. Every email is written in the recipient's language when we speak it
(fr-BE reads French), else in the series' default (core/i18n.py); titles and series text stay
as the organisers wrote them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from babel.dates import get_timezone_location

from . import i18n
from .announcements import Announcement
from .calendar import session_invite
from .errors import PayloadError, StaleJobError
from .i18n import tr, tr_plural
from .jobs import EmailJob
from .mime import Attachment, Email
from .render import Renderer
from .schedule import until
from .series import Contact, Series, Session
from .times import describe

SOON = timedelta(days=2)  # a confirmation says how soon a session this close starts


@dataclass(frozen=True, slots=True)
class Links:
    """The personal URLs an email carries (built by the caller, which holds the secrets)."""

    manage: str
    unsubscribe: str  # one-click (RFC 8058): a POST stops mail; ?scope= says which
    calendar: str = ""  # the personal calendar feed (https; webcal:// for subscribing)
    opt_in: str = ""  # where a person confirms the registration (double opt-in)

    def unsubscribe_for(self, scope: str) -> str:
        return f"{self.unsubscribe}?scope={scope}"


def compose(series: Series, job: EmailJob, *, now: datetime, renderer: Renderer,
            links: Links, announcement: Announcement | None = None) -> Email:
    if job.kind == "announcement":
        if announcement is None:
            raise StaleJobError("the announcement of this email no longer exists")
        return _announcement(series, job, now, renderer, links, announcement)
    builder = _BUILDERS.get(job.kind)
    if builder is None:
        raise PayloadError(f"no composer for {job.kind} emails yet")
    return builder(series, job, now, renderer, links)


def _confirmation(series: Series, job: EmailJob, now: datetime, renderer: Renderer,
                  links: Links) -> Email:
    sessions = _sessions(series, job.session_ids)
    context = _context(series, job, links, sessions, now)
    lang = context["language"]
    subject = tr(lang, "Registration confirmed: %(series)s", series=series.title)
    if len(sessions) == 1:
        subject = tr(lang, "Registration confirmed: %(title)s (%(series)s)",
                     title=sessions[0].title, series=series.title)
    needs_opt_in = job.extra.get("opt_in") == "needed"
    if needs_opt_in:
        subject = tr(lang, "Please confirm your registration: %(series)s", series=series.title)
    text, html = renderer.render_pair("confirmation", context | {
        "subject": subject, "opt_in_url": links.opt_in if needs_opt_in else ""}, lang, series)
    recipient = job.recipient
    calendars = [
        session_invite(series, session, recipient.email, recipient.full_name, stamp=now,
                       join_url=personal_link(job, session.id), language=lang)
        for session in sessions
    ]
    return _email(series, job, now, subject, text, html, calendars=calendars)


def _reminder(series: Series, job: EmailJob, now: datetime, renderer: Renderer,
              links: Links) -> Email:
    session = _one_session(series, job)
    recipient = job.recipient
    ahead = [s for s in _sessions(series, job.also) if s.start > now and s.id != session.id]
    lang = language_of(series, job)
    context = _context(series, job, links, [session], now) | {
        "session": session_view(series, session, recipient.time_zone, recipient.join_url, now,
                                lang),
        "ahead": [session_view(series, s, recipient.time_zone, None, now, lang)
                  for s in ahead],
    }
    subject = tr(lang, "Starts %(when)s: %(title)s", when=until(session.start, now, lang),
                 title=session.title)
    unsubscribe = links.unsubscribe_for("all")
    text, html = renderer.render_pair("reminder", context | {"subject": subject,
                                                             "unsubscribe": unsubscribe},
                                      lang, series)
    invite = session_invite(series, session, recipient.email, recipient.full_name, stamp=now,
                            join_url=recipient.join_url, language=lang)
    return _email(series, job, now, subject, text, html,
                  attachments=[Attachment(invite.filename, "application/ics", invite.content)],
                  headers=unsubscribe_headers(series, unsubscribe))


def _update(series: Series, job: EmailJob, now: datetime, renderer: Renderer,
            links: Links) -> Email:
    session = _one_session(series, job)
    recipient = job.recipient
    lang = language_of(series, job)
    view = session_view(series, session, recipient.time_zone, recipient.join_url, now, lang)
    previous = None
    if "previous_start" in job.extra and "previous_end" in job.extra:
        old = describe(datetime.fromisoformat(job.extra["previous_start"]),
                       datetime.fromisoformat(job.extra["previous_end"]),
                       recipient.time_zone, series.time_zone, lang)
        previous = {"starts": old.starts, "ends": old.ends, "starts_local": old.starts_local,
                    "starts_series": old.starts_series}
    is_new = job.extra.get("notice") == "new_session"
    context = _context(series, job, links, [session], now) | {
        "session": view, "previous": previous, "new_session": is_new}
    subject = (tr(lang, "New session: %(title)s", title=session.title) if is_new else
               tr(lang, "New time: %(title)s", title=session.title) if previous else
               tr(lang, "Updated: %(title)s", title=session.title))
    text, html = renderer.render_pair("update", context | {"subject": subject}, lang,
                                      series)
    invite = session_invite(series, session, recipient.email, recipient.full_name, stamp=now,
                            join_url=recipient.join_url, language=lang)
    return _email(series, job, now, subject, text, html, calendars=[invite])


def _cancellation(series: Series, job: EmailJob, now: datetime, renderer: Renderer,
                  links: Links) -> Email:
    if job.extra.get("dropped") == "self":  # the person's own choice, not the organisers'
        return _dropped(series, job, now, renderer, links)
    session = series.session(job.session_ids[0]) if job.session_ids else None
    if session is None:
        raise StaleJobError("the cancelled session is not in the series")
    recipient = job.recipient
    lang = language_of(series, job)
    view = session_view(series, session, recipient.time_zone, None, now, lang)
    context = _context(series, job, links, [], now) | {"session": view}
    subject = tr(lang, "Cancelled: %(title)s", title=session.title)
    text, html = renderer.render_pair("cancellation", context | {"subject": subject}, lang,
                                      series)
    cancel = session_invite(series, session, recipient.email, recipient.full_name, stamp=now,
                            method="CANCEL", language=lang)
    return _email(series, job, now, subject, text, html, calendars=[cancel])


def _dropped(series: Series, job: EmailJob, now: datetime, renderer: Renderer,
             links: Links) -> Email:
    """Sessions the person dropped: one email, one METHOD:CANCEL per session (one event each,
    as calendars read only the first event of an iTIP object)."""
    sessions = _sessions(series, job.session_ids)  # one the organisers cancelled has its own
    if not sessions:
        raise StaleJobError("the dropped sessions are no longer in the series")
    recipient = job.recipient
    lang = language_of(series, job)
    views = [session_view(series, s, recipient.time_zone, None, now, lang) for s in sessions]
    subject = (tr(lang, "Dropped: %(title)s", title=sessions[0].title) if len(sessions) == 1
               else tr_plural(lang, "Dropped: %(num)d session of %(series)s",
                              "Dropped: %(num)d sessions of %(series)s", len(sessions),
                              series=series.title))
    text, html = renderer.render_pair("dropped", _context(series, job, links, [], now) | {
        "dropped": views, "subject": subject}, lang, series)
    cancels = [session_invite(series, s, recipient.email, recipient.full_name, stamp=now,
                              method="CANCEL", language=lang)
               for s in sessions]
    return _email(series, job, now, subject, text, html, calendars=cancels)


def _announcement(series: Series, job: EmailJob, now: datetime, renderer: Renderer,
                  links: Links, announcement: Announcement) -> Email:
    unsubscribe = links.unsubscribe_for("announcements")
    body_text = announcement.text()
    context = _context(series, job, links, [], now) | {
        "body_html": renderer.inline(announcement.html(), series),  # CommonMark, raw HTML off
        "body_text": body_text, "preheader_text": preheader(body_text),
        "subject": announcement.subject, "unsubscribe": unsubscribe}
    text, html = renderer.render_pair("announcement", context, context["language"], series)
    return _email(series, job, now, announcement.subject, text, html,
                  headers=unsubscribe_headers(series, unsubscribe))


@lru_cache(maxsize=256)
def preheader(text: str, limit: int = 110) -> str:
    """The first words of a plain text, on one line, cut at a word: what an inbox shows
    first. Heading rules and list or quote marks are left out."""
    lines = [line.strip().removeprefix("- ").removeprefix("> ") for line in text.splitlines()]
    words = " ".join(" ".join(line for line in lines if line.strip("=-")).split())
    if len(words) <= limit:
        return words
    return words[:limit].rsplit(" ", 1)[0] + "…"


def _one_session(series: Series, job: EmailJob) -> Session:
    session = series.session(job.session_ids[0]) if job.session_ids else None
    if session is None or session.cancelled:
        raise StaleJobError("the session of this email no longer exists or was cancelled")
    return session


def unsubscribe_headers(series: Series, url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe, plus a mailto to a person when the series has one."""
    targets = [f"<{url}>"]
    if series.reply_to and series.reply_to.email:
        targets.append(f"<mailto:{series.reply_to.email}?subject=unsubscribe%20{series.id}>")
    return {"List-Unsubscribe": ", ".join(targets),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _sessions(series: Series, ids: tuple[str, ...]) -> list[Session]:
    """The job's sessions that still exist and are not cancelled, in series order."""
    wanted = set(ids)
    return [s for s in series.sessions if s.id in wanted and not s.cancelled]


def _context(series: Series, job: EmailJob, links: Links, sessions: list[Session],
             now: datetime) -> dict[str, Any]:
    recipient = job.recipient
    lang = language_of(series, job)
    views = [session_view(series, s, recipient.time_zone, personal_link(job, s.id), now, lang)
             for s in sessions]
    return {
        "language": lang,
        "series": series,
        "name": recipient.full_name,
        "time_zone": recipient.time_zone,
        "series_city": city(series.time_zone, lang),
        "series_time_shown": any(v["shows_series_time"] for v in views),
        "sessions": views,
        "links": links,
    }


def city(zone: str, language: str) -> str:
    """The city that names a zone, in the reader's language (Brussels, Bruxelles, Brüssel)."""
    if language == i18n.SOURCE:
        return zone.rsplit("/", 1)[-1].replace("_", " ")
    return get_timezone_location(zone, locale=i18n.locale(language), return_city=True)


def personal_link(job: EmailJob, session_id: str) -> str | None:
    """The recipient's own join link for a session: from the job's per-session links when it
    carries several (a confirmation), else the one it carries."""
    if "join_urls" in job.extra:
        links: dict[str, str] = json.loads(job.extra["join_urls"])
        return links.get(session_id) or links.get("*")
    return job.recipient.join_url


def language_of(series: Series, job: EmailJob) -> str:
    """The recipient's language when we write it, else the series' default."""
    return i18n.choose(job.recipient.language, series.language)


def session_view(series: Series, session: Session, reader_zone: str,
                 personal_join_url: str | None, now: datetime,
                 language: str = i18n.SOURCE) -> dict[str, Any]:
    when = describe(session.start, session.end, reader_zone, series.time_zone, language)
    return {
        "starts_in": until(session.start, now, language),
        "soon": session.start - now < SOON,
        "id": session.id,
        "title": session.title,
        "description": session.description,
        "starts": when.starts,
        "starts_local": when.starts_local,  # the HTML keeps each part on one line
        "starts_series": when.starts_series,
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
                 message_id=message_id, language=language_of(series, job), **extra)


_BUILDERS: dict[str, Callable[[Series, EmailJob, datetime, Renderer, Links], Email]] = {
    "confirmation": _confirmation,
    "reminder": _reminder,
    "update": _update,
    "cancellation": _cancellation,
}
