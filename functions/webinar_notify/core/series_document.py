"""Series documents (a YAML file, or the stored JSON) to the model and back.

Every error names the field it is about, e.g. ``sessions[2].start: ...``, and unknown fields
are errors too, so a typo in a series file never goes unnoticed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from .branding import DEFAULT_BRAND, brand_document, parse_brand
from .document_fields import (
    FieldReader,
    boolean,
    certificate_settings,
    form_mappings,
    hostname,
    local_start,
    non_negative,
    offsets,
    quiet_hours,
    series_language,
    single_line,
    template_folder,
    unique_ids,
    utc_instant,
    whole_minutes,
)
from .durations import format_duration
from .errors import SeriesFileError
from .policies import policy_fields, read_policy
from .quiet_hours import DEFAULT_QUIET_HOURS, QuietHours
from .series import (
    DEFAULT_REMINDER_OFFSETS,
    ComingItem,
    Contact,
    Organiser,
    Series,
    Session,
    SessionStatus,
)
from .text import is_time_zone, normalise_email

_STATUSES: tuple[SessionStatus, ...] = ("scheduled", "cancelled")

SERIES_FIELDS = {
    "id", "title", "description", "time_zone", "sender", "reply_to", "organisers",
    "endorsements", "topics", "audience", "url", "reminders", "sessions", "coming",
    "uid_domain", "revision", "double_opt_in", "forms", "language", "brand", "templates",
    "quiet_hours", "capacity", "approval", "auto_approve", "certificates",
}
SESSION_FIELDS = {
    "id", "title", "start", "duration_minutes", "join_url", "status", "description",
    "reminders", "sequence", "updated_at", "capacity",
}


def parse_series(data: object) -> Series:
    """Validate a series document and build the model; raises SeriesFileError."""
    r = FieldReader(data, "", SERIES_FIELDS)
    time_zone = r.text("time_zone", required=True)
    if not is_time_zone(time_zone):
        raise SeriesFileError(f"time_zone: unknown time zone {time_zone!r}")
    zone = ZoneInfo(time_zone)
    sessions = tuple(
        _session(item, f"sessions[{i}]", zone) for i, item in enumerate(r.items("sessions")))
    if not sessions:
        raise SeriesFileError("sessions: at least one session is required")
    unique_ids([s.id for s in sessions], "sessions")
    coming = tuple(_coming(item, f"coming[{i}]") for i, item in enumerate(r.items("coming")))
    unique_ids([c.id for c in coming], "coming")
    return Series(
        id=r.slug("id"),
        title=r.text("title", required=True, limit=300),
        description=r.text("description"),
        time_zone=time_zone,
        sender=_contact(r.data.get("sender"), "sender", required=True),
        reply_to=_contact(r.data.get("reply_to"), "reply_to") if r.data.get("reply_to") else None,
        organisers=tuple(_organiser(o, f"organisers[{i}]")
                         for i, o in enumerate(r.items("organisers"))),
        endorsements=tuple(single_line(e, f"endorsements[{i}]")
                           for i, e in enumerate(r.items("endorsements"))),
        topics=tuple(single_line(t, f"topics[{i}]") for i, t in enumerate(r.items("topics"))),
        audience=r.text("audience"),
        url=r.url("url"),
        coming=coming,
        sessions=sessions,
        uid_domain=r.convert("uid_domain", hostname, default=""),
        reminder_offsets=r.convert("reminders", offsets, default=DEFAULT_REMINDER_OFFSETS),
        double_opt_in=r.convert("double_opt_in", boolean, default=False),
        forms=r.convert("forms", lambda v: form_mappings(
            v, {s.id for s in sessions}, {c.id for c in coming}), default={}),
        revision=r.convert("revision", non_negative, default=0),
        language=r.convert("language", series_language, default="en"),
        brand=parse_brand(r.data["brand"]) if r.data.get("brand") is not None
        else DEFAULT_BRAND,
        templates=r.convert("templates", template_folder, default=""),
        quiet_hours=r.convert("quiet_hours", quiet_hours,
                              default=cast("QuietHours | None", DEFAULT_QUIET_HOURS)),
        policy=read_policy(r.data),
        certificates=certificate_settings(r.data.get("certificates"),
                                          [s.id for s in sessions]),
    )


def series_to_document(series: Series) -> dict[str, Any]:
    """The JSON-able document that parse_series reads back to an equal Series."""
    doc: dict[str, Any] = {
        "id": series.id,
        "title": series.title,
        "description": series.description,
        "time_zone": series.time_zone,
        "sender": _contact_doc(series.sender),
        "organisers": [{"name": o.name, "affiliation": o.affiliation} for o in series.organisers],
        "endorsements": list(series.endorsements),
        "topics": list(series.topics),
        "audience": series.audience,
        "url": series.url,
        "reminders": [format_duration(d) for d in series.reminder_offsets],
        "coming": [{"id": c.id, "title": c.title, "description": c.description, "url": c.url}
                   for c in series.coming],
        "uid_domain": series.uid_domain,
        "double_opt_in": series.double_opt_in,
        "forms": series.forms,
        "revision": series.revision,
        "sessions": [_session_doc(s) for s in series.sessions],
    }
    if series.reply_to:
        doc["reply_to"] = _contact_doc(series.reply_to)
    if series.language != "en":
        doc["language"] = series.language
    if series.brand != DEFAULT_BRAND:
        doc["brand"] = brand_document(series.brand)
    if series.templates:
        doc["templates"] = series.templates
    if series.quiet_hours != DEFAULT_QUIET_HOURS:
        doc["quiet_hours"] = series.quiet_hours.to_doc() if series.quiet_hours else "off"
    if series.certificates:
        doc["certificates"] = series.certificates
    doc |= policy_fields(series.policy)
    for session_doc in doc["sessions"]:
        if session_doc["id"] in series.policy.session_capacity:
            session_doc["capacity"] = series.policy.session_capacity[session_doc["id"]]
    return doc


def _session(data: object, path: str, zone: ZoneInfo) -> Session:
    r = FieldReader(data, path, SESSION_FIELDS)
    status = r.text("status") or "scheduled"
    if status not in _STATUSES:
        raise SeriesFileError(f"{r.at('status')}: expected one of {', '.join(_STATUSES)}")
    if r.data.get("start") in (None, ""):
        raise SeriesFileError(f"{r.at('start')}: required")
    return Session(
        id=r.slug("id"),
        title=r.text("title", required=True, limit=300),
        start=r.convert("start", lambda v: local_start(v, zone), default=datetime.min),
        duration=timedelta(minutes=r.convert("duration_minutes", whole_minutes, default=60)),
        join_url=r.url("join_url"),
        status=status,  # checked against _STATUSES above
        description=r.text("description"),
        reminder_offsets=r.convert("reminders", offsets, default=None),
        sequence=r.convert("sequence", non_negative, default=0),
        updated_at=r.convert("updated_at", utc_instant, default=None),
    )


def _session_doc(s: Session) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "start": s.start.isoformat(timespec="minutes"),  # with its offset: exact in DST folds
        "duration_minutes": int(s.duration.total_seconds() // 60),
        "join_url": s.join_url,
        "status": s.status,
        "description": s.description,
        "reminders": None if s.reminder_offsets is None
        else [format_duration(d) for d in s.reminder_offsets],
        "sequence": s.sequence,
        "updated_at": s.updated_at.isoformat() if s.updated_at else None,
    }


def _contact(data: object, path: str, *, required: bool = False) -> Contact:
    if data is None and not required:
        return Contact(email="")
    r = FieldReader(data, path, {"email", "name"})
    return Contact(email=r.convert("email", normalise_email, default="") or _missing(r, "email"),
                   name=r.text("name", limit=200))


def _contact_doc(contact: Contact) -> dict[str, str]:
    return {"email": contact.email, "name": contact.name}


def _missing(r: FieldReader, key: str) -> str:
    raise SeriesFileError(f"{r.at(key)}: required")


def _organiser(data: object, path: str) -> Organiser:
    r = FieldReader(data, path, {"name", "affiliation"})
    return Organiser(name=r.text("name", required=True, limit=200),
                     affiliation=r.text("affiliation", limit=300))


def _coming(data: object, path: str) -> ComingItem:
    r = FieldReader(data, path, {"id", "title", "description", "url"})
    return ComingItem(id=r.slug("id"), title=r.text("title", required=True, limit=300),
                      description=r.text("description"), url=r.url("url"))


