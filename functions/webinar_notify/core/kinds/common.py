"""What every kind of email shares: the personal links, the context its templates read, each
session as the reader sees it, the envelope, and the registry entry that ties a kind's payload
to its composer.

The scheduler and the API build payloads without writing emails, so this module (which every
kind imports) loads the calendar and MIME code only when an email is composed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, Self, TypeVar

from babel.dates import get_timezone_location

from .. import i18n
from ..errors import PayloadError, StaleJobError
from ..schedule import until
from ..series import Contact, Series, Session
from ..times import describe

if TYPE_CHECKING:
    from ..announcements import Announcement
    from ..calendar import CalendarPart, Method
    from ..jobs import EmailJob, EmailKind
    from ..mime import Attachment, Email
    from ..render import Renderer
    from .certificate import CertificateFile

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


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a composer is given besides the series, the job and its payload."""

    now: datetime
    renderer: Renderer
    links: Links
    announcement: Announcement | None = None  # read by the sender for an announcement
    certificate: CertificateFile | None = None  # read and drawn by the sender for its email


# -- payloads ------------------------------------------------------------------------------

class PayloadType(Protocol):
    """What the queue needs of a kind's payload: a JSON document each way (PayloadError on a
    malformed one), and the reading of a version 1 message's string map, which a queue may
    still hold during an update."""

    KIND: ClassVar[EmailKind]

    def to_doc(self) -> dict[str, Any]: ...

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Self: ...

    @classmethod
    def from_v1(cls, extra: Mapping[str, str]) -> Self: ...


P = TypeVar("P", bound=PayloadType)
Composer = Callable[[Series, "EmailJob", P, Inputs], "Email"]


@dataclass(frozen=True, slots=True)
class Kind(Generic[P]):
    """One kind of email: its payload type and its composer, which mypy checks take the same
    payload."""

    payload: type[P]
    composer: Composer[P]

    @property
    def name(self) -> EmailKind:
        return self.payload.KIND

    def compose(self, series: Series, job: EmailJob, inputs: Inputs) -> Email:
        payload = job.payload
        if not isinstance(payload, self.payload):
            raise PayloadError(f"a {self.name} email carries a {type(payload).__name__}")
        return self.composer(series, job, payload, inputs)


def read_fields(value: object, kind: str) -> Mapping[str, Any]:
    """A payload document, or PayloadError. Names a newer version adds are left for it."""
    if not isinstance(value, dict):
        raise PayloadError(f"malformed {kind} payload: expected an object")
    return value


def read_flag(doc: Mapping[str, Any], name: str, kind: str) -> bool:
    value = doc.get(name, False)
    if not isinstance(value, bool):
        raise PayloadError(f"malformed {kind} payload: {name} is not true or false")
    return value


def read_text(doc: Mapping[str, Any], name: str, kind: str, default: str = "") -> str:
    value = doc.get(name, default)
    if not isinstance(value, str):
        raise PayloadError(f"malformed {kind} payload: {name} is not a string")
    return value


def read_instant(doc: Mapping[str, Any], name: str, kind: str) -> datetime | None:
    """An ISO time with its offset, or None when absent."""
    value = doc.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise PayloadError(f"malformed {kind} payload: {name} is not an ISO time with offset")
    return moment


def read_string_map(value: object, name: str, kind: str) -> tuple[tuple[str, str], ...]:
    """A map of strings to strings, as sorted pairs (immutable, and equal when equal)."""
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise PayloadError(f"malformed {kind} payload: {name} is not a map of strings")
    return tuple(sorted(value.items()))


class NoFields:
    """A payload with nothing beyond the job (a kind's dataclass sets ``KIND``)."""

    __slots__ = ()
    KIND: ClassVar[EmailKind]

    def to_doc(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Self:
        read_fields(doc, cls.KIND)
        return cls()

    @classmethod
    def from_v1(cls, extra: Mapping[str, str]) -> Self:
        return cls()


# -- what the templates read ---------------------------------------------------------------

def live_sessions(series: Series, ids: tuple[str, ...]) -> list[Session]:
    """The job's sessions that still exist and are not cancelled, in series order."""
    wanted = set(ids)
    return [s for s in series.sessions if s.id in wanted and not s.cancelled]


def one_session(series: Series, job: EmailJob) -> Session:
    session = series.session(job.session_ids[0]) if job.session_ids else None
    if session is None or session.cancelled:
        raise StaleJobError("the session of this email no longer exists or was cancelled")
    return session


def context(series: Series, job: EmailJob, links: Links, sessions: list[Session],
            now: datetime, join_urls: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The context every template reads; ``join_urls``: the person's own links by session
    ("*" for all), when the job carries several (a confirmation)."""
    recipient = job.recipient
    lang = language_of(series, job)
    views = [session_view(series, s, recipient.time_zone,
                          personal_link(job, s.id, join_urls), now, lang)
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


@lru_cache(maxsize=256)  # Babel's look-up costs more than the rest of the context
def city(zone: str, language: str) -> str:
    """The city that names a zone, in the reader's language (Brussels, Bruxelles, Brüssel)."""
    if language == i18n.SOURCE:
        return zone.rsplit("/", 1)[-1].replace("_", " ")
    return get_timezone_location(zone, locale=i18n.locale(language), return_city=True)


def personal_link(job: EmailJob, session_id: str,
                  join_urls: Mapping[str, str] | None = None) -> str | None:
    """The recipient's own join link for a session: from ``join_urls`` when the job carries
    several (a confirmation), else the one it carries."""
    if join_urls:
        return join_urls.get(session_id) or join_urls.get("*")
    return job.recipient.join_url


def language_of(series: Series, job: EmailJob) -> str:
    """The recipient's language when we write it, else the series' default."""
    return i18n.choose(job.recipient.language, series.language)


def session_view(series: Series, session: Session, reader_zone: str,
                 personal_join_url: str | None, now: datetime,
                 language: str = i18n.SOURCE) -> dict[str, Any]:
    """One session as a reader sees it: a copy of the view made once per session revision,
    zone and language, with what depends on the moment (and a link of one's own) set in."""
    fixed, start = _fixed_view(series.id, series.time_zone, session, reader_zone, language)
    view = fixed.copy()  # a new dict per email: a kind may add to it (a waitlist place)
    view["starts_in"] = until(start, now, language)
    view["soon"] = start - now < SOON
    if personal_join_url:
        view["join_url"] = personal_join_url
    return view


@lru_cache(maxsize=4096)  # a fan-out reads a few sessions in a few dozen zones and languages
def _fixed_view(series_id: str, series_zone: str, session: Session, reader_zone: str,
                language: str) -> tuple[dict[str, Any], datetime]:
    """What a session view holds that is the same at every moment, and the start in UTC
    (the clock is UTC, so ``until`` and ``soon`` subtract without zone look-ups)."""
    when = describe(session.start, session.end, reader_zone, series_zone, language)
    return {
        "starts_in": "",  # set per email; here to keep each entry in its place
        "soon": False,
        "id": session.id,
        "title": session.title,
        "description": session.description,
        "starts": when.starts,
        "starts_local": when.starts_local,  # the HTML keeps each part on one line
        "starts_series": when.starts_series,
        "ends": when.ends,
        "minutes": when.minutes,
        "shows_series_time": when.shows_series_time,
        "join_url": session.join_url,
        "calendar_file": f"{series_id}-{session.id}.ics",
    }, session.start.astimezone(UTC)


@lru_cache(maxsize=256)
def preheader(text: str, limit: int = 110) -> str:
    """The first words of a plain text, on one line, cut at a word: what an inbox shows
    first. Heading rules and list or quote marks are left out."""
    lines = [line.strip().removeprefix("- ").removeprefix("> ") for line in text.splitlines()]
    words = " ".join(" ".join(line for line in lines if line.strip("=-")).split())
    if len(words) <= limit:
        return words
    return words[:limit].rsplit(" ", 1)[0] + "…"


def unsubscribe_headers(series: Series, url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe, plus a mailto to a person when the series has one."""
    targets = [f"<{url}>"]
    if series.reply_to and series.reply_to.email:
        targets.append(f"<mailto:{series.reply_to.email}?subject=unsubscribe%20{series.id}>")
    return {"List-Unsubscribe": ", ".join(targets),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


# -- the envelope and its calendar parts ---------------------------------------------------

def invite(series: Series, session: Session, job: EmailJob, now: datetime, language: str,
           *, join_url: str | None = None, method: Method = "REQUEST") -> CalendarPart:
    """The session's calendar entry for the recipient, stamped now."""
    from ..calendar import session_invite

    recipient = job.recipient
    return session_invite(series, session, recipient.email, recipient.full_name, stamp=now,
                          join_url=join_url, method=method, language=language)


def invites(series: Series, sessions: list[Session], job: EmailJob, now: datetime,
            language: str, join_urls: Mapping[str, str] | None = None) -> list[CalendarPart]:
    """``invite`` for each session, with the recipient's own links (``join_urls``, as for
    ``personal_link``)."""
    from ..calendar import session_invites

    recipient = job.recipient
    return session_invites(series, sessions, recipient.email, recipient.full_name, stamp=now,
                           join_urls=[personal_link(job, s.id, join_urls) for s in sessions],
                           language=language)


def ics_file(part: CalendarPart) -> Attachment:
    """A calendar entry as a plain file to add by hand (a reminder's), not an invitation."""
    from ..mime import Attachment

    return Attachment(part.filename, "application/ics", part.content)


def email(series: Series, job: EmailJob, now: datetime, subject: str, text: str, html: str,
          **parts: Any) -> Email:
    from ..mime import Email

    message_id = hashlib.sha256(job.key.encode()).hexdigest()[:32] + "@" + series.uid_host
    return Email(sender=series.sender, to=Contact(job.recipient.email, job.recipient.full_name),
                 reply_to=series.reply_to, subject=subject, text=text, html=html, date=now,
                 message_id=message_id, language=language_of(series, job), **parts)
