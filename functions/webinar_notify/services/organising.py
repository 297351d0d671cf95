"""Organiser actions: publishing and changing sessions (with the mail calendars need),
announcements now or later, attendance and follow-ups. Every action is idempotent by key
and audited: who, when, what, and to how many recipients."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..adapters.audit import Audit
from ..adapters.clock import Clock
from ..adapters.dynamo import StaleWriteError
from ..adapters.queue import SendQueue
from ..adapters.schedule_store import ScheduleStore
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.errors import NotFoundError, PayloadError
from ..core.render import Renderer
from ..core.series import Series
from ..core.series_document import parse_series, series_to_document
from ..core.series_merge import merge_series
from ..core.tasks import session_notices, task_doc
from ..core.text import registrant_id
from .announcing import SEND_NOW_BUDGET, Announcing
from .answers import Answer, ConflictError, KeyReusedError
from .scheduling import Scheduler, plan_series

SESSION_FIELDS = {"start", "duration_minutes", "title", "join_url", "status", "description"}


class Organiser(Announcing):
    def __init__(self, store: Store, schedule: ScheduleStore, scheduler: Scheduler,
                 audit: Audit, secrets: Secrets, clock: Clock, queue: SendQueue,
                 renderer: Renderer) -> None:
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
        answer again; the same key on another request, or while the first runs, is refused."""
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

    # -- sessions --------------------------------------------------------------------------
    def push(self, series_id: str, doc: object, quiet: bool) -> Answer:
        incoming = parse_series(doc)
        if incoming.id != series_id:
            raise PayloadError(f"the file is series {incoming.id!r}, not {series_id!r}")
        return self._publish(self.store.get_series(series_id), incoming, quiet)

    def change_session(self, series_id: str, session_id: str, fields: dict[str, Any],
                       quiet: bool) -> Answer:
        stored = self._series(series_id)
        if stored.session(session_id) is None:
            raise NotFoundError(f"unknown session {session_id[:40]!r}")
        unknown = sorted(set(fields) - SESSION_FIELDS)
        if unknown or not fields:
            raise PayloadError(f"give any of {', '.join(sorted(SESSION_FIELDS))}"
                               + (f"; {unknown[0]!r} is not one" if unknown else ""))
        doc = series_to_document(stored)
        for entry in doc["sessions"]:
            if entry["id"] == session_id:
                entry.update(fields)
        return self._publish(stored, parse_series(doc), quiet)

    def _publish(self, stored: Series | None, incoming: Series, quiet: bool) -> Answer:
        now = self.clock.now()
        merged = merge_series(stored, incoming, now)
        if stored is not None and merged is stored:
            plan_series(self.schedule, stored, now)  # cheap; repairs a missing index entry
            return Answer(200, {"outcome": "unchanged", "revision": stored.revision})
        notices = session_notices(stored, merged, now) if stored and not quiet else []
        try:  # the series and the notices it owes its registrants, in one transaction
            self.store.put_series(merged, stored.revision if stored else None,
                                  tasks={n.key: task_doc(n) for n in notices})
        except StaleWriteError:
            raise ConflictError("the series changed meanwhile; fetch it and try again") from None
        # The index first: if this function dies while sending, the scheduler carries on.
        plan_series(self.schedule, merged, now)
        sent = self.scheduler.run(deadline=now + SEND_NOW_BUDGET, only=merged.id) \
            if notices else None
        changed = [s.id for s in merged.sessions if stored is None or stored.session(s.id) != s]
        return Answer(201 if stored is None else 200, {
            "outcome": "created" if stored is None else "updated", "revision": merged.revision,
            "changed_sessions": changed, "notices": [n.key for n in notices],
            "recipients": sent.enqueued if sent else 0, "quiet": quiet})

    # -- announcements ---------------------------------------------------------------------
    def record_attendance(self, series_id: str, session_id: str, emails: object) -> Answer:
        series = self._series(series_id)
        session = series.session(session_id)
        if session is None:
            raise NotFoundError(f"unknown session {session_id[:40]!r}")
        if session.start > self.clock.now():
            raise PayloadError(f"{session_id!r} has not taken place yet")
        if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
            raise PayloadError("emails: expected a list of addresses")
        key, recorded = self.secrets.registrant_key(), 0
        for email in emails:
            rid = registrant_id(key, series.id, email.strip())
            registration = self.store.get_registration(series.id, rid)
            if registration is not None and session_id not in registration.attended:
                self.store.put_registration(
                    replace(registration, attended=registration.attended | {session_id}),
                    self.clock.now())
                recorded += 1
        self.store.mark_attendance_known(series.id, session_id)
        return Answer(200, {"session": session_id, "recorded": recorded,
                            "not_registered": len(emails) - recorded})

def _without_addresses(request: object) -> object:
    """The audit keeps what was asked, but no address (attendance lists, test copies)."""
    if not isinstance(request, dict) or not isinstance(request.get("body"), dict):
        return request
    body = dict(request["body"])
    if isinstance(body.get("emails"), list):
        body["emails"] = f"{len(body['emails'])} addresses"
    if "test_to" in body:
        body["test_to"] = "(an address)"
    body.pop("series", None)  # a whole series file: its revision is in the answer
    return {**request, "body": body}
