"""Provider events made at the moment a rehearsal plays them and signed as the provider signs,
so a scenario names what happened ("she joined webinar 812...") instead of carrying a body and
a signature computed by hand for one particular second.

Zoom's participant events are shaped as its webinar event reference shows them
(``webinar.participant_joined`` and ``webinar.participant_left``: the webinar in
``payload.object``, the person in ``payload.object.participant``) and signed with
``x-zm-signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Literal

ZoomParticipantEvent = Literal["joined", "left"]


def zoom_participant(event: ZoomParticipantEvent, webinar_id: str, address: str, name: str,
                     at: datetime, secret: str, occurrence_start: datetime | None = None
                     ) -> tuple[dict[str, str], bytes]:
    """The headers and body Zoom posts when this person joins or leaves the webinar at ``at``."""
    person_id = hashlib.sha256(f"{webinar_id}\n{address.lower()}".encode()).hexdigest()[:22]
    participant: dict[str, str] = {
        "user_id": str(int(person_id[:8], 16)), "user_name": name, "id": person_id,
        "participant_uuid": person_id, "email": address,
        ("join_time" if event == "joined" else "leave_time"): _iso(at)}
    if event == "left":
        participant["leave_reason"] = "left the webinar"
    webinar: dict[str, object] = {
        "uuid": f"{webinar_id}-occurrence", "id": webinar_id, "host_id": "local-host",
        "topic": "Webinar", "type": 5, "duration": 60, "participant": participant}
    if occurrence_start is not None:
        webinar["start_time"] = _iso(occurrence_start)
    body = json.dumps({"event": f"webinar.participant_{event}",
                       "event_ts": int(at.timestamp() * 1000),
                       "payload": {"account_id": "local-account", "object": webinar}},
                      ensure_ascii=False).encode("utf-8")
    stamp = str(int(at.timestamp()))
    signature = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body,
                         hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "User-Agent": "Zoom Marketplace/1.0a",
            "x-zm-request-timestamp": stamp, "x-zm-signature": f"v0={signature}"}, body


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
