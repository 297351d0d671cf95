"""Where presence, evaluations and certificates are kept: a port, an in-memory fake and a
DynamoDB adapter on the same single table, with the same keys.

Everything about one person sits under one prefix of the series' partition, so a data download
and an erasure are each one Query (paged) on ``PERSON#<registrant id>#``, whatever the series:

    SERIES#<id> / PERSON#<rid>#PRESENCE#<session>#E#<time>#<kind>#<conn>
                                        one join or leave from a webhook (a retried delivery
                                        writes the same item again)
    SERIES#<id> / PERSON#<rid>#PRESENCE#<session>#UPLOAD
                                        an uploaded or manual record of that session
                                        (intervals and/or minutes, its source); it replaces
                                        the webhook log of the session when presence is read
    SERIES#<id> / PERSON#<rid>#EVALUATION#<key>
                                        an evaluation completed ("series" or a session id)
    SERIES#<id> / PERSON#<rid>#CERT#<scope>
                                        a certificate issued (what it says, core.certificates)
    CERTIFICATE#<certificate id> / CERTIFICATE
                                        the verification record: name, series, credits,
                                        revoked (one GetItem for the public page)

No item holds an address; the name is in the certificate items only. Erasure deletes every
item above, the verification record included, so the public page then finds no certificate.

Hooks for the data download and erasure of a registrant (not wired yet): ``person_data`` (what
the download adds: presence per session, evaluations, certificates) and ``erase_person``.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from ..core.attendance import Interval, Presence, PresenceEvent, presence, presence_from_events
from ..core.certificates import Certificate, CertifiedSession
from ..core.errors import RetryableError
from .conflicts import pause

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

BATCH_WRITE = 25  # DynamoDB's BatchWriteItem limit


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What is known of one person at one session: webhook events, and an upload that
    replaces them when there is one."""

    events: tuple[PresenceEvent, ...] = ()
    upload: tuple[Interval, ...] | None = None
    upload_minutes: float = 0.0
    source: str = ""  # "zoom-report", "csv", "manual" for an upload; "" for webhooks

    def presence(self, start: datetime, end: datetime) -> Presence:
        if self.upload is None:
            return presence_from_events(self.events, start, end)
        measured = presence(self.upload, start, end)
        duration = measured.duration_seconds
        extra = round(self.upload_minutes * 60)
        return Presence(min(duration, measured.seconds + extra), duration, measured.intervals)


@dataclass(frozen=True, slots=True)
class PersonRecords:
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    evaluations: dict[str, str] = field(default_factory=dict)  # key -> completed at (ISO)
    certificates: tuple[Certificate, ...] = ()


class CertificateStore(Protocol):
    def add_presence_event(self, series_id: str, registrant_id: str, session_id: str,
                           event: PresenceEvent) -> None: ...
    def put_upload(self, series_id: str, registrant_id: str, session_id: str, source: str,
                   intervals: Sequence[Interval], minutes: float = 0.0) -> None: ...
    def record_evaluation(self, series_id: str, registrant_id: str, key: str,
                          at: datetime) -> None: ...
    def put_certificate(self, certificate: Certificate) -> None: ...
    def records(self, series_id: str, registrant_id: str) -> PersonRecords: ...
    def verification(self, certificate_id: str) -> dict[str, Any] | None: ...
    def revoke(self, certificate_id: str) -> bool: ...
    def person_data(self, series_id: str, registrant_id: str) -> dict[str, Any]: ...
    def erase_person(self, series_id: str, registrant_id: str) -> int: ...


# -- keys and item bodies (shared by both stores) -------------------------------------------
def _series_pk(series_id: str) -> str:
    return f"SERIES#{series_id}"


def _person(registrant_id: str) -> str:
    return f"PERSON#{registrant_id}#"


def _event_sk(registrant_id: str, session_id: str, event: PresenceEvent) -> str:
    connection = hashlib.sha256(event.connection.encode()).hexdigest()[:12]
    return (f"{_person(registrant_id)}PRESENCE#{session_id}#E#{event.at.isoformat()}"
            f"#{event.kind}#{connection}")


def _verification_pk(certificate_id: str) -> str:
    return f"CERTIFICATE#{certificate_id}"


def _certificate_body(certificate: Certificate) -> dict[str, Any]:
    return {"certificate_id": certificate.certificate_id, "series_id": certificate.series_id,
            "registrant_id": certificate.registrant_id, "scope": certificate.scope,
            "name": certificate.name, "series_title": certificate.series_title,
            "sessions": [{"id": s.id, "title": s.title, "start": s.start.isoformat(),
                          "minutes": int(s.duration.total_seconds() // 60),
                          "present": s.minutes_present} for s in certificate.sessions],
            "hours": str(certificate.hours), "credits": str(certificate.credits),
            "credit_label": certificate.credit_label,
            "organisers": list(certificate.organisers),
            "issued_on": certificate.issued_on.isoformat(),
            "verification_url": certificate.verification_url, "revoked": certificate.revoked}


def _certificate(body: dict[str, Any]) -> Certificate:
    sessions = tuple(CertifiedSession(s["id"], s["title"], datetime.fromisoformat(s["start"]),
                                      timedelta(minutes=s["minutes"]), s["present"])
                     for s in body["sessions"])
    return Certificate(body["certificate_id"], body["series_id"], body["registrant_id"],
                       body["scope"], body["name"], body["series_title"], sessions,
                       Decimal(body["hours"]), Decimal(body["credits"]),
                       body["credit_label"], tuple(body["organisers"]),
                       date.fromisoformat(body["issued_on"]), body["verification_url"],
                       bool(body["revoked"]))


def _intervals(intervals: Sequence[Interval]) -> list[list[str]]:
    return [[i.start.isoformat(), i.end.isoformat()] for i in intervals]


def _person_records(items: Iterator[tuple[str, dict[str, Any]]], registrant_id: str
                    ) -> PersonRecords:
    """Items under a person's prefix (sort key, body) read back as records."""
    events: dict[str, list[PresenceEvent]] = defaultdict(list)
    uploads: dict[str, dict[str, Any]] = {}
    evaluations: dict[str, str] = {}
    certificates: list[Certificate] = []
    prefix = _person(registrant_id)
    for sk, body in items:
        kind, _, rest = sk[len(prefix):].partition("#")
        if kind == "PRESENCE":
            session_id, _, tail = rest.partition("#")
            if tail == "UPLOAD":
                uploads[session_id] = body
            else:
                events[session_id].append(PresenceEvent(
                    body["kind"], datetime.fromisoformat(body["at"]), body["connection"]))
        elif kind == "EVALUATION":
            evaluations[rest] = body["at"]
        elif kind == "CERT":
            certificates.append(_certificate(body))
    sessions = {sid: SessionRecord(events=tuple(events.get(sid, ())))
                for sid in set(events) | set(uploads)}
    for sid, body in uploads.items():
        sessions[sid] = SessionRecord(
            tuple(events.get(sid, ())),
            tuple(Interval(datetime.fromisoformat(a), datetime.fromisoformat(b))
                  for a, b in body["intervals"]),
            float(body["minutes"]), body["source"])
    return PersonRecords(sessions, evaluations, tuple(certificates))


def _download(records: PersonRecords) -> dict[str, Any]:
    """What a registrant's data download adds: as recorded, without other people's data."""
    return {
        "presence": {sid: {"source": rec.source or "webhooks",
                           "events": [{"kind": e.kind, "at": e.at.isoformat()}
                                      for e in sorted(rec.events, key=lambda e: e.at)],
                           "intervals": _intervals(rec.upload or ()),
                           "minutes": rec.upload_minutes}
                     for sid, rec in sorted(records.sessions.items())},
        "evaluations": dict(sorted(records.evaluations.items())),
        "certificates": [_certificate_body(c) for c in records.certificates]}


# -- in memory ---------------------------------------------------------------------------------
class MemoryCertificateStore:
    """The same keys and bodies in a dict: what the tests and the local runner use."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def _put(self, pk: str, sk: str, body: dict[str, Any]) -> None:
        self.items[(pk, sk)] = json.loads(json.dumps(body))

    def _query(self, pk: str, prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for (item_pk, sk), body in sorted(self.items.items()):
            if item_pk == pk and sk.startswith(prefix):
                yield sk, body

    def add_presence_event(self, series_id: str, registrant_id: str, session_id: str,
                           event: PresenceEvent) -> None:
        self._put(_series_pk(series_id), _event_sk(registrant_id, session_id, event),
                  {"kind": event.kind, "at": event.at.isoformat(),
                   "connection": event.connection})

    def put_upload(self, series_id: str, registrant_id: str, session_id: str, source: str,
                   intervals: Sequence[Interval], minutes: float = 0.0) -> None:
        self._put(_series_pk(series_id),
                  f"{_person(registrant_id)}PRESENCE#{session_id}#UPLOAD",
                  {"source": source, "intervals": _intervals(intervals), "minutes": minutes})

    def record_evaluation(self, series_id: str, registrant_id: str, key: str,
                          at: datetime) -> None:
        self._put(_series_pk(series_id), f"{_person(registrant_id)}EVALUATION#{key}",
                  {"at": at.isoformat()})

    def put_certificate(self, certificate: Certificate) -> None:
        body = _certificate_body(certificate)
        self._put(_series_pk(certificate.series_id),
                  f"{_person(certificate.registrant_id)}CERT#{certificate.scope}", body)
        self._put(_verification_pk(certificate.certificate_id), "CERTIFICATE", body)

    def records(self, series_id: str, registrant_id: str) -> PersonRecords:
        return _person_records(self._query(_series_pk(series_id), _person(registrant_id)),
                               registrant_id)

    def verification(self, certificate_id: str) -> dict[str, Any] | None:
        body = self.items.get((_verification_pk(certificate_id), "CERTIFICATE"))
        return _certificate(body).verification() if body else None

    def revoke(self, certificate_id: str) -> bool:
        body = self.items.get((_verification_pk(certificate_id), "CERTIFICATE"))
        if body is None:
            return False
        body["revoked"] = True
        own = self.items.get((_series_pk(body["series_id"]),
                              f"{_person(body['registrant_id'])}CERT#{body['scope']}"))
        if own is not None:
            own["revoked"] = True
        return True

    def person_data(self, series_id: str, registrant_id: str) -> dict[str, Any]:
        return _download(self.records(series_id, registrant_id))

    def erase_person(self, series_id: str, registrant_id: str) -> int:
        pk = _series_pk(series_id)
        doomed = list(self._query(pk, _person(registrant_id)))
        for sk, body in doomed:
            if "#CERT#" in sk:
                self.items.pop((_verification_pk(body["certificate_id"]), "CERTIFICATE"), None)
            del self.items[(pk, sk)]
        return len(doomed)


# -- DynamoDB ----------------------------------------------------------------------------------
class DynamoCertificateStore:
    """The same items in the application's table: Put, Get, Query and BatchWrite only."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def _put(self, pk: str, sk: str, body: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table, Item={
            "pk": {"S": pk}, "sk": {"S": sk}, "body": {"S": json.dumps(body)}})

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, ConsistentRead=True,
                                    Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
        return json.loads(item["body"]["S"]) if item else None

    def _query(self, pk: str, prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        request: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}}}
        while True:
            answer = self.client.query(**request)
            for item in answer["Items"]:
                yield item["sk"]["S"], json.loads(item["body"]["S"])
            if not answer.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def add_presence_event(self, series_id: str, registrant_id: str, session_id: str,
                           event: PresenceEvent) -> None:
        self._put(_series_pk(series_id), _event_sk(registrant_id, session_id, event),
                  {"kind": event.kind, "at": event.at.isoformat(),
                   "connection": event.connection})

    def put_upload(self, series_id: str, registrant_id: str, session_id: str, source: str,
                   intervals: Sequence[Interval], minutes: float = 0.0) -> None:
        self._put(_series_pk(series_id),
                  f"{_person(registrant_id)}PRESENCE#{session_id}#UPLOAD",
                  {"source": source, "intervals": _intervals(intervals), "minutes": minutes})

    def record_evaluation(self, series_id: str, registrant_id: str, key: str,
                          at: datetime) -> None:
        self._put(_series_pk(series_id), f"{_person(registrant_id)}EVALUATION#{key}",
                  {"at": at.isoformat()})

    def put_certificate(self, certificate: Certificate) -> None:
        """The person's copy and the verification record, in one transaction."""
        body = json.dumps(_certificate_body(certificate))
        self.client.transact_write_items(TransactItems=[
            {"Put": {"TableName": self.table, "Item": {
                "pk": {"S": _series_pk(certificate.series_id)},
                "sk": {"S": f"{_person(certificate.registrant_id)}CERT#{certificate.scope}"},
                "body": {"S": body}}}},
            {"Put": {"TableName": self.table, "Item": {
                "pk": {"S": _verification_pk(certificate.certificate_id)},
                "sk": {"S": "CERTIFICATE"}, "body": {"S": body}}}}])

    def records(self, series_id: str, registrant_id: str) -> PersonRecords:
        return _person_records(self._query(_series_pk(series_id), _person(registrant_id)),
                               registrant_id)

    def verification(self, certificate_id: str) -> dict[str, Any] | None:
        body = self._get(_verification_pk(certificate_id), "CERTIFICATE")
        return _certificate(body).verification() if body else None

    def revoke(self, certificate_id: str) -> bool:
        body = self._get(_verification_pk(certificate_id), "CERTIFICATE")
        if body is None:
            return False
        self.put_certificate(_certificate({**body, "revoked": True}))
        return True

    def person_data(self, series_id: str, registrant_id: str) -> dict[str, Any]:
        return _download(self.records(series_id, registrant_id))

    def erase_person(self, series_id: str, registrant_id: str) -> int:
        pk = _series_pk(series_id)
        keys: list[tuple[str, str]] = []
        for sk, body in self._query(pk, _person(registrant_id)):
            keys.append((pk, sk))
            if "#CERT#" in sk:
                keys.append((_verification_pk(body["certificate_id"]), "CERTIFICATE"))
        for start in range(0, len(keys), BATCH_WRITE):
            self._delete_batch(keys[start:start + BATCH_WRITE])
        return sum(1 for _, sk in keys if sk != "CERTIFICATE")

    def _delete_batch(self, keys: Sequence[tuple[str, str]]) -> None:
        requests: list[Any] = [{"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}}
                               for pk, sk in keys]
        for attempt in range(6):
            answer = self.client.batch_write_item(RequestItems={self.table: requests})
            requests = list((answer.get("UnprocessedItems") or {}).get(self.table, []))
            if not requests:
                return
            pause(attempt)
        raise RetryableError("DynamoDB left deletions unprocessed (throttled): erase again")
