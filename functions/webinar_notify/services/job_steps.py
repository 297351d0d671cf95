"""What every organiser job's steps share: their settings, the stores they write, how a step
hands the rest on and how a job fails. The steps themselves live in organiser_jobs.py
(exports, fan-outs, decisions, promotions) and attendance_jobs.py (attendance and
certificates)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..adapters.clock import Clock
from ..adapters.exports import MIN_PART_BYTES, Exports
from ..adapters.job_queue import JobQueue
from ..adapters.job_store import JobStore
from ..adapters.store import Store
from ..core.errors import PayloadError
from ..core.organiser_jobs import (
    Continuation,
    JobKind,
    OrganiserJob,
    decode_ids,
    import_key,
    new_job_id,
)

if TYPE_CHECKING:
    from .certificates import Certificates


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
    certificate_page: int = 100  # registrations a certificate assessment reads at a time


class JobSteps:
    """The state every step reads (set by OrganiserJobs.__init__)."""

    store: Store
    jobs: JobStore
    exports: Exports
    queue: JobQueue
    clock: Clock
    settings: JobSettings
    _certificates: Callable[[], Certificates] | None

    def _queue_job(self, series_id: str, kind: JobKind, caller: str, total: int | None, *,
                   session_id: str = "", extra: dict[str, str] | None = None,
                   stored: tuple[Callable[[str, str], str], bytes, str] | None = None
                   ) -> OrganiserJob:
        """Accept a job: its input stored first when it has one (``stored``: object key per
        job id, data, content type), then one record and one message."""
        now = self.clock.now()
        job = OrganiserJob(series_id, new_job_id(now), kind, "queued", caller, now.isoformat(),
                           total=total, session_id=session_id)
        if stored is not None:
            key_of, data, content_type = stored
            self.exports.put(key_of(series_id, job.job_id), data, content_type)
        self.jobs.create(job, now)
        self.queue.send(Continuation(series_id, job.job_id, kind, extra=extra or {}))
        return job

    def _hand_on(self, work: Continuation) -> Continuation | None:
        """The next step, unless another copy of this step has handed on already."""
        if not self.jobs.hand_on(work.series_id, work.job_id, work.steps):
            return None
        return replace(work, steps=work.steps + 1)

    def _listed_ids(self, work: Continuation) -> list[str] | None:
        """The registrant ids the job was given (stored with it), or None when they cannot
        be read, and the job has failed saying why."""
        try:
            return decode_ids(self.exports.read(import_key(work.series_id, work.job_id)))
        except PayloadError as error:
            self.fail(work, str(error))
            return None

    def fail(self, work: Continuation, reason: str) -> None:
        self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="failed",
                         done=work.rows, error=reason)
