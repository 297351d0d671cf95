"""A change to one published session (its time, length, title, link, status or description),
as a typed value: read and checked once, then applied to the series without a round trip
through the series document.

Errors name the field as a series file would (``sessions[3].start: ...``), so an organiser
sees the same message whether the change came from the API, the CLI or an edited file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from .document_fields import FieldReader, local_start, whole_minutes
from .errors import NotFoundError, PayloadError, SeriesFileError
from .series import Series, SessionStatus

CHANGEABLE = frozenset({"start", "duration_minutes", "title", "join_url", "status",
                        "description"})
_STATUSES: tuple[SessionStatus, ...] = ("scheduled", "cancelled")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SessionChange:
    """What to change in one session; None keeps a field as it is. ``join_url`` "" and
    ``description`` "" remove them. Calendar sequence and stamps are merge_series' work."""

    session_id: str
    start: datetime | None = None  # aware, in the series' zone
    duration: timedelta | None = None
    title: str | None = None
    join_url: str | None = None
    status: SessionStatus | None = None
    description: str | None = None

    @classmethod
    def cancellation(cls, session_id: str) -> SessionChange:
        return cls(session_id, status="cancelled")

    def apply(self, series: Series) -> Series:
        """The series with this session changed; raises NotFoundError for an unknown one."""
        if series.session(self.session_id) is None:
            raise NotFoundError(f"unknown session {self.session_id[:40]!r}")
        return replace(series, sessions=tuple(
            replace(s, start=_keep(self.start, s.start), duration=_keep(self.duration, s.duration),
                    title=_keep(self.title, s.title),
                    join_url=s.join_url if self.join_url is None else self.join_url or None,
                    status=_keep(self.status, s.status),
                    description=_keep(self.description, s.description))
            if s.id == self.session_id else s for s in series.sessions))


def read_session_change(series: Series, session_id: str,
                        fields: Mapping[str, object]) -> SessionChange:
    """Check a change request ({"start": "2024-01-09T16:00", ...}) against the series.

    Fields are checked in the order a series file's session is, so with several bad fields
    the first one named is the same as it would be in a file."""
    index = next((i for i, s in enumerate(series.sessions) if s.id == session_id), None)
    if index is None:
        raise NotFoundError(f"unknown session {session_id[:40]!r}")
    unknown = sorted(set(fields) - CHANGEABLE)
    if unknown or not fields:
        raise PayloadError(f"give any of {', '.join(sorted(CHANGEABLE))}"
                           + (f"; {unknown[0]!r} is not one" if unknown else ""))
    r = FieldReader(fields, f"sessions[{index}]", set(CHANGEABLE))
    status: SessionStatus | None = None
    if "status" in fields:
        status = next((s for s in _STATUSES if s == (r.text("status") or "scheduled")), None)
        if status is None:
            raise SeriesFileError(f"{r.at('status')}: expected one of {', '.join(_STATUSES)}")
    if "start" in fields and fields["start"] in (None, ""):
        raise SeriesFileError(f"{r.at('start')}: required")
    title = r.text("title", required=True, limit=300) if "title" in fields else None
    start = r.convert("start", lambda v: local_start(v, series.zone), default=None)
    duration = timedelta(minutes=r.convert("duration_minutes", whole_minutes, default=60)) \
        if "duration_minutes" in fields else None
    return SessionChange(
        session_id, start=start, duration=duration, title=title,
        join_url=(r.url("join_url") or "") if "join_url" in fields else None, status=status,
        description=r.text("description") if "description" in fields else None)


def _keep(new: T | None, old: T) -> T:
    return old if new is None else new
