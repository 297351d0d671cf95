"""The scheduler: what is due now (reminders, session notices, announcements), decided once,
fanned out to the send queue in pages.

It never sends mail and never scans: it reads the schedule index (one Query), the series that
are due, their decisions and tasks (one Query each), and pages through registrations with Query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ..adapters.clock import Clock
from ..adapters.queue import SendQueue
from ..adapters.schedule_store import Decision, ScheduleStore
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.errors import RetryableError
from ..core.schedule import agenda, slots
from ..core.series import Series
from ..core.tasks import ReminderTask, Task, task_from_doc
from ..core.text import suppression_id

PLAN_ATTEMPTS = 5  # each lost race means another writer planned from fresher reads


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
    overtaken: int = 0  # fan-outs another run took over after this one's lease ran out
    failed: list[str] = field(default_factory=list)  # series whose run raised; retried next run


class Scheduler:
    def __init__(self, store: Store, schedule: ScheduleStore, queue: SendQueue,
                 secrets: Secrets, clock: Clock, settings: ScheduleSettings) -> None:
        self.store = store
        self.schedule = schedule
        self.queue = queue
        self.secrets = secrets
        self.clock = clock
        self.settings = settings

    def run(self, deadline: datetime | None = None, only: str | None = None) -> RunReport:
        """One run over every series that is due (or just ``only``); safe to run twice at once
        or again for the same instant."""
        report = RunReport()
        now = self.clock.now()
        due = [only] if only else self.schedule.series_due(now)
        for series_id in due:
            try:
                series = self.store.get_series(series_id)
                if series is None:
                    self.schedule.set_next_due(series_id, None,
                                               self.schedule.plan_generation(series_id))
                    continue
                self._run_series(series, now, deadline, report)
            except Exception:  # one broken series must not hold up every other one
                if only:
                    raise
                report.failed.append(series_id)
        return report

    def _run_series(self, series: Series, now: datetime, deadline: datetime | None,
                    report: RunReport) -> None:
        decisions = self.schedule.decisions(series.id)
        work = all_tasks(series, self.schedule)
        plan = agenda(work, now, {k for k, d in decisions.items() if d.settled(now)})
        for task in plan.expired:
            if self.schedule.drop(series.id, task.key, now):
                report.dropped_slots.append(f"{series.id}/{task.key}")
        for task in plan.due:
            if deadline is not None and self.clock.now() >= deadline:
                report.unfinished += 1  # the next run takes it: the index says it is due
                break
            decision = self.schedule.claim(series.id, task.key, now, self.settings.lease)
            if decision is not None:
                self._fan_out(series, task, decision, deadline, report)
        plan_series(self.schedule, self.store, series.id, now)

    def _fan_out(self, series: Series, task: Task, decision: Decision,
                 deadline: datetime | None, report: RunReport) -> None:
        key = self.secrets.registrant_key()
        cursor = decision.cursor
        while True:
            page, cursor = self.store.registrations_page(series.id, cursor,
                                                         self.settings.page_size)
            wanted = [r for r in page if task.wants(r, series)]
            ids = {r.registrant_id: suppression_id(key, r.registrant.email) for r in wanted}
            blocked = self.store.suppressed(list(ids.values())) if wanted else set()
            jobs = [task.job(r, series) for r in wanted if ids[r.registrant_id] not in blocked]
            self.queue.send(jobs)
            decision = replace(decision, cursor=cursor, enqueued=decision.enqueued + len(jobs))
            report.enqueued += len(jobs)
            report.suppressed += len(wanted) - len(jobs)
            if cursor is None:
                if self.schedule.settle(series.id, decision, self.clock.now()):
                    report.sent_slots.append(f"{series.id}/{task.key}")
                else:
                    report.overtaken += 1
                return
            out_of_time = deadline is not None and self.clock.now() >= deadline
            # Out of time: give the task up now, so the next run carries on from the cursor.
            if not self.schedule.progress(series.id, decision, self.clock.now(),
                                          timedelta(0) if out_of_time else self.settings.lease):
                report.overtaken += 1  # our lease ran out and another run carries on
                return
            if out_of_time:
                report.unfinished += 1
                return


def all_tasks(series: Series, schedule: ScheduleStore) -> Sequence[Task]:
    """Reminder slots from the series, plus the stored notices and announcements."""
    stored = [task_from_doc(doc) for doc in schedule.tasks(series.id).values()]
    return [*(ReminderTask(slot) for slot in slots(series)), *stored]


def plan_series(schedule: ScheduleStore, store: Store, series_id: str, now: datetime) -> None:
    """Tell the index when this series next needs a run (after any change to it).

    The index's generation is read before the series, its decisions and its tasks, and the
    plan is written only over that generation: when another plan was written meanwhile, its
    writer may have read less than we did, so we read again and plan again. Whoever writes
    last has read everything written before; every change is followed by a plan."""
    for _attempt in range(PLAN_ATTEMPTS):
        generation = schedule.plan_generation(series_id)
        series = store.get_series(series_id)
        when = _next_due(schedule, series, now) if series is not None else None
        if schedule.set_next_due(series_id, when, generation):
            return
    raise RetryableError("the schedule index kept changing; the next run plans again")


def _next_due(schedule: ScheduleStore, series: Series, now: datetime) -> datetime | None:
    decisions = schedule.decisions(series.id)
    tasks = all_tasks(series, schedule)
    plan = agenda(tasks, now, {k for k, d in decisions.items() if d.settled(now)})
    candidates = [plan.next_due] if plan.next_due else []
    if plan.due or plan.expired:
        candidates.append(now)
    live = {task.key for task in tasks}  # a fan-out of a slot that no longer exists is moot
    candidates += [datetime.fromtimestamp(d.lease_until, now.tzinfo)
                   for k, d in decisions.items() if d.state == "fanning" and k in live]
    return min(candidates, default=None)
