"""Organiser jobs as the console and the read API show them, and the one way an export's file
is handed out: every hand-out (the console's download, the read API's link) is recorded in
the audit trail the same way, with its row count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..adapters.audit import Audit
from ..adapters.clock import Clock
from ..adapters.exports import Exports
from ..core.console_views import job_summary
from ..core.errors import PayloadError
from ..core.organiser_jobs import OrganiserJob, job_view
from .organiser_jobs import OrganiserJobs

if TYPE_CHECKING:
    from ..bootstrap import Services


@dataclass(frozen=True, slots=True)
class Handout:
    """A finished export handed out: a short-lived link to it, or (where there are no links,
    as in a local run) the file itself when it was asked for."""

    filename: str
    rows: int
    link: str | None
    data: bytes | None = None


class ConsoleJobs:
    def __init__(self, jobs: OrganiserJobs, exports: Exports, audit: Audit, clock: Clock
                 ) -> None:
        self.jobs = jobs
        self.exports = exports
        self.audit = audit
        self.clock = clock

    def state(self, series_id: str, job_id: str) -> dict[str, Any]:
        """What a job has done so far, in numbers and in words; a finished export's size."""
        found = self.jobs.job(series_id, job_id)
        size = self.exports.size(found.result_key) if _finished_export(found) else None
        view = job_view(found, size)
        view["summary"] = job_summary(view)
        return view

    def state_with_link(self, series_id: str, job_id: str, caller: str, name: str, path: str
                        ) -> dict[str, Any]:
        """The read API's answer: the state and, once an export is done, its link (null where
        there are no links); a link given out is a download, and audited as one."""
        view = self.state(series_id, job_id)
        if view["kind"] == "registrants_csv" and view["state"] == "done":
            view["link"] = self.hand_out(series_id, job_id, caller, name, path,
                                         file_if_no_link=False).link
        return view

    def hand_out(self, series_id: str, job_id: str, caller: str, name: str, path: str, *,
                 file_if_no_link: bool) -> Handout:
        """A finished export's link (or its file, when there is no link and the file is
        wanted), recorded in the audit trail as a download; anything else is refused (400).
        Where nothing is handed out (no link, file not wanted), nothing is recorded."""
        found = self.jobs.job(series_id, job_id)
        if found.kind != "registrants_csv":
            raise PayloadError("this job has no file to download")
        if found.state != "done":
            raise PayloadError("this export is not finished yet")
        filename = f"{series_id}-registrants.csv"
        link = self.exports.link(found.result_key, filename)
        data = self.exports.read(found.result_key) if link is None and file_if_no_link \
            else None
        if link is None and data is None:
            return Handout(filename, found.done, None)
        now = self.clock.now()
        self.audit.record(series_id, {
            "who": caller, "when": now.isoformat(), "action": "download_export",
            "request": {"path": path, "by": name},
            "status": 200, "recipients": None, "rows": found.done}, now)
        return Handout(filename, found.done, link, data)


def jobs_from(services: Services) -> ConsoleJobs:
    """The console's job reads and hand-outs, for the pages and the read API alike."""
    return ConsoleJobs(services.jobs, services.exports, services.organiser.audit,
                       services.clock)


def _finished_export(job: OrganiserJob) -> bool:
    return job.kind == "registrants_csv" and job.state == "done" and bool(job.result_key)
