"""Organiser actions: publishing and changing sessions (with the mail calendars need),
announcements now or later, attendance and follow-ups. Every action is idempotent by key
and audited: who, when, what, and to how many recipients.

Actions return domain results (services/answers.py); the entry point that called turns one
into its answer, which ``perform`` records so that a retry gets the very same answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from ..adapters.audit import Audit
from ..adapters.clock import Clock
from ..adapters.queue import SendQueue
from ..adapters.schedule_store import ScheduleStore
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.errors import NotFoundError, PayloadError
from ..core.organiser_jobs import MAX_ATTENDANCE_ADDRESSES, OrganiserJob
from ..core.render import Renderer
from ..core.text import registrant_id
from .announcing import Announcing
from .answers import Answer, ConflictError, KeyReusedError
from .approvals import Approvals
from .organiser_jobs import OrganiserJobs
from .publishing import Publishing
from .registrant_care import PersonRecords, RegistrantCare
from .scheduling import Scheduler


class Organiser(Publishing, Announcing, RegistrantCare, Approvals):
    def __init__(self, store: Store, schedule: ScheduleStore, scheduler: Scheduler,
                 audit: Audit, secrets: Secrets, clock: Clock, queue: SendQueue,
                 renderer: Renderer, jobs: OrganiserJobs,
                 records: PersonRecords | None = None) -> None:
        self.records = records  # presence, evaluations, certificates: erased with the person
        self.jobs = jobs
        self.queue = queue
        self.renderer = renderer
        self.store = store
        self.schedule = schedule
        self.scheduler = scheduler
        self.audit = audit
        self.secrets = secrets
        self.clock = clock

    def perform(self, caller: str, idempotency_key: str, action: str, series_id: str,
                request: object, run: Callable[[], Answer]) -> Answer:
        """Run an action once per (caller, key): a retry of the same request gets the first
        answer again; the same key on another request, or while the first runs, is refused.
        ``run`` carries the action out and gives the caller's answer to it (its entry point
        maps the domain result), which is what gets recorded and replayed."""
        if not idempotency_key or len(idempotency_key) > 200:
            raise PayloadError("an Idempotency-Key header (at most 200 characters) is required")
        fingerprint = hashlib.sha256(json.dumps([action, series_id, request], sort_keys=True,
                                                default=str).encode()).hexdigest()
        now = self.clock.now()
        earlier = self.audit.begin(caller, idempotency_key, fingerprint, now)
        if earlier is not None:
            if earlier["fingerprint"] != fingerprint:
                raise KeyReusedError("this Idempotency-Key was used for another request")
            if "answer" not in earlier:
                raise ConflictError("the same request is being carried out; retry shortly")
            return Answer(int(earlier["answer"]["status"]), earlier["answer"]["body"])
        try:
            answer = run()
        except BaseException:
            self.audit.abandon(caller, idempotency_key)
            raise
        self.audit.finish(caller, idempotency_key, {"status": answer.status,
                                                    "body": answer.body})
        body = request.get("body") if isinstance(request, dict) else None
        if not (isinstance(body, dict) and body.get("dry_run")):
            self.audit.record(series_id, {"who": caller, "when": now.isoformat(),
                                          "action": action, "request": _without_addresses(request),
                                          "status": answer.status,
                                          "recipients": answer.body.get("recipients")}, now)
        return answer

    # -- attendance ------------------------------------------------------------------------
    def record_attendance(self, caller: str, series_id: str, session_id: str,
                          emails: object) -> OrganiserJob:
        """Accept who attended a session that has taken place, as a job: the request checks
        the list and turns each address into its registrant id (an address listed twice
        counts once); the job records attendance and then counts who matched a registration.
        Nothing here grows with the list but checking and hashing it."""
        series = self._series(series_id)
        session = series.session(session_id)
        if session is None:
            raise NotFoundError(f"unknown session {session_id[:40]!r}")
        if session.start > self.clock.now():
            raise PayloadError(f"{session_id!r} has not taken place yet")
        if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
            raise PayloadError("emails: expected a list of addresses")
        if len(emails) > MAX_ATTENDANCE_ADDRESSES:
            raise PayloadError(f"emails: at most {MAX_ATTENDANCE_ADDRESSES} addresses in one "
                               "import; send a longer list in parts (each adds to the last)")
        blank = next((i for i, e in enumerate(emails) if not e.strip()), None)
        if blank is not None:
            raise PayloadError(f"emails[{blank}]: empty; expected an address")
        key = self.secrets.registrant_key()
        ids = list(dict.fromkeys(registrant_id(key, series.id, e.strip()) for e in emails))
        return self.jobs.start_attendance(caller, series.id, session_id, ids)


def _without_addresses(request: object) -> object:
    """The audit keeps what was asked, but no address (attendance lists, test copies)."""
    if not isinstance(request, dict) or not isinstance(request.get("body"), dict):
        return request
    body = dict(request["body"])
    if isinstance(body.get("emails"), list):
        body["emails"] = f"{len(body['emails'])} addresses"
    if isinstance(body.get("report"), str):  # an attendance report: a row per person
        body["report"] = f"{len(body['report'].splitlines())} lines"
    if "test_to" in body:
        body["test_to"] = "(an address)"
    body.pop("series", None)  # a whole series file: its revision is in the answer
    return {**request, "body": body}
