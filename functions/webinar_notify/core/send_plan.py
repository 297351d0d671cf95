"""When a fan-out must start so its last email is accepted before its window closes.

A reminder has a target moment (1 hour before the start) and a window that closes (at the
start); SES accepts at most R emails a second, so N emails take N / R seconds. When that fits
between the target and the close, sending starts at the target. When it does not, sending
starts early enough, about N / R ahead of the close (never before ``earliest``, e.g. the
previous reminder), and the window is reported as too small, with the rate that would fit it.
The email's wording stays true whenever it goes: the absolute time first, and "in about
2 hours" computed when it is written.

The margin covers what is not sending: the scheduler runs every 5 minutes, and the queue, the
sender's batching and retries of throttled emails take their share (10 % more time).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .durations import format_duration
from .schedule import Slot, slots
from .series import Series

SCHEDULER_PERIOD = timedelta(minutes=5)  # a slot may be seen up to this late
HEADROOM = 1.1  # sending time lost to queueing, batching and throttled retries


@dataclass(frozen=True, slots=True)
class SendPlan:
    recipients: int
    rate: float  # emails a second the account may send (SesSendRate)
    target: datetime  # when the emails should ideally go (the slot's opening)
    closes: datetime  # after this the email is no use (the next reminder, the start)
    start: datetime  # when the fan-out opens: the target, or earlier when it must

    @property
    def needs(self) -> timedelta:
        """The time N emails take at R, with the margin."""
        return sending_time(self.recipients, self.rate)

    @property
    def fits(self) -> bool:
        """The window from the target to the close holds N at R."""
        return self.needs <= self.closes - self.target

    @property
    def early_by(self) -> timedelta:
        return self.target - self.start

    @property
    def rate_needed(self) -> int:
        """Emails a second that would send N between the target and the close."""
        return rate_for(self.recipients, self.closes - self.target)

    @property
    def expected_late(self) -> int:
        """Emails that would still be accepted after the close, starting at ``start``."""
        room = (self.closes - self.start - SCHEDULER_PERIOD).total_seconds()
        return max(0, self.recipients - math.floor(max(0.0, room) * self.rate / HEADROOM))


def plan(recipients: int, rate: float, target: datetime, closes: datetime,
         earliest: datetime) -> SendPlan:
    """The plan for N recipients at R emails a second; ``earliest`` bounds how early."""
    if rate <= 0 or recipients <= 0:
        return SendPlan(recipients, rate, target, closes, target)
    start = min(target, max(earliest, closes - sending_time(recipients, rate)))
    return SendPlan(recipients, rate, target, closes, start)


def sending_time(recipients: int, rate: float) -> timedelta:
    if rate <= 0:
        return timedelta(0)
    return timedelta(seconds=math.ceil(recipients / rate * HEADROOM)) + SCHEDULER_PERIOD


def rate_for(recipients: int, window: timedelta) -> int:
    """The whole emails a second that send N, with the margin, within ``window``."""
    room = (window - SCHEDULER_PERIOD).total_seconds()
    if room <= 0:
        return recipients
    return math.ceil(recipients * HEADROOM / room)


def for_slot(slot: Slot, recipients: int, rate: float) -> SendPlan:
    """A reminder slot's plan: never earlier than the previous reminder (or a day ahead)."""
    return plan(recipients, rate, slot.opens, slot.closes,
                slot.after or slot.opens - timedelta(days=1))


@dataclass(frozen=True, slots=True)
class Crowded:
    """A reminder whose window cannot send its audience at the account's rate."""

    session_id: str
    offset: str  # "1h"
    plan: SendPlan

    def to_doc(self) -> dict[str, object]:
        p = self.plan
        return {"session": self.session_id, "reminder": self.offset,
                "recipients": p.recipients, "rate": p.rate,
                "window_seconds": int((p.closes - p.target).total_seconds()),
                "needs_seconds": int(p.needs.total_seconds()), "rate_needed": p.rate_needed,
                "starts_early_seconds": int(p.early_by.total_seconds()),
                "expected_late": p.expected_late}

    def sentence(self) -> str:
        """One line for an organiser: the figures and the rate that would fit."""
        p = self.plan
        late = f"; even so about {p.expected_late:,} would be too late" \
            if p.expected_late else ""
        return (f"{self.session_id}, the {self.offset} reminder: {p.recipients:,} emails at "
                f"{p.rate:g}/s need {_minutes(p.needs)}, its window is "
                f"{_minutes(p.closes - p.target)}; sending starts {_minutes(p.early_by)} "
                f"early{late}. A send rate of {p.rate_needed:,}/s would fit the window.")


def crowded(series: Series, audience: Callable[[str], int], rate: float,
            now: datetime) -> list[Crowded]:
    """The reminders still ahead whose window cannot hold their audience at ``rate``."""
    if rate <= 0:
        return []
    found = []
    for slot in slots(series):
        if slot.closes <= now:
            continue
        slot_plan = for_slot(slot, audience(slot.session_id), rate)
        if not slot_plan.fits:
            found.append(Crowded(slot.session_id, format_duration(slot.offset), slot_plan))
    return found


def _minutes(span: timedelta) -> str:
    minutes = math.ceil(span.total_seconds() / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
