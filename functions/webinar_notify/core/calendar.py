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
    return session_invites(series, [session], attendee_email, attendee_name, stamp=stamp,
                           join_urls=[join_url], method=method, language=language)[0]


def session_invites(series: Series, sessions: Sequence[Session], attendee_email: str,
                    attendee_name: str, *, stamp: datetime, join_urls: Sequence[str | None],
                    method: Method = "REQUEST",
                    language: str = i18n.SOURCE) -> list[CalendarPart]:
    """``session_invite`` for each session, with its own join link (``join_urls``, in the
    same order; None: the session's): a confirmation's entries share their stamp and
    attendee lines."""
    stamp_line = _stamp_octets(stamp)
    attendee = _attendee_octets(attendee_email, attendee_name)
    parts = []
    for session, join_url in zip(sessions, join_urls, strict=True):
        link = join_url or session.join_url
        if link is not None and ("\r" in link or "\n" in link):
            raise ValueError("a join link may not contain CR or LF characters")  # as icalendar
        shared = _shared_calendar(series.calendar_uid(session.id), series.sender, series.title,
                                  session, link is not None, method, language)
        parts.append(CalendarPart(method, f"{series.id}-{session.id}.ics",
                                  shared.octets(link, stamp_line, attendee)))
    return parts


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
class _Octets:
    """A shared calendar's pieces as UTF-8 octets, ready to be joined: ``fixed`` with an
    empty place for each slot and link line, and where each goes."""

    fixed: tuple[bytes, ...]
    stamp: int
    attendee: int
    # Each link line's place, and the octets up to the link where the link ends the line
    # and no escape sits before it (``_fold_on``'s fast case, for a plain link).
    links: tuple[tuple[int, _LinkLine, bytes | None], ...]

    @classmethod
    def of(cls, pieces: Sequence[str | _Slot | _LinkLine]) -> _Octets:
        where = {piece: index for index, piece in enumerate(pieces)
                 if isinstance(piece, _Slot)}
        return cls(tuple(p.encode("utf-8") if isinstance(p, str) else b"" for p in pieces),
                   where[_Slot.STAMP], where[_Slot.ATTENDEE],
                   tuple((i, p, (p.folded + p.current).encode("utf-8")
                          if p.rest == _LINK and not p.current.endswith(("\\", "^")) else None)
                         for i, p in enumerate(pieces) if isinstance(p, _LinkLine)))

    def join(self, link: str | None, stamp: bytes, attendee: bytes) -> bytes:
        out = list(self.fixed)
        out[self.stamp] = stamp
        out[self.attendee] = attendee
        if self.links:
            assert link is not None
            if link.isascii() and "^" not in link and not _escapes(link):
                plain = link.encode("ascii")  # the same as a TEXT value, folded by slices
                for index, line, head in self.links:
                    out[index] = _folded_on(head, line.size, plain) if head is not None \
                        else line.fill(link, link).encode("utf-8")
            else:
                escaped = _escape_text(link)
                for index, line, _ in self.links:
                    out[index] = line.fill(link, escaped).encode("utf-8")
        return b"".join(out)


@dataclass(frozen=True, slots=True)
class _SharedCalendar:
    """One session's calendar text as every recipient shares it, in pieces: what is the same
    for all, and the slots and link lines each email fills. ``with_own_link``: the same with
    the session's own (shared) join link already written in. ``way`` and ``own_way``: both
    as octets, as an email's part is made."""

    pieces: tuple[str | _Slot | _LinkLine, ...]
    own_link: str | None = None
    with_own_link: tuple[str | _Slot | _LinkLine, ...] = ()
    way: _Octets | None = None
    own_way: _Octets | None = None

    def octets(self, link: str | None, stamp: bytes, attendee: bytes) -> bytes:
        """``fill`` as UTF-8 octets, from the stamp and attendee lines as octets."""
        way = self.own_way if link == self.own_link and self.own_way else self.way
        assert way is not None
        return way.join(link, stamp, attendee)

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
    merged = tuple(_merged(pieces))
    if not has_link or own is None or "\r" in own or "\n" in own:
        return _SharedCalendar(merged, way=_Octets.of(merged))
    filled = tuple(_merged([p.fill(own, _escape_text(own)) if isinstance(p, _LinkLine) else p
                            for p in pieces]))
    return _SharedCalendar(merged, own, filled, _Octets.of(merged), _Octets.of(filled))


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


@lru_cache(maxsize=8)
def _stamp_octets(stamp: datetime) -> bytes:
    return _stamp_line(stamp).encode("ascii")


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


@lru_cache(maxsize=8)
def _attendee_octets(email: str, name: str) -> bytes:
    return _attendee_line(email, name).encode("utf-8")


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
    if not _escapes(value):
        return value  # a link nearly always
    return (value.replace(r"\N", "\n").replace("\\", "\\\\").replace(";", r"\;")
            .replace(",", r"\,").replace("\r\n", r"\n").replace("\n", r"\n")
            .replace("\r", r"\n"))


def _escapes(value: str) -> bool:
    """Whether a TEXT value holds a character that is escaped (a link nearly never does)."""
    return ("\\" in value or ";" in value or "," in value or "\n" in value
            or "\r" in value)


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


def _folded_on(head: bytes, size: int, link: bytes) -> bytes:
    """``_fold_on`` for a plain ASCII link (no escapes) that ends its line, as octets:
    ``head`` is the line up to the link, its unfinished last line ``size`` octets."""
    room = _LIMIT - 1 - size
    if len(link) <= room:
        return head + link + b"\r\n"
    pieces = [head, link[:room]]
    for at in range(room, len(link), _LIMIT - 1):
        pieces += (b"\r\n ", link[at:at + _LIMIT - 1])
    pieces.append(b"\r\n")
    return b"".join(pieces)


def _fold_on(current: str, size: int, rest: str) -> str:
    """The rest of a content line folded on from ``current`` (``size`` octets), as
    ``_fold_state`` would: by slices where the rest is ASCII with no escape to keep whole
    (a link nearly always is), else by ``_fold_state`` itself."""
    if not rest.isascii() or "\\" in rest or "^" in rest or current.endswith(("\\", "^")):
        done, last, _ = _fold_state(rest, current, size)
        return _FOLD.join([*done, last]) + "\r\n"
    room = _LIMIT - 1 - size
    if len(rest) <= room:
        return current + rest + "\r\n"
    pieces = [current, rest[:room]]  # a fold every full line
    for at in range(room, len(rest), _LIMIT - 1):
        pieces += (_FOLD, rest[at:at + _LIMIT - 1])
    pieces.append("\r\n")
    return "".join(pieces)


__all__ = ["CalendarPart", "Method", "fold", "session_invite", "session_invites"]
