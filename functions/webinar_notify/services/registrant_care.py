"""What an organiser does for one registrant on request: cancel their registration, erase
their data, or lift a suppression of their address. The cancellation and the erasure are the
very writes the person's own manage page makes (one path for both), so a cancelled person's
calendar loses the sessions ahead and an erased one stays erased.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from ..adapters.clock import Clock
from ..adapters.queue import SendQueue
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.errors import NotFoundError
from ..core.jobs import EmailJob, delivery_key
from ..core.kinds import CancellationPayload
from ..core.registration import Registration, RegistrationEvent
from ..core.series import Series
from .intake import apply_and_store
from .seating import give_up_and_tell, seated_cancels
from .suppression import is_suppressed


@dataclass(frozen=True, slots=True)
class RegistrantCancelled:
    registrant_id: str
    recipients: int  # 1 when an email takes the sessions ahead out of their calendar


@dataclass(frozen=True, slots=True)
class RegistrantErased:
    registrant_id: str


@dataclass(frozen=True, slots=True)
class SuppressionLifted:
    suppression_id: str
    lifted: bool  # False: the address was not suppressed for this series


def withdraw(store: Store, clock: Clock, series: Series, registration: Registration,
             provider: str, session_ids: tuple[str, ...] | None = None
             ) -> tuple[Registration, list[EmailJob]]:
    """Cancel sessions (None: all of them) as a cancellation event from ``provider``: the
    registration as stored after it, and the email that takes the dropped sessions ahead out
    of the person's calendar (none when nothing ahead was dropped)."""
    now = clock.now()
    event = RegistrationEvent(
        provider=provider, event_id=f"{provider}-{now.timestamp()}", action="cancelled",
        # after anything applied before, even within the same second
        created=max(int(now.timestamp()), registration.last_event + 1),
        registrant=registration.registrant, session_ids=session_ids)
    updated = apply_and_store(store, clock, series, event,
                              registration.registrant_id) or registration
    return updated, dropped_jobs(series, registration, updated, now)


def dropped_jobs(series: Series, before: Registration, after: Registration,
                 now: datetime) -> list[EmailJob]:
    """One email with a METHOD:CANCEL for each session the person dropped that is not over
    yet, so the invitations leave their calendar too. Once per drop: a re-added session
    dropped again was registered at another moment, so it gets another key."""
    ids = [s.id for s in series.sessions]
    kept = set(after.sessions_in(ids))
    dropped = [s for s in series.sessions if s.id in before.sessions_in(ids)
               and s.id not in kept and not s.cancelled and s.end > now]
    if not dropped:
        return []
    return [EmailJob(
        kind="cancellation", series_id=series.id, series_revision=series.revision,
        registrant_id=before.registrant_id,
        recipient=replace(before.registrant, join_url=None),
        session_ids=tuple(s.id for s in dropped),
        payload=CancellationPayload(dropped_by_self=True),
        not_after=max(s.end for s in dropped),
        key=delivery_key("cancellation", series.id, before.registrant_id, "dropped",
                         *((s.id, before.registered_since(s.id)) for s in dropped)))]


def erase(store: Store, registration: Registration, now: datetime,
          records: PersonRecords | None = None) -> None:
    """Delete the registration, leaving a tombstone dated after everything applied to it, so
    no earlier event (a replay, a late retry) can bring the person back. The person's presence,
    evaluations and certificates go first: should that fail part-way, the registration is
    still there to erase again, and a certificate no longer verifies once it is gone."""
    if records is not None:
        records.erase_person(registration.series_id, registration.registrant_id)
    store.erase_registration(registration, erased_at=max(int(now.timestamp()),
                                                         registration.last_event))


class PersonRecords(Protocol):
    """What else is kept about a person in a series (adapters/certificate_store.py)."""

    def person_data(self, series_id: str, registrant_id: str) -> dict[str, Any]: ...
    def erase_person(self, series_id: str, registrant_id: str) -> int: ...


class RegistrantCare:
    """The registrant actions of an organiser (mixed into Organiser)."""

    store: Store
    secrets: Secrets
    clock: Clock
    queue: SendQueue
    records: PersonRecords | None

    def cancel_registrant(self, series_id: str, registrant_id: str) -> RegistrantCancelled:
        series, registration = self._registrant(series_id, registrant_id)
        if registration.status != "active":
            return RegistrantCancelled(registrant_id, 0)
        _updated, jobs = withdraw(self.store, self.clock, series, registration, "organiser")
        held = give_up_and_tell(self.store, self.queue, series, registrant_id, None,
                                self.clock.now())
        jobs = seated_cancels(jobs, held)  # a session only waited for: not in their calendar
        if jobs and not is_suppressed(self.store, self.secrets, registration.registrant.email):
            self.queue.send(jobs)
            return RegistrantCancelled(registrant_id, len(jobs))
        return RegistrantCancelled(registrant_id, 0)

    def erase_registrant(self, series_id: str, registrant_id: str) -> RegistrantErased:
        series, registration = self._registrant(series_id, registrant_id)
        # Seats first: should that fail, the registration is still there to erase again.
        give_up_and_tell(self.store, self.queue, series, registrant_id, None, self.clock.now())
        erase(self.store, registration, self.clock.now(), self.records)
        return RegistrantErased(registrant_id)

    def lift_suppression(self, series_id: str, suppression_id: str) -> SuppressionLifted:
        """Mail this address again (its owner asked): the series' entry and the global one."""
        self._registrant_series(series_id)
        return SuppressionLifted(suppression_id,
                                 self.store.lift_suppression(series_id, suppression_id))

    def _registrant(self, series_id: str, registrant_id: str) -> tuple[Series, Registration]:
        series = self._registrant_series(series_id)
        registration = self.store.get_registration(series.id, registrant_id)
        if registration is None:
            raise NotFoundError("no such registrant in this series")
        return series, registration

    def _registrant_series(self, series_id: str) -> Series:
        series = self.store.get_series(series_id)
        if series is None:
            raise NotFoundError(f"unknown series {series_id[:80]!r}")
        return series
