"""Quiet hours: day-offset reminders ("in 7 days", "tomorrow") reach each registrant in their
own daytime.

A slot's nominal moment follows the series' clock (15:00 Brussels, a day before); for a
registrant in Sydney that is after midnight. The registrant's moment is the nearest instant
outside the quiet hours of their own zone (the earlier one on a tie), kept inside the slot's
bounds: never before the previous reminder, never at or after the next one or the session.
When no such instant exists the nominal moment stands. Hour and minute offsets stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local times between which no day-offset reminder arrives, both ends allowed (the
    default: after 21:00 and before 08:00); across midnight when end <= start."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def is_quiet(self, local: datetime) -> bool:
        now, start, end = _minutes(local.time()), _minutes(self.start), _minutes(self.end)
        if start < end:
            return start < now < end
        return now > start or now < end

    def to_doc(self) -> dict[str, str]:
        return {"from": f"{self.start:%H:%M}", "to": f"{self.end:%H:%M}"}


DEFAULT_QUIET_HOURS = QuietHours()


def moment_for(nominal: datetime, zone: str, quiet: QuietHours | None,
               lower: datetime, upper: datetime) -> datetime:
    """When one registrant in ``zone`` gets a reminder due at ``nominal``: ``nominal`` if it
    is outside the quiet hours there, else the nearest allowed instant in [lower, upper)."""
    if quiet is None:
        return nominal
    return _moment(nominal.astimezone(UTC), _zone(zone), quiet, lower.astimezone(UTC),
                   upper.astimezone(UTC))


@lru_cache(maxsize=4096)
def earliest_moment(nominal: datetime, quiet: QuietHours | None, lower: datetime,
                    upper: datetime) -> datetime:
    """The earliest moment any registrant anywhere can get this reminder: the first pass of
    a slot runs then. Every UTC offset in use (-12:00 to +14:00, quarter hours) is tried,
    once per slot and bounds (the scheduler plans the same slots at every run)."""
    if quiet is None:
        return nominal
    nominal_utc, low, high = nominal.astimezone(UTC), lower.astimezone(UTC), \
        upper.astimezone(UTC)
    offsets = (timezone(timedelta(minutes=15 * q)) for q in range(-48, 14 * 4 + 1))
    return min(_moment(nominal_utc, zone, quiet, low, high) for zone in offsets)


def _moment(nominal: datetime, zone: ZoneInfo | timezone, quiet: QuietHours,
            lower: datetime, upper: datetime) -> datetime:
    local = nominal.astimezone(zone)
    if not quiet.is_quiet(local):
        return nominal
    began = _last_at(local, quiet.start)  # the quiet hours we are in began here...
    ends = _next_at(local, quiet.end)  # ...and end here
    earlier = began.astimezone(UTC)
    later = ends.astimezone(UTC)
    choices = [c for c in (earlier, later) if lower <= c < upper]
    if not choices:
        return nominal
    return min(choices, key=lambda c: (abs(c - nominal), c))


def _last_at(local: datetime, wall: time) -> datetime:
    """The latest instant at or before ``local`` whose wall-clock time is ``wall``."""
    candidate = _at(local.date(), wall, local)
    return candidate if candidate <= local else _at(local.date() - _DAY, wall, local)


def _next_at(local: datetime, wall: time) -> datetime:
    """The earliest instant after ``local`` whose wall-clock time is ``wall``."""
    candidate = _at(local.date(), wall, local)
    return candidate if candidate > local else _at(local.date() + _DAY, wall, local)


def _at(day: date, wall: time, like: datetime) -> datetime:
    # A wall time inside a DST gap is read as the instant just after it (fold 0 semantics).
    naive = datetime.combine(day, wall)
    return naive.replace(tzinfo=like.tzinfo).astimezone(UTC).astimezone(like.tzinfo)


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
