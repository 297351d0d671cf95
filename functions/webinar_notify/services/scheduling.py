"""The scheduler: what is due now, decided once, fanned out to the send queue in pages.

It never sends mail and never scans: it reads the schedule index (one Query), the series that
are due, their decisions (one Query each), and pages through registrations with Query.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ..adapters.clock import Clock
from ..adapters.queue import SendQueue
from ..adapters.schedule_store import Decision, ScheduleStore
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.jobs import EmailJob, delivery_key
from ..core.registration import Registration
from ..core.schedule import Slot, agenda, wants_reminder
from ..core.series import Series
from ..core.text import suppression_id


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    lease: timedelta = timedelta(minutes=5)  # at least the scheduler function's timeout
    page_size: int = 500


@dataclass
class RunReport:
    sent_slots: list[str] = field(default_factory=list)
    dropped_slots: list[str] = field(default_factory=list)
    enqueued: int = 0
    suppressed: int = 0
    unfinished: int = 0


class Scheduler:
    def __init__(self, store: Store, schedule: ScheduleStore, queue: SendQueue,
                 secrets: Secrets, clock: Clock, settings: ScheduleSettings) -> None:
        self.store = store
        self.schedule = schedule
        self.queue = queue
        self.secrets = secrets
        self.clock = clock
        self.settings = settings

    def run(self, deadline: datetime | None = None) -> RunReport:
        """One scheduler run; safe to run twice at once or again for the same instant."""
        report = RunReport()
        now = self.clock.now()
        for series_id in self.schedule.series_due(now):
            series = self.store.get_series(series_id)
            if series is None:
                self.schedule.set_next_due(series_id, None)
                continue
            self._run_series(series, now, deadline, report)
        return report

    def _run_series(self, series: Series, now: datetime, deadline: datetime | None,
                    report: RunReport) -> None:
        decisions = self.schedule.decisions(series.id)
        plan = agenda(series, now, {k for k, d in decisions.items() if d.settled(now)})
        for slot in plan.expired:
            self.schedule.settle(series.id, slot.key, "dropped", 0, now)
            report.dropped_slots.append(f"{series.id}/{slot.key}")
        for slot in plan.due:
            decision = self.schedule.claim(series.id, slot.key, now, self.settings.lease)
            if decision is not None:
                self._fan_out(series, slot, decision, deadline, report)
        self.schedule.set_next_due(series.id,
                                   _next_due(series, self.schedule.decisions(series.id), now))

    def _fan_out(self, series: Series, slot: Slot, decision: Decision,
                 deadline: datetime | None, report: RunReport) -> None:
        session_ids = [s.id for s in series.sessions if not s.cancelled]
        key = self.secrets.registrant_key()
        cursor = decision.cursor
        while True:
            page, cursor = self.store.registrations_page(series.id, cursor,
                                                         self.settings.page_size)
            wanted = [r for r in page if wants_reminder(r, slot, session_ids)]
            ids = {r.registrant_id: suppression_id(key, r.registrant.email) for r in wanted}
            blocked = self.store.suppressed(list(ids.values())) if wanted else set()
            jobs = [reminder_job(series, slot, r, session_ids) for r in wanted
                    if ids[r.registrant_id] not in blocked]
            self.queue.send(jobs)
            decision = replace(decision, cursor=cursor, enqueued=decision.enqueued + len(jobs))
            report.enqueued += len(jobs)
            report.suppressed += len(wanted) - len(jobs)
            if cursor is None:
                self.schedule.settle(series.id, slot.key, "done", decision.enqueued,
                                     self.clock.now())
                report.sent_slots.append(f"{series.id}/{slot.key}")
                return
            out_of_time = deadline is not None and self.clock.now() >= deadline
            # Out of time: give the slot up now, so the next run carries on from the cursor.
            self.schedule.progress(series.id, decision, self.clock.now(),
                                   timedelta(0) if out_of_time else self.settings.lease)
            if out_of_time:
                report.unfinished += 1
                return


def plan_series(schedule: ScheduleStore, series: Series, now: datetime) -> None:
    """Tell the index when this series next needs a run (after it is published or changed)."""
    schedule.set_next_due(series.id, _next_due(series, schedule.decisions(series.id), now))


def reminder_job(series: Series, slot: Slot, registration: Registration,
                 session_ids: list[str]) -> EmailJob:
    others = tuple(s for s in registration.sessions_in(session_ids) if s != slot.session_id)
    return EmailJob(
        kind="reminder", series_id=series.id, series_revision=series.revision,
        registrant_id=registration.registrant_id, recipient=registration.registrant,
        session_ids=(slot.session_id,), also=others,
        key=delivery_key("reminder", series.id, registration.registrant_id, slot.key))


def _next_due(series: Series, decisions: dict[str, Decision], now: datetime) -> datetime | None:
    """The next moment a run has work: a slot opening, or an abandoned fan-out to resume."""
    settled = {k for k, d in decisions.items() if d.settled(now)}
    plan = agenda(series, now, settled)
    candidates = [plan.next_due] if plan.next_due else []
    if plan.due or plan.expired:
        candidates.append(now)
    candidates += [datetime.fromtimestamp(d.lease_until, now.tzinfo)
                   for d in decisions.values() if d.state == "fanning"]
    return min(candidates, default=None)
