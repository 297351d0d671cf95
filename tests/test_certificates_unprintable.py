"""Certificates whose text the fonts cannot draw, and issuing that races: a name in Thai is
earned but not issued (nothing queued, nothing for the dead-letter queue), named by its
script in the review and the job's count, and issued once the name is corrected; one issued
before that check is skipped by the sender and refused by the manage page with a 4xx; two
assessments at once issue once; an email queued for a certificate issued again since is
stale."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from test_certificates_email import AFTER, issuing
from webinar_notify.adapters.certificate_store import CertificateStore, PersonRecords
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.core.certificates import issue
from webinar_notify.core.errors import InvalidInputError, StaleJobError
from webinar_notify.core.kinds import CertificatePayload
from webinar_notify.services.attendance import mark
from webinar_notify.services.attendance_review import review_page
from webinar_notify.services.certificates import (
    Certificates,
    CertificateUnprintableError,
    certificate_file,
    certificate_job,
    certificate_rules,
    render_pdf,
)

THAI = "สมชาย ใจดี"  # Thai: a script the fonts lack (Arabic and Hebrew names are drawn)


def test_a_name_the_fonts_cannot_draw_is_earned_not_issued_until_it_can_be() -> None:
    certificates, queue, series, rid = issuing(THAI, "en")
    result = certificates.assess(series, rid)
    assert result.issued == () and queue.jobs == [] and certificates.to_email(series.id) == []
    assert sorted((u.scope, u.scripts, u.in_name) for u in result.unprintable) == [
        (scope, ("Thai",), True) for scope in ("series", "session:s1", "session:s2")]
    tally, _ = certificates.assess_page(series, None, 10)  # the series' job
    assert (tally.issued, tally.unprintable, tally.unnamed) == (0, 3, 0)

    row = review_page(certificates.store, certificates.certificates, series, "series",
                      None).rows[0]
    assert row.needs_review and row.certificate == "earned, cannot be printed"
    assert any("no Thai letters" in why for why in row.reasons)

    registration = certificates.store.get_registration(series.id, rid)
    assert registration is not None
    corrected = replace(registration, registrant=replace(registration.registrant,
                                                         full_name="Somchai Jaidee"))
    certificates.store.put_registration(corrected, AFTER)
    assert len(certificates.assess(series, rid).issued) == 3 and len(queue.jobs) == 3


def test_one_issued_before_the_check_is_skipped_by_the_sender_and_refused_with_a_4xx() -> None:
    certificates, _queue, series, rid = issuing(THAI, "fr")
    rules = certificate_rules(series)
    assert rules is not None
    registration = certificates.store.get_registration(series.id, rid)
    assert registration is not None
    assessment = next(a for a in certificates.assess(series, rid, issue_earned=False)
                      .assessments if a.scope == "series")
    old = issue(assessment, secret="test-secret", series_id=series.id,
                series_title=series.title, registrant_id=rid, name=THAI, rules=rules,
                organisers=[], issued_on=AFTER.date(),
                verify_base_url=certificates.verify_base_url)
    assert certificates.certificates.put_certificate(old)
    job = certificate_job(series, registration, old)
    with pytest.raises(StaleJobError):  # skipped, released: never the dead-letter queue
        certificate_file(certificates.certificates, job, "fr")
    with pytest.raises(CertificateUnprintableError) as refused:
        render_pdf(old, "fr")
    assert isinstance(refused.value, InvalidInputError) and refused.value.status == 422
    assert refused.value.language == "fr" and THAI not in str(refused.value)


class StaleReads:
    """The certificate store as an assessment saw it before another one wrote."""

    def __init__(self, store: CertificateStore, seen: PersonRecords) -> None:
        self.store, self.seen = store, seen

    def records(self, series_id: str, registrant_id: str) -> PersonRecords:
        return self.seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_two_assessments_at_once_either_side_of_midnight_issue_and_email_once() -> None:
    first, queue, series, rid = issuing()
    seen = first.certificates.records(series.id, rid)  # both read: nothing held yet
    assert len(first.assess(series, rid).issued) == 3
    late = first.clock.now() + timedelta(days=1)  # the job's run, past midnight
    racing: Any = StaleReads(first.certificates, seen)
    second = Certificates(first.store, racing, queue, first.secret, VirtualClock(late),
                          first.public_base_url)
    result = second.assess(series, rid)
    assert result.issued == () and len(queue.jobs) == 3  # no second email queued
    assert {c.issued_on for c in result.held} == {AFTER.date()}
    for job in queue.jobs:  # the first's emails still go with their certificates
        assert certificate_file(first.certificates, job, "fr") is not None


def test_an_email_for_a_certificate_issued_again_since_is_stale() -> None:
    """Erased, registered again and earned again on a later day while the first email
    waited: that email is stale (same id, another date of issue); the new one goes."""
    certificates, queue, series, rid = issuing()
    certificates.assess(series, rid)
    old_jobs = list(queue.jobs)
    registration = certificates.store.get_registration(series.id, rid)
    assert registration is not None
    certificates.certificates.erase_person(series.id, rid)
    certificates.clock.set(AFTER + timedelta(days=3))  # type: ignore[attr-defined]
    for session in series.sessions[:2]:
        mark(certificates.store, certificates.certificates, certificates.clock, session,
             registration, attended=True)
    assert len(certificates.assess(series, rid).issued) == 3
    new_jobs = queue.jobs[3:]
    old = next(j for j in old_jobs if j.payload == CertificatePayload("series"))
    new = next(j for j in new_jobs if j.payload == CertificatePayload("series"))
    assert old.key != new.key
    assert certificate_file(certificates.certificates, old, "fr") is None  # compose: stale
    assert certificate_file(certificates.certificates, new, "fr") is not None


@pytest.mark.parametrize("name", ["محمد العتيبي", "שרה לוי"])
def test_an_arabic_or_hebrew_name_is_issued_and_emailed_with_its_pdf(name: str) -> None:
    certificates, queue, series, rid = issuing(name, "en")
    result = certificates.assess(series, rid)
    assert len(result.issued) == 3 and result.unprintable == () and len(queue.jobs) == 3
    found = certificate_file(certificates.certificates, queue.jobs[0], "en")
    assert found is not None and found.pdf.startswith(b"%PDF-")
