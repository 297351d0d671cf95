"""What organiser actions return (domain results, which entry points turn into HTTP answers or
pages), the answer an action recorded for its retries, and the refusals particular to
organiser actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ..core.errors import InvalidInputError
from ..core.organiser_jobs import OrganiserJob
from ..core.send_plan import Crowded

PublishOutcome = Literal["created", "updated", "unchanged"]
# How a count of recipients was made: one by one to the end ("exact"), from the kept counts
# (about: an upper bound, since opt-outs and suppressions drop out when it goes), or one by
# one until a request's budget ran out ("at least").
CountBound = Literal["exact", "about", "at least"]
AnnouncementState = Literal["test sent", "exists", "sending", "scheduled"]


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply an action gave, as recorded: a retry of the same request gets it again."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Published:
    """A series stored (or found unchanged), with the notices its changes owe registrants."""

    outcome: PublishOutcome
    revision: int
    changed_sessions: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()  # task keys, e.g. "notice#s4#1"
    recipients: int = 0  # about how many the notices reach (kept counts): a job sends them
    quiet: bool = False
    job: str = ""  # the fan-out job sending the notices, whose progress can be followed
    # Reminders whose window cannot send their audience at the account's rate (send_plan).
    crowded: tuple[Crowded, ...] = ()


@dataclass(frozen=True, slots=True)
class Preview:
    """An announcement as a registrant would see it, and how many it would reach now."""

    recipients: int
    subject: str
    audience: str
    html: str
    text: str
    bound: CountBound = "exact"


@dataclass(frozen=True, slots=True)
class NoticePreview:
    """One notice a change would bring: whom it would reach now, and how it reads."""

    kind: str  # "update", "cancellation" or "new_session"
    session: str
    recipients: int
    subject: str
    text: str
    html: str
    bound: CountBound = "exact"


@dataclass(frozen=True, slots=True)
class ChangePreview:
    """A dry run of a series change: what it would do, stored and sent nowhere."""

    outcome: PublishOutcome
    changed_sessions: tuple[str, ...] = ()
    notices: tuple[NoticePreview, ...] = ()
    quiet: bool = False
    revision: int = 0  # the stored revision it was worked out from: confirm against it

    @property
    def recipients(self) -> int:
        """Emails the change would send now (a person told of two sessions counts twice)."""
        return sum(n.recipients for n in self.notices)

    @property
    def bound(self) -> CountBound:
        """"exact" when every notice was counted one by one; else "about" the sum."""
        return "exact" if all(n.bound == "exact" for n in self.notices) else "about"


@dataclass(frozen=True, slots=True)
class Announced:
    """An announcement taken on: a test copy sent, already known, sending, or scheduled."""

    id: str
    state: AnnouncementState
    recipients: int | None = None  # sending: about how many (kept counts; None: not known)
    send_at: datetime | None = None  # scheduled
    recipients_now: int | None = None  # scheduled: about how many it would reach now
    job: str = ""  # sending: the job that sends it, whose progress can be followed


@dataclass(frozen=True, slots=True)
class FollowedUp:
    """The announcements a follow-up became (one, or attendees' and absentees')."""

    announcements: tuple[Announced, ...]

    @property
    def recipients(self) -> int | None:
        """About how many in all; None when any part is not a kept count (attendance)."""
        counts = [a.recipients for a in self.announcements]
        return None if None in counts else sum(c for c in counts if c is not None)


@dataclass(frozen=True, slots=True)
class AnnouncementCancelled:
    id: str


@dataclass(frozen=True, slots=True)
class Decided:
    """Approvals or declines (services/approvals.py): who changed, who was refused and why."""

    decision: Literal["approve", "decline"]
    changed: tuple[str, ...]
    refused: dict[str, str]  # registrant id -> why not (not pending, not registered)


OrganiserResult = (Published | ChangePreview | Preview | Announced | FollowedUp
                   | AnnouncementCancelled | OrganiserJob | Decided)


class ConflictError(InvalidInputError):
    status = 409


class KeyReusedError(InvalidInputError):
    status = 422
