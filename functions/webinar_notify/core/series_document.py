"""Series documents (a YAML file, or the stored JSON) to the model and back.

Every error names the field it is about, e.g. ``sessions[2].start: ...``, and unknown fields
are errors too, so a typo in a series file never goes unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from .durations import format_duration, parse_duration
from .errors import InvalidInputError, SeriesFileError
from .series import (
    DEFAULT_REMINDER_OFFSETS,
    ComingItem,
    Contact,
    Organiser,
    Series,
    Session,
    SessionStatus,
)
from .text import is_time_zone, normalise_email

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_URL = re.compile(r"^https?://[^\s<>\"]+$")
_STATUSES: tuple[SessionStatus, ...] = ("scheduled", "cancelled")
T = TypeVar("T")

SERIES_FIELDS = {
    "id", "title", "description", "time_zone", "sender", "reply_to", "organisers",
    "endorsements", "topics", "audience", "url", "reminders", "sessions", "coming",
    "uid_domain", "revision",
}
SESSION_FIELDS = {
    "id", "title", "start", "duration_minutes", "join_url", "status", "description",
    "reminders", "sequence", "updated_at",
}


class _Reader:
    """Reads one mapping, remembering where it is for error messages."""

    def __init__(self, data: object, path: str, allowed: set[str]) -> None:
        if not isinstance(data, Mapping):
            raise SeriesFileError(f"{path or 'series'}: expected a mapping")
        self.data = cast(Mapping[str, Any], data)
        self.path = path
        unknown = sorted(str(k) for k in self.data if k not in allowed)
        if unknown:
            raise SeriesFileError(f"{self.at(unknown[0])}: unknown field")

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def text(self, key: str, *, required: bool = False, limit: int = 10_000) -> str:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise SeriesFileError(f"{self.at(key)}: required")
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise SeriesFileError(f"{self.at(key)}: expected text")
        text = str(value).strip()
        if len(text) > limit:
            raise SeriesFileError(f"{self.at(key)}: longer than {limit} characters")
        if any(ch in text for ch in "\x00\r") or (limit <= 300 and "\n" in text):
            raise SeriesFileError(f"{self.at(key)}: must be a single line of text")
        return text

    def slug(self, key: str) -> str:
        value = self.text(key, required=True)
        if not _SLUG.match(value):
            raise SeriesFileError(
                f"{self.at(key)}: use lower-case letters, digits and hyphens (got {value!r})")
        return value

    def url(self, key: str) -> str | None:
        value = self.text(key)
        if value and not _URL.match(value):
            raise SeriesFileError(f"{self.at(key)}: expected an http(s) URL")
        return value or None

    def convert(self, key: str, convert: Callable[[Any], T], *, default: T) -> T:
        if key not in self.data or self.data[key] is None:
            return default
        try:
            return convert(self.data[key])
        except InvalidInputError as error:
            raise SeriesFileError(f"{self.at(key)}: {error}") from None
        except (TypeError, ValueError) as error:
            raise SeriesFileError(f"{self.at(key)}: {error}") from None

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise SeriesFileError(f"{self.at(key)}: expected a list")
        return value


def parse_series(data: object) -> Series:
    """Validate a series document and build the model; raises SeriesFileError."""
    r = _Reader(data, "", SERIES_FIELDS)
    time_zone = r.text("time_zone", required=True)
    if not is_time_zone(time_zone):
        raise SeriesFileError(f"time_zone: unknown time zone {time_zone!r}")
    zone = ZoneInfo(time_zone)
    sessions = tuple(
        _session(item, f"sessions[{i}]", zone) for i, item in enumerate(r.items("sessions")))
    if not sessions:
        raise SeriesFileError("sessions: at least one session is required")
    _unique([s.id for s in sessions], "sessions")
    coming = tuple(_coming(item, f"coming[{i}]") for i, item in enumerate(r.items("coming")))
    _unique([c.id for c in coming], "coming")
    return Series(
        id=r.slug("id"),
        title=r.text("title", required=True, limit=300),
        description=r.text("description"),
        time_zone=time_zone,
        sender=_contact(r.data.get("sender"), "sender", required=True),
        reply_to=_contact(r.data.get("reply_to"), "reply_to") if r.data.get("reply_to") else None,
        organisers=tuple(_organiser(o, f"organisers[{i}]")
                         for i, o in enumerate(r.items("organisers"))),
        endorsements=tuple(_line(e, f"endorsements[{i}]")
                           for i, e in enumerate(r.items("endorsements"))),
        topics=tuple(_line(t, f"topics[{i}]") for i, t in enumerate(r.items("topics"))),
        audience=r.text("audience"),
        url=r.url("url"),
        coming=coming,
        sessions=sessions,
        uid_domain=r.text("uid_domain", limit=253),
        reminder_offsets=r.convert("reminders", _offsets, default=DEFAULT_REMINDER_OFFSETS),
        revision=r.convert("revision", _non_negative, default=0),
    )


def series_to_document(series: Series) -> dict[str, Any]:
    """The JSON-able document that parse_series reads back to an equal Series."""
    doc: dict[str, Any] = {
        "id": series.id,
        "title": series.title,
        "description": series.description,
        "time_zone": series.time_zone,
        "sender": _contact_doc(series.sender),
        "organisers": [{"name": o.name, "affiliation": o.affiliation} for o in series.organisers],
        "endorsements": list(series.endorsements),
        "topics": list(series.topics),
        "audience": series.audience,
        "url": series.url,
        "reminders": [format_duration(d) for d in series.reminder_offsets],
        "coming": [{"id": c.id, "title": c.title, "description": c.description, "url": c.url}
                   for c in series.coming],
        "uid_domain": series.uid_domain,
        "revision": series.revision,
        "sessions": [_session_doc(s) for s in series.sessions],
    }
    if series.reply_to:
        doc["reply_to"] = _contact_doc(series.reply_to)
    return doc


def _session(data: object, path: str, zone: ZoneInfo) -> Session:
    r = _Reader(data, path, SESSION_FIELDS)
    status = r.text("status") or "scheduled"
    if status not in _STATUSES:
        raise SeriesFileError(f"{r.at('status')}: expected one of {', '.join(_STATUSES)}")
    if "start" not in r.data:
        raise SeriesFileError(f"{r.at('start')}: required")
    return Session(
        id=r.slug("id"),
        title=r.text("title", required=True, limit=300),
        start=r.convert("start", lambda v: _local_start(v, zone), default=datetime.min),
        duration=timedelta(minutes=r.convert("duration_minutes", _minutes, default=60)),
        join_url=r.url("join_url"),
        status=status,  # checked against _STATUSES above
        description=r.text("description"),
        reminder_offsets=r.convert("reminders", _offsets, default=None),
        sequence=r.convert("sequence", _non_negative, default=0),
        updated_at=r.convert("updated_at", _utc_instant, default=None),
    )


def _session_doc(s: Session) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "start": s.start.isoformat(timespec="minutes"),  # with its offset: exact in DST folds
        "duration_minutes": int(s.duration.total_seconds() // 60),
        "join_url": s.join_url,
        "status": s.status,
        "description": s.description,
        "reminders": None if s.reminder_offsets is None
        else [format_duration(d) for d in s.reminder_offsets],
        "sequence": s.sequence,
        "updated_at": s.updated_at.isoformat() if s.updated_at else None,
    }


def _local_start(value: object, zone: ZoneInfo) -> datetime:
    """A wall-clock time in the series' zone (or an explicit offset), checked to exist."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError("a time of day is required, e.g. 2023-10-26T15:00")
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected a local date-time like 2023-10-26T15:00, "
                             f"got {value!r}") from None
    elif isinstance(value, date):
        raise ValueError("a time of day is required, e.g. 2023-10-26T15:00")
    else:
        raise ValueError("expected a local date-time like 2023-10-26T15:00")
    if moment.tzinfo is not None:
        return moment.astimezone(zone)
    local = moment.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ValueError(f"{moment:%Y-%m-%d %H:%M} does not exist in {zone.key} "
                         "(clocks move forward then)")
    if local.utcoffset() != local.replace(fold=1).utcoffset():
        example = local.isoformat(timespec="minutes")
        raise ValueError(f"{moment:%Y-%m-%d %H:%M} happens twice in {zone.key} (clocks go "
                         f"back then): add the offset, e.g. {example}")
    return local


def _utc_instant(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("expected a UTC time with offset")
    return moment.astimezone(UTC)


def _minutes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 24 * 60:
        raise ValueError("expected whole minutes between 1 and 1440")
    return value


def _non_negative(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected a whole number ≥ 0")
    return value


def _offsets(value: object) -> tuple[timedelta, ...]:
    if not isinstance(value, list):
        raise ValueError("expected a list of durations like [7d, 1d, 1h]")
    offsets = sorted({parse_duration(v) for v in value}, reverse=True)
    return tuple(offsets)


def _contact(data: object, path: str, *, required: bool = False) -> Contact:
    if data is None and not required:
        return Contact(email="")
    r = _Reader(data, path, {"email", "name"})
    return Contact(email=r.convert("email", normalise_email, default="") or _missing(r, "email"),
                   name=r.text("name", limit=200))


def _contact_doc(contact: Contact) -> dict[str, str]:
    return {"email": contact.email, "name": contact.name}


def _missing(r: _Reader, key: str) -> str:
    raise SeriesFileError(f"{r.at(key)}: required")


def _organiser(data: object, path: str) -> Organiser:
    r = _Reader(data, path, {"name", "affiliation"})
    return Organiser(name=r.text("name", required=True, limit=200),
                     affiliation=r.text("affiliation", limit=300))


def _coming(data: object, path: str) -> ComingItem:
    r = _Reader(data, path, {"id", "title", "description", "url"})
    return ComingItem(id=r.slug("id"), title=r.text("title", required=True, limit=300),
                      description=r.text("description"), url=r.url("url"))


def _line(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value.strip():
        raise SeriesFileError(f"{path}: expected a single line of text")
    return value.strip()


def _unique(ids: list[str], path: str) -> None:
    seen: set[str] = set()
    for i, item_id in enumerate(ids):
        if item_id in seen:
            raise SeriesFileError(f"{path}[{i}].id: duplicate id {item_id!r}")
        seen.add(item_id)
