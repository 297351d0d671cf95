"""The attendance and certificate jobs: accepted in one request, carried out by the job
function in steps (organiser_jobs.py has the others, and the one ``step`` that runs them all).

- An attendance import: the request stores the list as registrant ids (keyed hashes, never an
  address) in one object; each step marks attendance for the next ids in the list, batch by
  batch, until its time is up, and hands on the position it reached with the counts so far.
  The counts say whether each id matched a registration, not whether this step changed it,
  so a step run again from the same position counts the same; at the end the session's
  attendance is marked known (only then can an "attended" or "absent" audience be used).
  Each listed person is also marked present for the whole session (a manual mark, kept with
  their presence for certificates).
- An attendance upload (Zoom's attendee report or a generic CSV, services/attendance.py): the
  request reads the file whole and stores its rows per registrant id; each step writes the
  rows of registrants (others are counted as not registered), and the last marks the
  session's import, which makes the rows count and replaces the webhook log. Then the
  registrations are read a page at a time (as the follow-up's fan-out reads them) to keep
  their ``attended`` flag in step with the report: set for those it shows present, cleared
  for those it shows absent and for those it leaves out who were marked by a webhook (a
  manual mark stands). A flag that already says so is not written again, so a rerun of the
  same report writes nothing. Last, it starts the series' certificate assessment.
- A certificate assessment: each step assesses a page of registrations (services/
  certificates.py) and issues what is earned, until every registration has been seen.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from ..core.errors import NotFoundError, PayloadError
from ..core.organiser_jobs import (
    Continuation,
    OrganiserJob,
    encode_ids,
    import_key,
)
from ..core.series import Series, Session
from .job_steps import JobSteps

if TYPE_CHECKING:
    from ..adapters.certificate_store import ImportRow
    from ..core.registration import Registration
    from .certificates import Certificates

FLAGS = "flags"  # an upload's last phase: the registrations' attended flags


class AttendanceJobs(JobSteps):
    """Starting and stepping the attendance and certificate jobs."""

    def start_attendance(self, caller: str, series_id: str, session_id: str,
                         registrant_ids: list[str]) -> OrganiserJob:
        """Accept an attendance import: the ids as one object, one record and one message,
        whatever the list's length."""
        return self._queue_job(series_id, "attendance", caller, len(registrant_ids),
                               session_id=session_id, stored=(
                                   import_key, encode_ids(registrant_ids),
                                   "text/plain; charset=us-ascii"))

    def start_attendance_upload(self, caller: str, series_id: str, session_id: str,
                                source: str, rows: dict[str, ImportRow]) -> OrganiserJob:
        """Accept an uploaded report, read already: its rows per registrant id as one object,
        one record and one message."""
        from .attendance import rows_document

        return self._queue_job(series_id, "attendance", caller, len(rows),
                               session_id=session_id, extra={"source": source},
                               stored=(upload_key, rows_document(rows), "application/json"))

    def start_certificates(self, caller: str, series_id: str) -> OrganiserJob:
        """Assess every registrant of the series and issue what is earned, as a job."""
        series = self.store.get_series(series_id)
        if series is None:
            raise NotFoundError(f"unknown series {series_id[:80]!r}")
        if not series.certificates:
            raise PayloadError("this series gives no certificates (certificates: in the "
                               "series file)")
        return self._queue_job(series_id, "certificates", caller,
                               self.store.counts(series_id).registered)

    def _attendance_step(self, work: Continuation, deadline: datetime) -> Continuation | None:
        """Mark attendance for the ids from the position ``work.rows`` on, a batch at a time,
        until ``deadline`` has passed (one batch at least), then hand the rest on."""
        job = self.jobs.get(work.series_id, work.job_id)
        if job is None or job.finished:
            return None  # a step delivered again after the end
        if self.store.get_series(work.series_id) is None:
            self.fail(work, "the series no longer exists")
            return None
        ids = self._listed_ids(work)
        if ids is None:
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
        """Mark one registration as having attended (and, where attendance is kept, present
        for the whole session): False if the id matches none. Already marked counts as
        matched, so that looking an id up twice gives the same answer."""
        from .attendance import keep_attended, mark

        registration = self.store.get_registration(series_id, rid)
        if registration is None:
            return False
        series = self.store.get_series(series_id)
        session = series.session(session_id) if series else None
        if session is not None and self._certificates is not None:
            mark(self.store, self._certificates().certificates, self.clock, session,
                 registration, attended=True)
            return True
        return keep_attended(self.store, self.clock, registration, session_id, True)

    def _attendance_job(self, work: Continuation, unkept: str
                        ) -> tuple[OrganiserJob, Series, Certificates] | None:
        """The job and its series, while both are there and this deployment keeps
        attendance; else the job is failed saying why (or was done already): None."""
        job = self.jobs.get(work.series_id, work.job_id)
        if job is None or job.finished:
            return None
        series = self.store.get_series(work.series_id)
        if series is None or self._certificates is None:
            self.fail(work, "the series no longer exists" if series is None else unkept)
            return None
        return job, series, self._certificates()

    def _upload_step(self, work: Continuation, deadline: datetime) -> Continuation | None:
        """Write the upload's rows of registrants from ``work.rows`` on, a batch at a time,
        until ``deadline``; after the last, mark the session's import (the rows count from
        then on) and start the series' certificate assessment."""
        from .attendance import rows_from_document

        opened = self._attendance_job(work, "this deployment keeps no attendance")
        if opened is None:
            return None
        job, series, certificates = opened
        try:
            rows = rows_from_document(self.exports.read(upload_key(work.series_id,
                                                                    work.job_id)))
        except PayloadError as error:
            self.fail(work, str(error))
            return None
        if work.extra.get("phase") == FLAGS:
            return self._flags_step(work, job, series, rows, deadline)
        store = certificates.certificates
        ids = sorted(rows)
        position = work.rows
        recorded = int(work.extra.get("recorded", "0"))
        not_registered = int(work.extra.get("not_registered", "0"))
        source = work.extra["source"]
        while True:
            batch = ids[position:position + self.settings.attendance_batch]
            registered = self.store.registrations(work.series_id, batch)  # BatchGetItem
            known = {rid: rows[rid] for rid in batch if rid in registered}
            for rid, row in known.items():
                store.put_upload(work.series_id, rid, job.session_id, source, row.intervals,
                                 row.minutes, job.job_id)
            recorded += len(known)
            not_registered += len(batch) - len(known)
            position += len(batch)
            work = replace(work, rows=position, extra={
                "source": source, "recorded": str(recorded),
                "not_registered": str(not_registered)})
            if position >= len(ids):
                store.mark_imported(work.series_id, job.session_id, source, job.job_id,
                                    self.clock.now())
                self.store.mark_attendance_known(work.series_id, job.session_id)
                work = replace(work, cursor=None, extra={**work.extra, "phase": FLAGS})
                return self._flags_step(work, job, series, rows, deadline)
            self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="running",
                             done=position, recorded=recorded, not_registered=not_registered)
            if self.clock.now() >= deadline:
                return self._hand_on(work)

    def _flags_step(self, work: Continuation, job: OrganiserJob, series: Series,
                    rows: dict[str, ImportRow], deadline: datetime) -> Continuation | None:
        """After the import's marker: the registrations' ``attended`` flags for the session
        set from the report, a page of registrations at a time (one Query each) until
        ``deadline``; then the job is done and the series' certificates are assessed."""
        session = series.session(job.session_id)
        while session is not None:
            page, cursor = self.store.registrations_page(series.id, work.cursor,
                                                         self.settings.certificate_page)
            for registration in page:
                self._keep_flag(series, session, registration, rows, work.extra["source"])
            work = replace(work, cursor=dict(cursor) if cursor else None)
            if cursor is None:
                break
            if self.clock.now() >= deadline:
                return self._hand_on(work)
        self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="done",
                         done=work.rows, recorded=int(work.extra.get("recorded", "0")),
                         not_registered=int(work.extra.get("not_registered", "0")))
        if series.certificates:
            self.start_certificates(job.requested_by, series.id)
        return None

    def _keep_flag(self, series: Series, session: Session, registration: Registration,
                   rows: dict[str, ImportRow], source: str) -> None:
        """One registration's flag as the report has it: its row if it has one; if not, and
        the flag is set, the person's records decide (a manual mark stands, a webhook no
        longer counts); if neither, there is nothing to change and nothing is read."""
        from ..adapters.certificate_store import SessionRecord
        from .attendance import keep_attended, was_there

        rid = registration.registrant_id
        row = rows.get(rid)
        if row is not None:
            record: SessionRecord | None = SessionRecord(upload=row.intervals,
                                                         upload_minutes=row.minutes,
                                                         source=source)
        elif session.id in registration.attended and self._certificates is not None:
            record = self._certificates().certificates.records(series.id, rid) \
                .sessions.get(session.id)
        else:
            return
        keep_attended(self.store, self.clock, registration, session.id,
                      was_there(record, session))

    def _certificates_step(self, work: Continuation, deadline: datetime
                           ) -> Continuation | None:
        """Assess a page of registrations at a time until ``deadline``, then hand on."""
        opened = self._attendance_job(work, "this deployment issues no certificates")
        if opened is None:
            return None
        _job, series, certificates = opened
        cursor, done = work.cursor, work.rows
        issued = int(work.extra.get("issued", "0"))
        unnamed = int(work.extra.get("unnamed", "0"))
        while True:
            tally, cursor = certificates.assess_page(series, cursor,
                                                     self.settings.certificate_page)
            done, issued, unnamed = done + tally.people, issued + tally.issued, \
                unnamed + tally.unnamed + tally.unprintable
            if cursor is None:
                self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="done",
                                 done=done, recorded=issued, not_registered=unnamed)
                return None
            work = replace(work, cursor=dict(cursor), rows=done,
                           extra={"issued": str(issued), "unnamed": str(unnamed)})
            self.jobs.update(work.series_id, work.job_id, self.clock.now(), state="running",
                             done=done)
            if self.clock.now() >= deadline:
                return self._hand_on(work)


def upload_key(series_id: str, job_id: str) -> str:
    """Where an attendance upload keeps its rows per registrant id (never an address)."""
    return import_key(series_id, job_id).removesuffix(".txt") + ".json"
