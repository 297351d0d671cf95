"""Organiser actions: publishing and changing sessions (with the mail calendars need),
announcements now or later, attendance and follow-ups. Every action is idempotent by key
and audited: who, when, what, and to how many recipients."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..adapters.audit import Audit
from ..adapters.clock import Clock
from ..adapters.dynamo import StaleWriteError
from ..adapters.queue import SendQueue
from ..adapters.schedule_store import ScheduleStore
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.announcements import Announcement, parse_announcement
from ..core.compose import Links, compose
from ..core.errors import InvalidInputError, NotFoundError, PayloadError
from ..core.jobs import EmailJob, delivery_key
from ..core.registration import Registrant
from ..core.render import Renderer
from ..core.series import Series
from ..core.series_document import parse_series, series_to_document
from ..core.series_merge import merge_series
from ..core.tasks import AnnouncementTask, session_notices, task_doc
from ..core.text import normalise_email, registrant_id, suppression_id
from .scheduling import Scheduler, plan_series

SEND_NOW_BUDGET = timedelta(seconds=5)  # fan out inline this long; the scheduler does the rest
SESSION_FIELDS = {"start", "duration_minutes", "title", "join_url", "status", "description"}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


class ConflictError(InvalidInputError):
    status = 409


class KeyReusedError(InvalidInputError):
    status = 422


class Organiser:
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
    def announce(self, series_id: str, doc: dict[str, Any]) -> Answer:
        series = self._series(series_id)
        now = self.clock.now()
        announcement = parse_announcement(doc, series, now)
        self._check_attendance(series, announcement)
        task = AnnouncementTask(announcement)
        if doc.get("dry_run"):
            preview = compose(series, _preview_job(series, announcement), now=now,
                              renderer=self.renderer, links=PREVIEW_LINKS,
                              announcement=announcement)
            return Answer(200, {"recipients": self.count(series, task),
                                "subject": announcement.subject,
                                "audience": announcement.audience.describe(),
                                "html": preview.html, "text": preview.text})
        if doc.get("test_to"):
            address = normalise_email(doc["test_to"], field="test_to")
            self.queue.send([_preview_job(series, announcement, address, now)])
            return Answer(202, {"status": "test sent", "id": announcement.id})
        if not self.schedule.put_task(series.id, task.key, task_doc(task)):
            existing = self.schedule.task(series.id, task.key)
            if existing != task_doc(task) and not _same_except_time(existing, task_doc(task)):
                raise ConflictError(f"an announcement with id {announcement.id!r} exists "
                                    "with other content; choose another id")
            plan_series(self.schedule, series, now)
            return Answer(200, {"status": "exists", "id": announcement.id})
        plan_series(self.schedule, series, now)  # first: a crash below loses nothing
        if announcement.send_at <= now:
            sent = self.scheduler.run(deadline=now + SEND_NOW_BUDGET, only=series.id)
            return Answer(202, {"status": "sending", "id": announcement.id,
                                "recipients": sent.enqueued})
        return Answer(202, {"status": "scheduled", "id": announcement.id,
                            "send_at": announcement.send_at.isoformat(),
                            "recipients_now": self.count(series, task)})

    def follow_up(self, series_id: str, doc: dict[str, Any]) -> Answer:
        """After a session: the recording, slides and a survey, from templates/follow_up.md,
        to its registrants, or split into attendees and absentees (when attendance is known)."""
        series = self._series(series_id)
        session = series.session(str(doc.get("session", "")))
        if session is None:
            raise PayloadError("session: unknown session")
        base_id = str(doc.get("id") or f"follow-up-{session.id}")
        links = {k: doc.get(k) for k in ("recording_url", "slides_url", "survey_url")}
        if not any(links.values()):
            raise PayloadError("give at least one of recording_url, slides_url, survey_url")
        groups = [("attended", {"attended": session.id}), ("absent", {"absent": session.id})] \
            if doc.get("split") else [("registered", {"sessions": [session.id]})]
        answers = []
        for group, audience in groups:
            body = self.renderer.render("follow_up.md", {"session": session, "audience": group,
                                                         **links})
            suffix = f"-{group}" if doc.get("split") else ""
            offered = [name for name, key in (("recording", "recording_url"),
                                              ("slides", "slides_url"), ("survey", "survey_url"))
                       if links[key] and not (key == "survey_url" and group == "absent")]
            answers.append(self.announce(series_id, {
                "id": f"{base_id}{suffix}", "subject": doc.get("subject")
                or f"{session.title}: {' and '.join(offered)}", "body_markdown": body,
                "audience": audience, **({"send_at": doc["send_at"]} if doc.get("send_at")
                                         else {})}).body)
        return Answer(202, {"announcements": answers,
                            "recipients": sum(int(a.get("recipients", 0)) for a in answers)})

    def cancel_announcement(self, series_id: str, announcement_id: str) -> Answer:
        series = self._series(series_id)
        key = f"announcement#{announcement_id}"
        if self.schedule.task(series.id, key) is None:
            raise NotFoundError(f"no announcement {announcement_id[:60]!r}")
        if not self.schedule.cancel(series.id, key, self.clock.now()):
            state = self.schedule.decisions(series.id)[key].state
            if state != "cancelled":
                raise ConflictError(f"announcement {announcement_id!r} was already sent")
        plan_series(self.schedule, series, self.clock.now())
        return Answer(200, {"status": "cancelled", "id": announcement_id})

    def count(self, series: Series, task: AnnouncementTask) -> int:
        """How many people the announcement would reach now (suppressed ones not counted)."""
        key, cursor, total = self.secrets.registrant_key(), None, 0
        while True:
            page, cursor = self.store.registrations_page(series.id, cursor, 500)
            wanted = [suppression_id(key, r.registrant.email) for r in page
                      if task.wants(r, series)]
            total += len(wanted) - len(self.store.suppressed(wanted) if wanted else ())
            if cursor is None:
                return total

    # -- attendance ------------------------------------------------------------------------
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

    def _check_attendance(self, series: Series, announcement: Announcement) -> None:
        audience = announcement.audience
        if audience.kind in ("attended", "absent") and \
                not self.store.attendance_known(series.id, audience.values[0]):
            raise PayloadError(f"audience.{audience.kind}: attendance of "
                               f"{audience.values[0]!r} is not known yet")

    def _series(self, series_id: str) -> Series:
        series = self.store.get_series(series_id)
        if series is None:
            raise NotFoundError(f"unknown series {series_id[:80]!r}")
        return series


PREVIEW_LINKS = Links(manage="#your-registration", unsubscribe="#unsubscribe")


def _preview_job(series: Series, announcement: Announcement, address: str = "",
                 now: datetime | None = None) -> EmailJob:
    """A copy of the announcement for the organiser (a preview, or one test email)."""
    scope = (announcement.id, now.isoformat() if now else "preview")
    return EmailJob(
        kind="announcement", series_id=series.id, series_revision=series.revision,
        registrant_id="organiser-copy", recipient=Registrant(address or "organiser@invalid", "",
                                                              series.time_zone),
        session_ids=(), key=delivery_key("announcement", series.id, "organiser-copy", *scope),
        extra={"announcement_doc": json.dumps(announcement.to_doc())})


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


def _same_except_time(existing: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """A retried "send now" differs only in its send_at: it is the same announcement."""
    if existing is None:
        return False
    return {k: v for k, v in existing.items() if k != "send_at"} == \
        {k: v for k, v in new.items() if k != "send_at"}

