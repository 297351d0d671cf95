"""The "received, awaiting approval" email of a series whose organisers approve each
registrant: the sessions asked for, and no calendar invitation until they are approved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..i18n import tr
from ..series import Series
from .common import Inputs, Kind, NoFields, context, email, live_sessions

if TYPE_CHECKING:
    from ..jobs import EmailJob, EmailKind
    from ..mime import Email


@dataclass(frozen=True, slots=True)
class PendingPayload(NoFields):
    KIND: ClassVar[EmailKind] = "pending"


def compose(series: Series, job: EmailJob, payload: PendingPayload, given: Inputs) -> Email:
    sessions = live_sessions(series, job.session_ids)
    view = context(series, job, given.links, sessions, given.now)
    lang = view["language"]
    subject = tr(lang, "Registration received: %(series)s", series=series.title)
    text, html = given.renderer.render_pair("pending", view | {"subject": subject}, lang,
                                            series)
    return email(series, job, given.now, subject, text, html)


PENDING = Kind(PendingPayload, compose)
