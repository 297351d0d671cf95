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

The registration's ``attended`` flag, which the attendee and absentee audiences read (a
follow-up split in two), is kept in step with these records by ``keep_attended`` after every
attendance write: a Zoom join or leave, a mark, the last step of an upload, the older list.
Present means any time at all as recorded (under a certificate's threshold still counts);
nothing recorded for that session, or no time, means absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..adapters.certificate_store import MANUAL, CertificateStore, ImportRow, SessionRecord
from ..adapters.clock import Clock
from ..adapters.dynamo import StaleWriteError
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.attendance import AttendanceUpload, Interval, parse_generic_csv, parse_zoom_report
from ..core.certificates import SERIES_EVALUATION, session_scope
from ..core.errors import NotFoundError, PayloadError
from ..core.providers import Provider
from ..core.providers.zoom_participants import EVENTS, parse_participant_event
from ..core.registration import Registration
from ..core.series import Series, Session
from ..core.text import is_time_zone, registrant_id, whole_number

if TYPE_CHECKING:
    from ..core.organiser_jobs import OrganiserJob
    from .organiser_jobs import OrganiserJobs

UPLOAD_FORMATS = {"zoom": "zoom-report", "csv": "csv"}  # request's format -> source kept
WRITE_ATTEMPTS = 5  # a registration written meanwhile by another: read it again
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
        full; a Zoom join or leave is kept as presence and the registration's ``attended``
        flag follows the records, where a join that finds the person present goes on to the
        registration intake, which marks it; None for anything else."""
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
        registration = self.store.get_registration(series.id, rid)
        session = series.session(seen.session_id)
        if registration is None or session is None:
            return None if seen.event.kind == "joined" else Handled("presence", rid)
        self.certificates.add_presence_event(series.id, rid, session.id, seen.event)
        record = self.certificates.records(series.id, rid).sessions.get(session.id)
        there = was_there(record, session)
        if there and seen.event.kind == "joined":
            return None  # the intake marks the registration attended, as it always has
        # A mark or a report that says otherwise wins over the webhook; a leave may end it.
        keep_attended(self.store, self.clock, registration, session.id, there)
        self.store.mark_attendance_known(series.id, session.id)
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


def was_there(record: SessionRecord | None, session: Session) -> bool:
    """Present at the session as recorded: any time at all. Under a certificate's threshold
    still counts as there for the follow-ups; no record, or no time, is absent."""
    return record is not None and record.presence(session.start, session.end).seconds > 0


def keep_attended(store: Store, clock: Clock, registration: Registration, session_id: str,
                  there: bool) -> bool:
    """The registration's ``attended`` flag for the session set to ``there``, read again if
    written meanwhile; nothing is written when it says so already (a rerun writes nothing).
    False if the person is no longer registered."""
    current: Registration | None = registration
    for _attempt in range(WRITE_ATTEMPTS):
        if current is None:
            return False
        if (session_id in current.attended) == there:
            return True
        attended = current.attended | {session_id} if there \
            else current.attended - {session_id}
        try:
            store.put_registration(replace(current, attended=attended), clock.now())
            return True
        except StaleWriteError:
            current = store.get_registration(current.series_id, current.registrant_id)
    raise StaleWriteError  # busy: the request or the step fails and is tried again


def mark(store: Store, certificates: CertificateStore, clock: Clock, session: Session,
         registration: Registration, attended: bool, minutes: int | None = None) -> None:
    """An organiser's mark: present for the whole session, not there at all, or present for
    ``minutes`` (checked by ``marked_minutes``). It wins over the webhooks and any report for
    this person and session, and sets their ``attended`` flag to match (0 minutes: absent)."""
    series_id, rid = registration.series_id, registration.registrant_id
    if minutes is not None:
        certificates.put_upload(series_id, rid, session.id, MANUAL, (), float(minutes))
    else:
        whole = (Interval(session.start, session.end),) if attended else ()
        certificates.put_upload(series_id, rid, session.id, MANUAL, whole)
    there = minutes > 0 if minutes is not None else attended
    keep_attended(store, clock, registration, session.id, there)


def marked_minutes(session: Session, minutes: object) -> int | None:
    """The minutes of a mark, as the request gave them: None for none (present or absent by
    ``attended``), else a whole number from 0 to the session's length; a clear 400 if not."""
    if minutes is None or minutes == "":
        return None
    length = int(session.duration.total_seconds() // 60)
    if isinstance(minutes, str):
        minutes = whole_number(minutes.strip())
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= length:
        raise PayloadError(f"minutes: expected a whole number from 0 to {length} (the length "
                           f"of {session.id})")
    return minutes


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
                series_id: str, session_id: str, emails: object, attended: object,
                minutes: object = None) -> tuple[Series, list[str], Marked]:
    """An organiser's marks for a short list of addresses: present for the whole session,
    (``attended: false``) not there, or present for ``minutes``. The series, the ids marked,
    and the counts."""
    series = store.get_series(series_id)
    if series is None:
        raise NotFoundError(f"unknown series {series_id[:80]!r}")
    session = held_session(series, session_id, clock.now())
    if not isinstance(attended, bool):
        raise PayloadError("attended: expected true or false")
    counted = marked_minutes(session, minutes)
    if not isinstance(emails, list) or not emails or \
            not all(isinstance(e, str) and e.strip() for e in emails):
        raise PayloadError("emails: expected a list of addresses")
    if len(emails) > MAX_MARKS:
        raise PayloadError(f"emails: at most {MAX_MARKS} in one request; upload a longer "
                           "list as a report or an attendance import")
    key = secrets.registrant_key()
    ids = list(dict.fromkeys(registrant_id(key, series.id, e.strip()) for e in emails))
    registered = store.registrations(series.id, ids)  # BatchGetItem, 100 a request
    known = [rid for rid in ids if rid in registered]
    for rid in known:
        mark(store, certificates, clock, session, registered[rid], attended, counted)
    return series, known, Marked(len(known), len(ids) - len(known))


def mark_registrant(store: Store, certificates: CertificateStore, clock: Clock,
                    series_id: str, session_id: str, rid: str, attended: bool
                    ) -> Series:
    """One registrant marked present or absent from the review, by registrant id; a 404
    for someone no longer registered. The series, to assess them again."""
    series = store.get_series(series_id)
    if series is None:
        raise NotFoundError(f"unknown series {series_id[:80]!r}")
    session = held_session(series, session_id, clock.now())
    registration = store.get_registration(series.id, rid)
    if registration is None:
        raise NotFoundError("no such registrant in this series")
    mark(store, certificates, clock, session, registration, attended)
    return series
