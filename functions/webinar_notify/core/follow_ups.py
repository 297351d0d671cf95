"""A follow-up after a session (its recording, slides and a survey, from
templates/follow_up.md) as the announcements it becomes: one to the session's registrants, or,
split, one to its attendees and one to its absentees, who get no survey about what they missed.

Its words are ours, so each announcement carries them in every language we write (the reader
gets theirs, core/kinds/announcement.py); the session's title, the links and a subject the
organiser gave stay as written.

In a series that gives certificates, the absentees' follow-up also says that the recording
does not count for live credit: our words by default, the organisers' own text from the series
file (``certificates: absentee_note:``), or nothing with ``absentee_note: off``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from babel.lists import format_list

from . import i18n
from .errors import PayloadError, SeriesFileError
from .i18n import mark, tr
from .render import Renderer
from .series import Series, Session

LINKS = (("recording", "recording_url"), ("slides", "slides_url"), ("survey", "survey_url"))
NAMES = {"recording": mark("recording"), "slides": mark("slides"), "survey": mark("survey")}
NOTE_FIELD = "absentee_note"
OFF = "off"
MAX_NOTE = 500  # characters: a sentence or two, not a second email


def checked_absentee_note(value: object) -> str:
    """``certificates: absentee_note:`` as the series file gives it: the organisers' text, or
    ``off`` (YAML reads a bare off as false). SeriesFileError otherwise."""
    if value is False or (isinstance(value, str) and value.strip().lower() == OFF):
        return OFF
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_NOTE:
        raise SeriesFileError(f"certificates.{NOTE_FIELD}: a text of at most {MAX_NOTE} "
                              "characters, or off")
    return value.strip()


def absentee_note(series: Series) -> str | None:
    """What the absentees' follow-up says about live credit: None (nothing) when the series
    gives no certificates or its file says off; "" for our own words (translated); else the
    organisers' text, as written."""
    if not series.certificates:
        return None
    note = series.certificates.get(NOTE_FIELD, "")
    return None if note == OFF else str(note)


def follow_up_announcements(session: Session, doc: Mapping[str, Any], renderer: Renderer,
                            note: str | None = None) -> list[dict[str, Any]]:
    """The announcement documents (as parse_announcement reads them, with ``translations``
    as Announcement.to_doc writes them) of one follow-up; the text in English, the source
    language, and in every other language under ``translations``. ``note``: what the
    absentees' part says about live credit (``absentee_note``); None: nothing."""
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
            body = renderer.render("follow_up.md", {
                "session": session, "audience": group, **links,
                "note": note if group == "absent" else None}, language)
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
