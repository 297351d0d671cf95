"""The decline: the organisers did not approve a registration, with their reason if they
gave one. The last email the person gets from the series."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..i18n import tr
from ..series import Series
from .common import Inputs, Kind, context, email, read_fields, read_text

if TYPE_CHECKING:
    from ..jobs import EmailJob, EmailKind
    from ..mime import Email


@dataclass(frozen=True, slots=True)
class DeclinedPayload:
    KIND: ClassVar[EmailKind] = "declined"

    reason: str = ""  # the organiser's, cleaned (core/policies.clean_reason); may be empty

    def to_doc(self) -> dict[str, Any]:
        return {"reason": self.reason} if self.reason else {}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> DeclinedPayload:
        return cls(reason=read_text(read_fields(doc, cls.KIND), "reason", cls.KIND))

    @classmethod
    def from_v1(cls, extra: Mapping[str, str]) -> DeclinedPayload:
        return cls(reason=extra.get("reason", ""))


def compose(series: Series, job: EmailJob, payload: DeclinedPayload, given: Inputs) -> Email:
    view = context(series, job, given.links, [], given.now)
    lang = view["language"]
    subject = tr(lang, "Registration not approved: %(series)s", series=series.title)
    text, html = given.renderer.render_pair("declined", view | {
        "subject": subject, "reason": payload.reason}, lang, series)
    return email(series, job, given.now, subject, text, html)


DECLINED = Kind(DeclinedPayload, compose)
