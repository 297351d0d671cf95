"""One calendar entry per session: a single-VEVENT iTIP object that calendars can update.

The UID is derived from the series and session ids, times are UTC, the ORGANIZER is the
sender and the one ATTENDEE is the recipient. The part every recipient shares is built once
per session revision (``functools.lru_cache``); only the DTSTAMP and ATTENDEE lines are made
per email.

DTSTAMP is when this iTIP object was created (RFC 5545 section 3.8.7.2: with a METHOD, the
moment the instance was made), so an email's entry carries the moment it was composed; when
the session last changed is LAST-MODIFIED, and SEQUENCE alone orders the revisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal
from urllib.parse import quote

from icalendar import STATUS, Calendar, Event, vCalAddress

from . import i18n
from .series import Contact, Series, Session
from .text import clean_name

Method = Literal["REQUEST", "CANCEL"]
PRODID = "-//webinar-notify//webinar-notify 0.1//EN"
_MAILTO_SAFE = "!$'()*+,;=.-_~"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_STAMP_PLACEHOLDER = "DTSTAMP:20000101T000000Z\r\n"  # the cached part's stamp, replaced


@dataclass(frozen=True, slots=True)
class CalendarPart:
    method: Method
    filename: str
    content: bytes  # CRLF lines, folded at 75 octets, UTF-8


def session_invite(series: Series, session: Session, attendee_email: str, attendee_name: str,
                   *, stamp: datetime, join_url: str | None = None,
                   method: Method = "REQUEST", language: str = i18n.SOURCE) -> CalendarPart:
    """The .ics for one session and one recipient, made at ``stamp`` (the sender's clock);
    the text we add (description, location) is in ``language``, titles as written."""
    shared = _shared_calendar(series.calendar_uid(session.id), series.sender, series.title,
                              session, join_url or session.join_url, method, language)
    line = _attendee_line(attendee_email, attendee_name)
    text = _stamped(shared, stamp).replace("END:VEVENT\r\n", line + "END:VEVENT\r\n", 1)
    return CalendarPart(method=method, filename=f"{series.id}-{session.id}.ics",
                        content=text.encode("utf-8"))


@lru_cache(maxsize=512)
def _shared_calendar(uid: str, organizer: Contact, series_title: str, session: Session,
                     join_url: str | None, method: Method,
                     language: str = i18n.SOURCE) -> str:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event.new(
        uid=uid,
        stamp=_EPOCH,  # the placeholder _stamped replaces
        start=session.start.astimezone(UTC),
        end=session.end.astimezone(UTC),
        summary=session.title,
        sequence=session.sequence,
        status=STATUS.CANCELLED if method == "CANCEL" or session.cancelled
        else STATUS.CONFIRMED,
        organizer=vCalAddress.new(organizer.email, cn=_calendar_name(organizer.name) or None),
        description=_description(series_title, session, join_url, language),
        location=join_url or i18n.tr(language, "Online"),
        url=join_url,
    )
    event.add("transp", "OPAQUE")
    if session.updated_at is not None:
        event.add("last-modified", session.updated_at.astimezone(UTC))
    calendar.add_component(event)
    return str(calendar.to_ical().decode("utf-8"))


def _stamped(shared: str, stamp: datetime) -> str:
    return shared.replace(_STAMP_PLACEHOLDER,
                          f"DTSTAMP:{stamp.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\n", 1)


def personal_feed(series: Series, sessions: list[Session],
                  links: Mapping[str, str | None] | None = None,
                  language: str = i18n.SOURCE) -> bytes:
    """One calendar with every session a person registered for, for a calendar app to
    subscribe to: it follows changes and cancellations (same UIDs) without any email.

    Each event's DTSTAMP is its session's revision time, not the request's: the feed is the
    same object until the series or the registration changes, which its ETag promises."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    for session in sessions:
        link = (links or {}).get(session.id) or session.join_url
        shared = _shared_calendar(series.calendar_uid(session.id), series.sender, series.title,
                                  session, link, "REQUEST", language)
        event = Calendar.from_ical(_stamped(shared, session.updated_at or _EPOCH)).events[0]
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def _description(series_title: str, session: Session, join_url: str | None,
                 language: str) -> str:
    lines = [f"{series_title}: {session.title}"]
    if session.description:
        lines.append(session.description)
    lines.append(i18n.tr(language, "Join: %(url)s", url=join_url) if join_url else
                 i18n.tr(language, "The join link will be sent before the session."))
    return "\n\n".join(lines)


def _calendar_name(name: str) -> str:
    """A CN parameter value: no quotes (RFC 6868 would mangle them), no control characters."""
    return clean_name(name).replace('"', "'")


def _attendee_line(email: str, name: str) -> str:
    params = ["PARTSTAT=NEEDS-ACTION", "ROLE=REQ-PARTICIPANT", "RSVP=FALSE"]
    cn = _calendar_name(name).replace("^", "^^")  # RFC 6868, as icalendar does for ORGANIZER
    if cn:
        params.insert(0, f'CN="{cn}"')
    local, _, domain = email.rpartition("@")
    # RFC 6068: characters such as ?, #, % and & in the local part are percent-encoded.
    return fold(f"ATTENDEE;{';'.join(params)}:mailto:{quote(local, safe=_MAILTO_SAFE)}@{domain}")


def fold(line: str) -> str:
    """RFC 5545 folding: lines of at most 75 octets, never splitting a UTF-8 character."""
    out: list[str] = []
    current, size = "", 0
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += ch
        size += width
    out.append(current)
    return "\r\n".join(out) + "\r\n"


__all__ = ["CalendarPart", "Method", "fold", "session_invite"]
