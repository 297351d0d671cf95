"""The series model: what an organiser publishes and every email is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from .branding import DEFAULT_BRAND, Brand
from .policies import Policy
from .quiet_hours import DEFAULT_QUIET_HOURS, QuietHours

SessionStatus = Literal["scheduled", "cancelled"]
DEFAULT_REMINDER_OFFSETS = (timedelta(days=7), timedelta(days=1), timedelta(hours=1))


@dataclass(frozen=True, slots=True)
class Contact:
    email: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Organiser:
    name: str
    affiliation: str = ""


@dataclass(frozen=True, slots=True)
class ComingItem:
    """Something announced ahead (a course, a meeting) that people can ask to hear about."""

    id: str
    title: str
    description: str = ""
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    title: str
    start: datetime  # aware, in the series' time zone
    duration: timedelta
    join_url: str | None = None
    status: SessionStatus = "scheduled"
    description: str = ""
    reminder_offsets: tuple[timedelta, ...] | None = None  # None: the series' offsets
    sequence: int = 0  # iCalendar SEQUENCE: grows with every change a calendar must see
    updated_at: datetime | None = None  # when the calendar-visible fields last changed (UTC)

    @property
    def end(self) -> datetime:
        """Elapsed time, not wall-clock time: a session across a DST change still lasts
        exactly its duration."""
        return (self.start.astimezone(UTC) + self.duration).astimezone(self.start.tzinfo)

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    def calendar_fingerprint(self) -> tuple[object, ...]:
        """The fields a calendar shows: a change in any of them needs a higher SEQUENCE."""
        return (self.title, self.start, self.duration, self.join_url, self.status,
                self.description)


@dataclass(frozen=True, slots=True)
class Series:
    id: str
    title: str
    time_zone: str
    sender: Contact
    sessions: tuple[Session, ...]
    description: str = ""
    reply_to: Contact | None = None
    organisers: tuple[Organiser, ...] = ()
    endorsements: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    audience: str = ""
    url: str | None = None
    reminder_offsets: tuple[timedelta, ...] = DEFAULT_REMINDER_OFFSETS
    coming: tuple[ComingItem, ...] = ()
    uid_domain: str = ""  # the right-hand side of every calendar UID; fixed once published
    double_opt_in: bool = False  # registrations confirm by a link before reminders or news
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)  # provider -> answer mapping
    language: str = "en"  # what a registrant who gave no language we speak reads (core/i18n)
    brand: Brand = DEFAULT_BRAND  # logo, accent colour, footer (core/branding)
    templates: str = ""  # a folder under templates/series/ whose templates replace ours
    revision: int = 0  # grows with every stored change; caches key on it
    # Day-offset reminders move out of these hours in each registrant's zone; None: off.
    quiet_hours: QuietHours | None = DEFAULT_QUIET_HOURS
    # ``certificates:`` as checked (core/certificates, docs/certificates.md); {}: none.
    certificates: dict[str, Any] = field(default_factory=dict)
    # Seats per session, a waitlist and approval (core/policies); the default accepts everyone.
    policy: Policy = field(default_factory=Policy)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def session(self, session_id: str) -> Session | None:
        return next((s for s in self.sessions if s.id == session_id), None)

    @property
    def uid_host(self) -> str:
        """The right-hand side of calendar UIDs and Message-IDs."""
        return self.uid_domain or self.sender.email.split("@")[1]

    def calendar_uid(self, session_id: str) -> str:
        """Stable UID of a session's calendar entry: never random, never changing."""
        return f"{session_id}.{self.id}@{self.uid_host}"

    def offsets_for(self, session: Session) -> tuple[timedelta, ...]:
        return session.reminder_offsets if session.reminder_offsets is not None \
            else self.reminder_offsets
