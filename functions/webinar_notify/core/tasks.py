"""Everything the scheduler fans out, behind one shape: a key decided once, a window, who
wants it, and the email job for one of them.

    reminder       a slot before a session (core/schedule.py)
    notice         a session changed or was cancelled: "update" or "cancellation"
    announcement   an organiser's message to an audience, now or at a time
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from . import announcements
from .announcements import Announcement
from .jobs import EmailJob, EmailKind, delivery_key
from .kinds import (
    AnnouncementPayload,
    CancellationPayload,
    Payload,
    ReminderPayload,
    UpdatePayload,
)
from .quiet_hours import QuietHours
from .registration import Registrant, Registration
from .schedule import (
    Scheduled,
    Slot,
    first_moment,
    registrant_moment,
    shifts,
    wants_reminder,
)
from .series import Series

EARLY_SUFFIX = "#early"  # the key of a slot's early pass: the slot's key and this
ANNOUNCEMENT_WINDOW = timedelta(days=1)  # a scheduled announcement unseen for a day is dropped


class Task(Scheduled, Protocol):
    def wants(self, registration: Registration, series: Series) -> bool: ...
    def job(self, registration: Registration, series: Series) -> EmailJob: ...


@dataclass(frozen=True, slots=True)
class ReminderTask:
    """One pass over a slot's registrants. With quiet hours, a day-offset slot has two: an
    early pass (from the first moment anyone gets it) for those whose moment comes before the
    slot's opening, and the main pass at the opening for everyone else. Both send under the
    main pass's key, so an email's ledger key is the same whichever pass sends it."""

    slot: Slot
    quiet: QuietHours | None = None
    early: bool = False
    lead: timedelta = timedelta(0)  # the main pass opens this much early (core/send_plan.py)

    @property
    def key(self) -> str:
        return f"{self.slot.key}{EARLY_SUFFIX}" if self.early else self.slot.key

    @property
    def opens(self) -> datetime:
        if self.early:
            return first_moment(self.slot, self.quiet)
        return self.slot.opens - self.lead

    @property
    def closes(self) -> datetime:
        return self.slot.opens if self.early else self.slot.closes

    @property
    def main(self) -> ReminderTask:
        """The pass whose key and window every email of this slot carries."""
        return replace(self, early=False)

    def moment(self, registration: Registration, series: Series) -> datetime:
        """When this registrant gets the reminder (their quiet hours, their zone)."""
        return registrant_moment(self.slot, registration.registrant.time_zone or
                                 series.time_zone, self.quiet)

    def wants(self, registration: Registration, series: Series) -> bool:
        if not (registration.opted_in and registration.approval == "approved"
                and wants_reminder(registration, self.slot, _scheduled(series))):
            return False
        if not shifts(self.slot, self.quiet):
            return not self.early
        return (self.moment(registration, series) < self.slot.opens) == self.early

    def job(self, registration: Registration, series: Series) -> EmailJob:
        others = tuple(s for s in registration.sessions_in(_scheduled(series))
                       if s != self.slot.session_id)
        return _job("reminder", series, registration, (self.slot.session_id,), self.key,
                    also=others, payload=ReminderPayload(), not_after=self.closes)


NoticeKind = Literal["update", "cancellation", "new_session"]


@dataclass(frozen=True, slots=True)
class Notice:
    """A change to one session that its registrants must see (and their calendars apply)."""

    session_id: str
    sequence: int
    kind: NoticeKind
    created: datetime
    closes: datetime  # the session's end: after it, a change means nothing any more
    previous_start: datetime | None = None
    previous_end: datetime | None = None

    @property
    def key(self) -> str:
        return f"notice#{self.session_id}#{self.sequence}"

    @property
    def opens(self) -> datetime:
        return self.created

    def wants(self, registration: Registration, series: Series) -> bool:
        if not registration.opted_in or registration.approval != "approved":
            return False
        if self.kind == "new_session":  # offered to those registered for the whole series
            return registration.status == "active" and registration.whole_series
        # Those who registered after the change already got it in their confirmation.
        return self.session_id in registration.sessions_in([s.id for s in series.sessions]) \
            and registration.registered_since(self.session_id) <= self.created.timestamp()

    def job(self, registration: Registration, series: Series) -> EmailJob:
        payload: Payload = CancellationPayload() if self.kind == "cancellation" else \
            UpdatePayload("new_session" if self.kind == "new_session" else "update",
                          self.previous_start, self.previous_end)
        return _job(payload.KIND, series, registration, (self.session_id,), self.key,
                    payload=payload, not_after=self.closes)


@dataclass(frozen=True, slots=True)
class AnnouncementTask:
    announcement: Announcement

    @property
    def key(self) -> str:
        return f"announcement#{self.announcement.id}"

    @property
    def opens(self) -> datetime:
        return self.announcement.send_at

    @property
    def closes(self) -> datetime:
        return self.announcement.send_at + ANNOUNCEMENT_WINDOW

    def wants(self, registration: Registration, series: Series) -> bool:
        return not registration.announcements_off and in_audience(
            registration, self.announcement, series)

    def job(self, registration: Registration, series: Series) -> EmailJob:
        return _job("announcement", series, registration,
                    self.announcement.audience.values if self.announcement.audience.kind in (
                        "sessions", "attended", "absent") else (),
                    self.key, payload=AnnouncementPayload(self.announcement.id),
                    not_after=self.closes)


def in_audience(registration: Registration, announcement: Announcement, series: Series) -> bool:
    audience = announcement.audience
    if registration.status != "active" or not registration.opted_in \
            or registration.approval != "approved":
        return False
    registered = set(registration.sessions_in([s.id for s in series.sessions]))
    if audience.kind == "all":
        return True
    if audience.kind == "sessions":
        return bool(registered & set(audience.values))
    if audience.kind == "interest":
        return audience.values[0] in registration.interests
    session = series.session(audience.values[0])
    if session is None or session.id not in registered or \
            registration.registered_since(session.id) > session.start.timestamp():
        return False  # not theirs, or they signed up after it took place
    attended = session.id in registration.attended
    return attended if audience.kind == "attended" else not attended


def _scheduled(series: Series) -> list[str]:
    return [s.id for s in series.sessions if not s.cancelled]


def _recipient(registration: Registration, session_ids: tuple[str, ...]) -> Registrant:
    recipient = registration.registrant
    if len(session_ids) == 1:  # about one session: carry that session's personal link
        recipient = replace(recipient, join_url=registration.join_url_for(session_ids[0]))
    return recipient


NOBODY = Registrant(email="", full_name="", time_zone="UTC")


def unaddressed(job: EmailJob) -> EmailJob:
    """The job without the person's address, name or link: what is kept while it waits
    (a parked reminder), so nothing personal outlives an erasure meanwhile."""
    return replace(job, recipient=NOBODY)


def addressed(job: EmailJob, registration: Registration) -> EmailJob:
    """The waiting job addressed again from the registration as it is now."""
    return replace(job, recipient=_recipient(registration, job.session_ids))


def _job(kind: EmailKind, series: Series, registration: Registration,
         session_ids: tuple[str, ...], task_key: str, *, also: tuple[str, ...] = (),
         payload: Payload, not_after: datetime) -> EmailJob:
    recipient = _recipient(registration, session_ids)
    return EmailJob(kind=kind, series_id=series.id, series_revision=series.revision,
                    registrant_id=registration.registrant_id, recipient=recipient,
                    session_ids=session_ids, also=also, payload=payload, not_after=not_after,
                    key=delivery_key(kind, series.id, registration.registrant_id, task_key))


def session_notices(stored: Series, merged: Series, now: datetime) -> list[Notice]:
    """The changes registrants must hear about: every session whose SEQUENCE went up."""
    notices = []
    for session in merged.sessions:
        before = stored.session(session.id)
        if before is None:
            if not session.cancelled:
                notices.append(Notice(session.id, session.sequence, "new_session", now,
                                      session.end))
        elif session.sequence > before.sequence and not (before.cancelled and session.cancelled):
            kind: NoticeKind = "cancellation" if session.cancelled else "update"
            moved = (before.start, before.end) != (session.start, session.end)
            notices.append(Notice(session.id, session.sequence, kind, now,
                                  max(session.end, before.end),
                                  before.start if moved else None,
                                  before.end if moved else None))
    return notices


def task_doc(task: Notice | AnnouncementTask) -> dict[str, object]:
    """A stored task, as JSON-able data."""
    if isinstance(task, AnnouncementTask):
        return {"type": "announcement", **task.announcement.to_doc()}
    return {"type": "notice", "session_id": task.session_id, "sequence": task.sequence,
            "kind": task.kind, "created": task.created.isoformat(),
            "closes": task.closes.isoformat(),
            "previous_start": task.previous_start.isoformat() if task.previous_start else None,
            "previous_end": task.previous_end.isoformat() if task.previous_end else None}


def task_from_doc(doc: dict[str, Any]) -> Notice | AnnouncementTask:
    if doc["type"] == "announcement":
        return AnnouncementTask(announcement_from_doc(doc))
    return Notice(session_id=doc["session_id"], sequence=int(doc["sequence"]), kind=doc["kind"],
                  created=_instant(doc["created"]), closes=_instant(doc["closes"]),
                  previous_start=_instant(doc["previous_start"]) if doc.get("previous_start")
                  else None,
                  previous_end=_instant(doc["previous_end"]) if doc.get("previous_end")
                  else None)


announcement_from_doc = announcements.announcement_from_doc  # still importable from here


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)
