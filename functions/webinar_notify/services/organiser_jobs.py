"""Organiser jobs: accepted in one request, carried out by the job function in steps.

- The registrant export: a CSV of every registration, written as a multipart upload, part by
  part, each step reading pages of registrations (Query) until its part is full. A step hands
  on the position after its last uploaded part, so a step that dies, or runs out of time with
  rows not yet uploaded, loses nothing: the next one reads them again.
- A fan-out sent now (an announcement): each step is a scheduler run for the series until
  its time is up; the scheduler's own cursor, lease and fence carry the fan-out across steps
  (and across the regular runs, which may take part), and the job reports how many emails the
  tracked tasks have queued until they are settled.
- An attendance import: the request stores the list as registrant ids (keyed hashes, never an
  address) in one object; each step marks attendance for the next ids in the list, batch by
  batch, until its time is up, and hands on the position it reached with the counts so far.
  The counts say whether each id matched a registration, not whether this step changed it,
  so a step run again from the same position counts the same; at the end the session's
  attendance is marked known (only then can an "attended" or "absent" audience be used).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from ..adapters.clock import Clock
from ..adapters.dynamo import StaleWriteError
from ..adapters.exports import MIN_PART_BYTES, Exports
from ..adapters.job_queue import JobQueue
from ..adapters.job_store import JobStore
from ..adapters.schedule_store import ScheduleStore
from ..adapters.store import Store
from ..core.errors import NotFoundError, PayloadError
from ..core.organiser_jobs import (
    Continuation,
    OrganiserJob,
    decode_ids,
    encode_ids,
    export_key,
    import_key,
    new_job_id,
)
from ..core.registration import Registration
from ..core.series import Series
from .scheduling import Scheduler

# The CSV text of one page of registrations; the header when given no page (None).
RowWriter = Callable[[Series, list[Registration] | None], str]
UTF8_BOM = "\ufeff"  # so that spreadsheet programs read the names right


@dataclass(frozen=True, slots=True)
class JobSettings:
    page_size: int = 500
    part_bytes: int = MIN_PART_BYTES
    max_stalls: int = 3  # steps in a row that uploaded nothing: then the job has failed
    # A fan-out held by another run (its lease live) is asked again after this long, up to
    # this many times in a row (more than the scheduler's lease) before the job gives up on
    # following it; the scheduler's regular runs carry the fan-out on regardless.
    fan_out_wait_seconds: int = 30
    max_fan_out_waits: int = 20
    attendance_batch: int = 200  # ids an import looks up between two progress records
    write_attempts: int = 5  # a registration written meanwhile by another: read it again


class OrganiserJobs:
    def __init__(self, store: Store, jobs: JobStore, exports: Exports, queue: JobQueue,
                 clock: Clock, rows: RowWriter, settings: JobSettings = JobSettings(), *,
                 scheduler: Scheduler | None = None, schedule: ScheduleStore | None = None
                 ) -> None:
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
        now = self.clock.now()
        counts = self.store.counts(series_id)
        job = OrganiserJob(series_id, new_job_id(now), "registrants_csv", "queued", caller,
                           now.isoformat(), total=counts.registered + counts.awaiting_opt_in
                           + counts.cancelled)
        self.jobs.create(job, now)
        self.queue.send(Continuation(series_id, job.job_id, job.kind))
        return job

    def start_fan_out(self, series_id: str, task_keys: tuple[str, ...], total: int | None,
                      caller: str = "", session_id: str = "") -> OrganiserJob:
        """Send tasks that are due now (an announcement, or the notices of a change to
        ``session_id``): one record and one message."""
        now = self.clock.now()
        job = OrganiserJob(series_id, new_job_id(now), "fan_out", "queued", caller,
                           now.isoformat(), total=total, session_id=session_id)
        self.jobs.create(job, now)
        self.queue.send(Continuation(series_id, job.job_id, job.kind,
                                     extra={"tasks": ",".join(task_keys)}))
        return job

    def start_attendance(self, caller: str, series_id: str, session_id: str,
                         registrant_ids: list[str]) -> OrganiserJob:
        """Accept an attendance import: the ids as one object, one record and one message,
        whatever the list's length."""
        now = self.clock.now()
        job = OrganiserJob(series_id, new_job_id(now), "attendance", "queued", caller,
                           now.isoformat(), total=len(registrant_ids), session_id=session_id)
        self.exports.put(import_key(series_id, job.job_id), encode_ids(registrant_ids),
                         "text/plain; charset=us-ascii")
        self.jobs.create(job, now)
        self.queue.send(Continuation(series_id, job.job_id, job.kind))
        return job

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
        if work.kind == "attendance":
            return self._attendance_step(work, deadline)
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

    def _hand_on(self, work: Continuation) -> Continuation | None:
        """The next step, unless another copy of this step has handed on already."""
        if not self.jobs.hand_on(work.series_id, work.job_id, work.steps):
            return None
        return replace(work, steps=work.steps + 1)

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

    def _attendance_step(self, work: Continuation, deadline: datetime) -> Continuation | None:
        """Mark attendance for the ids from the position ``work.rows`` on, a batch at a time,
        until ``deadline`` has passed (one batch at least), then hand the rest on."""
        job = self.jobs.get(work.series_id, work.job_id)
        if job is None or job.finished:
            return None  # a step delivered again after the end
        if self.store.get_series(work.series_id) is None:
            self.fail(work, "the series no longer exists")
            return None
        try:
            ids = decode_ids(self.exports.read(import_key(work.series_id, work.job_id)))
        except PayloadError as error:
            self.fail(work, str(error))
            return None
        position = work.rows
        recorded = int(work.extra.get("recorded", "0"))
        not_registered = int(work.extra.get("not_registered", "0"))
        while True:
            batch = ids[position:position + self.settings.attendance_batch]
            for rid in batch:
                if self._attended(work.series_id, rid, job.session_id):
                    recorded += 1
                else:
                    not_registered += 1
            position += len(batch)
            work = replace(work, rows=position, extra={
                "recorded": str(recorded), "not_registered": str(not_registered)})
            if position >= len(ids):
                self.store.mark_attendance_known(work.series_id, job.session_id)
                self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="done",
                                 done=position, recorded=recorded,
                                 not_registered=not_registered)
                return None
            self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="running",
                             done=position, recorded=recorded, not_registered=not_registered)
            if self.clock.now() >= deadline:
                return self._hand_on(work)

    def _attended(self, series_id: str, rid: str, session_id: str) -> bool:
        """Mark one registration as having attended: False if the id matches none. Already
        marked counts as matched, so that looking an id up twice gives the same answer."""
        for _attempt in range(self.settings.write_attempts):
            registration = self.store.get_registration(series_id, rid)
            if registration is None:
                return False
            if session_id in registration.attended:
                return True
            try:
                self.store.put_registration(
                    replace(registration, attended=registration.attended | {session_id}),
                    self.clock.now())
                return True
            except StaleWriteError:
                continue  # written meanwhile (a webhook, a Zoom join): read it again
        raise StaleWriteError  # the step fails and SQS delivers it again

    def fan_out_delay(self, work: Continuation) -> int:
        """Seconds before the next step: none while it makes progress."""
        return self.settings.fan_out_wait_seconds if int(work.extra.get("waits", "0")) else 0

    def fail(self, work: Continuation, reason: str) -> None:
        self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="failed",
                         done=work.rows, error=reason)

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
