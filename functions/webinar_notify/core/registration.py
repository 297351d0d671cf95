"""Registrations as the core sees them, whichever form they came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

RegistrationAction = Literal["created", "cancelled"]


@dataclass(frozen=True, slots=True)
class Registrant:
    email: str
    full_name: str
    time_zone: str  # a valid IANA zone; "" in an event that gave none (the series' zone then)
    join_url: str | None = None  # a personal join link (e.g. Zoom's) wins over the series' one
    language: str = ""  # a BCP 47 tag such as fr-BE; "" in an event that gave none


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
    interests: tuple[str, ...] = ()  # coming items (e.g. a course) to hear about


@dataclass(frozen=True, slots=True)
class Registration:
    """What is stored for one person in one series."""

    series_id: str
    registrant_id: str
    registrant: Registrant
    session_ids: frozenset[str]
    whole_series: bool  # registered "for everything": later sessions are theirs too
    status: Literal["active", "cancelled"] = "active"
    consent: str = ""  # the consent object of the newest registration event, as JSON
    last_event: int = 0  # the provider's timestamp of the newest event applied
    version: int = 0  # optimistic-locking counter of the stored item
    since: dict[str, int] = field(default_factory=dict)  # session id (or "*") -> registered at
    reminders_off: bool = False  # the person asked for no more reminders of this series
    announcements_off: bool = False  # ... or for no more announcements
    interests: frozenset[str] = frozenset()  # coming items they want to hear about
    attended: frozenset[str] = frozenset()  # sessions they were seen at
    opted_in: bool = True  # False until they confirm by the link (series with double opt-in)
    join_urls: dict[str, str] = field(default_factory=dict)  # session (or "*") -> personal link
    # Under manual approval (core/policies): "pending" until an organiser decides.
    approval: Literal["pending", "approved", "declined"] = "approved"
    # The counters (core.counts.tally) of the stored version this was read as: the store moves
    # the counts by the difference when it writes the next version.
    counted: frozenset[str] = field(default=frozenset(), compare=False)

    def join_url_for(self, session_id: str) -> str | None:
        """A personal join link (e.g. Zoom's, one per webinar) for this session, if any."""
        return self.join_urls.get(session_id) or self.join_urls.get("*")

    def sessions_in(self, all_session_ids: list[str]) -> list[str]:
        """The registered sessions, in series order."""
        if self.status != "active":
            return []
        return [s for s in all_session_ids if self.whole_series or s in self.session_ids]

    def registered_since(self, session_id: str) -> int:
        """When this person became registered for the session (unix seconds; 0 if unknown)."""
        times = [self.since[key] for key in (session_id, "*") if key in self.since
                 and (key != "*" or self.whole_series)]
        return min(times, default=0)


def apply_event(existing: Registration | None, event: RegistrationEvent, series_id: str,
                registrant_id: str, all_session_ids: list[str],
                default_zone: str, now: int = 0,
                double_opt_in: bool = False) -> Registration | None:
    """The registration after ``event``, or None when the event changes nothing.

    Events older than the newest one applied are ignored, and at equal times a cancellation
    wins, so a late retry of a registration never undoes the cancellation that followed it.
    A cancellation of someone not yet known is stored too, for the same reason.
    """
    if existing is not None and (
            event.created < existing.last_event
            or (event.created == existing.last_event and event.action == "created"
                and existing.status == "cancelled")):
        return None
    registrant = _merged_registrant(existing, event, default_zone)
    active = existing is not None and existing.status == "active"
    since = dict(existing.since) if existing and active else {}
    if event.action == "created":
        sessions = (existing.session_ids if existing and active else frozenset()) \
            | frozenset(event.session_ids or ())
        whole = event.session_ids is None or bool(existing and active and existing.whole_series)
        status: Literal["active", "cancelled"] = "active"
        for key in sessions | ({"*"} if whole else set()):
            since.setdefault(key, now)  # the moment each session became theirs
    else:
        remaining = frozenset(existing.sessions_in(all_session_ids)) if existing else frozenset()
        sessions = frozenset() if event.session_ids is None \
            else remaining - frozenset(event.session_ids)
        whole, status = False, "active" if sessions else "cancelled"
        since = {s: existing.registered_since(s) for s in sessions} if existing else {}
    updated = Registration(
        series_id=series_id, registrant_id=registrant_id, registrant=registrant,
        session_ids=frozenset() if whole else sessions, whole_series=whole, status=status,
        consent=json.dumps(event.consent, sort_keys=True) if event.consent
        else (existing.consent if existing else ""),
        last_event=max(event.created, existing.last_event if existing else 0),
        version=existing.version if existing else 0, since=since,
        reminders_off=existing.reminders_off if existing else False,
        announcements_off=existing.announcements_off if existing else False,
        interests=(existing.interests if existing else frozenset())
        | (frozenset(event.interests) if event.action == "created" else frozenset()),
        attended=existing.attended if existing else frozenset(),
        opted_in=existing.opted_in if existing else not double_opt_in,
        join_urls=_join_urls(existing, event, status),
        approval=existing.approval if existing else "approved",
        counted=existing.counted if existing else frozenset())
    return None if updated == existing else updated


def _merged_registrant(existing: Registration | None, event: RegistrationEvent,
                       default_zone: str) -> Registrant:
    """What a cancellation or a sparse repeat did not say is kept from before."""
    given = event.registrant
    before = existing.registrant if existing else None
    if event.action == "cancelled" and before is not None:
        return before
    return Registrant(
        email=given.email,
        full_name=given.full_name or (before.full_name if before else ""),
        time_zone=given.time_zone or (before.time_zone if before else "") or default_zone,
        join_url=None,  # personal links are kept per session: Registration.join_urls
        language=given.language or (before.language if before else ""),
    )


def _join_urls(existing: Registration | None, event: RegistrationEvent,
               status: str) -> dict[str, str]:
    """A provider's personal link belongs to the sessions of the event that brought it."""
    links = dict(existing.join_urls) if existing and status == "active" else {}
    url = event.registrant.join_url
    if url and event.action == "created":
        for key in event.session_ids or ("*",):
            links[key] = url
    return links
