"""The confirmation: the sessions a person registered for, each with its calendar invitation;
with double opt-in, the link that confirms the registration first."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..i18n import tr
from ..series import Series
from .common import (
    Inputs,
    Kind,
    context,
    email,
    invites,
    live_sessions,
    read_fields,
    read_flag,
    read_string_map,
)

if TYPE_CHECKING:
    from ..jobs import EmailJob, EmailKind
    from ..mime import Email


@dataclass(frozen=True, slots=True)
class ConfirmationPayload:
    KIND: ClassVar[EmailKind] = "confirmation"

    opt_in_needed: bool = False  # double opt-in: the email asks the person to confirm
    join_urls: tuple[tuple[str, str], ...] = ()  # the person's own links: (session or "*", url)
    promoted: bool = False  # a seat opened up for someone on the waitlist: they are told so

    @classmethod
    def of(cls, *, opted_in: bool, join_urls: Mapping[str, str]) -> ConfirmationPayload:
        return cls(opt_in_needed=not opted_in, join_urls=tuple(sorted(join_urls.items())))

    def to_doc(self) -> dict[str, Any]:
        return ({"opt_in": True} if self.opt_in_needed else {}) \
            | ({"join_urls": dict(self.join_urls)} if self.join_urls else {}) \
            | ({"promoted": True} if self.promoted else {})

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ConfirmationPayload:
        doc = read_fields(doc, cls.KIND)
        return cls(opt_in_needed=read_flag(doc, "opt_in", cls.KIND),
                   join_urls=read_string_map(doc.get("join_urls"), "join_urls", cls.KIND),
                   promoted=read_flag(doc, "promoted", cls.KIND))

    @classmethod
    def from_v1(cls, extra: Mapping[str, str]) -> ConfirmationPayload:
        links = json.loads(extra["join_urls"]) if "join_urls" in extra else None
        return cls(opt_in_needed=extra.get("opt_in") == "needed",
                   join_urls=read_string_map(links, "join_urls", cls.KIND))


def compose(series: Series, job: EmailJob, payload: ConfirmationPayload,
            given: Inputs) -> Email:
    sessions = live_sessions(series, job.session_ids)
    join_urls = dict(payload.join_urls)
    view = context(series, job, given.links, sessions, given.now, join_urls)
    lang = view["language"]
    subject = tr(lang, "Registration confirmed: %(series)s", series=series.title)
    if len(sessions) == 1:
        subject = tr(lang, "Registration confirmed: %(title)s (%(series)s)",
                     title=sessions[0].title, series=series.title)
    if payload.promoted and len(sessions) == 1:
        subject = tr(lang, "A seat opened up: %(title)s (%(series)s)", title=sessions[0].title,
                     series=series.title)
    if payload.opt_in_needed:
        subject = tr(lang, "Please confirm your registration: %(series)s", series=series.title)
    text, html = given.renderer.render_pair("confirmation", view | {
        "subject": subject, "opt_in_url": given.links.opt_in if payload.opt_in_needed else "",
        "promoted": payload.promoted and len(sessions) == 1}, lang, series)
    calendars = invites(series, sessions, job, given.now, lang, join_urls)
    return email(series, job, given.now, subject, text, html, calendars=calendars)


CONFIRMATION = Kind(ConfirmationPayload, compose)
