"""The review of attendance read for the console: a page of registrants at a time, each with
what the certificate store holds for them, judged by core.attendance_review without issuing
anything; and, after an upload, the file's rows that matched no registrant.

A page costs one Query of registrations and one Query per person (their presence,
evaluations and certificates sit under one prefix), so it is paged like the registrant list.
Rows needing a decision come first within a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..adapters.certificate_store import CertificateStore
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.attendance import DEFAULT_THRESHOLD, AttendanceUpload
from ..core.attendance_review import ReviewRow, ordered, review_row
from ..core.certificates import SERIES_SCOPE, assess
from ..core.errors import NotFoundError
from ..core.series import Series
from ..core.text import registrant_id
from .certificates import certificate_rules, unprintable

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class ReviewPage:
    rows: list[ReviewRow]
    next_cursor: str


def review_page(reads: Store, certificates: CertificateStore, series: Series, scope: str,
                cursor: str | None, limit: int = PAGE_SIZE) -> ReviewPage:
    """One page of registrants for ``scope``, a session id or "series": for a session, those
    registered for it or seen there; cancelled registrations are left out (they get no
    certificate)."""
    if scope != SERIES_SCOPE and series.session(scope) is None:
        raise NotFoundError(f"unknown session {scope[:40]!r}")
    rules = certificate_rules(series)
    threshold = rules.threshold if rules is not None else DEFAULT_THRESHOLD
    page, next_cursor = reads.registrations_matching(series.id, "", cursor or None, limit)
    texts = [series.title, *(s.title for s in series.sessions),
             *(o.name for o in series.organisers)] + ([rules.credit_label] if rules else [])
    rows = []
    for registration in page:
        if registration.status != "active":
            continue
        rid = registration.registrant_id
        records = certificates.records(series.id, rid)
        if scope != SERIES_SCOPE and not registration.sessions_in([scope]) \
                and scope not in records.sessions:
            continue  # neither registered for the session nor seen there
        attendance = {s.id: rec.presence(s.start, s.end) for s in series.sessions
                      if (rec := records.sessions.get(s.id)) is not None}
        sources = {sid: rec.source or ("report" if rec.imported else "")
                   for sid, rec in records.sessions.items()}
        assessments = assess(rules, series.sessions, attendance, set(records.evaluations)) \
            if rules is not None else []
        person = (rid, registration.registrant.full_name, registration.registrant.email)
        cannot = unprintable(scope, person[1], texts) if any(
            a.state == "earned" for a in assessments) else None
        rows.append(review_row(rules, threshold, series.sessions, scope, person, attendance,
                               sources, set(records.evaluations), assessments,
                               records.certificates,
                               (cannot.in_name, cannot.scripts) if cannot else None))
    return ReviewPage(ordered(rows), next_cursor or "")


def unmatched_rows(store: Store, secrets: Secrets, series_id: str, upload: AttendanceUpload
                   ) -> list[dict[str, Any]]:
    """The file's addresses that match no registration of the series, with the minutes the
    file gives them: shown to the organiser once, right after the upload, and kept nowhere."""
    key = secrets.registrant_key()
    emails = sorted(set(upload.intervals) | set(upload.minutes))
    ids = {email: registrant_id(key, series_id, email) for email in emails}
    found = store.registrations(series_id, list(ids.values()))
    return [{"email": email, "minutes": _minutes(upload, email)}
            for email in emails if ids[email] not in found]


def _minutes(upload: AttendanceUpload, email: str) -> int:
    seconds = sum((i.end - i.start).total_seconds() for i in upload.intervals.get(email, ()))
    return int(seconds // 60 + upload.minutes.get(email, 0.0))


def person_names(store: Store, series_id: str, ids: list[str]) -> Mapping[str, str]:
    """Registrant id -> name, for the notice after a mark."""
    return {rid: reg.registrant.full_name for rid, reg in
            store.registrations(series_id, ids).items()}
