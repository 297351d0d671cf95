"""Zoom webinar webhooks: ``x-zm-signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">``
with ``x-zm-request-timestamp`` (300 s window).

    endpoint.url_validation       answered with plainToken and encryptedToken; nothing stored
    webinar.registration_created  a registrant, with their personal join_url, for the session
                                  the webinar id is mapped to (forms: zoom: webinars:)
    webinar.participant_joined    attendance, for attendee and absentee follow-ups

The webinar's own ``timezone`` is the host's, never the registrant's: it is not used.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import PayloadError, SignatureError
from ..series import Series
from ..signatures import TOLERANCE_SECONDS
from .answers import mapped_event
from .base import Attendance, Delivery, DirectAnswer
from .hmac_body import json_object


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
            answers = {"email": person.get("email"), "first_name": person.get("first_name"),
                       "last_name": person.get("last_name")}
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
            if not sessions or not participant.get("email"):
                return DirectAnswer(200, {"status": "ignored"})
            return Attendance(sessions[0], str(participant["email"]))
        return DirectAnswer(200, {"status": "ignored", "event": str(event)[:60]})


def _session(series: Series, webinar_id: object) -> tuple[str, ...] | None:
    """The session a Zoom webinar is, from ``forms: zoom: webinars: {id: s1}`` ("*" for a
    webinar that stands for the whole series)."""
    webinars = (series.forms.get("zoom") or {}).get("webinars") or {}
    target = webinars.get(str(webinar_id))
    if target is None:
        raise PayloadError(f"Zoom webinar {str(webinar_id)[:20]} is not mapped to a session "
                           "(forms: zoom: webinars: in the series file)")
    return None if target == "*" else (str(target),)


def _url(value: object) -> str | None:
    return value if isinstance(value, str) and value.startswith("https://") else None
