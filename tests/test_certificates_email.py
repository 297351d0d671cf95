"""The certificate email on its own: issuing queues it once, a failure between issuing and
queueing leaves it on the list for the series' next assessment, the payload travels the queue
and refuses what is not a certificate's scope, the sender attaches the certificate as it stands
(nothing for one erased or revoked since), and the email with a CJK PDF stays far under SES's
raw message limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from conftest import ROOT
from test_certificates_e2e import certificate_series
from webinar_notify.adapters.certificate_store import MemoryCertificateStore
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.memory_store import MemoryStore
from webinar_notify.core import mime
from webinar_notify.core.compose import Links, compose
from webinar_notify.core.errors import PayloadError, StaleJobError
from webinar_notify.core.jobs import EmailJob
from webinar_notify.core.kinds import CertificatePayload
from webinar_notify.core.registration import Registrant, Registration
from webinar_notify.core.render import Renderer
from webinar_notify.core.series import Series
from webinar_notify.local.aws_limits import SES_V2_MESSAGE_BYTES, SQS_MESSAGE_BYTES
from webinar_notify.services.attendance import mark
from webinar_notify.services.certificates import Certificates, certificate_file

AFTER = datetime(2023, 11, 7, 9, 0, tzinfo=UTC)
LINKS = Links(manage="https://events.example.org/manage/x/t", unsubscribe="https://u.example")
RULES = {"sessions": ["s1", "s2"], "series": {"sessions": ["s1", "s2"]}}


class ListQueue:
    """The send queue as a list; ``fail`` makes the next send raise, as SQS may."""

    def __init__(self) -> None:
        self.jobs: list[EmailJob] = []
        self.fail = False

    def send(self, jobs: Sequence[EmailJob], delay_seconds: int = 0) -> None:
        if self.fail:
            self.fail = False
            raise ConnectionError("the queue did not answer")
        self.jobs.extend(EmailJob.from_json(job.to_json()) for job in jobs)  # as SQS carries it


def issuing(name: str = "Nguyễn Thị Minh Khai", language: str = "fr"
            ) -> tuple[Certificates, ListQueue, Series, str]:
    """A series with certificates and one registrant marked present at s1 and s2."""
    series = certificate_series(**RULES)
    store, records, queue = MemoryStore(), MemoryCertificateStore(), ListQueue()
    store.put_series(series, None)
    rid = "r" + "k" * 31
    registration = Registration(series.id, rid, Registrant(
        "khai@example.org", name, "Asia/Ho_Chi_Minh", language=language),
        frozenset({"s1", "s2"}), False)
    store.put_registration(registration, AFTER)
    clock = VirtualClock(AFTER)
    for session in series.sessions[:2]:
        mark(store, records, clock, session, registration, attended=True)
    return (Certificates(store, records, queue, lambda: "test-secret", clock,
                         "https://events.example.org"), queue, series, rid)


def test_each_certificate_issued_queues_its_email_once() -> None:
    certificates, queue, series, rid = issuing()
    issued = certificates.assess(series, rid).issued
    assert sorted(c.scope for c in issued) == ["series", "session:s1", "session:s2"]
    assert sorted(j.payload.scope for j in queue.jobs  # type: ignore[union-attr]
                  if j.kind == "certificate") == ["series", "session:s1", "session:s2"]
    assert {j.recipient.language for j in queue.jobs} == {"fr"}
    assert len({j.key for j in queue.jobs}) == 3 and certificates.to_email(series.id) == []
    assert certificates.assess(series, rid).issued == () and len(queue.jobs) == 3
    assert certificates.assess_page(series, None, 10)[0].issued == 0 and len(queue.jobs) == 3


def test_a_queue_failure_after_issuing_is_made_good_by_the_next_assessment() -> None:
    certificates, queue, series, rid = issuing()
    queue.fail = True
    with pytest.raises(ConnectionError):
        certificates.assess(series, rid)
    assert len(certificates.to_email(series.id)) == 3 and queue.jobs == []  # owed, not sent
    assert certificates.assess(series, rid).issued == ()  # held: not issued again
    tally, cursor = certificates.assess_page(series, None, 10)  # the series' job, last page
    assert (tally.issued, cursor) == (0, None)
    assert len(queue.jobs) == 3 and certificates.to_email(series.id) == []
    fresh, fresh_queue, _, _ = issuing()  # had nothing failed: the same keys (the ledger's)
    fresh.assess(series, rid)
    assert {j.key for j in queue.jobs} == {j.key for j in fresh_queue.jobs}


def test_a_listed_certificate_erased_meanwhile_is_dropped_not_sent() -> None:
    certificates, queue, series, rid = issuing()
    queue.fail = True
    with pytest.raises(ConnectionError):
        certificates.assess(series, rid)
    certificates.certificates.erase_person(series.id, rid)
    assert certificates.send_listed(series) == 0 and queue.jobs == []
    assert certificates.to_email(series.id) == []


@pytest.mark.parametrize("doc", [{}, {"scope": "nonsense"}, {"scope": 3},
                                 {"scope": "session:s1#x"}, "series"])
def test_a_malformed_certificate_payload_is_refused(doc: object) -> None:
    with pytest.raises(PayloadError):
        CertificatePayload.from_doc(doc)  # type: ignore[arg-type]


def test_the_sender_attaches_the_certificate_as_it_stands_then() -> None:
    certificates, queue, series, rid = issuing()
    certificates.assess(series, rid)
    job = next(j for j in queue.jobs if j.payload == CertificatePayload("series"))
    found = certificate_file(certificates.certificates, job, "fr")
    assert found is not None and found.pdf.startswith(b"%PDF-")
    email = compose(series, job, now=AFTER, renderer=Renderer(ROOT / "templates"),
                    links=LINKS, certificate=found)
    [attached] = email.attachments
    assert (attached.content_type, attached.filename) == (
        "application/pdf", f"certificate-{series.id}-series.pdf")
    assert found.certificate.verification_url in email.text
    assert not email.calendars  # a certificate invites to nothing

    certificates.revoke(series.id, found.certificate.certificate_id)
    assert certificate_file(certificates.certificates, job, "fr") is None
    for stale in (None, replace(found, certificate=replace(found.certificate, revoked=True))):
        with pytest.raises(StaleJobError):
            compose(series, job, now=AFTER, renderer=Renderer(ROOT / "templates"),
                    links=LINKS, certificate=stale)
    s1 = next(j for j in queue.jobs if j.payload == CertificatePayload("session:s1"))
    certificates.certificates.erase_person(series.id, rid)
    assert certificate_file(certificates.certificates, s1, "fr") is None


def test_the_email_with_a_japanese_name_fits_every_limit_on_its_way() -> None:
    certificates, queue, series, rid = issuing("山田 花子", "en")
    certificates.assess(series, rid)
    job = next(j for j in queue.jobs if j.payload == CertificatePayload("series"))
    assert len(job.to_json().encode()) < SQS_MESSAGE_BYTES // 100  # the PDF never travels
    found = certificate_file(certificates.certificates, job, "en")
    assert found is not None
    raw = mime.build(compose(series, job, now=AFTER + timedelta(minutes=1),
                             renderer=Renderer(ROOT / "templates"), links=LINKS,
                             certificate=found))
    assert len(raw) < 100_000 < SES_V2_MESSAGE_BYTES  # about 33 KB: a 17 KB PDF in base64
    assert b"Content-Type: application/pdf" in raw
