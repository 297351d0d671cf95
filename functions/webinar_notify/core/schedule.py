"""What is due when: reminder slots, their windows, and who gets each one.

A slot is one reminder of one session (for example s1, 1 hour before, at SEQUENCE 0). It opens
at ``start - offset`` and stays open until the next, closer reminder of the same session
opens, or, for the closest one, until the session starts. A run that finds a slot open sends
it; a slot that closed before any run saw it (the scheduler was down) is dropped and counted,
so nobody reads "starts in 1 hour" after the start or gets two reminders back to back.
A moved session has new slots (they are keyed by the start time): reminders follow the new time.

Day-offset slots (7 days, 1 day) keep out of each registrant's quiet hours (core/quiet_hours.py):
a registrant's moment may come before the slot's nominal opening (down to the previous
reminder) or after it (before the next one). Hour and minute offsets stay exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Generic, Protocol, TypeVar

from babel.dates import format_timedelta
from babel.lists import format_list
from babel.units import format_unit

from . import i18n
from .durations import format_duration
from .quiet_hours import QuietHours, earliest_moment, moment_for
from .registration import Registration
from .series import Series


@dataclass(frozen=True, slots=True)
class Slot:
    session_id: str
    offset: timedelta
    start: datetime
    opens: datetime
    closes: datetime
    after: datetime | None = None  # the previous reminder of the session opens here

    @property
    def whole_days(self) -> bool:
        return self.offset % timedelta(days=1) == timedelta(0)

    @property
    def key(self) -> str:
        """The decision key: session, offset and start time. A moved session has new slots;
        a new title or join link does not make anyone get the same reminder again."""
        return f"{self.session_id}#{format_duration(self.offset)}#{self.start:%Y%m%dT%H%MZ}"


def slots(series: Series) -> list[Slot]:
    """Every reminder slot of every scheduled session, in the order they open."""
    result = []
    for session in series.sessions:
        if session.cancelled:
            continue
        offsets = sorted(series.offsets_for(session), reverse=True)
        for i, offset in enumerate(offsets):
            closes = before(session.start, offsets[i + 1]) if i + 1 < len(offsets) \
                else session.start
            after = before(session.start, offsets[i - 1]) if i else None
            result.append(Slot(session.id, offset, session.start.astimezone(UTC),
                               opens=before(session.start, offset), closes=closes, after=after))
    return sorted(result, key=lambda slot: (slot.opens, slot.session_id))


def before(start: datetime, offset: timedelta) -> datetime:
    """Whole days keep the wall-clock time ("a week before, at 15:00" across a DST change);
    hours and minutes are elapsed time."""
    if offset % timedelta(days=1) == timedelta(0):
        return start - offset
    return (start.astimezone(UTC) - offset).astimezone(start.tzinfo)


def shifts(slot: Slot, quiet: QuietHours | None) -> bool:
    """Whether this slot's moment depends on the registrant's zone."""
    return quiet is not None and slot.whole_days


def registrant_moment(slot: Slot, zone: str, quiet: QuietHours | None) -> datetime:
    """When a registrant in ``zone`` gets this reminder (the slot's opening, or the nearest
    moment outside their quiet hours, between the previous reminder and the next one)."""
    if not shifts(slot, quiet):
        return slot.opens
    return moment_for(slot.opens, zone, quiet, *_bounds(slot))


def first_moment(slot: Slot, quiet: QuietHours | None) -> datetime:
    """The earliest moment anyone anywhere gets this reminder (the slot's opening at most)."""
    if not shifts(slot, quiet):
        return slot.opens
    return earliest_moment(slot.opens, quiet, *_bounds(slot))


def _bounds(slot: Slot) -> tuple[datetime, datetime]:
    """[lower, upper): not before the previous reminder (without one, no earlier than a day
    before the opening), before the next reminder or the start."""
    return slot.after or slot.opens - timedelta(days=1), slot.closes


class Scheduled(Protocol):
    """Anything with a decision key and a window (reminder slots, notices, announcements)."""

    @property
    def key(self) -> str: ...
    @property
    def opens(self) -> datetime: ...
    @property
    def closes(self) -> datetime: ...


T = TypeVar("T", bound=Scheduled)


@dataclass(frozen=True, slots=True)
class Agenda(Generic[T]):
    """One run's view of a series: what to send now, what to drop, when to look again."""

    due: list[T]
    expired: list[T]
    next_due: datetime | None


def agenda(items: Iterable[T], now: datetime, decided: set[str]) -> Agenda[T]:
    open_now: list[T] = []
    expired: list[T] = []
    later: list[T] = []
    for item in items:
        if item.key in decided:
            continue
        if item.closes <= now:
            expired.append(item)
        elif item.opens <= now:
            open_now.append(item)
        else:
            later.append(item)
    return Agenda(due=open_now, expired=expired,
                  next_due=min((s.opens for s in later), default=None))


def wants_reminder(registration: Registration, slot: Slot, session_ids: list[str]) -> bool:
    """Registered for the session, still active, reminders on, and registered before the
    slot opened (no reminder for a moment that had passed when they signed up)."""
    return (not registration.reminders_off
            and slot.session_id in registration.sessions_in(session_ids)
            and registration.registered_since(slot.session_id) <= slot.opens.timestamp())


def until(start: datetime, now: datetime, language: str = i18n.SOURCE) -> str:
    """How long until a start, never more than it is: rounded down, in at most two units;
    days from 36 hours on ("in 7 days", "in 6 days 23 hours"), hours and minutes below
    ("in 24 hours", "in 16 hours 40 minutes", "in 25 minutes").

    ``now`` is the moment the email is composed; a reader who opens it later has less time
    than it says, never more, so rounding up ("in 17 hours" for 16 h 40 min) is never right.
    The email gives the absolute time too, which stays true whenever it is read. Other
    languages get Babel's units and list pattern ("dans 16 heures 40 minutes").
    """
    minutes = int((start - now).total_seconds()) // 60
    if start <= now:
        return i18n.tr(language, "now")
    if minutes == 0:
        return i18n.tr(language, "in less than a minute")
    if minutes >= 36 * 60:
        days, rest = divmod(minutes, 24 * 60)
        return _in(days, "day", rest // 60, "hour", language)
    return _in(minutes // 60, "hour", minutes % 60, "minute", language)


@lru_cache(maxsize=4096)
def _in(first_count: int, first_unit: str, second_count: int, second_unit: str,
        language: str) -> str:
    """``until``'s words for two amounts; cached, as emails say the same few phrases again
    and again (a session days away reads the same for an hour), and Babel's formatting
    costs more than the template."""
    parts = [(first_count, first_unit), (second_count, second_unit)]
    if language == i18n.SOURCE:
        return "in " + " ".join(_count(n, unit) for n, unit in parts if n)
    where = i18n.locale(language)
    counted = [(n, unit) for n, unit in parts if n]
    # The first unit carries the direction in the locale's own relative pattern ("in 7
    # Tagen", dative, not "in 7 Tage"): a threshold of the count itself keeps Babel on that
    # unit (7 days never become "1 week"); the second is a plain amount.
    first, unit = counted[0]
    head = format_timedelta(timedelta(**{f"{unit}s": first}), threshold=first,
                            add_direction=True, format="long", locale=where)
    tail = [format_unit(n, f"duration-{u}", length="long", locale=where) for n, u in counted[1:]]
    return format_list([head, *tail], style="unit-narrow", locale=where)


def _count(count: int, unit: str) -> str:
    return f"{count} {unit}" + ("" if count == 1 else "s")
