"""Registrations as the core sees them, whichever form they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RegistrationAction = Literal["created", "cancelled"]


@dataclass(frozen=True, slots=True)
class Registrant:
    email: str
    full_name: str
    time_zone: str  # always a valid IANA zone: the registrant's, or the series' as fallback
    join_url: str | None = None  # a personal join link (e.g. Zoom's) wins over the series' one


@dataclass(frozen=True, slots=True)
class RegistrationEvent:
    """One registration or cancellation, normalised from any provider's payload."""

    provider: str
    event_id: str
    action: RegistrationAction
    created: int  # unix seconds, as the provider stamped the event
    registrant: Registrant
    session_ids: tuple[str, ...] | None  # None: the whole series
    consent: dict[str, Any] = field(default_factory=dict)
    interests: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Registration:
    """What is stored for one person in one series."""

    series_id: str
    registrant_id: str
    registrant: Registrant
    session_ids: frozenset[str]
    whole_series: bool  # registered "for everything": later sessions are theirs too
    status: Literal["active", "cancelled"] = "active"
    last_event: int = 0  # the provider's timestamp of the newest event applied
    version: int = 0  # optimistic-locking counter of the stored item

    def sessions_in(self, all_session_ids: list[str]) -> list[str]:
        """The registered sessions, in series order."""
        if self.status != "active":
            return []
        return [s for s in all_session_ids if self.whole_series or s in self.session_ids]


def apply_event(existing: Registration | None, event: RegistrationEvent, series_id: str,
                registrant_id: str, all_session_ids: list[str]) -> Registration | None:
    """The registration after ``event``, or None when the event changes nothing.

    Events older than the newest one applied are ignored, so a late retry of a
    registration can never undo the cancellation that followed it.
    """
    if existing is not None and event.created < existing.last_event:
        return None
    if event.action == "created":
        base = existing.session_ids if existing and existing.status == "active" else frozenset()
        whole = event.session_ids is None or bool(
            existing and existing.status == "active" and existing.whole_series)
        sessions = base | frozenset(event.session_ids or ())
        status: Literal["active", "cancelled"] = "active"
    else:
        if existing is None or existing.status != "active":
            return None
        if event.session_ids is None:
            sessions, whole = frozenset(), False
        else:
            current = frozenset(existing.sessions_in(all_session_ids))
            sessions, whole = current - frozenset(event.session_ids), False
        status = "active" if sessions else "cancelled"
    updated = Registration(
        series_id=series_id, registrant_id=registrant_id, registrant=event.registrant,
        session_ids=frozenset() if whole else sessions, whole_series=whole, status=status,
        last_event=max(event.created, existing.last_event if existing else 0),
        version=existing.version if existing else 0)
    return None if updated == existing else updated
