"""Zoom's ``webinar.participant_joined`` and ``webinar.participant_left`` webhook bodies, read as
presence events (core.attendance) for the session they belong to.

The body is verified by the Zoom provider first (its signature); this only reads it:

    payload.object.id                       the webinar (mapped in forms: zoom: webinars:)
    payload.object.start_time               the occurrence's start (a recurring webinar)
    payload.object.participant.email        who (absent for a guest who gave none: ignored)
    payload.object.participant.join_time    ISO 8601, UTC (joined)
    payload.object.participant.leave_time   ISO 8601, UTC (left)
    payload.object.participant.participant_uuid, else .id
                                            the connection: pairs a leave with its join

The event id is the kind, the webinar, who (a SHA-256 digest of the address, never
the address itself), the connection and the time: a retried delivery is seen as the same
event, and two people who join in the same second without a connection id are not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ..attendance import PresenceEvent, PresenceKind
from ..errors import PayloadError
from ..series import Series
from .hmac_body import json_object
from .zoom import occurrence_session, zoom_time

EVENTS: dict[str, PresenceKind] = {"webinar.participant_joined": "joined",
                                   "webinar.participant_left": "left"}
_TIME_FIELD: dict[PresenceKind, str] = {"joined": "join_time", "left": "leave_time"}


@dataclass(frozen=True, slots=True)
class ParticipantSeen:
    """A join or leave of one address at one session (None: an occurrence matching no
    session, kept as unmatched rather than dropped)."""

    session_id: str | None
    email: str
    event: PresenceEvent
    event_id: str  # the same for a retried delivery of the same event


def parse_participant_event(body: bytes, series: Series) -> ParticipantSeen | None:
    """The presence event in a verified Zoom body; None for another event, a webinar not
    mapped to this series, or a participant without an address. A body that claims to be a
    join or leave but lacks its time raises PayloadError."""
    doc = json_object(body)
    kind = EVENTS.get(str(doc.get("event")))
    if kind is None:
        return None
    payload = doc.get("payload")
    webinar: Any = payload.get("object") if isinstance(payload, dict) else None
    if not isinstance(webinar, dict):
        raise PayloadError("payload.object must be an object")
    webinars = (series.forms.get("zoom") or {}).get("webinars") or {}
    target = webinars.get(str(webinar.get("id")))
    if target is None:
        return None  # the account-wide webhook also reports webinars of other series
    participant = webinar.get("participant")
    if not isinstance(participant, dict):
        raise PayloadError("payload.object.participant must be an object")
    email = participant.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None
    at = zoom_time(participant.get(_TIME_FIELD[kind]))
    if at is None:
        raise PayloadError(f"payload.object.participant.{_TIME_FIELD[kind]} must be an "
                           "ISO 8601 time")
    connection = str(participant.get("participant_uuid") or participant.get("id") or "")[:200]
    session = str(target) if target != "*" else occurrence_session(
        series, zoom_time(webinar.get("start_time")), at)
    address = email.strip().lower()
    who = hashlib.sha256(address.encode()).hexdigest()[:24]
    webinar_key = str(webinar.get("uuid") or webinar.get("id"))[:200]
    event_id = f"{kind}:{webinar_key}:{who}:{connection}:{at.isoformat()}"
    return ParticipantSeen(session, address, PresenceEvent(kind, at, connection), event_id)
