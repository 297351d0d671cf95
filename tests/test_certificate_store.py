"""Presence, evaluations and certificates kept per person, against DynamoDB on moto and the
in-memory fake alike: webhook events and uploads read back as presence, a certificate verifies
by its id and can be revoked, the data download holds it all, and erasure leaves nothing that
verifies."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from webinar_notify.adapters.certificate_store import (
    CertificateStore,
    DynamoCertificateStore,
    ImportRow,
    MemoryCertificateStore,
    import_report,
)
from webinar_notify.core.attendance import Interval, PresenceEvent
from webinar_notify.core.certificates import (
    Certificate,
    CertificateRules,
    CertifiedSession,
    certificate_id,
    credits_for,
)
from webinar_notify.core.errors import RetryableError
from webinar_notify.local import aws_limits
from webinar_notify.local.infra import REGION, create_table

SERIES = "reirradiation-2023"
START = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
ANA, KHAI = "r" + "a" * 31, "r" + "b" * 31
_TABLES = itertools.count()


@pytest.fixture(scope="module")
def moto_dynamodb() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws(), aws_limits.enforced():
        yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> CertificateStore:
    if request.param == "memory":
        return MemoryCertificateStore()
    return request.getfixturevalue("dynamo_store")


@pytest.fixture
def dynamo_store(moto_dynamodb: Any) -> DynamoCertificateStore:
    """The table's own store alone: for what only DynamoDB has (transactions, batches,
    a gap between a read and a write)."""
    client = moto_dynamodb
    name = create_table(client, f"certificates-{next(_TABLES)}")
    for registrant in (ANA, KHAI):  # registered: a certificate is issued only to them
        client.put_item(TableName=name, Item={"pk": {"S": f"SERIES#{SERIES}"},
                                              "sk": {"S": f"REG#{registrant}"}})
    return DynamoCertificateStore(client, name)


def certificate(registrant: str, name: str, scope: str = "series") -> Certificate:
    cid = certificate_id("test-certificate-secret", SERIES, registrant, scope)
    return Certificate(cid, SERIES, registrant, scope, name, "Challenges in Reirradiation",
                       (CertifiedSession("s1", "Opportunities", START, timedelta(hours=1), 58),),
                       Decimal(1), Decimal(1), "ECMEC", ("Ane Appelt",), date(2023, 10, 27),
                       f"https://events.example.org/certificates/{cid}")


def test_webhook_events_read_back_as_presence_and_a_retry_counts_once(
        store: CertificateStore) -> None:
    events = [PresenceEvent("joined", START, "p1"),
              PresenceEvent("left", START + timedelta(minutes=20), "p1"),
              PresenceEvent("joined", START + timedelta(minutes=25), "p2"),
              PresenceEvent("left", START + timedelta(minutes=60), "p2")]
    for event in [*events, events[1]]:  # the leave delivered twice
        store.add_presence_event(SERIES, ANA, "s1", event)
    record = store.records(SERIES, ANA).sessions["s1"]
    assert len(record.events) == 4
    assert record.presence(START, END).minutes == 55
    assert store.records(SERIES, KHAI).sessions == {}


def test_an_upload_replaces_the_webhook_log_of_its_session(store: CertificateStore) -> None:
    store.add_presence_event(SERIES, ANA, "s1", PresenceEvent("joined", START, "p1"))
    import_report(store, SERIES, "s1", "zoom-report", "import-1",
                  {ANA: ImportRow((Interval(START, START + timedelta(minutes=30)),), 5)}, START)
    record = store.records(SERIES, ANA).sessions["s1"]
    assert (record.source, record.presence(START, END).minutes) == ("zoom-report", 35)


def test_a_report_replaces_the_whole_sessions_webhook_log_not_only_its_rows(
        store: CertificateStore) -> None:
    """Khai's join was logged by webhook, but the report of s1 does not list him: he has no
    presence at s1. A newer report replaces the older one whole; a manual mark stays."""
    store.add_presence_event(SERIES, KHAI, "s1", PresenceEvent("joined", START, "p9"))
    store.add_presence_event(SERIES, KHAI, "s2", PresenceEvent("joined", START, "p9"))
    assert store.records(SERIES, KHAI).sessions["s1"].presence(START, END).minutes == 60
    import_report(store, SERIES, "s1", "zoom-report", "import-1",
                  {ANA: ImportRow((Interval(START, END),))}, START)
    khai = store.records(SERIES, KHAI).sessions
    assert khai["s1"].presence(START, END).minutes == 0
    assert khai["s2"].presence(START, END).minutes == 60  # another session: untouched
    assert store.person_data(SERIES, KHAI)["presence"]["s1"]["source"] == "report"
    import_report(store, SERIES, "s1", "csv", "import-2", {KHAI: ImportRow(minutes=55)}, END)
    assert store.records(SERIES, ANA).sessions["s1"].presence(START, END).minutes == 0
    assert store.records(SERIES, KHAI).sessions["s1"].presence(START, END).minutes == 55
    store.put_upload(SERIES, ANA, "s1", "manual", [Interval(START, END)])
    import_report(store, SERIES, "s1", "csv", "import-3", {KHAI: ImportRow(minutes=50)}, END)
    assert store.records(SERIES, ANA).sessions["s1"].presence(START, END).minutes == 60
    with pytest.raises(ValueError, match="manual mark or part of an import"):
        store.put_upload(SERIES, ANA, "s1", "csv", [])


def test_an_import_cut_short_changes_nothing_until_it_is_repeated(
        store: CertificateStore) -> None:
    store.add_presence_event(SERIES, ANA, "s1", PresenceEvent("joined", START, "p1"))
    store.put_upload(SERIES, ANA, "s1", "csv", [], 10, import_id="import-1")  # no marker yet
    assert store.records(SERIES, ANA).sessions["s1"].presence(START, END).minutes == 60
    import_report(store, SERIES, "s1", "csv", "import-1", {ANA: ImportRow(minutes=10)}, START)
    assert store.records(SERIES, ANA).sessions["s1"].presence(START, END).minutes == 10


def test_a_certificate_verifies_by_id_and_a_revoked_one_says_so(
        store: CertificateStore) -> None:
    issued = certificate(ANA, "Nguyễn Thị Minh Khai")
    store.put_certificate(issued)
    store.record_evaluation(SERIES, ANA, "series", START + timedelta(days=1))
    assert store.verification(issued.certificate_id) == {
        "certificate_id": issued.certificate_id, "name": "Nguyễn Thị Minh Khai",
        "series": "Challenges in Reirradiation", "credits": "1", "credit_label": "ECMEC",
        "revoked": False}
    assert store.records(SERIES, ANA).certificates == (issued,)
    assert store.revoke(issued.certificate_id) is True
    revoked = store.verification(issued.certificate_id)
    assert revoked is not None and revoked["revoked"] is True
    assert store.records(SERIES, ANA).certificates[0].revoked is True
    assert store.revoke("AAAA-AAAA-AAAA-AAAA") is False
    assert store.verification("AAAA-AAAA-AAAA-AAAA") is None


def test_the_data_download_holds_presence_evaluations_and_certificates(
        store: CertificateStore) -> None:
    store.add_presence_event(SERIES, ANA, "s1", PresenceEvent("joined", START, "p1"))
    import_report(store, SERIES, "s2", "csv", "import-1", {ANA: ImportRow(minutes=50)}, START)
    store.record_evaluation(SERIES, ANA, "series", START)
    store.put_certificate(certificate(ANA, "Ana Lima", scope="s1"))
    store.put_certificate(certificate(KHAI, "山田 花子"))
    data = store.person_data(SERIES, ANA)
    assert data["presence"]["s1"]["events"] == [{"kind": "joined", "at": START.isoformat()}]
    assert data["presence"]["s2"] == {"source": "csv", "events": [], "intervals": [],
                                      "minutes": 50}
    assert data["certificates"][0]["revoked"] is False
    assert data["evaluations"] == {"series": START.isoformat()}
    assert [c["name"] for c in data["certificates"]] == ["Ana Lima"]  # nobody else's


def test_erasure_leaves_nothing_and_the_certificate_no_longer_verifies(
        store: CertificateStore) -> None:
    mine, theirs = certificate(ANA, "Ana Lima"), certificate(KHAI, "山田 花子")
    for minute in range(30):  # more than one BatchWriteItem of deletions
        store.add_presence_event(SERIES, ANA, "s1",
                                 PresenceEvent("joined", START + timedelta(minutes=minute)))
    store.record_evaluation(SERIES, ANA, "series", START)
    store.put_certificate(mine)
    store.put_certificate(theirs)
    assert store.erase_person(SERIES, ANA) == 32
    assert store.records(SERIES, ANA).sessions == {}
    assert store.person_data(SERIES, ANA) == {"presence": {}, "evaluations": {},
                                              "certificates": []}
    assert store.verification(mine.certificate_id) is None
    assert store.verification(theirs.certificate_id) is not None
    assert store.to_email(SERIES) == [(KHAI, "series")]  # hers went with her data
    assert store.erase_person(SERIES, ANA) == 0


def test_a_revocation_scoped_to_another_series_changes_nothing(
        store: CertificateStore) -> None:
    issued = certificate(ANA, "Ana")
    store.put_certificate(issued)
    assert store.revoke(issued.certificate_id, "another-series") is False
    found = store.verification(issued.certificate_id)
    assert found is not None and found["revoked"] is False
    assert store.revoke(issued.certificate_id, SERIES) is True


def test_a_certificate_issued_again_after_revocation_stays_revoked(
        store: CertificateStore) -> None:
    issued = certificate(ANA, "Ana Lima")
    store.put_certificate(issued)
    assert store.revoke(issued.certificate_id) is True
    store.put_certificate(issued)  # made again: same id, revoked=False in the object
    verified = store.verification(issued.certificate_id)
    assert verified is not None and verified["revoked"] is True
    assert store.records(SERIES, ANA).certificates[0].revoked is True


def test_a_revocation_after_erasure_brings_nothing_back(store: CertificateStore) -> None:
    issued = certificate(ANA, "Ana Lima")
    store.put_certificate(issued)
    store.erase_person(SERIES, ANA)
    assert store.revoke(issued.certificate_id) is False
    assert store.verification(issued.certificate_id) is None
    assert store.person_data(SERIES, ANA)["certificates"] == []


def test_an_erasure_between_a_revocations_read_and_write_wins(
        dynamo_store: DynamoCertificateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The revocation reads the verification record, then the person is erased, then it
    writes: its conditions refuse the write, so no name comes back."""
    issued = certificate(ANA, "Ana Lima")
    dynamo_store.put_certificate(issued)
    read = dynamo_store._get

    def read_then_erase(pk: str, sk: str) -> tuple[dict[str, Any], bool] | None:
        found = read(pk, sk)
        dynamo_store.erase_person(SERIES, ANA)
        return found

    monkeypatch.setattr(dynamo_store, "_get", read_then_erase)
    assert dynamo_store.revoke(issued.certificate_id) is False
    monkeypatch.undo()
    assert dynamo_store.verification(issued.certificate_id) is None
    assert dynamo_store.records(SERIES, ANA).certificates == ()


class _LeavesVerificationUnprocessed:
    """A DynamoDB client whose BatchWriteItem never processes deletions of verification
    records (throttled); every other call goes through."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> Any:
        (table, requests), = RequestItems.items()
        public = [r for r in requests
                  if r["DeleteRequest"]["Key"]["pk"]["S"].startswith("CERTIFICATE#")]
        rest = [r for r in requests if r not in public]
        if rest:
            self._client.batch_write_item(RequestItems={table: rest})
        return {"UnprocessedItems": {table: public} if public else {}}


def test_an_erasure_cut_short_never_leaves_a_public_name_it_cannot_find_again(
        dynamo_store: DynamoCertificateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("webinar_notify.adapters.certificate_store.pause", lambda _: None)
    issued = certificate(ANA, "Ana Lima")
    dynamo_store.put_certificate(issued)
    dynamo_store.record_evaluation(SERIES, ANA, "series", START)
    throttled = DynamoCertificateStore(_LeavesVerificationUnprocessed(dynamo_store.client),
                                       dynamo_store.table)
    with pytest.raises(RetryableError, match="erase again"):
        throttled.erase_person(SERIES, ANA)
    assert dynamo_store.erase_person(SERIES, ANA) >= 1  # repeated: it still finds the certificate
    assert dynamo_store.verification(issued.certificate_id) is None


def _cancelled(*codes: str) -> ClientError:
    return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"},
                        "CancellationReasons": [{"Code": c} for c in codes]},
                       "TransactWriteItems")


class _Conflicting:
    """A client whose first ``conflicts`` transactions meet another one."""

    def __init__(self, client: Any, conflicts: int) -> None:
        self._client, self.conflicts, self.calls = client, conflicts, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **request: Any) -> Any:
        self.calls += 1
        if self.calls <= self.conflicts:
            raise _cancelled("None", "TransactionConflict")
        return self._client.transact_write_items(**request)


def test_a_revocation_that_meets_another_transaction_is_sent_again(
        dynamo_store: DynamoCertificateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("webinar_notify.adapters.certificate_store.pause", lambda _: None)
    issued = certificate(ANA, "Ana Lima")
    dynamo_store.put_certificate(issued)
    twice = _Conflicting(dynamo_store.client, 2)
    assert DynamoCertificateStore(twice, dynamo_store.table).revoke(issued.certificate_id) is True
    assert twice.calls == 3
    assert dynamo_store.verification(issued.certificate_id)["revoked"] is True  # type: ignore[index]
    always = DynamoCertificateStore(_Conflicting(dynamo_store.client, 100), dynamo_store.table)
    with pytest.raises(RetryableError, match="concurrently"):
        always.revoke(issued.certificate_id)


def test_ten_credits_are_stored_and_verified_as_10(store: CertificateStore) -> None:
    ten = replace(certificate(ANA, "Ana Lima"), hours=Decimal("1E+1"),
                  credits=Decimal("1E+1"))  # equal to 10, and written 1E+1 by str()
    store.put_certificate(ten)
    assert store.verification(ten.certificate_id)["credits"] == "10"  # type: ignore[index]
    assert store.person_data(SERIES, ANA)["certificates"][0]["hours"] == "10"
    assert store.records(SERIES, ANA).certificates[0].credits == Decimal(10)
    assert str(credits_for(CertificateRules(), Decimal(10))) == "10"


def test_no_certificate_is_written_for_a_person_erased_meanwhile(
        dynamo_store: DynamoCertificateStore) -> None:
    """An assessment read the registration, then the person was erased, then it writes:
    nothing is written, so no public name is left that no erasure could find."""
    dynamo_store.client.delete_item(TableName=dynamo_store.table, Key={
        "pk": {"S": f"SERIES#{SERIES}"}, "sk": {"S": f"REG#{ANA}"}})
    issued = certificate(ANA, "Ana Lima")
    assert dynamo_store.put_certificate(issued) is False
    assert dynamo_store.verification(issued.certificate_id) is None
    assert dynamo_store.records(SERIES, ANA).certificates == ()
    assert dynamo_store.put_certificate(certificate(KHAI, "Khai")) is True


def test_a_certificate_issued_is_listed_to_email_until_its_email_is_queued(
        store: CertificateStore) -> None:
    ana_s1, ana_series = certificate(ANA, "Ana", scope="session:s1"), certificate(ANA, "Ana")
    for issued in (ana_series, ana_s1, certificate(KHAI, "山田 花子")):
        store.put_certificate(issued)
    assert store.to_email(SERIES) == [(ANA, "series"), (ANA, "session:s1"), (KHAI, "series")]
    assert store.to_email("another-series") == []
    store.emailed(SERIES, ANA, "series")
    store.emailed(SERIES, ANA, "series")  # twice: the same as once
    assert store.to_email(SERIES) == [(ANA, "session:s1"), (KHAI, "series")]
    found = store.certificate(SERIES, ANA, "session:s1")
    assert found is not None and (found.certificate_id, found.name) == (
        ana_s1.certificate_id, "Ana")
    assert store.certificate(SERIES, ANA, "session:s2") is None
    assert "Ana" not in str(store.to_email(SERIES))  # ids and scopes only


def test_a_certificate_is_written_once_however_many_assessments_issue_it(
        store: CertificateStore) -> None:
    """Two assessments at once either side of midnight both found none held; the second
    write is refused (False: no email owed), and what the first wrote stands."""
    first = certificate(ANA, "Ana Lima")
    after_midnight = replace(first, issued_on=first.issued_on + timedelta(days=1))
    assert store.put_certificate(first) is True
    store.emailed(SERIES, ANA, "series")  # its email is on the send queue
    assert store.put_certificate(after_midnight) is False
    held = store.certificate(SERIES, ANA, "series")
    assert held is not None and held.issued_on == first.issued_on
    assert store.to_email(SERIES) == []  # the refused one owes no email
    assert store.revoke(first.certificate_id) is True
    assert store.put_certificate(first) is False  # nor does issuing un-revoke it
    verified = store.verification(first.certificate_id)
    assert verified is not None and verified["revoked"] is True
