"""Organiser actions as scenario steps and CLI verbs, translated to organiser API requests.

    update_session       {session, start?, duration_minutes?, title?, join_url?, status?, quiet?,
                          dry_run?}
    cancel_session       {session, quiet?, dry_run?}
    push_series          {file, quiet?, dry_run?}
    announce             {id, subject, body_markdown, audience, send_at?, dry_run?, test_to?}
    cancel_announcement  {id}
    record_attendance    {session, emails}
    follow_up            {session, recording_url?, slides_url?, survey_url?, split?, send_at?}
    upload_attendance    {session, file, format?: zoom | csv, time_zone?}
    mark_attendance      {session, emails, attended?, minutes?}
    assess_certificates  {}
    revoke_certificate   {id}
    approve              {registrants?, emails?, reason?}   (manual approval: pending ones)
    decline              {registrants?, emails?, reason?}
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .core.errors import InvalidInputError
from .series_files import read_yaml

ACTIONS = ("update_session", "cancel_session", "push_series", "announce",
           "cancel_announcement", "record_attendance", "follow_up", "upload_attendance",
           "mark_attendance", "assess_certificates", "revoke_certificate", "approve", "decline")


def to_request(action: dict[str, Any], series_id: str, base: Path) -> tuple[str, dict[str, Any]]:
    """The API path and JSON body for one action; InvalidInputError names what is missing."""
    name = action.get("action")
    fields = {k: v for k, v in action.items() if k != "action"}
    root = f"/organiser/series/{series_id}"
    if name == "update_session":
        return f"{root}/sessions/{_field(fields, 'session')}", _json_safe(fields)
    if name == "cancel_session":
        return f"{root}/sessions/{_field(fields, 'session')}/cancel", _json_safe(fields)
    if name == "push_series":
        file = fields.get("file")
        if not isinstance(file, str) or not file:
            raise InvalidInputError("file: required")
        document = read_yaml(base / file, InvalidInputError)
        return f"{root}/push", {"series": _json_safe(document),
                                "quiet": bool(fields.get("quiet")),
                                **({"dry_run": True} if fields.get("dry_run") else {})}
    if name == "announce":
        return f"{root}/announcements", _json_safe(fields)
    if name == "cancel_announcement":
        return f"{root}/announcements/{_field(fields, 'id')}/cancel", {}
    if name == "follow_up":
        return f"{root}/follow-ups", _json_safe(fields)
    if name == "record_attendance":
        return f"{root}/sessions/{_field(fields, 'session')}/attendance", _json_safe(fields)
    if name == "upload_attendance":
        session, file = _field(fields, "session"), fields.pop("file", None)
        if not isinstance(file, str) or not file:
            raise InvalidInputError("file: required (the report, a CSV file)")
        try:
            report = (base / file).read_text("utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidInputError(f"file: cannot read {file!r} as UTF-8 text "
                                    f"({getattr(error, 'strerror', None) or error})") from None
        return f"{root}/sessions/{session}/attendance-report", {**_json_safe(fields),
                                                                "report": report}
    if name == "mark_attendance":
        return f"{root}/sessions/{_field(fields, 'session')}/marks", _json_safe(fields)
    if name in ("approve", "decline"):
        return f"{root}/approvals", {**_json_safe(fields), "decision": name}
    if name == "assess_certificates":
        return f"{root}/certificates", {}
    if name == "revoke_certificate":
        return f"{root}/certificates/{_field(fields, 'id')}/revoke", {}
    raise InvalidInputError(f"action: expected one of {', '.join(ACTIONS)}, got {name!r}")


def _field(fields: dict[str, Any], name: str) -> str:
    value = fields.pop(name, None)
    if not isinstance(value, str) or not value or "/" in value:
        raise InvalidInputError(f"{name}: required")
    return value


def _json_safe(value: Any) -> Any:
    """YAML gives datetimes for unquoted times; the API takes ISO strings."""
    return json.loads(json.dumps(value, default=_iso))


def _iso(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")
