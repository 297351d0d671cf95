"""Organisers approve or decline registrants of a series under manual approval, one by one
or in bulk, with an optional reason (docs/registration_policies.md).

Only a pending registrant can be approved or declined: anyone else is refused with the
reason, and a decline never undoes an approval. Deciding again what was already decided the
same way changes nothing but finishes the seats and emails a crash may have left undone, so a
retried request is safe. A list longer than ``INLINE_DECISIONS`` becomes an organiser job.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from ..adapters.clock import Clock
from ..adapters.dynamo import StaleWriteError
from ..adapters.queue import SendQueue
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.errors import NotFoundError, PayloadError, RetryableError
from ..core.jobs import EmailJob
from ..core.policies import ApprovalError, Decision, approval_after, clean_reason
from ..core.series import Series
from ..core.text import registrant_id
from .answers import Decided
from .seating import (
    SeatNews,
    admit_seats,
    clear_seats,
    declined_job,
    news_jobs,
    promotion_jobs,
    send_and_mark,
)

if TYPE_CHECKING:
    from ..core.organiser_jobs import OrganiserJob
    from .organiser_jobs import OrganiserJobs

INLINE_DECISIONS = 25  # more registrants than this in one request: an organiser job
MAX_DECISIONS = 10_000
WRITE_ATTEMPTS = 5
_REGISTRANT_ID = re.compile(r"r[0-9a-f]{31}")
Outcome = Literal["changed", "unchanged"]


def decide_registrant(store: Store, queue: SendQueue, clock: Clock, series: Series,
                      rid: str, decision: Decision, reason: str) -> Outcome:
    """One decision, applied: the registration's approval (version-checked), then its seats
    (seated or lined up from now; or the pending ones cleared) and the emails that owes."""
    stored = None
    outcome: Outcome = "unchanged"
    for _attempt in range(WRITE_ATTEMPTS):
        registration = store.get_registration(series.id, rid)
        if registration is None or registration.status != "active":
            raise NotFoundError("not registered (or cancelled since)")
        target = "approved" if decision == "approve" else "declined"
        if registration.approval == target:  # decided already: finish what may be undone
            stored, outcome = registration, "unchanged"
            break
        updated = replace(registration, approval=approval_after(registration.approval,
                                                                decision))
        try:
            stored, outcome = store.put_registration(updated, clock.now()), "changed"
            break
        except StaleWriteError:
            continue
    if stored is None:
        raise RetryableError("the registration is being changed concurrently; retry")
    now = clock.now()
    news = SeatNews()
    jobs: list[EmailJob]
    if decision == "approve":
        news = admit_seats(store.seats, series, stored, now)
        jobs = news_jobs(series, stored, news) + promotion_jobs(
            store.seats, store.get_registration, series, news.promoted)
    else:
        clear_seats(store.seats, series, stored)
        jobs = [declined_job(series, stored, reason)]
    send_and_mark(queue, store.seats, series, jobs, news)
    return outcome


def decide_all(store: Store, queue: SendQueue, clock: Clock, series: Series,
               ids: list[str], decision: Decision, reason: str) -> Decided:
    changed: list[str] = []
    refused: dict[str, str] = {}
    for rid in ids:
        try:
            if decide_registrant(store, queue, clock, series, rid, decision,
                                 reason) == "changed":
                changed.append(rid)
        except (ApprovalError, NotFoundError) as error:
            refused[rid] = str(error)
    return Decided(decision, tuple(changed), refused)


def read_decision(body: dict[str, Any], series_id: str, registrant_key: str
                  ) -> tuple[Decision, list[str], str]:
    """The decision, the registrants (ids, or addresses turned into ids) and the cleaned
    reason of a request; PayloadError naming the field."""
    decision = body.get("decision")
    if decision not in ("approve", "decline"):
        raise PayloadError("decision: expected approve or decline")
    ids = body.get("registrants", [])
    emails = body.get("emails", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise PayloadError("registrants: expected a list of registrant ids")
    bad = next((i for i in ids if not _REGISTRANT_ID.fullmatch(i)), None)
    if bad is not None:
        raise PayloadError(f"registrants: {bad[:40]!r} is not a registrant id")
    if not isinstance(emails, list) or not all(isinstance(e, str) and e.strip()
                                               for e in emails):
        raise PayloadError("emails: expected a list of addresses")
    wanted = list(dict.fromkeys(
        ids + [registrant_id(registrant_key, series_id, e.strip()) for e in emails]))
    if not wanted:
        raise PayloadError("registrants: name at least one registrant (or emails)")
    if len(wanted) > MAX_DECISIONS:
        raise PayloadError(f"registrants: at most {MAX_DECISIONS} in one request")
    return decision, wanted, clean_reason(body.get("reason"))


class Approvals:
    """The organiser's approvals (mixed into Organiser)."""

    store: Store
    secrets: Secrets
    clock: Clock
    queue: SendQueue
    jobs: OrganiserJobs

    def decide(self, caller: str, series_id: str, body: dict[str, Any]
               ) -> Decided | OrganiserJob:
        series = self.store.get_series(series_id)
        if series is None:
            raise NotFoundError(f"unknown series {series_id[:80]!r}")
        decision, ids, reason = read_decision(body, series.id, self.secrets.registrant_key())
        if len(ids) > INLINE_DECISIONS:
            return self.jobs.start_decisions(caller, series.id, ids, decision, reason)
        if len(ids) == 1:  # one registrant: not pending is a 409, not registered a 404
            outcome = decide_registrant(self.store, self.queue, self.clock, series, ids[0],
                                        decision, reason)
            return Decided(decision, tuple(ids) if outcome == "changed" else (), {})
        return decide_all(self.store, self.queue, self.clock, series, ids, decision, reason)
