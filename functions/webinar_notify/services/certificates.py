"""Certificates issued: who earned what under the series' rules, kept with its verification
record, made as a PDF on demand, verified by the public page and revoked by an organiser.

A person is assessed from what the certificate store holds for them (presence per session,
evaluations done) against ``certificates:`` of the series file (core/certificates). What is
earned and not yet issued is issued once: stored (adapters/certificate_store) together with
its entry on the list of certificates to email, in one transaction; its email (the
``certificate`` kind, core/kinds/certificate.py) is then put on the send queue and the entry
taken off the list. A certificate already issued is not made again, so its date of issue, and
the email, happen once; an organiser's revocation stays (issuing never un-revokes).

A whole series is assessed by the ``certificates`` organiser job, a page of registrations at
a time (``assess_page``): after an attendance upload, or when an organiser asks. Its last
page also queues any email still on the list (one whose queueing failed after its
certificate was issued); the ledger key, the certificate's id and date of issue, keeps an
email queued twice from going out twice.

The email's PDF is made by the sender when the email goes (``certificate_file``), from the
certificate as it stands then: an erased or revoked certificate is not sent, nor one issued
again since (its id or date of issue differ from the email's key).

A certificate is issued only when its embedded fonts can draw it (adapters/certificate_pdf):
one whose name, say, is written in Thai stays earned and not issued, with the scripts the
fonts lack (never the name) in the review of attendance and in the job's count, and a later
assessment issues it once the fonts or the name allow. Two assessments at once (a mark and
the series' job) cannot both issue it: the store writes a certificate only where none is held.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..adapters.certificate_store import CertificateStore
from ..adapters.clock import Clock
from ..adapters.queue import SendQueue
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
from ..core.errors import InvalidInputError, NotFoundError, StaleJobError
from ..core.jobs import EmailJob, delivery_key
from ..core.kinds import CertificateFile, CertificatePayload
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
    doc = {k: v for k, v in series.certificates.items()
           if k not in ("evaluations", "absentee_note")}
    if not doc:
        return None
    return rules_from_mapping(doc, [s.id for s in series.sessions])


@dataclass(frozen=True, slots=True)
class Unprintable:
    """A certificate earned that its fonts cannot draw: which scripts they lack, and whether
    the name has them (else a title or an organiser of the series file)."""

    scope: str
    scripts: tuple[str, ...]
    in_name: bool


class CertificateUnprintableError(InvalidInputError):
    """A certificate held whose text the embedded fonts cannot draw (or fit): no PDF."""

    status = 422


UNPRINTABLE = i18n.mark("This certificate cannot be made into a PDF yet, because some of its "
                        "text cannot be printed. Please write to the organisers.")


def unprintable(scope: str, name: str, texts: Sequence[str]) -> Unprintable | None:
    """What the fonts lack to draw a certificate of ``name`` with the series' ``texts``
    (titles, organisers, credit label); None when they draw it all."""
    from ..adapters.certificate_fonts import missing_scripts

    in_name = missing_scripts(name, name=True)
    scripts = tuple(sorted(set(in_name) | set(missing_scripts(" ".join(texts)))))
    return Unprintable(scope, scripts, bool(in_name)) if scripts else None


def certificate_texts(certificate: Certificate) -> list[str]:
    """What a certificate prints besides the name and the labels (the series' texts)."""
    return [certificate.series_title, certificate.credit_label,
            *(s.title for s in certificate.sessions), *certificate.organisers]


@dataclass(frozen=True, slots=True)
class PersonAssessment:
    registrant_id: str
    assessments: tuple[Assessment, ...]
    issued: tuple[Certificate, ...]  # issued by this assessment (to be emailed)
    held: tuple[Certificate, ...]  # every certificate the person now holds
    unprintable: tuple[Unprintable, ...] = ()  # earned, not issued: the fonts cannot draw it


@dataclass(frozen=True, slots=True)
class PageTally:
    """A page of registrants assessed: how many, and how many certificates were issued."""

    people: int
    issued: int
    unnamed: int  # earned, but the registration holds no name to print
    unprintable: int = 0  # earned, but the fonts cannot draw it (Unprintable)


class Certificates:
    def __init__(self, store: Store, certificates: CertificateStore, queue: SendQueue,
                 secret: Callable[[], str], clock: Clock, public_base_url: str) -> None:
        self.queue = queue
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

    def issue_after_marks(self, series: Series, rids: Sequence[str]) -> int:
        """Each newly marked person assessed again (when the series gives certificates):
        how many certificates that issued."""
        if not series.certificates:
            return 0
        return sum(len(self.assess(series, rid).issued) for rid in rids)

    def assess(self, series: Series, rid: str, issue_earned: bool = True
               ) -> PersonAssessment:
        """Judge every certificate of the rules for one registrant; issue what is earned
        and not held yet, and queue its email."""
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
        blocked: list[Unprintable] = []
        if issue_earned and registration.status == "active":
            for assessment in assessments:
                if assessment.state != "earned" or assessment.scope in held:
                    continue
                certificate = self._issue(series, registration, rules, assessment)
                if certificate is None:
                    continue
                cannot = unprintable(certificate.scope, certificate.name,
                                     certificate_texts(certificate))
                if cannot is not None:
                    blocked.append(cannot)
                elif self.certificates.put_certificate(certificate):
                    issued.append(certificate)
                    held[certificate.scope] = certificate
                else:  # held by now (another assessment issued it), or the person erased
                    held.update((c.scope, c) for c in self.certificates.held(series.id, rid))
        if issued:
            self._send(series, registration, issued)
        return PersonAssessment(rid, assessments, tuple(issued), tuple(held.values()),
                                tuple(blocked))

    def _send(self, series: Series, registration: Registration,
              certificates: Sequence[Certificate]) -> None:
        """The certificates' emails on the send queue, then off the list to email (a failure
        in between leaves them listed, for the series' next assessment to queue)."""
        self.queue.send([certificate_job(series, registration, c) for c in certificates])
        for certificate in certificates:
            self.certificates.emailed(series.id, registration.registrant_id, certificate.scope)

    def send_listed(self, series: Series) -> int:
        """Queue the emails of certificates issued and still on the list to email; entries
        whose person or certificate was erased meanwhile are dropped. How many were queued."""
        listed = self.certificates.to_email(series.id)
        if not listed:
            return 0
        people = self.store.registrations(series.id, sorted({rid for rid, _ in listed}))
        queued = 0
        for rid, scope in listed:
            registration = people.get(rid)
            certificate = self.certificates.certificate(series.id, rid, scope) \
                if registration is not None else None
            if registration is None or certificate is None or certificate.revoked:
                self.certificates.emailed(series.id, rid, scope)
                continue
            self._send(series, registration, [certificate])
            queued += 1
        return queued

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
        issued = unnamed = blocked = 0
        for registration in page:
            result = self._assess(series, registration, True)
            issued += len(result.issued)
            blocked += len(result.unprintable)
            held = {c.scope for c in result.held} | {u.scope for u in result.unprintable}
            unnamed += sum(1 for a in result.assessments
                           if a.state == "earned" and a.scope not in held)
        if cursor is None:  # the last page: what an earlier failure left on the list
            self.send_listed(series)
        return PageTally(len(page), issued, unnamed, blocked), cursor

    def held(self, series_id: str, rid: str, scope: str) -> Certificate:
        found = next((c for c in self.certificates.records(series_id, rid).certificates
                      if c.scope == scope), None)
        if found is None:
            raise NotFoundError("no such certificate")
        return found

    def pdf(self, series_id: str, rid: str, scope: str, language: str) -> bytes:
        """The PDF of a certificate held, in ``language`` (made on demand, never stored);
        CertificateUnprintableError when it cannot be drawn."""
        return render_pdf(self.held(series_id, rid, scope), language)

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
        """Certificates issued whose email is not on the send queue yet: (registrant id,
        scope) pairs. Empty but for a failure between issuing and queueing."""
        return self.certificates.to_email(series_id)


def certificate_job(series: Series, registration: Registration,
                    certificate: Certificate) -> EmailJob:
    """The email of one certificate: once per certificate and date of issue (a person who
    erased their data, came back and earned it again is told again)."""
    scope = certificate.scope
    return EmailJob(
        kind="certificate", series_id=series.id, series_revision=series.revision,
        registrant_id=registration.registrant_id, recipient=registration.registrant,
        session_ids=(scope.removeprefix("session:"),) if scope != "series" else (),
        payload=CertificatePayload(scope),
        key=certificate_key(certificate))


def certificate_key(certificate: Certificate) -> str:
    """The email's delivery key: the certificate's id and its date of issue."""
    return delivery_key("certificate", certificate.series_id, certificate.registrant_id,
                        certificate.certificate_id, certificate.issued_on.isoformat())


def render_pdf(certificate: Certificate, language: str) -> bytes:
    """The certificate's PDF with its labels in ``language`` (made on demand, never stored)."""
    from ..adapters.certificate_pdf import certificate_pdf

    catalog = i18n.translations(language)  # the placeholders are filled by the PDF
    labels = {key: catalog.gettext(text) for key, text in PDF_LABELS.items()}
    try:
        return certificate_pdf(certificate, language, labels)
    except ValueError:  # MissingGlyphsError, CertificateLayoutError: their text names nobody
        error = CertificateUnprintableError(UNPRINTABLE)
        error.language = language
        raise error from None


def certificate_file(certificates: CertificateStore, job: EmailJob,
                     language: str) -> CertificateFile | None:
    """What the sender attaches to a certificate email: the certificate as it stands now and
    its PDF. None (the email is stale) when it was erased or revoked since, or issued again
    since (an erasure, a new registration, earned again: its date of issue, so its email's
    key, differ). A certificate its fonts cannot draw (issued before issuing checked) is not
    sent either: no retry could help, so StaleJobError rather than the dead-letter queue; the
    manage page says why it has no PDF."""
    if not isinstance(job.payload, CertificatePayload):
        return None
    found = certificates.certificate(job.series_id, job.registrant_id, job.payload.scope)
    if found is None or found.revoked or job.key != certificate_key(found):
        return None
    try:
        return CertificateFile(found, render_pdf(found, language))
    except CertificateUnprintableError:
        raise StaleJobError("the certificate cannot be printed with its fonts") from None

