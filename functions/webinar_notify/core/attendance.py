"""How long each person was present at a session, from join and leave logs or an uploaded CSV.

Accreditation (EACCME, ESTRO) asks that live participation be confirmed, commonly as at least
85 % presence. Presence is computed from intervals, never from counted minutes alone, so that:

- reconnects are merged: every connection's [join, leave] is collected, then the union is taken,
  so two devices or an overlapping rejoin never count the same minute twice;
- time is clipped to the session's start..end: the waiting room before and the chat after do
  not count, and neither does a webinar left running;
- a leave without its join counts from the session's start only when it is the person's
  first event (a join before the webhook subscription); after any earlier event of theirs
  the lost join could have been any time since, so it counts nothing. A join without its leave
  (a lost webhook: Zoom sends a leave for everyone when a webinar ends) counts to the session's
  end. Every such guess is counted in ``assumed``: a certificate never rests on one
  (core.certificates: ``needs_review``) until Zoom's attendee report is uploaded, which
  replaces the webhook log of that session, or an organiser marks it;
- the same event delivered twice (webhooks are retried) counts once.

Uploads (Zoom's attendee report or a generic CSV) are checked whole first: any bad row refuses
the file with every row's error, so nothing is half imported. Errors name lines and columns,
never an address or a name.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

from .errors import InvalidInputError

DEFAULT_THRESHOLD = Fraction(85, 100)  # a common rule: at least 85 % of the session
MAX_ROW_ERRORS = 50  # a refused file lists this many row errors at most
MAX_UPLOAD_ROWS = 200_000
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")

PresenceKind = Literal["joined", "left"]


class AttendanceFileError(InvalidInputError):
    """An attendance upload that cannot be used: one line per bad row; nothing was recorded."""

    def __init__(self, summary: str, errors: Sequence[str] = ()) -> None:
        self.errors = tuple(errors)
        shown = "; ".join(self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"{summary}: {shown}{more}" if shown else summary)


@dataclass(frozen=True, slots=True)
class Interval:
    """A stretch of presence, both ends aware."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """One join or leave of one connection, as a platform logged it."""

    kind: PresenceKind
    at: datetime  # aware
    connection: str = ""  # the platform's id of this connection ("" when it gives none)


@dataclass(frozen=True, slots=True)
class Presence:
    """One person at one session."""

    seconds: int  # present, clipped to the session, overlaps counted once
    duration_seconds: int  # the session's own length
    intervals: tuple[Interval, ...] = ()
    assumed: int = 0  # interval ends taken from the session's bounds (a join or leave missing)

    @property
    def minutes(self) -> int:
        """Whole minutes present (rounded down: a certificate never overstates)."""
        return self.seconds // 60

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.seconds, self.duration_seconds) if self.duration_seconds else \
            Fraction(0)

    def meets(self, threshold: Fraction = DEFAULT_THRESHOLD) -> bool:
        """Present for at least ``threshold`` of the session (exact, no float rounding)."""
        return self.duration_seconds > 0 and self.fraction >= threshold


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of intervals, sorted: overlapping or touching ones become one."""
    out: list[Interval] = []
    for current in sorted(intervals, key=lambda i: (i.start, i.end)):
        if out and current.start <= out[-1].end:
            if current.end > out[-1].end:
                out[-1] = Interval(out[-1].start, current.end)
        else:
            out.append(current)
    return out


def clipped(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The parts of intervals inside start..end, empty ones dropped."""
    inside = (Interval(max(i.start, start), min(i.end, end)) for i in intervals)
    return [i for i in inside if i.end > i.start]


def presence(intervals: Iterable[Interval], start: datetime, end: datetime,
             assumed: int = 0) -> Presence:
    """Presence within start..end: clipped, then merged, then summed."""
    union = merged(clipped(intervals, start, end))
    return Presence(seconds=int(sum(i.seconds for i in union)),
                    duration_seconds=int((end - start).total_seconds()),
                    intervals=tuple(union), assumed=assumed)


def intervals_from_events(events: Iterable[PresenceEvent], start: datetime,
                          end: datetime) -> tuple[list[Interval], int]:
    """Pair each connection's joins and leaves in time order (first in, first out), filling a
    missing end from the session's bounds (see the module doc). Returns the intervals and how
    many ends were assumed."""
    unique = sorted(set(events), key=lambda e: (e.at, e.kind != "joined", e.connection))
    open_joins: dict[str, list[datetime]] = defaultdict(list)
    found: list[Interval] = []
    assumed = 0
    for index, event in enumerate(unique):
        waiting = open_joins[event.connection]
        if event.kind == "joined":
            waiting.append(event.at)
        elif waiting:
            found.append(Interval(waiting.pop(0), event.at))
        else:
            if index == 0:  # joined before anything was logged: from the start
                found.append(Interval(min(start, event.at), event.at))
            assumed += 1
    for waiting in open_joins.values():
        for joined in waiting:
            found.append(Interval(joined, max(end, joined)))
            assumed += 1
    return found, assumed


def presence_from_events(events: Iterable[PresenceEvent], start: datetime,
                         end: datetime) -> Presence:
    """One person's presence at a session from their join and leave events."""
    intervals, assumed = intervals_from_events(events, start, end)
    return presence(intervals, start, end, assumed)


# -- uploads -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AttendanceUpload:
    """What an uploaded file says, per address (lower case): intervals where the file gives
    join and leave times, minutes where it gives only a duration."""

    intervals: Mapping[str, tuple[Interval, ...]] = field(default_factory=dict)
    minutes: Mapping[str, float] = field(default_factory=dict)
    rows: int = 0  # rows read that say someone attended

    def presence(self, start: datetime, end: datetime) -> dict[str, Presence]:
        """Each address's presence at the session that runs start..end. Minutes without times
        cannot be placed in time: they are summed and capped at the session's length."""
        duration = int((end - start).total_seconds())
        result = {email: presence(found, start, end) for email, found in self.intervals.items()}
        for email, minutes in self.minutes.items():
            extra = min(duration, round(minutes * 60))
            known = result.get(email)
            seconds = min(duration, extra + (known.seconds if known else 0))
            result[email] = Presence(seconds, duration, known.intervals if known else ())
        return result


# Zoom writes its report's times in the time zone of the account that downloads it, month
# first (10/26/2023 02:58:00 PM). Day-first dates are not guessed at: a report re-saved that
# way has its Actual Start Time on another day than the session, and is refused for that.
_ZOOM_TIME_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p",
                      "%m/%d/%Y %H:%M", "%b %d, %Y %I:%M:%S %p", "%b %d, %Y %H:%M:%S")
_SECTIONS = {"host details", "panelist details", "attendee details", "other attended",
             "registrant details"}
_REPORT_START_TOLERANCE = timedelta(hours=12)


def parse_time(text: str, zone: ZoneInfo, formats: Sequence[str] = _ZOOM_TIME_FORMATS
               ) -> datetime | None:
    """A report's time: ISO 8601 (an offset is kept, none means ``zone``) or one of ``formats``
    read in ``zone``; None when it is none of these."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
        for pattern in formats:
            try:
                moment = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """CSV rows of an upload (a UTF-8 byte order mark dropped), each with the line it ends
    on (what an organiser sees in an editor), bounded in number."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
            if len(rows) > MAX_UPLOAD_ROWS:
                raise AttendanceFileError(f"the file has more than {MAX_UPLOAD_ROWS} rows")
    except csv.Error as error:
        raise AttendanceFileError(f"line {reader.line_num}: not CSV ({error})") from None
    return rows


def _header_index(header: Sequence[str]) -> dict[str, int]:
    return {name.strip().lower(): i for i, name in enumerate(header) if name.strip()}


def _cell(row: Sequence[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


class _Collector:
    """Rows gathered per address, and the errors of the bad ones."""

    def __init__(self) -> None:
        self.intervals: dict[str, list[Interval]] = defaultdict(list)
        self.minutes: dict[str, float] = defaultdict(float)
        self.errors: list[str] = []
        self.rows = 0

    def error(self, line: int, message: str) -> None:
        if len(self.errors) < MAX_ROW_ERRORS:
            self.errors.append(f"line {line}: {message}")

    def add_times(self, line: int, email: str, join: str, leave: str, zone: ZoneInfo) -> bool:
        joined, left = parse_time(join, zone), parse_time(leave, zone)
        if joined is None or left is None:
            bad = "join time" if joined is None else "leave time"
            self.error(line, f"the {bad} is not a date and time this file format uses")
            return False
        if left < joined:
            self.error(line, "the leave time is before the join time")
            return False
        self.intervals[email].append(Interval(joined, left))
        self.rows += 1
        return True

    def add_minutes(self, line: int, email: str, text: str) -> bool:
        try:
            minutes = float(text.replace(",", "."))
        except ValueError:
            minutes = math.nan
        if not math.isfinite(minutes) or minutes < 0:
            self.error(line, "minutes must be a number of minutes, 0 or more")
            return False
        self.minutes[email] += minutes
        self.rows += 1
        return True

    def result(self, summary: str) -> AttendanceUpload:
        if self.errors:
            raise AttendanceFileError(summary, self.errors)
        return AttendanceUpload(
            intervals={e: tuple(found) for e, found in self.intervals.items()},
            minutes=dict(self.minutes),
            rows=self.rows)


def _address(collector: _Collector, line: int, text: str) -> str | None:
    email = text.strip().lower()
    if not _EMAIL.match(email):
        collector.error(line, "the email column does not hold an email address")
        return None
    return email


def parse_zoom_report(text: str, zone: ZoneInfo, session_start: datetime | None = None
                      ) -> AttendanceUpload:
    """Zoom's webinar attendee report (Reports > Webinars > Attendee report, CSV).

    It opens with a header block ("Attendee Report", "Report Generated:", then the webinar's
    Topic, Webinar ID, Actual Start Time ... and their values), followed by sections ("Host
    Details", "Panelist Details", "Attendee Details", "Other Attended"), each with its own
    header row holding at least Email, Join Time, Leave Time and Time in Session (minutes).
    Someone who reconnected has one row per connection. Rows of registrants who did not
    attend (Attended "No", times "--") are skipped. Hosts and panelists count like attendees:
    whether a panelist may earn a certificate is the rules' business, not the report's.

    The times carry no zone: they are in the zone of the Zoom account that downloaded the
    report, given as ``zone``. With ``session_start``, a report of a webinar that started more
    than 12 hours away from it is refused as the report of another session.
    """
    rows = _rows(text)
    collector = _Collector()
    header: dict[str, int] | None = None
    saw_section = False
    for index, (number, row) in enumerate(rows):
        cells = [c.strip() for c in row]
        first = cells[0].lower().rstrip(":,") if cells else ""
        if not any(cells):
            continue
        if first == "topic" and "actual start time" in _header_index(cells) and \
                index + 1 < len(rows):
            _check_report_start(rows[index + 1][1], _header_index(cells), zone, session_start)
            continue
        if first in _SECTIONS and not any(cells[1:]):
            header, saw_section = None, True
            continue
        if header is None and saw_section:
            header = _header_index(cells)
            missing = [c for c in ("email", "join time", "leave time") if c not in header]
            if missing:
                raise AttendanceFileError(f"line {number}: this section's header lacks "
                                          + ", ".join(f'"{c}"' for c in missing))
            continue
        if header is None:
            continue  # the header block before the first section
        if _cell(row, header.get("attended")).lower() == "no" or \
                _cell(row, header["join time"]) in ("", "--"):
            continue
        email = _address(collector, number, _cell(row, header["email"]))
        if email is not None:
            collector.add_times(number, email, _cell(row, header["join time"]),
                                _cell(row, header["leave time"]), zone)
    if not saw_section:
        raise AttendanceFileError("this is not a Zoom attendee report: it has no "
                                  "\"Attendee Details\" section")
    return collector.result("the Zoom attendee report was not imported")


def _check_report_start(values: Sequence[str], header: Mapping[str, int], zone: ZoneInfo,
                        session_start: datetime | None) -> None:
    started = parse_time(_cell(values, header.get("actual start time")), zone)
    if session_start is not None and started is not None and \
            abs(started - session_start) > _REPORT_START_TOLERANCE:
        raise AttendanceFileError(
            f"this report is of a webinar that started {started.astimezone(UTC):%Y-%m-%d %H:%M}"
            f" UTC, not of this session ({session_start.astimezone(UTC):%Y-%m-%d %H:%M} UTC)")


def parse_generic_csv(text: str, zone: ZoneInfo) -> AttendanceUpload:
    """A simple CSV with a header row: ``email`` and either ``minutes``, or ``join`` and
    ``leave`` (ISO 8601; a time without an offset is in ``zone``). Several rows per address
    add up (time ranges are merged, minutes are summed, both capped at the session)."""
    rows = _rows(text)
    if not rows:
        raise AttendanceFileError("the file is empty")
    header = _header_index(rows[0][1])
    has_times = "join" in header and "leave" in header
    if "email" not in header or not (has_times or "minutes" in header):
        raise AttendanceFileError('line 1: the header needs "email" and either "minutes" or '
                                  '"join" and "leave"')
    collector = _Collector()
    for number, row in rows[1:]:
        if not any(c.strip() for c in row):
            continue
        email = _address(collector, number, _cell(row, header["email"]))
        if email is None:
            continue
        join, leave = _cell(row, header.get("join")), _cell(row, header.get("leave"))
        if has_times and (join or leave):
            collector.add_times(number, email, join, leave, zone)
        elif "minutes" in header and _cell(row, header["minutes"]):
            collector.add_minutes(number, email, _cell(row, header["minutes"]))
        else:
            collector.error(number, "the row gives neither minutes nor join and leave times")
    return collector.result("the attendance file was not imported")
