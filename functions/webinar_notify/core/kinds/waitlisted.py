"""The waitlist email: the sessions a person asked for that were full, each with their
place in line, and no calendar invitation (that comes with the seat, in a confirmation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import PayloadError, StaleJobError
from ..i18n import tr
from ..series import Series
from .common import Inputs, Kind, context, email, live_sessions, read_fields

if TYPE_CHECKING:
    from ..jobs import EmailJob, EmailKind
    from ..mime import Email


@dataclass(frozen=True, slots=True)
class WaitlistedPayload:
    KIND: ClassVar[EmailKind] = "waitlisted"

    places: tuple[tuple[str, int], ...] = ()  # (session, place in line when it was queued)

    def to_doc(self) -> dict[str, Any]:
        return {"places": dict(self.places)} if self.places else {}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> WaitlistedPayload:
        places = read_fields(doc, cls.KIND).get("places", {})
        if not isinstance(places, Mapping) or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0
                for k, v in places.items()):
            raise PayloadError("malformed waitlisted payload: places is not a map of places")
        return cls(places=tuple(sorted(places.items())))

    @classmethod
    def from_v1(cls, extra: Mapping[str, str]) -> WaitlistedPayload:
        return cls()


def compose(series: Series, job: EmailJob, payload: WaitlistedPayload,
            given: Inputs) -> Email:
    sessions = live_sessions(series, job.session_ids)
    if not sessions:
        raise StaleJobError("the sessions of this waitlist email are gone or cancelled")
    view = context(series, job, given.links, sessions, given.now)
    places = dict(payload.places)
    for session in view["sessions"]:
        session["place"] = places.get(session["id"], 0)
    lang = view["language"]
    subject = tr(lang, "On the waitlist: %(title)s", title=sessions[0].title) \
        if len(sessions) == 1 else tr(lang, "On the waitlist: %(series)s", series=series.title)
    text, html = given.renderer.render_pair("waitlisted", view | {"subject": subject}, lang,
                                            series)
    return email(series, job, given.now, subject, text, html)


WAITLISTED = Kind(WaitlistedPayload, compose)
