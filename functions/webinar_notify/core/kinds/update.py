"""The update: a session that changed (a new time shows the old one struck through), or a
new session offered to those registered for the whole series; with the calendar entry at its
next SEQUENCE."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..errors import PayloadError
from ..i18n import tr
from ..series import Series
from ..times import describe
from .common import (
    Inputs,
    Kind,
    context,
    email,
    invite,
    language_of,
    one_session,
    read_fields,
    read_instant,
    read_text,
    session_view,
)

if TYPE_CHECKING:
    from ..jobs import EmailJob, EmailKind
    from ..mime import Email

UpdateNotice = Literal["update", "new_session"]
NOTICES: tuple[UpdateNotice, ...] = ("update", "new_session")


@dataclass(frozen=True, slots=True)
class UpdatePayload:
    KIND: ClassVar[EmailKind] = "update"

    notice: UpdateNotice = "update"
    previous_start: datetime | None = None  # both set when the session moved
    previous_end: datetime | None = None

    def __post_init__(self) -> None:
        if (self.previous_start is None) != (self.previous_end is None):
            raise PayloadError("malformed update payload: give both previous times or neither")

    @property
    def moved(self) -> bool:
        return self.previous_start is not None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"notice": self.notice}
        if self.previous_start is not None and self.previous_end is not None:
            doc |= {"previous_start": self.previous_start.isoformat(),
                    "previous_end": self.previous_end.isoformat()}
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> UpdatePayload:
        doc = read_fields(doc, cls.KIND)
        notice = read_text(doc, "notice", cls.KIND, "update")
        if notice not in NOTICES:
            raise PayloadError("malformed update payload: notice is not update or new_session")
        return cls(notice="new_session" if notice == "new_session" else "update",
                   previous_start=read_instant(doc, "previous_start", cls.KIND),
                   previous_end=read_instant(doc, "previous_end", cls.KIND))

    @classmethod
    def from_v1(cls, extra: Mapping[str, str]) -> UpdatePayload:
        moved = "previous_start" in extra and "previous_end" in extra
        return cls.from_doc({"notice": extra.get("notice", "update")} | (
            {"previous_start": extra["previous_start"], "previous_end": extra["previous_end"]}
            if moved else {}))


def compose(series: Series, job: EmailJob, payload: UpdatePayload, given: Inputs) -> Email:
    session = one_session(series, job)
    recipient, now = job.recipient, given.now
    lang = language_of(series, job)
    previous = None
    if payload.previous_start is not None and payload.previous_end is not None:
        old = describe(payload.previous_start, payload.previous_end, recipient.time_zone,
                       series.time_zone, lang)
        previous = {"starts": old.starts, "ends": old.ends, "starts_local": old.starts_local,
                    "starts_series": old.starts_series}
    is_new = payload.notice == "new_session"
    view = context(series, job, given.links, [session], now) | {
        "session": session_view(series, session, recipient.time_zone, recipient.join_url, now,
                                lang),
        "previous": previous, "new_session": is_new}
    subject = (tr(lang, "New session: %(title)s", title=session.title) if is_new else
               tr(lang, "New time: %(title)s", title=session.title) if previous else
               tr(lang, "Updated: %(title)s", title=session.title))
    text, html = given.renderer.render_pair("update", view | {"subject": subject}, lang,
                                            series)
    entry = invite(series, session, job, now, lang, join_url=recipient.join_url)
    return email(series, job, now, subject, text, html, calendars=[entry])


UPDATE = Kind(UpdatePayload, compose)
