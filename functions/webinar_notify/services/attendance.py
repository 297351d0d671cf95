"""Attendance in: Zoom's join and leave webhooks, an organiser's upload (Zoom's attendee report
or a generic CSV) and manual marks, kept per registrant and session in the certificate store;
and the evaluations registrants complete, from a form of any provider the series maps.

Only registrants are counted: a join or an evaluation from an address that has no
registration in the series is answered but not kept (there would be no name to certify, and
nothing of a stranger should be stored). Nothing here logs or stores an address: people are
their registrant ids.

An upload is read whole in the request (one bad row refuses the file, with every bad row's
line and column), turned into registrant ids and handed to the attendance job, which writes
it in steps and then marks the session's import, so a half-done import changes nothing
(adapters/certificate_store.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..adapters.certificate_store import MANUAL, CertificateStore, ImportRow
from ..adapters.clock import Clock
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.attendance import AttendanceUpload, Interval, parse_generic_csv, parse_zoom_report
from ..core.certificates import SERIES_EVALUATION, session_scope
from ..core.errors import NotFoundError, PayloadError
from ..core.providers import Provider
from ..core.providers.zoom_participants import EVENTS, parse_participant_event
from ..core.series import Series, Session
from ..core.text import is_time_zone, registrant_id

if TYPE_CHECKING:
    from ..core.organiser_jobs import OrganiserJob
    from .organiser_jobs import OrganiserJobs

UPLOAD_FORMATS = {"zoom": "zoom-report", "csv": "csv"}  # request's format -> source kept
EVALUATION_QUERY = "evaluation"  # ?evaluation=series or ?evaluation=<session id>


@dataclass(frozen=True, slots=True)
class Handled:
    """A delivery this module took in full: what the webhook answers."""

    outcome: str  # "evaluation", "presence", "ignored"
    registrant_id: str
    status: int = 200


def rows_document(rows: Mapping[str, ImportRow]) -> bytes:
    """An upload's rows as the job reads them: registrant id -> intervals and minutes."""
    return json.dumps({rid: {"intervals": [[i.start.isoformat(), i.end.isoformat()]
                                           for i in row.intervals], "minutes": row.minutes}
                       for rid, row in rows.items()}, separators=(",", ":")).encode()


def rows_from_document(data: bytes) -> dict[str, ImportRow]:
    """The job's rows back; PayloadError if the stored object is not one."""
    try:
        doc = json.loads(data)
        return {str(rid): ImportRow(tuple(Interval(datetime.fromisoformat(a),
                                                   datetime.fromisoformat(b))
                                          for a, b in row["intervals"]),
                                    float(row["minutes"]))
                for rid, row in doc.items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        raise PayloadError("the stored attendance rows cannot be read") from None


class AttendanceIntake:
    """Presence and evaluations from webhooks, beside the registration intake."""

    def __init__(self, store: Store, certificates: CertificateStore, secrets: Secrets,
                 clock: Clock, on_evaluation: Callable[[Series, str], object] | None = None
                 ) -> None:
        self.store = store
        self.certificates = certificates
        self.secrets = secrets
        self.clock = clock
        self.on_evaluation = on_evaluation  # assess the person's certificates again

    def receive(self, provider: Provider, series: Series, body: bytes,
                query: Mapping[str, str]) -> Handled | None:
        """A verified delivery: an evaluation (by the webhook's ``?evaluation=``) is taken in
        full; a Zoom join or leave is kept as presence, and a join goes on to the
        registration intake too (attendee follow-ups); None for anything else."""
        if EVALUATION_QUERY in query:
            return self._evaluation(provider, series, body, query[EVALUATION_QUERY])
        if provider.name == "zoom" and _zoom_event(body) in EVENTS:
            return self._presence(series, body)
        return None

    def _presence(self, series: Series, body: bytes) -> Handled | None:
        try:
            seen = parse_participant_event(body, series)
        except PayloadError:
            return None  # no time to place it: the intake still marks the person attended
        if seen is None or seen.session_id is None:
            return None  # not ours, or no session: the intake answers (and counts it)
        rid = registrant_id(self.secrets.registrant_key(), series.id, seen.email)
        if self.store.get_registration(series.id, rid) is not None:
            self.certificates.add_presence_event(series.id, rid, seen.session_id, seen.event)
        if seen.event.kind == "joined":
            return None  # the intake marks the registration attended
        return Handled("presence", rid)

    def _evaluation(self, provider: Provider, series: Series, body: bytes,
                    target: str) -> Handled:
        evaluations = series.certificates.get("evaluations") or {}
        spec = evaluations.get(target)
        if not isinstance(spec, Mapping):
            raise NotFoundError(f"no evaluation {target[:40]!r} is mapped in this series "
                                "(certificates: evaluations:)")
        if spec.get("provider") != provider.name:
            raise PayloadError(f"the evaluation {target!r} is mapped to {spec.get('provider')}'s "
                               f"form, not {provider.name}'s")
        form = {"email": spec["email"]} if "email" in spec else {}
        shaped = replace(series, forms={provider.name: form})
        try:
            event = provider.parse(body, shaped, ())
        except (AttributeError, TypeError, KeyError, ValueError, IndexError):
            raise PayloadError(f"the payload does not have the shape {provider.name} "
                               "sends") from None
        email = getattr(getattr(event, "registrant", None), "email", None)
        if not isinstance(email, str) or not email:
            return Handled("ignored", "")  # a test delivery, a validation ping
        rid = registrant_id(self.secrets.registrant_key(), series.id, email)
        if self.store.get_registration(series.id, rid) is None:
            return Handled("ignored", rid)
        key = SERIES_EVALUATION if target == "series" else session_scope(target)
        self.certificates.record_evaluation(series.id, rid, key, self.clock.now())
        if self.on_evaluation is not None:
            self.on_evaluation(series, rid)
        return Handled("evaluation", rid)


def _zoom_event(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    return str(doc.get("event", "")) if isinstance(doc, dict) else ""


# -- uploads and manual marks ------------------------------------------------------------------
def held_session(series: Series, session_id: str, now: datetime) -> Session:
    """A session whose attendance can be recorded: one of the series, begun, not cancelled."""
    session = series.session(session_id)
    if session is None:
        raise NotFoundError(f"unknown session {session_id[:40]!r}")
    if session.cancelled:
        raise PayloadError(f"{session_id!r} was cancelled: it has no attendance")
    if session.start > now:
        raise PayloadError(f"{session_id!r} has not taken place yet")
    return session


def read_upload(series: Series, session: Session, body: Mapping[str, Any]
                ) -> tuple[str, AttendanceUpload]:
    """An upload request ``{report: <CSV text>, format: zoom | csv, time_zone: <zone>}``
    read whole: the source to keep and what the file says; a clear 400 otherwise."""
    text = body.get("report")
    if not isinstance(text, str) or not text.strip():
        raise PayloadError("report: expected the CSV file's text")
    fmt = body.get("format", "zoom")
    if fmt not in UPLOAD_FORMATS:
        raise PayloadError("format: expected zoom (Zoom's attendee report) or csv "
                           "(email with minutes, or join and leave)")
    zone_name = body.get("time_zone") or series.time_zone
    if not isinstance(zone_name, str) or not is_time_zone(zone_name):
        raise PayloadError("time_zone: expected a time zone such as Europe/Brussels")
    zone = ZoneInfo(zone_name)
    upload = parse_zoom_report(text, zone, session.start) if fmt == "zoom" \
        else parse_generic_csv(text, zone)
    return UPLOAD_FORMATS[str(fmt)], upload


def upload_rows(upload: AttendanceUpload, key: str, series_id: str) -> dict[str, ImportRow]:
    """What the file says, per registrant id (the addresses go no further)."""
    rows: dict[str, ImportRow] = {}
    for email in set(upload.intervals) | set(upload.minutes):
        rid = registrant_id(key, series_id, email)
        rows[rid] = ImportRow(tuple(upload.intervals.get(email, ())),
                              float(upload.minutes.get(email, 0.0)))
    return rows


def mark(certificates: CertificateStore, series_id: str, session: Session, rid: str,
         attended: bool) -> None:
    """An organiser's mark: present for the whole session, or not there at all. It wins over
    the webhooks and any report for this person and session."""
    whole = (Interval(session.start, session.end),) if attended else ()
    certificates.put_upload(series_id, rid, session.id, MANUAL, whole)


MAX_MARKS = 500  # addresses one request marks (a longer list: the attendance import)


def accept_upload(jobs: OrganiserJobs, store: Store, secrets: Secrets, clock: Clock,
                  caller: str, series_id: str, session_id: str,
                  body: Mapping[str, Any]) -> OrganiserJob:
    """An organiser's upload of a session's report: read whole here (a bad row refuses the
    file with every bad row named), turned into registrant ids, written by the job."""
    series = store.get_series(series_id)
    if series is None:
        raise NotFoundError(f"unknown series {series_id[:80]!r}")
    session = held_session(series, session_id, clock.now())
    source, upload = read_upload(series, session, body)
    rows = upload_rows(upload, secrets.registrant_key(), series.id)
    return jobs.start_attendance_upload(caller, series.id, session.id, source, rows)


@dataclass(frozen=True, slots=True)
class Marked:
    marked: int
    not_registered: int


def mark_people(store: Store, certificates: CertificateStore, secrets: Secrets, clock: Clock,
                series_id: str, session_id: str, emails: object, attended: object
                ) -> tuple[Series, list[str], Marked]:
    """An organiser's marks for a short list of addresses: present for the whole session,
    or (``attended: false``) not there. The series, the ids marked, and the counts."""
    series = store.get_series(series_id)
    if series is None:
        raise NotFoundError(f"unknown series {series_id[:80]!r}")
    session = held_session(series, session_id, clock.now())
    if not isinstance(attended, bool):
        raise PayloadError("attended: expected true or false")
    if not isinstance(emails, list) or not emails or \
            not all(isinstance(e, str) and e.strip() for e in emails):
        raise PayloadError("emails: expected a list of addresses")
    if len(emails) > MAX_MARKS:
        raise PayloadError(f"emails: at most {MAX_MARKS} in one request; upload a longer "
                           "list as a report or an attendance import")
    key = secrets.registrant_key()
    ids = list(dict.fromkeys(registrant_id(key, series.id, e.strip()) for e in emails))
    known = [rid for rid in ids if store.get_registration(series.id, rid) is not None]
    for rid in known:
        mark(certificates, series.id, session, rid, attended)
    return series, known, Marked(len(known), len(ids) - len(known))
