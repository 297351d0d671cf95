"""Presence, evaluations and certificates kept per person, against DynamoDB on moto and the
in-memory fake alike: webhook events and uploads read back as presence, a certificate verifies
by its id and can be revoked, the data download holds it all, and erasure leaves nothing that
verifies."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

from webinar_notify.adapters.certificate_store import (
    CertificateStore,
    DynamoCertificateStore,
    MemoryCertificateStore,
)
from webinar_notify.core.attendance import Interval, PresenceEvent
from webinar_notify.core.certificates import Certificate, CertifiedSession, certificate_id
from webinar_notify.local import aws_limits
from webinar_notify.local.infra import REGION, load_template

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
    client = request.getfixturevalue("moto_dynamodb")
    properties = load_template()["Resources"]["Table"]["Properties"]
    name = f"certificates-{next(_TABLES)}"
    client.create_table(TableName=name, BillingMode=properties["BillingMode"],
                        AttributeDefinitions=properties["AttributeDefinitions"],
                        KeySchema=properties["KeySchema"],
                        GlobalSecondaryIndexes=properties.get("GlobalSecondaryIndexes", []))
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
    store.put_upload(SERIES, ANA, "s1", "zoom-report",
                     [Interval(START, START + timedelta(minutes=30))], minutes=5)
    record = store.records(SERIES, ANA).sessions["s1"]
    assert (record.source, record.presence(START, END).minutes) == ("zoom-report", 35)


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
    store.put_upload(SERIES, ANA, "s2", "csv", [], minutes=50)
    store.record_evaluation(SERIES, ANA, "series", START)
    store.put_certificate(certificate(ANA, "Ana Lima", scope="s1"))
    store.put_certificate(certificate(KHAI, "山田 花子"))
    data = store.person_data(SERIES, ANA)
    assert data["presence"]["s1"]["events"] == [{"kind": "joined", "at": START.isoformat()}]
    assert data["presence"]["s2"] == {"source": "csv", "events": [], "intervals": [],
                                      "minutes": 50}
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
    assert store.erase_person(SERIES, ANA) == 0
