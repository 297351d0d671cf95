"""The console's forms: their field names, what a form becomes (an announcement document, a
session change) and the values a form is shown with again. Errors name the form's field, so
the page's error summary can link to it.

Form fields (the names the pages post):
    every POST           csrf, key (the Idempotency-Key made when the form was rendered)
    compose              announcement_id, subject, body_markdown, audience ("all",
                         "sessions:<sid>", "interest:<id>", "attended:<sid>", "absent:<sid>"),
                         send ("now" | "later"), send_at (local date-time in the series' zone),
                         preview_as (a registrant id, "" for the organiser's own view),
                         action ("preview" | "test" | "send")
    session              start (local date-time in the series' zone), duration_minutes,
                         title, join_url, quiet ("on"), action ("preview" | "confirm" |
                         "cancel_preview" | "cancel_confirm")
    registrant           action ("cancel" | "erase" | "cancel_confirmed" | "erase_confirmed")
    delivery             address (the suppressed address to lift)
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..core.console_views import moment_in
from ..core.errors import PayloadError
from ..core.series import Series
from ..core.text import whole_number

FIELD_ALIASES = {"body_markdown": "body_markdown", "subject": "subject", "send_at": "send_at",
                 "audience": "audience", "id": "announcement_id", "start": "start",
                 "duration_minutes": "duration_minutes", "title": "title",
                 "join_url": "join_url", "address": "address", "password": "password",
                 "new_password": "new_password"}
_FIELD = re.compile(r"^(?:sessions\[\d+\]\.)?(?:audience\.)?([a-z_]+)\b")


def error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def field_of(message: str) -> str:
    """The form field an error message is about ("subject: one line ..." -> "subject")."""
    match = _FIELD.match(message)
    return FIELD_ALIASES.get(match.group(1), "") if match else ""


def new_announcement_id() -> str:
    return "c" + secrets.token_hex(6)


def blank_compose() -> dict[str, str]:
    return {"announcement_id": new_announcement_id(), "subject": "", "body_markdown": "",
            "audience": "all", "send": "now", "send_at": "", "preview_as": ""}


def compose_values(form: Mapping[str, str], series: Series) -> dict[str, str]:
    """The compose form's values to show again (a fresh announcement id when it had none)."""
    values = blank_compose() | {k: v for k, v in form.items() if k in _COMPOSE_FIELDS}
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", values["announcement_id"]):
        values["announcement_id"] = new_announcement_id()
    del series
    return values


_COMPOSE_FIELDS = ("announcement_id", "subject", "body_markdown", "audience", "send",
                   "send_at", "preview_as")


def audience_choices(series: Series) -> list[tuple[str, str]]:
    """(value, label) of every audience the compose form offers."""
    choices = [("all", "Everyone registered")]
    choices += [(f"sessions:{s.id}", f"Registered for {s.title}") for s in series.sessions
                if not s.cancelled]
    choices += [(f"interest:{c.id}", f"Asked to hear about {c.title}") for c in series.coming]
    choices += [(f"attended:{s.id}", f"Attended {s.title}") for s in series.sessions]
    choices += [(f"absent:{s.id}", f"Registered for {s.title} but absent")
                for s in series.sessions]
    return choices


def announcement_doc(form: Mapping[str, str], series: Series, now: datetime) -> dict[str, Any]:
    """The announcement document (services/announcing.py) a compose form describes."""
    audience = _audience(form.get("audience", "all"))
    doc: dict[str, Any] = {
        "id": form.get("announcement_id") or "preview",
        "subject": form.get("subject", ""), "body_markdown": form.get("body_markdown", ""),
        "audience": audience}
    if form.get("send") == "later":
        doc["send_at"] = _local_moment(form.get("send_at", ""), series, "send_at").isoformat()
        if datetime.fromisoformat(doc["send_at"]) <= now:
            raise PayloadError("send_at: choose a moment ahead, or send now")
    return doc


def _audience(value: str) -> dict[str, Any]:
    kind, _, target = value.partition(":")
    if kind == "all" and not target:
        return {"all": True}
    if kind == "sessions" and target:
        return {"sessions": [target]}
    if kind in ("interest", "attended", "absent") and target:
        return {kind: target}
    raise PayloadError("audience: choose one of the audiences offered")


def _local_moment(value: str, series: Series, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PayloadError(f"{field}: give a date and time, e.g. 2024-03-01T09:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=series.zone)
    return moment


def session_form(series: Series, session_id: str) -> dict[str, str]:
    """A session's current values, as its edit form shows them (times in the series' zone)."""
    session = series.session(session_id)
    if session is None:
        return {}
    return {"start": f"{session.start.astimezone(series.zone):%Y-%m-%dT%H:%M}",
            "duration_minutes": str(int(session.duration.total_seconds() // 60)),
            "title": session.title, "join_url": session.join_url or "", "quiet": ""}


def moment_words(value: str, series: Series) -> str:
    """A form's local date and time in words in the series' zone ("Tue 5 Mar 2024 16:00
    CET"), so nobody reads 03/05 as the wrong month; "" when it is not a date and time."""
    try:
        return moment_in(_local_moment(value, series, "start"), series.time_zone) \
            if value.strip() else ""
    except (PayloadError, ValueError, OverflowError):
        return ""


def session_values(form: Mapping[str, str], series: Series, session_id: str) -> dict[str, str]:
    current = session_form(series, session_id)
    return current | {k: v for k, v in form.items() if k in (*current, "quiet")}


def session_change_fields(form: Mapping[str, str]) -> dict[str, object]:
    """A session change (core/session_change.py) from the edit form: every field it shows."""
    fields: dict[str, object] = {}
    if "start" in form:
        fields["start"] = form["start"].strip()
    if "duration_minutes" in form:
        text = form["duration_minutes"].strip()
        minutes = whole_number(text) if len(text) < 6 else None
        fields["duration_minutes"] = text if minutes is None else minutes
    if "title" in form:
        fields["title"] = form["title"]
    if "join_url" in form:
        fields["join_url"] = form["join_url"].strip()
    if not fields:
        raise PayloadError("start: give the session's new values")
    return fields
