"""The announcement: an organiser's Markdown to an audience (a follow-up is one too), in the
reader's language when the announcement carries that language, else as written; with a
one-click unsubscribe from announcements."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..announcements import Announcement, announcement_from_doc
from ..errors import PayloadError, StaleJobError
from ..series import Series
from .common import (
    Inputs,
    Kind,
    context,
    email,
    language_of,
    preheader,
    read_fields,
    read_text,
    unsubscribe_headers,
)

if TYPE_CHECKING:
    from ..jobs import EmailJob, EmailKind
    from ..mime import Email


@dataclass(frozen=True, slots=True)
class AnnouncementPayload:
    """Which announcement: a stored one by id (read once per sender container), or, for an
    organiser's preview or test copy, the announcement itself (nothing is stored for it)."""

    KIND: ClassVar[EmailKind] = "announcement"

    announcement_id: str = ""
    test_copy: Announcement | None = None

    def to_doc(self) -> dict[str, Any]:
        if self.test_copy is not None:
            return {"copy": self.test_copy.to_doc()}
        return {"id": self.announcement_id} if self.announcement_id else {}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> AnnouncementPayload:
        doc = read_fields(doc, cls.KIND)
        copy = doc.get("copy")
        return cls(announcement_id=read_text(doc, "id", cls.KIND),
                   test_copy=None if copy is None else _announcement(copy))

    @classmethod
    def from_v1(cls, extra: Mapping[str, str]) -> AnnouncementPayload:
        copy = extra.get("announcement_doc")
        return cls(announcement_id=extra.get("announcement", ""),
                   test_copy=None if copy is None else _announcement(json.loads(copy)))


def _announcement(doc: object) -> Announcement:
    try:
        return announcement_from_doc(dict(read_fields(doc, AnnouncementPayload.KIND)))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise PayloadError("malformed announcement payload: copy is not an announcement") \
            from None


def compose(series: Series, job: EmailJob, payload: AnnouncementPayload,
            given: Inputs) -> Email:
    announcement = payload.test_copy or given.announcement
    if announcement is None:
        raise StaleJobError("the announcement of this email no longer exists")
    renderer = given.renderer
    lang = language_of(series, job)
    written = announcement.in_language(lang)
    unsubscribe = given.links.unsubscribe_for("announcements")
    body_text = written.text()
    view = context(series, job, given.links, [], given.now) | {
        "body_html": renderer.inline(written.html(), series),  # CommonMark, raw HTML off
        "body_text": body_text, "preheader_text": preheader(body_text),
        "subject": written.subject, "unsubscribe": unsubscribe}
    text, html = renderer.render_pair("announcement", view, lang, series)
    return email(series, job, given.now, written.subject, text, html,
                 headers=unsubscribe_headers(series, unsubscribe))


ANNOUNCEMENT = Kind(AnnouncementPayload, compose)
