"""Certificates issued: who earned what under the series' rules, kept with its verification
record, made as a PDF on demand, verified by the public page and revoked by an organiser.

A person is assessed from what the certificate store holds for them (presence per session,
evaluations done) against ``certificates:`` of the series file (core/certificates). What is
earned and not yet issued is issued once: stored (adapters/certificate_store) and put on the
list of certificates to email, which the certificate email reads and clears. A certificate
already issued is not made again, so its date of issue, and the email, happen once; an
organiser's revocation stays (issuing never un-revokes).

A whole series is assessed by the ``certificates`` organiser job, a page of registrations at
a time (``assess_page``): after an attendance upload, or when an organiser asks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..adapters.certificate_mail import CertificateMail
from ..adapters.certificate_store import CertificateStore
from ..adapters.clock import Clock
from ..adapters.store import Store
from ..core import i18n
from ..core.attendance import Presence
from ..core.certificates import (
    Assessment,
    Certificate,
    CertificateRules,
    assess,
    issue,
    normalised_id,
    rules_from_mapping,
)
from ..core.errors import NotFoundError
from ..core.registration import Registration
from ..core.series import Series

VERIFY_PATH = "/verify"

# The PDF's labels, marked for the catalogs (adapters/certificate_pdf.LABELS, same keys).
PDF_LABELS = {
    "title": i18n.mark("Certificate of attendance"),
    "certifies": i18n.mark("This is to certify that"),
    "attended": i18n.mark("attended the live webinar series"),
    "attended_session": i18n.mark("attended the live webinar"),
    "sessions": i18n.mark("Sessions attended"),
    "date": i18n.mark("Date"),
    "session": i18n.mark("Session"),
    "hours": i18n.mark("Hours"),
    "present": i18n.mark("Present"),
    "total": i18n.mark("Total: {hours} h, {credits} {label}"),
    "organisers": i18n.mark("Organisers"),
    "certificate_id": i18n.mark("Certificate ID"),
    "verify": i18n.mark("Verify at"),
    "issued": i18n.mark("Issued on {date}"),
}


def certificate_rules(series: Series) -> CertificateRules | None:
    """The series' rules (checked when the series file was read); None: no certificates."""
    doc = {k: v for k, v in series.certificates.items() if k != "evaluations"}
    if not doc:
        return None
    return rules_from_mapping(doc, [s.id for s in series.sessions])


@dataclass(frozen=True, slots=True)
class PersonAssessment:
    registrant_id: str
    assessments: tuple[Assessment, ...]
    issued: tuple[Certificate, ...]  # issued by this assessment (to be emailed)
    held: tuple[Certificate, ...]  # every certificate the person now holds


@dataclass(frozen=True, slots=True)
class PageTally:
    """A page of registrants assessed: how many, and how many certificates were issued."""

    people: int
    issued: int
    unnamed: int  # earned, but the registration holds no name to print


class Certificates:
    def __init__(self, store: Store, certificates: CertificateStore, mail: CertificateMail,
                 secret: Callable[[], str], clock: Clock, public_base_url: str) -> None:
        self.mail = mail
        self.store = store
        self.certificates = certificates
        self.secret = secret
        self.clock = clock
        self.public_base_url = public_base_url

    @property
    def verify_base_url(self) -> str:
        return f"{self.public_base_url.rstrip('/')}{VERIFY_PATH}"

    def presence(self, series: Series, rid: str) -> dict[str, Presence]:
        """The person's presence per session that took place, as the records have it."""
        records = self.certificates.records(series.id, rid)
        found: dict[str, Presence] = {}
        for session in series.sessions:
            record = records.sessions.get(session.id)
            if record is not None:
                found[session.id] = record.presence(session.start, session.end)
        return found

    def assess(self, series: Series, rid: str, issue_earned: bool = True
               ) -> PersonAssessment:
        """Judge every certificate of the rules for one registrant; issue what is earned
        and not held yet (and put it on the list to email)."""
        registration = self.store.get_registration(series.id, rid)
        if registration is None:
            raise NotFoundError("no such registrant in this series")
        return self._assess(series, registration, issue_earned)

    def _assess(self, series: Series, registration: Registration,
                issue_earned: bool) -> PersonAssessment:
        rules = certificate_rules(series)
        rid = registration.registrant_id
        records = self.certificates.records(series.id, rid)
        if rules is None:
            return PersonAssessment(rid, (), (), records.certificates)
        attendance = {s.id: rec.presence(s.start, s.end) for s in series.sessions
                      if (rec := records.sessions.get(s.id)) is not None}
        assessments = tuple(assess(rules, series.sessions, attendance,
                                   set(records.evaluations)))
        held = {c.scope: c for c in records.certificates}
        issued: list[Certificate] = []
        if issue_earned and registration.status == "active":
            for assessment in assessments:
                if assessment.state != "earned" or assessment.scope in held:
                    continue
                certificate = self._issue(series, registration, rules, assessment)
                if certificate is not None and self.certificates.put_certificate(certificate):
                    self.mail.add(series.id, rid, certificate.scope, self.clock.now())
                    issued.append(certificate)
                    held[certificate.scope] = certificate
        return PersonAssessment(rid, assessments, tuple(issued), tuple(held.values()))

    def _issue(self, series: Series, registration: Registration, rules: CertificateRules,
               assessment: Assessment) -> Certificate | None:
        try:
            return issue(assessment, secret=self.secret(), series_id=series.id,
                         series_title=series.title, registrant_id=registration.registrant_id,
                         name=registration.registrant.full_name, rules=rules,
                         organisers=[o.name for o in series.organisers],
                         issued_on=self.clock.now().astimezone(series.zone).date(),
                         verify_base_url=self.verify_base_url)
        except ValueError:
            return None  # no name to print: counted by the series' assessment

    def assess_page(self, series: Series, cursor: dict[str, Any] | None, limit: int
                    ) -> tuple[PageTally, dict[str, Any] | None]:
        """One page of the series' registrants assessed; the cursor of the next page."""
        page, cursor = self.store.registrations_page(series.id, cursor, limit)
        issued = unnamed = 0
        for registration in page:
            result = self._assess(series, registration, True)
            issued += len(result.issued)
            held = {c.scope for c in result.held}
            unnamed += sum(1 for a in result.assessments
                           if a.state == "earned" and a.scope not in held)
        return PageTally(len(page), issued, unnamed), cursor

    def held(self, series_id: str, rid: str, scope: str) -> Certificate:
        found = next((c for c in self.certificates.records(series_id, rid).certificates
                      if c.scope == scope), None)
        if found is None:
            raise NotFoundError("no such certificate")
        return found

    def pdf(self, series_id: str, rid: str, scope: str, language: str) -> bytes:
        """The PDF of a certificate held, in ``language`` (made on demand, never stored)."""
        from ..adapters.certificate_pdf import certificate_pdf

        certificate = self.held(series_id, rid, scope)
        catalog = i18n.translations(language)  # the placeholders are filled by the PDF
        labels = {key: catalog.gettext(text) for key, text in PDF_LABELS.items()}
        return certificate_pdf(certificate, language, labels)

    def verification(self, typed: str) -> dict[str, Any] | None:
        """What the public page shows for an id as someone typed it; None: no such one."""
        certificate_id = normalised_id(typed)
        # One lookup whatever was typed (a key no id can have for what cannot be one).
        found = self.certificates.verification(certificate_id or "-")
        return found if certificate_id is not None else None

    def revoke(self, series_id: str, typed: str) -> str:
        """Revoke a certificate of this series; its id. NotFoundError for an id that is not
        one of the series' (an organiser of one series cannot revoke another's)."""
        certificate_id = normalised_id(typed)
        if certificate_id is None or not self.certificates.revoke(certificate_id, series_id):
            raise NotFoundError("no such certificate in this series")
        return certificate_id

    def to_email(self, series_id: str) -> Sequence[tuple[str, str]]:
        """Certificates issued and not yet emailed: (registrant id, scope) pairs, for the
        certificate email, which calls ``self.mail.done`` for each one it has sent."""
        return self.mail.pending(series_id)

