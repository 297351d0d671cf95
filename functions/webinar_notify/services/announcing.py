"""Announcements and follow-ups: to an audience, now or at a time, previewed and counted
first, cancellable until they go."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from ..adapters.clock import Clock
from ..adapters.queue import SendQueue
from ..adapters.schedule_store import ScheduleStore
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.announcements import Announcement, parse_announcement, translations_from_doc
from ..core.compose import Links, compose
from ..core.console_views import audience_estimate
from ..core.errors import NotFoundError, PayloadError
from ..core.follow_ups import absentee_note, follow_up_announcements
from ..core.jobs import ORGANISER_COPY as ORGANISER_COPY  # still importable from here
from ..core.jobs import EmailJob, delivery_key
from ..core.kinds import AnnouncementPayload
from ..core.mime import Email
from ..core.registration import Registrant
from ..core.render import Renderer
from ..core.series import Series
from ..core.tasks import AnnouncementTask, Task, task_doc
from ..core.text import normalise_email, suppression_id
from .answers import (
    Announced,
    AnnouncementCancelled,
    ConflictError,
    CountBound,
    FollowedUp,
    Preview,
)
from .organiser_jobs import OrganiserJobs
from .scheduling import Scheduler, plan_series


class Announcing:
    """The announcement actions of an organiser (mixed into Organiser)."""

    store: Store
    schedule: ScheduleStore
    scheduler: Scheduler
    secrets: Secrets
    clock: Clock
    queue: SendQueue
    renderer: Renderer
    jobs: OrganiserJobs

    def announce(self, series_id: str, doc: dict[str, Any]) -> Preview | Announced:
        """A preview (``dry_run``), a test copy (``test_to``), or the announcement itself."""
        now = self.clock.now()
        series, announcement = self._announcement(series_id, doc, now)
        if doc.get("dry_run"):
            preview = preview_email(series, _preview_job(series, announcement), now,
                                    self.renderer, announcement)
            recipients, bound = self.count(series, AnnouncementTask(announcement))
            return Preview(recipients, announcement.subject, announcement.audience.describe(),
                           preview.html, preview.text, bound)
        if doc.get("test_to"):
            address = normalise_email(doc["test_to"], field="test_to")
            self.queue.send([_preview_job(series, announcement, address, now)])
            return Announced(announcement.id, "test sent")
        return self._take_on(series, announcement, now)

    def follow_up(self, series_id: str, doc: dict[str, Any]) -> FollowedUp:
        """After a session: its recording, slides and a survey (core/follow_ups.py)."""
        series = self._series(series_id)
        session = series.session(str(doc.get("session", "")))
        if session is None:
            raise PayloadError("session: unknown session")
        announced = []
        for announcement_doc in follow_up_announcements(session, doc, self.renderer,
                                                        absentee_note(series)):
            now = self.clock.now()
            series, announcement = self._announcement(series_id, announcement_doc, now)
            translations = translations_from_doc(announcement_doc["translations"])
            announced.append(self._take_on(series, replace(announcement,
                                                           translations=translations), now))
        return FollowedUp(tuple(announced))

    def cancel_announcement(self, series_id: str, announcement_id: str) -> AnnouncementCancelled:
        series = self._series(series_id)
        key = f"announcement#{announcement_id}"
        if self.schedule.task(series.id, key) is None:
            raise NotFoundError(f"no announcement {announcement_id[:60]!r}")
        if not self.schedule.cancel(series.id, key, self.clock.now()):
            state = self.schedule.decisions(series.id)[key].state
            if state != "cancelled":
                raise ConflictError(f"announcement {announcement_id!r} was already sent")
        plan_series(self.schedule, self.store, series.id, self.clock.now())
        return AnnouncementCancelled(announcement_id)

    def count(self, series: Series, task: AnnouncementTask) -> tuple[int, CountBound]:
        """How many people the announcement would reach now, in a bounded number of reads:
        from the kept counts where they tell (everyone, sessions: about, an upper bound), else
        counted one by one (suppressed ones not counted) up to COUNT_PAGES pages."""
        about = self.estimate(series, task.announcement)
        if about is not None:
            return about, "about"
        counted, complete = reach(self.store, self.secrets, series, task, COUNT_PAGES)
        return counted, "exact" if complete else "at least"

    def estimate(self, series: Series, announcement: Announcement) -> int | None:
        """About how many people an announcement reaches, from the kept counts in one read:
        everyone registered, or the registrants of its sessions (an upper bound: opt-outs and
        suppressions are left out when it goes); None for an interest list or attendance."""
        audience = announcement.audience
        return audience_estimate(audience.kind, audience.values, self.store.counts(series.id))

    def _announcement(self, series_id: str, doc: dict[str, Any],
                      now: datetime) -> tuple[Series, Announcement]:
        series = self._series(series_id)
        announcement = parse_announcement(doc, series, now)
        self._check_attendance(series, announcement)
        return series, announcement

    def _take_on(self, series: Series, announcement: Announcement, now: datetime) -> Announced:
        """Store the announcement's task (once per id), then send it now or leave it planned."""
        task = AnnouncementTask(announcement)
        if not self.schedule.put_task(series.id, task.key, task_doc(task)):
            existing = self.schedule.task(series.id, task.key)
            if existing != task_doc(task) and not _same_except_time(existing, task_doc(task)):
                raise ConflictError(f"an announcement with id {announcement.id!r} exists "
                                    "with other content; choose another id")
            plan_series(self.schedule, self.store, series.id, now)
            return Announced(announcement.id, "exists")
        plan_series(self.schedule, self.store, series.id, now)  # first: a crash loses nothing
        about = self.estimate(series, announcement)
        if announcement.send_at <= now:
            # Sent by a job, not in this request: the fan-out grows with the audience.
            job = self.jobs.start_fan_out(series.id, (task.key,), about)
            return Announced(announcement.id, "sending", recipients=about, job=job.job_id)
        return Announced(announcement.id, "scheduled", send_at=announcement.send_at,
                         recipients_now=about)

    # -- attendance ------------------------------------------------------------------------
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


COUNT_PAGES = 4  # a preview counts at most this many pages of registrations one by one
COUNT_PAGE_SIZE = 500


def reach(store: Store, secrets: Secrets, series: Series, task: Task,
          pages: int | None = None) -> tuple[int, bool]:
    """How many people a task (an announcement, a session notice) would reach now: the
    scheduler's fan-out rules (``task.wants``, then the suppression list), sending nothing.
    With ``pages``, it stops after that many pages (a request must not grow with the
    audience): the count so far, and whether it is complete."""
    key, cursor, total, read = secrets.registrant_key(), None, 0, 0
    while True:
        page, cursor = store.registrations_page(series.id, cursor, COUNT_PAGE_SIZE)
        wanted = [suppression_id(key, r.registrant.email) for r in page
                  if task.wants(r, series)]
        total += len(wanted) - len(store.suppressed(wanted) if wanted else ())
        read += 1
        if cursor is None:
            return total, True
        if pages is not None and read >= pages:
            return total, False


def preview_email(series: Series, job: EmailJob, now: datetime, renderer: Renderer,
                  announcement: Announcement | None = None) -> Email:
    """An organiser's copy of an email, composed as a registrant's would be, with
    placeholder personal links."""
    return compose(series, job, now=now, renderer=renderer, links=PREVIEW_LINKS,
                   announcement=announcement)


def organiser_recipient(series: Series, address: str = "") -> Registrant:
    """Who a preview or test copy is addressed to (no name: nobody's data in a preview)."""
    return Registrant(address or "organiser@invalid", "", series.time_zone)


def _preview_job(series: Series, announcement: Announcement, address: str = "",
                 now: datetime | None = None) -> EmailJob:
    """A copy of the announcement for the organiser (a preview, or one test email)."""
    scope = (announcement.id, now.isoformat() if now else "preview")
    return EmailJob(
        kind="announcement", series_id=series.id, series_revision=series.revision,
        registrant_id=ORGANISER_COPY, recipient=organiser_recipient(series, address),
        session_ids=(), key=delivery_key("announcement", series.id, ORGANISER_COPY, *scope),
        payload=AnnouncementPayload(test_copy=announcement))


def _same_except_time(existing: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """A retried "send now" differs only in its send_at: it is the same announcement."""
    if existing is None:
        return False
    return {k: v for k, v in existing.items() if k != "send_at"} == \
        {k: v for k, v in new.items() if k != "send_at"}
