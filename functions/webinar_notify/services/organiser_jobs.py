"""Organiser jobs: accepted in one request, carried out by the job function in steps.

- The registrant export: a CSV of every registration, written as a multipart upload, part by
  part, each step reading pages of registrations (Query) until its part is full. A step hands
  on the position after its last uploaded part, so a step that dies, or runs out of time with
  rows not yet uploaded, loses nothing: the next one reads them again.
- A fan-out sent now (an announcement): each step is a scheduler run for the series until
  its time is up; the scheduler's own cursor, lease and fence carry the fan-out across steps
  (and across the regular runs, which may take part), and the job reports how many emails the
  tracked tasks have queued until they are settled.
- Approvals or declines of many registrants (services/approvals.py): the request stores the
  ids in one object; each step decides for the next ones until its time is up.
- Promotions after a capacity raise (a series published with more seats): each step fills
  the next session's free seats from its waitlist and queues the confirmations.
- Attendance imports and uploads, and certificate assessments: attendance_jobs.py.

``step`` runs a step of any of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from ..adapters.clock import Clock
from ..adapters.exports import Exports
from ..adapters.job_queue import JobQueue
from ..adapters.job_store import JobStore
from ..adapters.schedule_store import ScheduleStore
from ..adapters.store import Store
from ..core.errors import NotFoundError
from ..core.organiser_jobs import (
    Continuation,
    OrganiserJob,
    encode_ids,
    export_key,
    import_key,
)
from ..core.policies import ApprovalError
from ..core.registration import Registration
from ..core.series import Series
from .attendance_jobs import AttendanceJobs, upload_key
from .job_steps import JobSettings
from .scheduling import Scheduler

if TYPE_CHECKING:
    from .certificates import Certificates

__all__ = ["JobSettings", "OrganiserJobs", "RowWriter", "upload_key"]

# The CSV text of one page of registrations; the header when given no page (None).
RowWriter = Callable[[Series, list[Registration] | None], str]
UTF8_BOM = "\ufeff"  # so that spreadsheet programs read the names right
DEFAULT_SETTINGS = JobSettings()


class OrganiserJobs(AttendanceJobs):
    def __init__(self, store: Store, jobs: JobStore, exports: Exports, queue: JobQueue,
                 clock: Clock, rows: RowWriter, settings: JobSettings = DEFAULT_SETTINGS, *,
                 scheduler: Scheduler | None = None, schedule: ScheduleStore | None = None,
                 certificates: Callable[[], Certificates] | None = None) -> None:
        self._certificates = certificates
        self.scheduler = scheduler
        self.schedule = schedule
        self.store = store
        self.jobs = jobs
        self.exports = exports
        self.queue = queue
        self.clock = clock
        self.rows = rows
        self.settings = settings

    def start_export(self, caller: str, series_id: str) -> OrganiserJob:
        """Accept an export of every registrant: one record and one message, whatever N."""
        if self.store.get_series(series_id) is None:
            raise NotFoundError(f"unknown series {series_id[:80]!r}")
        counts = self.store.counts(series_id)
        return self._queue_job(series_id, "registrants_csv", caller, counts.registered
                               + counts.awaiting_opt_in + counts.cancelled)

    def start_fan_out(self, series_id: str, task_keys: tuple[str, ...], total: int | None,
                      caller: str = "", session_id: str = "") -> OrganiserJob:
        """Send tasks that are due now (an announcement, or the notices of a change to
        ``session_id``): one record and one message."""
        return self._queue_job(series_id, "fan_out", caller, total, session_id=session_id,
                               extra={"tasks": ",".join(task_keys)})

    def start_decisions(self, caller: str, series_id: str, registrant_ids: list[str],
                        decision: str, reason: str) -> OrganiserJob:
        """Accept approvals or declines of many registrants: the ids as one object, one record
        and one message; the reason travels with the message (at most 1,000 characters)."""
        return self._queue_job(series_id, "decisions", caller, len(registrant_ids),
                               extra={"decision": decision, "reason": reason},
                               stored=(import_key, encode_ids(registrant_ids),
                                       "text/plain; charset=us-ascii"))

    def start_promotions(self, series_id: str, session_ids: tuple[str, ...]) -> OrganiserJob:
        """After a capacity raise: fill the sessions' free seats from their waitlists."""
        return self._queue_job(series_id, "promotions", "", len(session_ids),
                               extra={"sessions": ",".join(session_ids)})

    def job(self, series_id: str, job_id: str) -> OrganiserJob:
        found = self.jobs.get(series_id, job_id)
        if found is None:
            raise NotFoundError(f"no job {job_id[:40]!r}")
        return found

    def step(self, work: Continuation, deadline: datetime,
             hard_deadline: datetime | None = None) -> Continuation | None:
        """Carry the job on: after ``deadline``, stop at the next uploaded part; at
        ``hard_deadline`` (the function is about to end), stop even without one. The
        continuation still to do, or None when the job has ended."""
        if work.kind == "fan_out":
            return self._fan_out_step(work, deadline)
        if work.kind == "attendance" and work.extra.get("source"):
            return self._upload_step(work, deadline)
        if work.kind == "attendance":
            return self._attendance_step(work, deadline)
        if work.kind == "certificates":
            return self._certificates_step(work, deadline)
        if work.kind == "decisions":
            return self._decisions_step(work, deadline)
        if work.kind == "promotions":
            return self._promotions_step(work, deadline)
        job = self.jobs.get(work.series_id, work.job_id)
        series = self.store.get_series(work.series_id)
        if job is None or job.finished:
            return None  # a step delivered again after the end
        if series is None:
            self.fail(work, "the series no longer exists")
            return None
        object_key = export_key(series.id, job.job_id)
        if not work.upload_id:
            work = replace(work, upload_id=self.exports.begin(object_key,
                                                              "text/csv; charset=utf-8"))
        data = (UTF8_BOM + self.rows(series, None)).encode() if not work.parts else b""
        cursor, pending, uploaded = work.cursor, 0, False
        while hard_deadline is None or self.clock.now() < hard_deadline:
            page, cursor = self.store.registrations_page(series.id, cursor,
                                                         self.settings.page_size)
            data += self.rows(series, page).encode("utf-8")
            pending += len(page)
            if cursor is None:
                self._finish(work, object_key, data, pending)
                return None
            if len(data) >= self.settings.part_bytes:
                work = self._upload(work, object_key, data, pending, cursor)
                data, pending, uploaded = b"", 0, True
                if self.clock.now() >= deadline:
                    break
        if uploaded:
            return self._hand_on(replace(work, extra={}))
        stalls = int(work.extra.get("stalls", "0")) + 1
        if stalls >= self.settings.max_stalls:
            self.fail(work, "a step could not fill one part in its time")
            return None
        return self._hand_on(replace(work, extra={"stalls": str(stalls)}))

    def _fan_out_step(self, work: Continuation, deadline: datetime) -> Continuation | None:
        job = self.jobs.get(work.series_id, work.job_id)
        if job is None or job.finished:
            return None
        if self.scheduler is None or self.schedule is None:
            raise RuntimeError("a fan-out job needs the scheduler")
        self.scheduler.run(deadline=deadline, only=work.series_id)
        tracked = [key for key in work.extra.get("tasks", "").split(",") if key]
        decisions = self.schedule.decisions(work.series_id)
        queued = sum(decisions[key].enqueued for key in tracked if key in decisions)
        now = self.clock.now()
        if all(key in decisions and decisions[key].settled(now)
               and decisions[key].state != "fanning" for key in tracked):
            self.jobs.update(work.series_id, work.job_id, now, state="done", done=queued)
            return None
        self.jobs.update(work.series_id, work.job_id, now, state="running", done=queued)
        waits = int(work.extra.get("waits", "0")) + 1 if queued == work.rows else 0
        if waits > self.settings.max_fan_out_waits:
            self.fail(replace(work, rows=queued), "another run holds this fan-out; the "
                      "scheduler carries it on (see the timeline)")
            return None
        return replace(work, rows=queued, steps=work.steps + 1,
                       extra={**work.extra, "waits": str(waits)})

    def _decisions_step(self, work: Continuation, deadline: datetime) -> Continuation | None:
        """Decide for the ids from the position ``work.rows`` on until ``deadline`` (one at
        least), then hand the rest on. Deciding one again decides nothing new (it only
        finishes its seats and emails), so a step run twice counts each person once."""
        from .approvals import decide_registrant

        job = self.jobs.get(work.series_id, work.job_id)
        if job is None or job.finished:
            return None
        series = self.store.get_series(work.series_id)
        decision = work.extra.get("decision")
        if series is None or self.scheduler is None or decision not in ("approve", "decline"):
            self.fail(work, "the series no longer exists" if series is None
                      else "this job cannot be carried out here")
            return None
        ids = self._listed_ids(work)
        if ids is None:
            return None
        changed = int(work.extra.get("changed", "0"))
        refused = int(work.extra.get("refused", "0"))
        position = work.rows
        while position < len(ids):
            try:
                if decide_registrant(self.store, self.scheduler.queue, self.clock, series,
                                     ids[position], "approve" if decision == "approve"
                                     else "decline", work.extra.get("reason", "")) \
                        == "changed":
                    changed += 1
            except (ApprovalError, NotFoundError):
                refused += 1
            position += 1
            work = replace(work, rows=position, extra={
                **work.extra, "changed": str(changed), "refused": str(refused)})
            if self.clock.now() >= deadline and position < len(ids):
                self.jobs.update(work.series_id, work.job_id, self.clock.now(),
                                 state="running", done=position, recorded=changed,
                                 not_registered=refused)
                return self._hand_on(work)
        self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="done",
                         done=position, recorded=changed, not_registered=refused)
        return None

    def _promotions_step(self, work: Continuation, deadline: datetime) -> Continuation | None:
        """Promote into each raised session's free seats, a session at a time, until
        ``deadline``; ``done`` counts the people told."""
        from .seating import promote_raised

        job = self.jobs.get(work.series_id, work.job_id)
        if job is None or job.finished:
            return None
        series = self.store.get_series(work.series_id)
        if series is None or self.scheduler is None:
            self.fail(work, "the series no longer exists" if series is None
                      else "this job cannot be carried out here")
            return None
        sessions = [s for s in work.extra.get("sessions", "").split(",") if s]
        told = int(work.extra.get("told", "0"))
        position = work.rows
        while position < len(sessions):
            told += promote_raised(self.store.seats, self.store.get_registration,
                                   self.scheduler.queue, series, sessions[position],
                                   self.clock.now())
            position += 1
            work = replace(work, rows=position, extra={**work.extra, "told": str(told)})
            if self.clock.now() >= deadline and position < len(sessions):
                self.jobs.update(work.series_id, work.job_id, self.clock.now(),
                                 state="running", done=told)
                return self._hand_on(work)
        self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="done",
                         done=told)
        return None

    def fan_out_delay(self, work: Continuation) -> int:
        """Seconds before the next step: none while it makes progress."""
        return self.settings.fan_out_wait_seconds if int(work.extra.get("waits", "0")) else 0

    def _upload(self, work: Continuation, object_key: str, data: bytes, rows: int,
                cursor: dict[str, object]) -> Continuation:
        number = len(work.parts) + 1
        tag = self.exports.put_part(object_key, work.upload_id, number, data)
        work = replace(work, parts=(*work.parts, (number, tag)), rows=work.rows + rows,
                       cursor=dict(cursor))
        self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="running",
                         done=work.rows)
        return work

    def _finish(self, work: Continuation, object_key: str, data: bytes,
                rows: int) -> None:
        number = len(work.parts) + 1
        tag = self.exports.put_part(object_key, work.upload_id, number, data)
        self.exports.complete(object_key, work.upload_id, (*work.parts, (number, tag)))
        self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="done",
                         done=work.rows + rows, result_key=object_key)
