"""Announcements: an organiser's message to an audience of the series, now or at a time."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Literal

from .edge import ID_PATTERN
from .errors import PayloadError
from .series import Series

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

AudienceKind = Literal["all", "sessions", "interest", "attended", "absent"]
_ID = re.compile(ID_PATTERN)
MAX_AHEAD = timedelta(days=366)


@lru_cache(maxsize=256)
def _html(markdown: str) -> str:
    """Markdown as HTML, once per text: an announcement goes to thousands of readers."""
    return str(_markdown().render(markdown))


@cache
def _markdown() -> MarkdownIt:
    """CommonMark with raw HTML off: nothing unescaped gets in. Loaded on first use: the
    functions that only schedule announcements never render them."""
    from markdown_it import MarkdownIt

    return MarkdownIt("js-default")


@dataclass(frozen=True, slots=True)
class Audience:
    kind: AudienceKind
    values: tuple[str, ...] = ()  # session ids, or the coming item's id

    def describe(self) -> str:
        return self.kind if self.kind == "all" else f"{self.kind}: {', '.join(self.values)}"

    def to_doc(self) -> dict[str, Any]:
        if self.kind == "all":
            return {"all": True}
        if self.kind == "sessions":
            return {"sessions": list(self.values)}
        return {self.kind: self.values[0]}


@dataclass(frozen=True, slots=True)
class Announcement:
    id: str
    subject: str
    body_markdown: str
    audience: Audience
    send_at: datetime  # UTC; "now" is the moment it was created
    # Its text in other languages, (language, subject, body): a follow-up's, from our catalogs.
    translations: tuple[tuple[str, str, str], ...] = ()

    def in_language(self, language: str) -> Announcement:
        """As a reader of ``language`` gets it: that language's text if it has one, else as
        written."""
        for lang, subject, body in self.translations:
            if lang == language:
                return replace(self, subject=subject, body_markdown=body, translations=())
        return self

    def html(self) -> str:
        return _html(self.body_markdown)

    def text(self) -> str:
        """The plain-text part: the same Markdown read as text ("text (url)", no markers)."""
        from .plain_text import markdown_to_text  # markdown-it, loaded where emails are made

        return markdown_to_text(self.body_markdown)

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "subject": self.subject, "body_markdown": self.body_markdown,
                "audience": self.audience.to_doc(), "send_at": self.send_at.isoformat()} | (
            {"translations": {lang: {"subject": subject, "body_markdown": body}
                              for lang, subject, body in self.translations}}
            if self.translations else {})


def announcement_from_doc(doc: dict[str, Any]) -> Announcement:
    """An announcement as ``to_doc`` wrote it (stored, or carried by a test copy)."""
    (kind, target), = doc["audience"].items()
    values = () if kind == "all" else tuple(target) if isinstance(target, list) else (target,)
    translations = translations_from_doc(doc.get("translations", {}))
    return Announcement(id=doc["id"], subject=doc["subject"], body_markdown=doc["body_markdown"],
                        audience=Audience(kind, values),
                        send_at=datetime.fromisoformat(doc["send_at"]),
                        translations=translations)


def translations_from_doc(doc: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """``{language: {subject, body_markdown}}`` as Announcement.translations."""
    return tuple((str(lang), str(text["subject"]), str(text["body_markdown"]))
                 for lang, text in doc.items())


def parse_audience(value: object, series: Series) -> Audience:
    """``{all: true}``, ``{sessions: [s3]}``, ``{interest: id}``, ``{attended: s3}`` or
    ``{absent: s3}``; anything else is a PayloadError that says which form is expected."""
    if not isinstance(value, dict) or len(value) != 1:
        raise PayloadError("audience: expected one of {all: true}, {sessions: [...]}, "
                           "{interest: ID}, {attended: SESSION}, {absent: SESSION}")
    (kind, target), = value.items()
    if kind == "all" and target is True:
        return Audience("all")
    if kind == "sessions" and isinstance(target, list) and target:
        return Audience("sessions", tuple(_session(series, s, "audience.sessions")
                                          for s in target))
    if kind == "interest" and isinstance(target, str):
        if not any(item.id == target for item in series.coming):
            raise PayloadError(f"audience.interest: {target[:60]!r} is not a coming item of "
                               "this series")
        return Audience("interest", (target,))
    if kind in ("attended", "absent") and isinstance(target, str):
        return Audience(kind, (_session(series, target, f"audience.{kind}"),))
    raise PayloadError(f"audience: {str(kind)[:30]!r} is not an audience this series knows")


def parse_announcement(doc: object, series: Series, now: datetime) -> Announcement:
    if not isinstance(doc, dict):
        raise PayloadError("expected a JSON object")
    announcement_id = doc.get("id")
    if not isinstance(announcement_id, str) or not _ID.fullmatch(announcement_id):
        raise PayloadError("id: use lower-case letters, digits and hyphens")
    subject = doc.get("subject")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 200 \
            or any(ch in subject for ch in "\r\n"):
        raise PayloadError("subject: one line of at most 200 characters")
    body = doc.get("body_markdown")
    if not isinstance(body, str) or not body.strip() or len(body) > 50_000:
        raise PayloadError("body_markdown: required, at most 50,000 characters")
    send_at = now
    if doc.get("send_at") is not None:
        try:
            send_at = datetime.fromisoformat(str(doc["send_at"]).replace("Z", "+00:00"))
        except ValueError:
            raise PayloadError("send_at: expected an ISO time with offset, "
                               "e.g. 2024-03-01T09:00:00Z") from None
        if send_at.tzinfo is None:
            raise PayloadError("send_at: give the offset (Z for UTC)")
        if send_at > now + MAX_AHEAD:
            raise PayloadError("send_at: at most a year ahead")
    return Announcement(id=announcement_id, subject=subject.strip(), body_markdown=body,
                        audience=parse_audience(doc.get("audience"), series),
                        send_at=max(send_at, now))


def _session(series: Series, session_id: object, field: str) -> str:
    if not isinstance(session_id, str) or series.session(session_id) is None:
        raise PayloadError(f"{field}: unknown session {str(session_id)[:40]!r}")
    return session_id
