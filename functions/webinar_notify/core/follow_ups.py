"""A follow-up after a session (its recording, slides and a survey, from
templates/follow_up.md) as the announcements it becomes: one to the session's registrants, or,
split, one to its attendees and one to its absentees, who get no survey about what they missed.

Its words are ours, so each announcement carries them in every language we write (the reader
gets theirs, core/kinds/announcement.py); the session's title, the links and a subject the
organiser gave stay as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from babel.lists import format_list

from . import i18n
from .errors import PayloadError
from .i18n import mark, tr
from .render import Renderer
from .series import Session

LINKS = (("recording", "recording_url"), ("slides", "slides_url"), ("survey", "survey_url"))
NAMES = {"recording": mark("recording"), "slides": mark("slides"), "survey": mark("survey")}


def follow_up_announcements(session: Session, doc: Mapping[str, Any],
                            renderer: Renderer) -> list[dict[str, Any]]:
    """The announcement documents (as parse_announcement reads them, with ``translations``
    as Announcement.to_doc writes them) of one follow-up; the text in English, the source
    language, and in every other language under ``translations``."""
    base_id = str(doc.get("id") or f"follow-up-{session.id}")
    links = {key: doc.get(key) for _name, key in LINKS}
    if not any(links.values()):
        raise PayloadError("give at least one of recording_url, slides_url, survey_url")
    groups = [("attended", {"attended": session.id}), ("absent", {"absent": session.id})] \
        if doc.get("split") else [("registered", {"sessions": [session.id]})]
    given_subject = doc.get("subject")
    announcements = []
    for group, audience in groups:
        offered = [name for name, key in LINKS
                   if links[key] and not (key == "survey_url" and group == "absent")]
        texts = {}
        for language in i18n.LANGUAGES:
            body = renderer.render("follow_up.md", {"session": session, "audience": group,
                                                    **links}, language)
            subject = given_subject or _subject(session, offered, language)
            texts[language] = {"subject": subject, "body_markdown": body}
        suffix = f"-{group}" if doc.get("split") else ""
        source = texts.pop(i18n.SOURCE)
        announcements.append({
            "id": f"{base_id}{suffix}", **source, "audience": audience,
            **({"send_at": doc["send_at"]} if doc.get("send_at") else {}),
            "translations": texts})
    return announcements


def _subject(session: Session, offered: list[str], language: str) -> str:
    """"Reirradiation Challenges: recording and survey", in the reader's language."""
    names = [tr(language, NAMES[name]) for name in offered]
    what = names[0] if len(names) == 1 else format_list(names, locale=i18n.locale(language))
    return tr(language, "%(title)s: %(offered)s", title=session.title, offered=what)
