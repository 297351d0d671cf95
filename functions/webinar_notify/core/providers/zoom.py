"""Zoom webinar webhooks: ``x-zm-signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">``
with ``x-zm-request-timestamp`` (300 s window).

    endpoint.url_validation       answered with plainToken and encryptedToken; nothing stored
    webinar.registration_created  a registrant, with their personal join_url, for the session
                                  the webinar id is mapped to (forms: zoom: webinars:); the
                                  answers to custom questions (``custom_questions``) are
                                  mapped by title like any form's
    webinar.participant_joined    attendance, for attendee and absentee follow-ups

The webinar's own ``timezone`` is the host's, never the registrant's: it is not used.

A recurring webinar mapped to the whole series (``"*"``) sends the same webinar id for every
occurrence: the session is the one whose start is within ``OCCURRENCE_TOLERANCE`` of the
occurrence's ``start_time``, or, without one, the one the participant's ``join_time`` falls in
(from the tolerance before its start to its end). An event that matches no session is kept as
unmatched attendance: counted for the organiser, not dropped in silence.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ..errors import PayloadError, SignatureError
from ..series import Series
from ..signatures import TOLERANCE_SECONDS
from .answers import mapped_event
from .base import Attendance, Delivery, DirectAnswer
from .hmac_body import json_object

OCCURRENCE_TOLERANCE = timedelta(minutes=30)  # a late start, or an occurrence moved a little


class ZoomProvider:
    name = "zoom"

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str],
               now: int) -> None:
        signature = headers.get("x-zm-signature", "")
        stamp = headers.get("x-zm-request-timestamp", "")
        if not signature.startswith("v0=") or not stamp.isascii() or not stamp.isdigit():
            raise SignatureError("missing or malformed x-zm-signature / x-zm-request-timestamp")
        if abs(now - int(stamp)) > TOLERANCE_SECONDS:
            raise SignatureError("signature timestamp is outside the 300 s tolerance")
        message = b"v0:" + stamp.encode() + b":" + body
        expected = ["v0=" + hmac.new(s.encode(), message, hashlib.sha256).hexdigest()
                    for s in secrets if s]
        if not expected:
            raise SignatureError("no webhook secret is configured for this series and provider")
        matched = False
        for want in expected:
            matched |= hmac.compare_digest(want.encode(), signature.encode("ascii", "replace"))
        if not matched:
            raise SignatureError("signature does not match")

    def parse(self, body: bytes, series: Series, secrets: Sequence[str] = ()) -> Delivery:
        doc = json_object(body)
        event, payload = doc.get("event"), doc.get("payload") or {}
        if event == "endpoint.url_validation":
            plain = str(payload.get("plainToken", ""))
            if not plain or not secrets:
                raise PayloadError("payload.plainToken is required")
            encrypted = hmac.new(secrets[0].encode(), plain.encode(), hashlib.sha256).hexdigest()
            return DirectAnswer(200, {"plainToken": plain, "encryptedToken": encrypted})
        webinar: dict[str, Any] = payload.get("object") or {}
        webinars = (series.forms.get("zoom") or {}).get("webinars") or {}
        if event in ("webinar.registration_created", "webinar.participant_joined") and \
                str(webinar.get("id")) not in webinars:
            # The app's webhook covers the whole Zoom account: other webinars are not ours.
            return DirectAnswer(200, {"status": "ignored", "reason": "webinar not mapped"})
        if event == "webinar.registration_created":
            person = webinar.get("registrant") or {}
            if not isinstance(person, dict):
                raise PayloadError("payload.object.registrant must be an object")
            answers = registrant_answers(person)
            if not person.get("id"):
                raise PayloadError("payload.object.registrant.id is missing")
            return mapped_event(
                self.name, f"{webinar.get('uuid') or webinar.get('id')}:{person.get('id')}",
                int(doc.get("event_ts", 0)) // 1000, answers, series,
                join_url=_url(person.get("join_url")),
                fixed_sessions=_session(series, webinar.get("id")),
                defaults={"email": "email", "full_name": ["first_name", "last_name"]})
        if event == "webinar.participant_joined":
            sessions = _session(series, webinar.get("id"))
            participant = webinar.get("participant") or {}
            if not participant.get("email"):
                return DirectAnswer(200, {"status": "ignored"})
            session = sessions[0] if sessions else occurrence_session(
                series, zoom_time(webinar.get("start_time")),
                zoom_time(participant.get("join_time")))
            return Attendance(session, str(participant["email"]))
        return DirectAnswer(200, {"status": "ignored", "event": str(event)[:60]})


def registrant_answers(person: Mapping[str, Any]) -> dict[str, Any]:
    """A registrant's answers: each custom question by its title (``[{title, value}]``), and
    Zoom's own fields (email, first_name, last_name, city, org, ...) under their names, which
    win over a custom question of the same title."""
    answers: dict[str, Any] = {}
    questions = person.get("custom_questions")
    for question in questions if isinstance(questions, list) else []:
        if isinstance(question, dict) and isinstance(question.get("title"), str):
            answers.setdefault(question["title"].strip(), question.get("value"))
    for key, value in person.items():
        if isinstance(value, str | int | float) and key not in ("join_url", "custom_questions"):
            answers[str(key)] = value
    return answers


def _session(series: Series, webinar_id: object) -> tuple[str, ...] | None:
    """The session a Zoom webinar is, from ``forms: zoom: webinars: {id: s1}`` ("*" for a
    webinar that stands for the whole series)."""
    webinars = (series.forms.get("zoom") or {}).get("webinars") or {}
    target = webinars.get(str(webinar_id))
    if target is None:
        raise PayloadError(f"Zoom webinar {str(webinar_id)[:20]} is not mapped to a session "
                           "(forms: zoom: webinars: in the series file)")
    return None if target == "*" else (str(target),)


def occurrence_session(series: Series, occurrence_start: datetime | None,
                       joined: datetime | None) -> str | None:
    """The session an occurrence of a series-wide recurring webinar is (see the module doc)."""
    live = [s for s in series.sessions if s.status != "cancelled"]
    if occurrence_start is not None:
        near = [s for s in live if abs(s.start - occurrence_start) <= OCCURRENCE_TOLERANCE]
        if near:
            return min(near, key=lambda s: abs(s.start - occurrence_start)).id
        return None
    if joined is not None:
        return next((s.id for s in live
                     if s.start - OCCURRENCE_TOLERANCE <= joined <= s.end), None)
    return None


def zoom_time(value: object) -> datetime | None:
    """Zoom's times: ISO 8601 in UTC (``2023-10-26T13:00:00Z``); anything else is no time."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _url(value: object) -> str | None:
    return value if isinstance(value, str) and value.startswith("https://") else None
