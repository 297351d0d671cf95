"""A follow-up after a session (its recording, slides and a survey, from
templates/follow_up.md) as the announcements it becomes: one to the session's registrants, or,
split, one to its attendees and one to its absentees, who get no survey about what they missed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import PayloadError
from .render import Renderer
from .series import Session

LINKS = (("recording", "recording_url"), ("slides", "slides_url"), ("survey", "survey_url"))


def follow_up_announcements(session: Session, doc: Mapping[str, Any],
                            renderer: Renderer) -> list[dict[str, Any]]:
    """The announcement documents (as parse_announcement reads them) of one follow-up."""
    base_id = str(doc.get("id") or f"follow-up-{session.id}")
    links = {key: doc.get(key) for _name, key in LINKS}
    if not any(links.values()):
        raise PayloadError("give at least one of recording_url, slides_url, survey_url")
    groups = [("attended", {"attended": session.id}), ("absent", {"absent": session.id})] \
        if doc.get("split") else [("registered", {"sessions": [session.id]})]
    announcements = []
    for group, audience in groups:
        body = renderer.render("follow_up.md", {"session": session, "audience": group, **links})
        suffix = f"-{group}" if doc.get("split") else ""
        offered = [name for name, key in LINKS
                   if links[key] and not (key == "survey_url" and group == "absent")]
        announcements.append({
            "id": f"{base_id}{suffix}", "subject": doc.get("subject")
            or f"{session.title}: {' and '.join(offered)}", "body_markdown": body,
            "audience": audience, **({"send_at": doc["send_at"]} if doc.get("send_at") else {})})
    return announcements
