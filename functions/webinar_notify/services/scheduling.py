"""The scheduler: what is due now (reminders, session notices, announcements), decided once,
fanned out to the send queue in pages.

It never sends mail and never scans: it reads the schedule index (one Query), the series that
are due, their decisions and tasks (one Query each), and pages through registrations with Query.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..adapters.clock import Clock
from ..adapters.queue import SendQueue
from ..adapters.schedule_store import PARK_CHUNK, Decision, ScheduleStore
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core import send_plan
from ..core.errors import RetryableError
from ..core.jobs import EmailJob
from ..core.registration import Registration
from ..core.schedule import agenda, first_moment, shifts, slots
from ..core.series import Series
from ..core.tasks import (
    EARLY_SUFFIX,
    Notice,
    ReminderTask,
    Task,
    addressed,
    task_from_doc,
    unaddressed,
)
from ..core.text import suppression_id
from ..core.waves import Wave, is_wave
from .seating import seat_in_new_session

PARKED_KEPT = timedelta(days=7)  # parked jobs outlive their wave's window by this, then expire
PLAN_ATTEMPTS = 5  # each lost race means another writer planned from fresher reads


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    lease: timedelta = timedelta(minutes=5)  # at least the scheduler function's timeout
    page_size: int = 500
    send_rate: float = 0.0  # SesSendRate, emails a second; 0: unknown, slots open on time


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
        self._waves_stored: set[tuple[str, str]] = set()

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
        work = all_tasks(series, self.schedule, self.store, self.settings.send_rate)
        plan = agenda(work, now, settled_keys(decisions, now))
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
        plan_series(self.schedule, self.store, series.id, now, self.settings.send_rate)

    def _fan_out(self, series: Series, task: Task | Wave, decision: Decision,
                 deadline: datetime | None, report: RunReport) -> None:
        cursor = decision.cursor
        while True:
            if isinstance(task, Wave):
                parked, cursor = self.schedule.parked_page(series.id, task.key, cursor)
                waiting = [EmailJob.from_json(text) for text in parked]
                now_registered = self.store.registrations(
                    series.id, [job.registrant_id for job in waiting])
                jobs = [addressed(job, now_registered[job.registrant_id]) for job in waiting
                        if job.registrant_id in now_registered]  # erased meanwhile: gone
                self.queue.send(jobs)
                blocked_count = 0
            else:
                page, cursor = self.store.registrations_page(series.id, cursor,
                                                             self.settings.page_size)
                jobs, blocked_count = self._page_jobs(series, task, page, cursor)
            decision = replace(decision, cursor=cursor, enqueued=decision.enqueued + len(jobs))
            report.enqueued += len(jobs)
            report.suppressed += blocked_count
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

    def _page_jobs(self, series: Series, task: Task, page: list[Registration],
                   cursor: dict[str, Any] | None) -> tuple[list[EmailJob], int]:
        """Enqueue one page's emails that are due now and park the ones quiet hours moved
        later (their wave counts them); the jobs enqueued, and how many were suppressed.

        A reminder leaves suppressed addresses to the sender, which reads each recipient's
        suppression just before sending anyway: a look-up here would cost half a read unit
        for every recipient to spare the queue the few suppressed ones. Notices and
        announcements look them up, so that an organiser's job counts the people it reached
        and a suppressed person is neither offered nor marked as told of a new session's
        seat."""
        wanted = [r for r in page if task.wants(r, series)]
        allowed = wanted
        if not isinstance(task, ReminderTask) and wanted:
            key = self.secrets.registrant_key()
            ids = {r.registrant_id: suppression_id(key, r.registrant.email) for r in wanted}
            blocked = self.store.suppressed(list(ids.values()))
            allowed = [r for r in wanted if ids[r.registrant_id] not in blocked]
        suppressed = len(wanted) - len(allowed)
        maker = task.main if isinstance(task, ReminderTask) else task
        jobs = [maker.job(r, series) for r in allowed]
        if isinstance(task, Notice) and task.kind == "new_session" \
                and series.policy.counts_seats:  # seated (or lined up) first, then told
            jobs = seat_in_new_session(self.store, self.queue, series, task, page, jobs,
                                       self.clock.now())
            return jobs, suppressed
        if isinstance(task, ReminderTask) and shifts(task.slot, task.quiet):
            now = self.clock.now()
            later: dict[datetime, list[EmailJob]] = {}
            due: list[EmailJob] = []
            for registration, job in zip(allowed, jobs, strict=True):
                moment = task.moment(registration, series).astimezone(UTC)
                (later.setdefault(moment, []) if moment > now else due).append(job)
            for moment, waiting in sorted(later.items()):
                due += self._park(series.id, Wave(task.slot.key, moment, task.slot.closes),
                                  waiting, cursor)
            self.queue.send(due)
            return due, suppressed
        self.queue.send(jobs)
        return jobs, suppressed

    def _park(self, series_id: str, wave: Wave, jobs: list[EmailJob],
              cursor: dict[str, Any] | None) -> list[EmailJob]:
        """Park jobs for their wave; what could not be parked (the wave has begun) is
        returned, to be sent now. The chunk name comes from the page, so a page done again
        after a crash replaces its own chunks."""
        page = hashlib.sha256(json.dumps(cursor, sort_keys=True).encode()).hexdigest()[:16]
        unparked: list[EmailJob] = []
        for start in range(0, len(jobs), PARK_CHUNK):
            chunk = jobs[start:start + PARK_CHUNK]
            if not self.schedule.park(series_id, wave.key, f"{page}-{start // PARK_CHUNK}",
                                      [unaddressed(job).to_json() for job in chunk],
                                      wave.closes + PARKED_KEPT):
                unparked += chunk
        if (series_id, wave.key) not in self._waves_stored:  # put_task keeps the first
            self.schedule.put_task(series_id, wave.key, wave.to_doc())
            self._waves_stored.add((series_id, wave.key))
        return unparked


def all_tasks(series: Series, schedule: ScheduleStore, store: Store,
              rate: float = 0.0) -> Sequence[Task | Wave]:
    """Reminder passes from the series, plus the stored notices, announcements and waves."""
    docs = schedule.tasks(series.id, waves=True).values()
    stored: list[Task | Wave] = [Wave.from_doc(d) if is_wave(d) else task_from_doc(d)
                                 for d in docs]
    counts = store.counts(series.id).session_registered if rate > 0 else None
    return [*reminder_passes(series, counts, rate), *stored]


def reminder_passes(series: Series, audience: Callable[[str], int] | None = None,
                    rate: float = 0.0) -> list[ReminderTask]:
    """One pass per slot; a slot that quiet hours can move earlier has an early pass too.
    A slot whose window cannot send its audience (``audience(session_id)``) at ``rate``
    from its opening opens early enough (core/send_plan.py)."""
    passes = []
    for slot in slots(series):
        main = ReminderTask(slot, series.quiet_hours)
        if shifts(slot, series.quiet_hours):
            passes.append(main)
            if first_moment(slot, series.quiet_hours) < slot.opens:
                passes.append(replace(main, early=True))
            continue
        if audience is not None:
            main = replace(main, lead=send_plan.for_slot(slot, audience(slot.session_id),
                                                         rate).early_by)
        passes.append(main)
    return passes


def settled_keys(decisions: dict[str, Decision], now: datetime) -> set[str]:
    """The keys no run needs to take. A slot decided before it had an early pass (or whose
    main pass is decided) needs no early pass either."""
    settled = {k for k, d in decisions.items() if d.settled(now)}
    return settled | {k + EARLY_SUFFIX for k in settled}


def plan_series(schedule: ScheduleStore, store: Store, series_id: str, now: datetime,
                rate: float = 0.0) -> None:
    """Tell the index when this series next needs a run (after any change to it); ``rate``:
    the account's send rate, so that slots too big for their window open early.

    The index's generation is read before the series, its decisions and its tasks, and the
    plan is written only over that generation: when another plan was written meanwhile, its
    writer may have read less than we did, so we read again and plan again. Whoever writes
    last has read everything written before; every change is followed by a plan."""
    for _attempt in range(PLAN_ATTEMPTS):
        generation = schedule.plan_generation(series_id)
        series = store.get_series(series_id)
        when = _next_due(schedule, store, series, now, rate) if series is not None else None
        if schedule.set_next_due(series_id, when, generation):
            return
    raise RetryableError("the schedule index kept changing; the next run plans again")


def _next_due(schedule: ScheduleStore, store: Store, series: Series, now: datetime,
              rate: float) -> datetime | None:
    decisions = schedule.decisions(series.id)
    tasks = all_tasks(series, schedule, store, rate)
    settled = settled_keys(decisions, now)
    plan = agenda(tasks, now, settled)
    candidates = [plan.next_due] if plan.next_due else []
    if plan.due or plan.expired:
        candidates.append(now)
    # A slot that opens early was planned with today's audience: look again at twice its
    # lead, so that registrations arriving meanwhile move it earlier still.
    candidates += [t.opens - t.lead for t in tasks if isinstance(t, ReminderTask)
                   and t.lead and t.key not in settled and t.opens - t.lead > now]
    live = {task.key for task in tasks}  # a fan-out of a slot that no longer exists is moot
    candidates += [datetime.fromtimestamp(d.lease_until, now.tzinfo)
                   for k, d in decisions.items() if d.state == "fanning" and k in live]
    return min(candidates, default=None)
