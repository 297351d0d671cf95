"""Session times as people read them: in their own zone and in the series' zone.

Every conversion happens at the session's own date, so a Toronto reader sees 09:00 EDT on
26 Oct 2023 and 09:00 EST on 6 Nov 2023 for the same 15:00 in Brussels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class SessionTime:
    starts: str  # "Thu 26 Oct 2023 09:00 EDT (15:00 CEST)"
    ends: str  # "10:00 EDT (16:00 CEST)"
    minutes: int
    local_date: str  # "Thu 26 Oct 2023", in the reader's zone


def zone_label(moment: datetime) -> str:
    """The zone's abbreviation (CEST, EDT), or UTC+3 where the zone has no letters."""
    name = moment.tzname() or ""
    if name and name[0] not in "+-":
        return name
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def clock(moment: datetime) -> str:
    return f"{moment:%H:%M} {zone_label(moment)}"


def day(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %Y}"


def describe(start: datetime, end: datetime, reader_zone: str, series_zone: str) -> SessionTime:
    """Both views of one session; the series' view is left out when it is the same zone."""
    reader, home = ZoneInfo(reader_zone), ZoneInfo(series_zone)
    local_start, local_end = start.astimezone(reader), end.astimezone(reader)
    starts, ends = f"{day(local_start)} {clock(local_start)}", clock(local_end)
    if reader_zone != series_zone:
        home_start, home_end = start.astimezone(home), end.astimezone(home)
        same_day = home_start.date() == local_start.date()
        starts += f" ({clock(home_start)})" if same_day else \
            f" ({home_start:%a} {home_start.day} {home_start:%b} {clock(home_start)})"
        ends += f" ({clock(home_end)})"
    minutes = int((end - start).total_seconds() // 60)
    return SessionTime(starts=starts, ends=ends, minutes=minutes, local_date=day(local_start))
