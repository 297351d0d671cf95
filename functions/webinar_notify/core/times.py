"""Session times as people read them: in their own zone and in the series' zone.

Every conversion happens at the session's own date, so a Toronto reader sees 09:00 EDT on
26 Oct 2023 and 09:00 EST on 6 Nov 2023 for the same 15:00 in Brussels.

English keeps its compact form ("Thu 26 Oct 2023 09:00 EDT"); every other language is written
by Babel in that locale's own words and order ("jeudi 26 octobre 2023 15:00 UTC+2"), with the
zone's abbreviation where the locale has one and the UTC offset where it has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time, get_timezone_name

from . import i18n


@dataclass(frozen=True, slots=True)
class SessionTime:
    starts: str  # "Thu 26 Oct 2023 09:00 EDT (15:00 CEST)"
    ends: str  # "10:00 EDT (16:00 CEST)", with the day when it is another one
    minutes: int
    shows_series_time: bool  # False when the reader's clock reads the same as the series' one
    starts_local: str = ""  # "Thu 26 Oct 2023 09:00 EDT": the reader's part, kept on one line
    starts_series: str = ""  # "15:00 CEST", or "" when the series' view is left out


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


def local_zone_label(moment: datetime, language: str) -> str:
    """The zone as the locale abbreviates it (MESZ in German), else as ``zone_label``.

    Only where the time zone database has letters for the zone: where it has none (Morocco's
    +01, Riyadh's +03), CLDR may still name the zone's "metazone", whose abbreviation can be
    another offset (Casablanca at UTC+1 is "WEZ"/"WET", which means UTC+0), so the offset is
    said instead, as in English."""
    label = zone_label(moment)
    if label.startswith("UTC"):
        return label
    name = get_timezone_name(moment, width="short", locale=i18n.locale(language))
    return name if name and name[0] not in "+-" else label


def clock(moment: datetime, language: str = i18n.SOURCE) -> str:
    if language == i18n.SOURCE:
        return f"{moment:%H:%M} {zone_label(moment)}"
    time = format_time(moment, "HH:mm", locale=i18n.locale(language))
    return f"{time} {local_zone_label(moment, language)}"


def day(moment: datetime, language: str = i18n.SOURCE) -> str:
    """The full date: "Thu 26 Oct 2023", "jeudi 26 octobre 2023", "Donnerstag, 26. Oktober
    2023"."""
    if language == i18n.SOURCE:
        return f"{moment:%a} {moment.day} {moment:%b %Y}"
    return format_date(moment, "full", locale=i18n.locale(language))


def short_day(moment: datetime, language: str = i18n.SOURCE) -> str:
    """A day next to another date of the same text: "Fri 27 Oct", "ven. 27 oct."."""
    if language == i18n.SOURCE:
        return f"{moment:%a} {moment.day} {moment:%b}"
    return format_skeleton("MMMEd", moment, locale=i18n.locale(language))


def describe(start: datetime, end: datetime, reader_zone: str, series_zone: str,
             language: str = i18n.SOURCE) -> SessionTime:
    """Both views of one session; the series' view is left out when it reads the same
    (Copenhagen and Brussels share CET/CEST, so "15:00 CEST (15:00 CEST)" never appears).

    Made once per session time, zone and language: a fan-out writes the same session for
    thousands of readers in a few dozen zones. The result depends only on the two instants
    (equal datetimes in other zones are the same instants), the zones and the language."""
    return _described(start, end, reader_zone, series_zone, language)


@lru_cache(maxsize=4096)
def _described(start: datetime, end: datetime, reader_zone: str, series_zone: str,
               language: str) -> SessionTime:
    reader, home = ZoneInfo(reader_zone), ZoneInfo(series_zone)
    local_start, local_end = start.astimezone(reader), end.astimezone(reader)
    home_start, home_end = start.astimezone(home), end.astimezone(home)
    starts_local = starts = f"{day(local_start, language)} {clock(local_start, language)}"
    starts_series = ""
    ends = _moment_after(local_end, local_start, language)
    shows_series_time = (_view(local_start), _view(local_end)) != \
        (_view(home_start), _view(home_end))
    if shows_series_time:
        starts_series = _moment_after(home_start, local_start, language)
        starts += f" ({starts_series})"
        ends += f" ({_moment_after(home_end, home_start, language)})"
    minutes = int((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() // 60)
    return SessionTime(starts=starts, ends=ends, minutes=minutes,
                       shows_series_time=shows_series_time, starts_local=starts_local,
                       starts_series=starts_series)


def _view(moment: datetime) -> tuple[object, ...]:
    return moment.date(), moment.time(), zone_label(moment)


def _moment_after(moment: datetime, reference: datetime, language: str) -> str:
    """The clock time, with its day in front when that is not the reference's day."""
    if moment.date() == reference.date():
        return clock(moment, language)
    return f"{short_day(moment, language)} {clock(moment, language)}"
