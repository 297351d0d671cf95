"""One calendar entry per session: a single-VEVENT iTIP object that calendars can update.

The UID is derived from the series and session ids, times are UTC, the ORGANIZER is the
sender and the one ATTENDEE is the recipient. The part every recipient shares is built once
per session revision, method and language (a bounded ``functools.lru_cache``) with the join
link's place left open; each email fills in its DTSTAMP, its ATTENDEE and the link, which may
be the recipient's own (Zoom's per-registrant links), folding only the lines that carry it.
The result is byte for byte what icalendar writes for the whole object.

DTSTAMP is when this iTIP object was created (RFC 5545 section 3.8.7.2: with a METHOD, the
moment the instance was made), so an email's entry carries the moment it was composed; when
the session last changed is LAST-MODIFIED, and SEQUENCE alone orders the revisions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
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
_STAMP_PLACEHOLDER = "DTSTAMP:20000101T000000Z"  # the cached part's stamp, a slot
# Where the join link goes in a cached calendar: letters only, so no escaping changes it.
_LINK = "WebinarNotifyJoinLinkPlaceholder"
_LINK_PROPERTIES = frozenset({"DESCRIPTION", "LOCATION", "URL"})
_LIMIT = 75  # octets per folded line (RFC 5545 section 3.1)
_FOLD = "\r\n "
_CONTENT_LINE_END = re.compile(r"\r\n(?! )")  # a line break that is not a fold


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
    link = join_url or session.join_url
    if link is not None and ("\r" in link or "\n" in link):
        raise ValueError("a join link may not contain CR or LF characters")  # as icalendar
    shared = _shared_calendar(series.calendar_uid(session.id), series.sender, series.title,
                              session, link is not None, method, language)
    text = shared.fill(link, _stamp_line(stamp), _attendee_line(attendee_email, attendee_name))
    return CalendarPart(method=method, filename=f"{series.id}-{session.id}.ics",
                        content=text.encode("utf-8"))


class _Slot(Enum):
    """A place in a cached calendar that each email fills in."""

    STAMP = "DTSTAMP"
    ATTENDEE = "ATTENDEE"


@dataclass(frozen=True, slots=True)
class _LinkLine:
    """A content line that carries the join link, folded up to the link once.

    ``folded`` holds the finished lines before the link (each followed by the fold), and
    ``current`` (``size`` octets) the start of the line the link continues; ``rest`` is the
    unfolded remainder with ``_LINK`` where the link goes."""

    folded: str
    current: str
    size: int
    rest: str
    text_value: bool  # a TEXT value (escaped, RFC 5545 section 3.3.11), else a URI as it is

    def fill(self, link: str, escaped: str) -> str:
        """The line with ``link`` (``escaped``: the same as a TEXT value) in its place."""
        value = escaped if self.text_value else link
        return self.folded + _fold_on(self.current, self.size, self.rest.replace(_LINK, value))


@dataclass(frozen=True, slots=True)
class _SharedCalendar:
    """One session's calendar text as every recipient shares it, in pieces: what is the same
    for all, and the slots and link lines each email fills. ``with_own_link``: the same with
    the session's own (shared) join link already written in."""

    pieces: tuple[str | _Slot | _LinkLine, ...]
    own_link: str | None = None
    with_own_link: tuple[str | _Slot | _LinkLine, ...] = ()

    def fill(self, link: str | None, stamp: str, attendee: str) -> str:
        out: list[str] = []
        pieces = self.with_own_link if link == self.own_link and self.with_own_link \
            else self.pieces
        escaped = _escape_text(link) if link is not None and pieces is self.pieces else ""
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
            elif piece is _Slot.STAMP:
                out.append(stamp)
            elif piece is _Slot.ATTENDEE:
                out.append(attendee)
            elif isinstance(piece, _LinkLine):
                assert link is not None
                out.append(piece.fill(link, escaped))
        return "".join(out)


@lru_cache(maxsize=1024)
def _shared_calendar(uid: str, organizer: Contact, series_title: str, session: Session,
                     has_link: bool, method: Method,
                     language: str = i18n.SOURCE) -> _SharedCalendar:
    """Made once per session revision, method and language (and whether there is a join
    link): the personal lines (DTSTAMP, ATTENDEE, a personal join link) are filled per email,
    so a link of one's own costs no new calendar."""
    text = _calendar_text(uid, organizer, series_title, session, _LINK if has_link else None,
                          method, language)
    pieces: list[str | _Slot | _LinkLine] = []
    for folded in _CONTENT_LINE_END.split(text)[:-1]:  # "" after the last line break
        line = folded.replace(_FOLD, "")
        if line == _STAMP_PLACEHOLDER:
            pieces.append(_Slot.STAMP)
        elif line == "END:VEVENT":
            pieces += [_Slot.ATTENDEE, line + "\r\n"]
        elif has_link and _LINK in line:
            name = line.partition(":")[0].partition(";")[0]
            if name not in _LINK_PROPERTIES:  # the placeholder typed into a title, say
                raise ValueError(f"{name} holds the join-link placeholder")
            head = line.partition(_LINK)[0]
            done, current, size = _fold_state(head)
            pieces.append(_LinkLine("".join(part + _FOLD for part in done), current, size,
                                    line[len(head):], text_value=name != "URL"))
        else:
            pieces.append(folded + "\r\n")  # as icalendar folded it
    slots = [p for p in pieces if isinstance(p, _Slot)]
    if slots != [_Slot.STAMP, _Slot.ATTENDEE]:
        raise ValueError("a calendar needs one DTSTAMP and one VEVENT")
    own = session.join_url
    if not has_link or own is None or "\r" in own or "\n" in own:
        return _SharedCalendar(tuple(_merged(pieces)))
    filled = [p.fill(own, _escape_text(own)) if isinstance(p, _LinkLine) else p for p in pieces]
    return _SharedCalendar(tuple(_merged(pieces)), own, tuple(_merged(filled)))


def _merged(pieces: Sequence[str | _Slot | _LinkLine]) -> list[str | _Slot | _LinkLine]:
    """Neighbouring fixed pieces joined, so an email appends a few strings, not every line."""
    out: list[str | _Slot | _LinkLine] = []
    for piece in pieces:
        if isinstance(piece, str) and out and isinstance(out[-1], str):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def _calendar_text(uid: str, organizer: Contact, series_title: str, session: Session,
                   join_url: str | None, method: Method, language: str) -> str:
    """The whole calendar, as icalendar writes it, with the placeholder DTSTAMP and no
    ATTENDEE."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event.new(
        uid=uid,
        stamp=_EPOCH,  # the placeholder each email's stamp replaces
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


@lru_cache(maxsize=8)  # the sessions of one email share their stamp
def _stamp_line(stamp: datetime) -> str:
    return f"DTSTAMP:{stamp.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\n"


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
                                  session, link is not None, "REQUEST", language)
        text = shared.fill(link, _stamp_line(session.updated_at or _EPOCH), "")
        event = Calendar.from_ical(text).events[0]
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


@lru_cache(maxsize=8)  # and their recipient: a confirmation has one entry per session
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
    if len(line) <= _LIMIT and (line.isascii() or len(line.encode("utf-8")) <= _LIMIT):
        return line + "\r\n"
    data = line.encode("utf-8")
    out: list[str] = []
    start, room = 0, _LIMIT
    while len(data) - start > room:
        end = start + room
        while data[end] & 0xC0 == 0x80:  # a continuation octet: cut before its character
            end -= 1
        out.append(data[start:end].decode("utf-8"))
        start, room = end, _LIMIT - 1  # a folded line starts with a space
    out.append(data[start:].decode("utf-8"))
    return _FOLD.join(out) + "\r\n"


def _escape_text(value: str) -> str:
    """A TEXT value escaped as icalendar escapes it (RFC 5545 section 3.3.11)."""
    return (value.replace(r"\N", "\n").replace("\\", "\\\\").replace(";", r"\;")
            .replace(",", r"\,").replace("\r\n", r"\n").replace("\n", r"\n")
            .replace("\r", r"\n"))


def _fold_state(text: str, current: str = "", size: int = 0) -> tuple[list[str], str, int]:
    """icalendar's folding, character by character, from an unfinished line ``current`` of
    ``size`` octets: the finished lines, and the unfinished last one with its size. Like
    icalendar, it folds before a line reaches 75 octets and never right after a backslash
    or caret, which would split an escape."""
    done: list[str] = []
    for ch in text:
        width = len(ch.encode("utf-8"))
        if current and size + width >= _LIMIT:
            if len(current) > 1 and current[-1] in "\\^":
                done.append(current[:-1])
                current, size = current[-1], 1
            else:
                done.append(current)
                current, size = "", 0
        current += ch
        size += width
    return done, current, size


def _fold_on(current: str, size: int, rest: str) -> str:
    """The rest of a content line folded on from ``current`` (``size`` octets), as
    ``_fold_state`` would, by slices where the rest is ASCII (a link nearly always is)."""
    if not rest.isascii():
        done, last, _ = _fold_state(rest, current, size)
        return _FOLD.join([*done, last]) + "\r\n"
    lines: list[str] = []
    while size + len(rest) > _LIMIT - 1:
        room = _LIMIT - 1 - size
        chunk, rest = current + rest[:room], rest[room:]
        if len(chunk) > 1 and chunk[-1] in "\\^":
            lines.append(chunk[:-1])
            current, size = chunk[-1], 1
        else:
            lines.append(chunk)
            current, size = "", 0
    lines.append(current + rest)
    return _FOLD.join(lines) + "\r\n"


__all__ = ["CalendarPart", "Method", "fold", "session_invite"]
