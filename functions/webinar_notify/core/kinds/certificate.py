"""The certificate email: a certificate just issued, with its PDF attached, the link where
anyone can verify it, and where to download it again. One email per certificate (its delivery
key names the certificate and its date of issue), in the registrant's language.

The job carries only which certificate (its scope); the sender reads the certificate as it
stands when the email goes, and makes the PDF then (``Inputs.certificate``), so a certificate
erased or revoked while its email waited on the queue is not sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from babel.numbers import format_decimal

from .. import i18n
from ..certificates import SERIES_SCOPE, Certificate
from ..errors import PayloadError, StaleJobError
from ..i18n import tr
from ..series import Series
from .common import Inputs, Kind, context, email, read_fields, read_text

if TYPE_CHECKING:
    from ..jobs import EmailJob, EmailKind
    from ..mime import Email

_SCOPE = re.compile(r"series|session:[^\s#]{1,100}")


@dataclass(frozen=True, slots=True)
class CertificateFile:
    """A certificate as the sender read it just before sending, and its PDF in the reader's
    language."""

    certificate: Certificate
    pdf: bytes


@dataclass(frozen=True, slots=True)
class CertificatePayload:
    KIND: ClassVar[EmailKind] = "certificate"

    scope: str = ""  # "series" or "session:<id>": which of the person's certificates

    def to_doc(self) -> dict[str, Any]:
        return {"scope": self.scope} if self.scope else {}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> CertificatePayload:
        scope = read_text(read_fields(doc, cls.KIND), "scope", cls.KIND)
        if not _SCOPE.fullmatch(scope):
            raise PayloadError("malformed certificate payload: scope is not series or "
                               "session:<id>")
        return cls(scope=scope)

    @classmethod
    def from_v1(cls, extra: Mapping[str, str]) -> CertificatePayload:
        return cls()  # version 1 messages predate certificates


def pdf_filename(certificate: Certificate) -> str:
    """``certificate-<series>-<series or session id>.pdf``: ASCII, as every client shows it."""
    which = certificate.scope.removeprefix("session:")
    return f"certificate-{certificate.series_id}-{which}.pdf"


def certified_title(series: Series, certificate: Certificate) -> str:
    """What the certificate is for: the series, or the session as the series names it now."""
    if certificate.scope == SERIES_SCOPE:
        return series.title
    session = series.session(certificate.scope.removeprefix("session:"))
    if session is not None:
        return session.title
    return certificate.sessions[0].title if certificate.sessions else series.title


def compose(series: Series, job: EmailJob, payload: CertificatePayload,
            given: Inputs) -> Email:
    from ..mime import Attachment

    found = given.certificate
    if found is None or found.certificate.scope != payload.scope or found.certificate.revoked:
        raise StaleJobError("the certificate of this email was erased or revoked")
    certificate = found.certificate
    view = context(series, job, given.links, [], given.now)
    lang = view["language"]
    title = certified_title(series, certificate)
    subject = tr(lang, "Your certificate of attendance: %(title)s", title=title)
    place = i18n.locale(lang)
    text, html = given.renderer.render_pair("certificate", view | {
        "subject": subject, "title": title, "whole_series": certificate.scope == SERIES_SCOPE,
        "hours": format_decimal(certificate.hours, locale=place),
        "credits": format_decimal(certificate.credits, locale=place),
        "credit_label": certificate.credit_label, "certificate_id": certificate.certificate_id,
        "verification_url": certificate.verification_url}, lang, series)
    return email(series, job, given.now, subject, text, html, attachments=[
        Attachment(pdf_filename(certificate), "application/pdf", found.pdf)])


CERTIFICATE = Kind(CertificatePayload, compose)
