"""Publishing a series: the one write path for series content, whether a whole file comes in
(API, CLI, the local runner) or one session changes.

Publishing the same content twice changes nothing. A session whose calendar-visible fields
changed gets SEQUENCE + 1 and a new DTSTAMP; unless quiet, the notices those changes owe their
registrants are stored with the series in one transaction and sent at once by a fan-out job
(the request does not grow with the audience; the scheduler carries on what the job leaves).

A dry run works the change out the same way and stores and sends nothing: which notices it
would bring, how many people each would reach now (the scheduler's rules), and how one reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..adapters.clock import Clock
from ..adapters.dynamo import StaleWriteError
from ..adapters.schedule_store import ScheduleStore
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core import send_plan
from ..core.errors import NotFoundError, PayloadError
from ..core.registration import Registration
from ..core.render import Renderer
from ..core.send_plan import Crowded
from ..core.series import Series
from ..core.series_document import parse_series
from ..core.series_merge import merge_series
from ..core.session_change import SessionChange, read_session_change
from ..core.tasks import Notice, session_notices, task_doc
from .announcing import (
    COUNT_PAGES,
    ORGANISER_COPY,
    organiser_recipient,
    preview_email,
    reach,
)
from .answers import ChangePreview, ConflictError, NoticePreview, Published
from .organiser_jobs import OrganiserJobs
from .scheduling import Scheduler, plan_series
from .seating import raised_sessions


class Publishing:
    """The publishing actions of an organiser (mixed into Organiser)."""

    store: Store
    schedule: ScheduleStore
    jobs: OrganiserJobs
    secrets: Secrets
    clock: Clock
    renderer: Renderer
    scheduler: Scheduler

    def push(self, series_id: str, doc: object, quiet: bool,
             dry_run: bool = False) -> Published | ChangePreview:
        """A series document (the file, as JSON) for the series named in the path."""
        incoming = parse_series(doc)
        if incoming.id != series_id:
            raise PayloadError(f"the file is series {incoming.id!r}, not {series_id!r}")
        if incoming.templates:  # a missing override folder is refused now, not at sending
            self.renderer.folders(incoming.templates)
        stored = self.store.get_series(incoming.id)
        if dry_run:
            return self._rehearse(stored, incoming, quiet)
        return self._publish(stored, incoming, quiet)

    def change_session(self, series_id: str, session_id: str, fields: Mapping[str, object],
                       quiet: bool, dry_run: bool = False,
                       expected_revision: int | None = None) -> Published | ChangePreview:
        """One session's fields changed, checked as a typed SessionChange; with
        ``expected_revision`` (the one a dry run was shown), only if nothing changed since."""
        stored = self._stored(series_id, expected_revision)
        changed = read_session_change(stored, session_id, fields).apply(stored)
        if dry_run:
            return self._rehearse(stored, changed, quiet)
        return self._publish(stored, changed, quiet)

    def cancel_session(self, series_id: str, session_id: str, quiet: bool,
                       dry_run: bool = False,
                       expected_revision: int | None = None) -> Published | ChangePreview:
        stored = self._stored(series_id, expected_revision)
        cancelled = SessionChange.cancellation(session_id).apply(stored)
        if dry_run:
            return self._rehearse(stored, cancelled, quiet)
        return self._publish(stored, cancelled, quiet)

    def publish(self, incoming: Series, quiet: bool) -> Published:
        """Create the series, or update it to this content."""
        return self._publish(self.store.get_series(incoming.id), incoming, quiet)

    def _stored(self, series_id: str, expected_revision: int | None = None) -> Series:
        stored = self.store.get_series(series_id)
        if stored is None:
            raise NotFoundError(f"unknown series {series_id[:80]!r}")
        if expected_revision is not None and expected_revision != stored.revision:
            # Two organisers previewed a change; the second confirm must not silently undo
            # the first: they look again at what is stored now.
            raise ConflictError(f"the series changed since this change was previewed "
                                f"(revision {expected_revision}, now {stored.revision}); "
                                "look at it again before you confirm")
        return stored

    def _rehearse(self, stored: Series | None, incoming: Series, quiet: bool) -> ChangePreview:
        """What publishing would do, worked out as ``_publish`` does; nothing stored or sent."""
        now = self.clock.now()
        merged = merge_series(stored, incoming, now)
        if stored is not None and merged is stored:
            return ChangePreview("unchanged", quiet=quiet, revision=stored.revision)
        _refuse_quiet_seating(stored, merged, quiet)
        notices = session_notices(stored, merged, now) if stored and not quiet else []
        changed = tuple(s.id for s in merged.sessions
                        if stored is None or stored.session(s.id) != s)
        return ChangePreview("created" if stored is None else "updated", changed,
                             tuple(self._notice_preview(merged, n) for n in notices), quiet,
                             stored.revision if stored else 0)

    def _notice_preview(self, series: Series, notice: Notice) -> NoticePreview:
        """A notice's reach now, and the email as a registrant of its session would get it.
        Counted one by one up to COUNT_PAGES pages; beyond, about so many from the kept
        counts (the request does not grow with the audience)."""
        sample = Registration(series.id, ORGANISER_COPY, organiser_recipient(series),
                              frozenset({notice.session_id}), whole_series=False)
        email = preview_email(series, notice.job(sample, series), self.clock.now(),
                              self.renderer)
        counted, complete = reach(self.store, self.secrets, series, notice, COUNT_PAGES)
        if complete:
            return NoticePreview(notice.kind, notice.session_id, counted, email.subject,
                                 email.text, email.html)
        return NoticePreview(notice.kind, notice.session_id,
                             max(counted, self._notice_estimate(series, notice)),
                             email.subject, email.text, email.html, bound="about")

    def _notice_estimate(self, series: Series, notice: Notice) -> int:
        """Whom a notice reaches, from the kept counts: an upper bound."""
        counts = self.store.counts(series.id)
        return counts.whole_series if notice.kind == "new_session" \
            else counts.session_registered(notice.session_id)

    def _publish(self, stored: Series | None, incoming: Series, quiet: bool) -> Published:
        now = self.clock.now()
        merged = merge_series(stored, incoming, now)
        if stored is not None and merged is stored:
            # repairs a lost index entry
            plan_series(self.schedule, self.store, stored.id, now, self._rate)
            return Published("unchanged", stored.revision, quiet=quiet,
                             crowded=self.crowded(stored))
        _refuse_quiet_seating(stored, merged, quiet)
        notices = session_notices(stored, merged, now) if stored and not quiet else []
        try:  # the series and the notices it owes its registrants, in one transaction
            self.store.put_series(merged, stored.revision if stored else None,
                                  tasks={n.key: task_doc(n) for n in notices})
        except StaleWriteError:
            raise ConflictError("the series changed meanwhile; fetch it and try again") from None
        # The index first: if the job never runs, the scheduler still sends the notices.
        plan_series(self.schedule, self.store, merged.id, now, self._rate)
        raised = raised_sessions(stored, merged, now)  # more seats: their waitlists move on
        if raised:
            self.jobs.start_promotions(merged.id, raised)
        about = sum(self._notice_estimate(merged, n) for n in notices)
        sessions = {n.session_id for n in notices}
        job = self.jobs.start_fan_out(merged.id, tuple(n.key for n in notices), about,
                                      session_id=sessions.pop() if len(sessions) == 1 else "") \
            if notices else None
        changed = tuple(s.id for s in merged.sessions
                        if stored is None or stored.session(s.id) != s)
        return Published("created" if stored is None else "updated", merged.revision,
                         changed, tuple(n.key for n in notices), about, quiet,
                         job.job_id if job else "", self.crowded(merged))

    def crowded(self, series: Series) -> tuple[Crowded, ...]:
        """The reminders ahead whose window cannot send today's audience at the account's
        rate: the scheduler starts them early; the organiser is told (and doctor says so)."""
        if self._rate <= 0:
            return ()
        counts = self.store.counts(series.id)
        return tuple(send_plan.crowded(series, counts.session_registered, self._rate,
                                       self.clock.now()))

    @property
    def _rate(self) -> float:
        return self.scheduler.settings.send_rate


def _refuse_quiet_seating(stored: Series | None, merged: Series, quiet: bool) -> None:
    """A session added to a series with a capacity or approval seats (or lines up, or marks
    pending) its whole-series registrants, and tells each where they stand: that is mail, and
    without it their seats would not be counted. So it cannot be quiet."""
    if not quiet or stored is None or not merged.policy.counts_seats:
        return
    added = [s.id for s in merged.sessions if stored.session(s.id) is None and not s.cancelled]
    if added:
        raise PayloadError(f"quiet: session {added[0]!r} is new, and under the series' "
                           "capacity or approval its whole-series registrants are seated in "
                           "it and told where they stand; publish it without quiet")
