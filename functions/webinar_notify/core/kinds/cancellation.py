"""The cancellation: a session the organisers cancelled, or sessions the person dropped
themselves (one email, one METHOD:CANCEL per session, as calendars read only the first event
of an iTIP object)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import StaleJobError
from ..i18n import tr, tr_plural
from ..series import Series
from .common import (
    Inputs,
    Kind,
    context,
    email,
    invite,
    language_of,
    live_sessions,
    read_fields,
    read_flag,
    session_view,
)

if TYPE_CHECKING:
    from ..jobs import EmailJob, EmailKind
    from ..mime import Email


@dataclass(frozen=True, slots=True)
class CancellationPayload:
    KIND: ClassVar[EmailKind] = "cancellation"

    dropped_by_self: bool = False  # the person's own choice, not the organisers'

    def to_doc(self) -> dict[str, Any]:
        return {"dropped": True} if self.dropped_by_self else {}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> CancellationPayload:
        return cls(dropped_by_self=read_flag(read_fields(doc, cls.KIND), "dropped", cls.KIND))

    @classmethod
    def from_v1(cls, extra: Mapping[str, str]) -> CancellationPayload:
        return cls(dropped_by_self=extra.get("dropped") == "self")


def compose(series: Series, job: EmailJob, payload: CancellationPayload,
            given: Inputs) -> Email:
    if payload.dropped_by_self:
        return _dropped(series, job, given)
    session = series.session(job.session_ids[0]) if job.session_ids else None
    if session is None:
        raise StaleJobError("the cancelled session is not in the series")
    recipient, now = job.recipient, given.now
    lang = language_of(series, job)
    view = context(series, job, given.links, [], now) | {
        "session": session_view(series, session, recipient.time_zone, None, now, lang)}
    subject = tr(lang, "Cancelled: %(title)s", title=session.title)
    text, html = given.renderer.render_pair("cancellation", view | {"subject": subject}, lang,
                                            series)
    cancel = invite(series, session, job, now, lang, method="CANCEL")
    return email(series, job, now, subject, text, html, calendars=[cancel])


def _dropped(series: Series, job: EmailJob, given: Inputs) -> Email:
    sessions = live_sessions(series, job.session_ids)  # one cancelled has its own email
    if not sessions:
        raise StaleJobError("the dropped sessions are no longer in the series")
    recipient, now = job.recipient, given.now
    lang = language_of(series, job)
    views = [session_view(series, s, recipient.time_zone, None, now, lang) for s in sessions]
    subject = (tr(lang, "Dropped: %(title)s", title=sessions[0].title) if len(sessions) == 1
               else tr_plural(lang, "Dropped: %(num)d session of %(series)s",
                              "Dropped: %(num)d sessions of %(series)s", len(sessions),
                              series=series.title))
    text, html = given.renderer.render_pair("dropped", context(
        series, job, given.links, [], now) | {"dropped": views, "subject": subject}, lang,
        series)
    cancels = [invite(series, s, job, now, lang, method="CANCEL") for s in sessions]
    return email(series, job, now, subject, text, html, calendars=cancels)


CANCELLATION = Kind(CancellationPayload, compose)
