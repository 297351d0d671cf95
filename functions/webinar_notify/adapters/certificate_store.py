"""Where presence, evaluations and certificates are kept: a port, an in-memory fake and a
DynamoDB adapter on the same single table, with the same keys.

Everything about one person sits under one prefix of the series' partition, so a data download
and an erasure are each one Query (paged) on ``PERSON#<registrant id>#``, whatever the series:

    SERIES#<id> / PERSON#<rid>#PRESENCE#<session>#E#<time>#<kind>#<conn>
                                        one join or leave from a webhook (a retried delivery
                                        writes the same item again)
    SERIES#<id> / PERSON#<rid>#PRESENCE#<session>#UPLOAD
                                        an uploaded or manual record of that session
                                        (intervals and/or minutes, its source, the import it
                                        came from: "" for a manual mark)
    SERIES#<id> / IMPORT#<session>      the session's report import: which import holds
                                        (its id, source, when); no personal data
    SERIES#<id> / PERSON#<rid>#EVALUATION#<key>
                                        an evaluation completed ("series" or session:<id>)
    SERIES#<id> / PERSON#<rid>#CERT#<scope>
                                        a certificate issued: ``body`` (what it says,
                                        core.certificates) and ``revoked``
    CERTIFICATE#<certificate id> / CERTIFICATE
                                        the verification record: ``body`` (name, series,
                                        credits) and ``revoked`` (one GetItem for the page)
    SERIES#<id> / CERTMAIL#<rid>#<scope>
                                        a certificate issued and its email not yet queued
                                        (``body``: the date of issue; no address, no name)

A session's presence is read, per person, from the first that applies: their manual mark (a
mark and an import's row share one item: the later one written stands); the
row of the session's current report import (a person the report does not list was not there:
the webhook log of an imported session counts for nobody); their webhook log. An import writes
its rows first and its ``IMPORT#`` marker last, so a half-done import changes nothing until it
is repeated, and a newer import replaces the whole of the older one.

A certificate is written only where the person holds none for that scope (a condition on
its ``body``): two assessments at once (a mark and the series' job, perhaps either side of
midnight, so with two dates of issue) issue it once, and the one refused queues no email.
``revoked`` is its own attribute, written only by ``revoke``, so nothing else un-revokes. A
revocation changes both items in one transaction, each on condition that it exists, so it
cannot bring back an erased certificate.

The list of certificates to email is written in the same transaction as the certificate, so
no certificate is issued without its email being owed: ``to_email`` reads the series' list
(one Query), and ``emailed`` takes a certificate off it once its email is on the send queue.

No item holds an address; the name is in the certificate items only. Erasure deletes the
verification records first, then every item of the person (and their entries on the list to
email), so a failure part-way never leaves a public name that a repeated erasure could no
longer find. ``person_data`` is what the registrant's data download adds (presence per
session, evaluations, certificates).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from ..core.attendance import Interval, Presence, PresenceEvent, presence, presence_from_events
from ..core.certificates import Certificate, CertifiedSession, decimal_text
from ..core.errors import RetryableError
from .conflicts import error_code, pause
from .dynamo import key as _key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

BATCH_WRITE = 25  # DynamoDB's BatchWriteItem limit
TRANSACT_ATTEMPTS = 6  # a revocation that only met another transaction, sent again
MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What is known of one person at one session: webhook events, their uploaded or manual
    record, and whether the session's report replaced the webhook log (module doc)."""

    events: tuple[PresenceEvent, ...] = ()
    upload: tuple[Interval, ...] | None = None
    upload_minutes: float = 0.0
    source: str = ""  # "zoom-report", "csv", "manual" for an upload; "" for webhooks
    imported: bool = False  # the session has a report import, and this upload is not in it

    def presence(self, start: datetime, end: datetime) -> Presence:
        if self.upload is None:
            if self.imported:  # not listed in the session's report: not there
                return presence((), start, end)
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


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One person's presence in an imported report: intervals and/or minutes."""

    intervals: tuple[Interval, ...] = ()
    minutes: float = 0.0


class CertificateStore(Protocol):
    def add_presence_event(self, series_id: str, registrant_id: str, session_id: str,
                           event: PresenceEvent) -> None: ...
    def put_upload(self, series_id: str, registrant_id: str, session_id: str, source: str,
                   intervals: Sequence[Interval], minutes: float = 0.0,
                   import_id: str = "") -> None: ...
    def mark_imported(self, series_id: str, session_id: str, source: str, import_id: str,
                      at: datetime) -> None: ...
    def record_evaluation(self, series_id: str, registrant_id: str, key: str,
                          at: datetime) -> None: ...
    def put_certificate(self, certificate: Certificate) -> bool: ...
    def certificate(self, series_id: str, registrant_id: str,
                    scope: str) -> Certificate | None: ...
    def to_email(self, series_id: str) -> list[tuple[str, str]]: ...
    def held(self, series_id: str, registrant_id: str) -> list[Certificate]: ...
    def emailed(self, series_id: str, registrant_id: str, scope: str) -> None: ...
    def records(self, series_id: str, registrant_id: str) -> PersonRecords: ...
    def verification(self, certificate_id: str) -> dict[str, Any] | None: ...
    def series_of(self, certificate_id: str) -> str | None: ...
    def revoke(self, certificate_id: str, series_id: str | None = None) -> bool: ...
    def person_data(self, series_id: str, registrant_id: str) -> dict[str, Any]: ...
    def erase_person(self, series_id: str, registrant_id: str) -> int: ...


def import_report(store: CertificateStore, series_id: str, session_id: str, source: str,
                  import_id: str, rows: Mapping[str, ImportRow], at: datetime) -> None:
    """A session's report (per registrant id), replacing the webhook log and any earlier
    import of that session for everyone: the rows first, the marker that makes them count
    last. Repeating it with the same ``import_id`` after a failure finishes it."""
    if not import_id or source == MANUAL:
        raise ValueError("an import needs an id and a source other than manual")
    for registrant_id, row in rows.items():
        store.put_upload(series_id, registrant_id, session_id, source, row.intervals,
                         row.minutes, import_id)
    store.mark_imported(series_id, session_id, source, import_id, at)


# -- keys and item bodies (shared by both stores) -------------------------------------------
def _series_pk(series_id: str) -> str:
    return f"SERIES#{series_id}"


def _person(registrant_id: str) -> str:
    return f"PERSON#{registrant_id}#"


def _import_sk(session_id: str) -> str:
    return f"IMPORT#{session_id}"


def _cert_sk(certificate: Certificate) -> str:
    return _held_sk(certificate.registrant_id, certificate.scope)


def _held_sk(registrant_id: str, scope: str) -> str:
    return f"{_person(registrant_id)}CERT#{scope}"


MAIL_PREFIX = "CERTMAIL#"


def _mail_sk(registrant_id: str, scope: str) -> str:
    return f"{MAIL_PREFIX}{registrant_id}#{scope}"


def _mail_pair(sk: str) -> tuple[str, str]:
    registrant_id, _, scope = sk.removeprefix(MAIL_PREFIX).partition("#")
    return registrant_id, scope


def _event_sk(registrant_id: str, session_id: str, event: PresenceEvent) -> str:
    connection = hashlib.sha256(event.connection.encode()).hexdigest()[:12]
    return (f"{_person(registrant_id)}PRESENCE#{session_id}#E#{event.at.isoformat()}"
            f"#{event.kind}#{connection}")


def _verification_pk(certificate_id: str) -> str:
    return f"CERTIFICATE#{certificate_id}"


def _certificate_body(certificate: Certificate) -> dict[str, Any]:
    """What a certificate says; ``revoked`` is kept beside it, never in it."""
    return {"certificate_id": certificate.certificate_id, "series_id": certificate.series_id,
            "registrant_id": certificate.registrant_id, "scope": certificate.scope,
            "name": certificate.name, "series_title": certificate.series_title,
            "sessions": [{"id": s.id, "title": s.title, "start": s.start.isoformat(),
                          "minutes": int(s.duration.total_seconds() // 60),
                          "present": s.minutes_present} for s in certificate.sessions],
            "hours": decimal_text(certificate.hours),
            "credits": decimal_text(certificate.credits),
            "credit_label": certificate.credit_label, "basis": certificate.basis,
            "organisers": list(certificate.organisers),
            "issued_on": certificate.issued_on.isoformat(),
            "verification_url": certificate.verification_url}


def _certificate(body: dict[str, Any], revoked: bool) -> Certificate:
    sessions = tuple(CertifiedSession(s["id"], s["title"], datetime.fromisoformat(s["start"]),
                                      timedelta(minutes=s["minutes"]), s["present"])
                     for s in body["sessions"])
    return Certificate(body["certificate_id"], body["series_id"], body["registrant_id"],
                       body["scope"], body["name"], body["series_title"], sessions,
                       Decimal(body["hours"]), Decimal(body["credits"]),
                       body["credit_label"], tuple(body["organisers"]),
                       date.fromisoformat(body["issued_on"]), body["verification_url"],
                       revoked, body.get("basis", "session"))


def _intervals(intervals: Sequence[Interval]) -> list[list[str]]:
    return [[i.start.isoformat(), i.end.isoformat()] for i in intervals]


def _upload_body(source: str, intervals: Sequence[Interval], minutes: float,
                 import_id: str) -> dict[str, Any]:
    if not import_id and source != MANUAL:
        raise ValueError("an upload is a manual mark or part of an import (import_report)")
    return {"source": source, "intervals": _intervals(intervals), "minutes": minutes,
            "import_id": import_id}


Item = tuple[str, dict[str, Any], bool]  # sort key, body, revoked


def _person_records(items: Iterator[Item], registrant_id: str,
                    imports: Mapping[str, str]) -> PersonRecords:
    """Items under a person's prefix read back as records; ``imports`` is the current import
    id of each imported session."""
    events: dict[str, list[PresenceEvent]] = defaultdict(list)
    uploads: dict[str, dict[str, Any]] = {}
    evaluations: dict[str, str] = {}
    certificates: list[Certificate] = []
    prefix = _person(registrant_id)
    for sk, body, revoked in items:
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
            certificates.append(_certificate(body, revoked))
    sessions: dict[str, SessionRecord] = {}
    for sid in sorted(set(events) | set(uploads)):
        logged = tuple(events.get(sid, ()))
        upload = uploads.get(sid)
        if upload is None or not (upload["source"] == MANUAL
                                  or upload.get("import_id") == imports.get(sid)):
            sessions[sid] = SessionRecord(logged, imported=sid in imports)
        else:
            sessions[sid] = SessionRecord(
                logged, tuple(Interval(datetime.fromisoformat(a), datetime.fromisoformat(b))
                              for a, b in upload["intervals"]),
                float(upload["minutes"]), upload["source"])
    return PersonRecords(sessions, evaluations, tuple(certificates))


def _download(records: PersonRecords) -> dict[str, Any]:
    """What a registrant's data download adds: as recorded, without other people's data."""
    return {
        "presence": {sid: {"source": rec.source or ("report" if rec.imported else "webhooks"),
                           "events": [{"kind": e.kind, "at": e.at.isoformat()}
                                      for e in sorted(rec.events, key=lambda e: e.at)],
                           "intervals": _intervals(rec.upload or ()),
                           "minutes": rec.upload_minutes}
                     for sid, rec in sorted(records.sessions.items())},
        "evaluations": dict(sorted(records.evaluations.items())),
        "certificates": [{**_certificate_body(c), "revoked": c.revoked}
                         for c in records.certificates]}


class _KeptItems:
    """What both stores write and read the same way, through their own ``_put`` and
    ``_query`` (the same keys and attributes in a dict or in the table)."""

    def _put(self, pk: str, sk: str, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def _query(self, pk: str, prefix: str) -> Iterator[Item]:
        raise NotImplementedError

    def _get(self, pk: str, sk: str) -> tuple[dict[str, Any], bool] | None:
        raise NotImplementedError

    def certificate(self, series_id: str, registrant_id: str,
                    scope: str) -> Certificate | None:
        """One certificate the person holds (one GetItem), as it stands now."""
        found = self._get(_series_pk(series_id), _held_sk(registrant_id, scope))
        return _certificate(*found) if found else None

    def held(self, series_id: str, registrant_id: str) -> list[Certificate]:
        """Every certificate the person holds (one Query, on their certificates only)."""
        return [_certificate(body, revoked) for _, body, revoked in self._query(
            _series_pk(series_id), f"{_person(registrant_id)}CERT#")]

    def verification(self, certificate_id: str) -> dict[str, Any] | None:
        found = self._get(_verification_pk(certificate_id), "CERTIFICATE")
        return _certificate(*found).verification() if found else None

    def series_of(self, certificate_id: str) -> str | None:
        """The id of the series a certificate was issued in (one GetItem), whatever its title
        has become since; None for an id never issued or erased."""
        found = self._get(_verification_pk(certificate_id), "CERTIFICATE")
        return str(found[0]["series_id"]) if found else None

    def to_email(self, series_id: str) -> list[tuple[str, str]]:
        """Certificates issued whose email is not yet queued: (registrant id, scope)."""
        return [_mail_pair(sk) for sk, _, _ in self._query(_series_pk(series_id), MAIL_PREFIX)]

    def _imports(self, series_id: str) -> dict[str, str]:
        return {sk.removeprefix("IMPORT#"): body["import_id"]
                for sk, body, _ in self._query(_series_pk(series_id), "IMPORT#")}

    def add_presence_event(self, series_id: str, registrant_id: str, session_id: str,
                           event: PresenceEvent) -> None:
        self._put(_series_pk(series_id), _event_sk(registrant_id, session_id, event),
                  {"kind": event.kind, "at": event.at.isoformat(),
                   "connection": event.connection})

    def put_upload(self, series_id: str, registrant_id: str, session_id: str, source: str,
                   intervals: Sequence[Interval], minutes: float = 0.0,
                   import_id: str = "") -> None:
        self._put(_series_pk(series_id),
                  f"{_person(registrant_id)}PRESENCE#{session_id}#UPLOAD",
                  _upload_body(source, intervals, minutes, import_id))

    def mark_imported(self, series_id: str, session_id: str, source: str, import_id: str,
                      at: datetime) -> None:
        self._put(_series_pk(series_id), _import_sk(session_id),
                  {"source": source, "import_id": import_id, "at": at.isoformat()})

    def record_evaluation(self, series_id: str, registrant_id: str, key: str,
                          at: datetime) -> None:
        self._put(_series_pk(series_id), f"{_person(registrant_id)}EVALUATION#{key}",
                  {"at": at.isoformat()})

    def records(self, series_id: str, registrant_id: str) -> PersonRecords:
        return _person_records(self._query(_series_pk(series_id), _person(registrant_id)),
                               registrant_id, self._imports(series_id))

    def person_data(self, series_id: str, registrant_id: str) -> dict[str, Any]:
        return _download(self.records(series_id, registrant_id))


# -- in memory ---------------------------------------------------------------------------------
class MemoryCertificateStore(_KeptItems):
    """The same keys and attributes in a dict: what the tests and the local runner use."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}  # key -> {"body", "revoked"}

    def _put(self, pk: str, sk: str, body: dict[str, Any]) -> None:
        self.items[(pk, sk)] = {"body": json.loads(json.dumps(body))}

    def _query(self, pk: str, prefix: str) -> Iterator[Item]:
        for (item_pk, sk), item in sorted(self.items.items()):
            if item_pk == pk and sk.startswith(prefix):
                yield sk, item["body"], bool(item.get("revoked"))

    def _get(self, pk: str, sk: str) -> tuple[dict[str, Any], bool] | None:
        item = self.items.get((pk, sk))
        return (item["body"], bool(item.get("revoked"))) if item else None

    def put_certificate(self, certificate: Certificate) -> bool:
        """Written unless the person holds one for that scope already (False: nothing
        written). The fake keeps no registrations to check (the table's store also refuses
        a certificate for a person erased meanwhile)."""
        held = self.items.get((_series_pk(certificate.series_id), _cert_sk(certificate)))
        if held is not None and "body" in held:
            return False
        body = json.loads(json.dumps(_certificate_body(certificate)))
        for item_key in ((_series_pk(certificate.series_id), _cert_sk(certificate)),
                         (_verification_pk(certificate.certificate_id), "CERTIFICATE")):
            self.items.setdefault(item_key, {})["body"] = body  # revoked stays as it was
        self.items[(_series_pk(certificate.series_id),
                    _mail_sk(certificate.registrant_id, certificate.scope))] = {
            "body": {"issued_on": certificate.issued_on.isoformat()}}
        return True

    def emailed(self, series_id: str, registrant_id: str, scope: str) -> None:
        self.items.pop((_series_pk(series_id), _mail_sk(registrant_id, scope)), None)

    def revoke(self, certificate_id: str, series_id: str | None = None) -> bool:
        record = self.items.get((_verification_pk(certificate_id), "CERTIFICATE"))
        if record is None or series_id not in (None, record["body"]["series_id"]):
            return False
        body = record["body"]
        own = self.items.get((_series_pk(body["series_id"]),
                              _held_sk(body["registrant_id"], body["scope"])))
        if own is None:
            return False
        record["revoked"] = own["revoked"] = True
        return True

    def erase_person(self, series_id: str, registrant_id: str) -> int:
        pk = _series_pk(series_id)
        doomed = list(self._query(pk, _person(registrant_id)))
        for sk, body, _ in doomed:
            if "#CERT#" in sk:
                self.items.pop((_verification_pk(body["certificate_id"]), "CERTIFICATE"), None)
                self.items.pop((pk, _mail_sk(registrant_id, body["scope"])), None)
        for sk, _, _ in doomed:
            del self.items[(pk, sk)]
        return len(doomed)


# -- DynamoDB ----------------------------------------------------------------------------------
class DynamoCertificateStore(_KeptItems):
    """The same items in the application's table: PutItem, UpdateItem (also in transactions),
    GetItem, Query and BatchWriteItem."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def _put(self, pk: str, sk: str, body: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table, Item={
            "pk": {"S": pk}, "sk": {"S": sk}, "body": {"S": json.dumps(body)}})

    def _get(self, pk: str, sk: str) -> tuple[dict[str, Any], bool] | None:
        item = self.client.get_item(TableName=self.table, ConsistentRead=True,
                                    Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
        if not item:
            return None
        return json.loads(item["body"]["S"]), bool(item.get("revoked", {}).get("BOOL"))

    def _query(self, pk: str, prefix: str) -> Iterator[Item]:
        request: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}}}
        while True:
            answer = self.client.query(**request)
            for item in answer["Items"]:
                yield (item["sk"]["S"], json.loads(item["body"]["S"]),
                       bool(item.get("revoked", {}).get("BOOL")))
            if not answer.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def put_certificate(self, certificate: Certificate) -> bool:
        """The person's copy and the verification record, in one transaction; only where the
        person holds none for that scope yet (another assessment may have issued it since
        this one read), and only while the person is registered, so an erasure between the
        assessment's read and this write leaves no name behind that no later erasure could
        find. False: nothing written (held already, or not registered)."""
        body = {":body": {"S": json.dumps(_certificate_body(certificate))}}
        pk = _series_pk(certificate.series_id)
        registered = _key(pk, f"REG#{certificate.registrant_id}")
        to_email = _key(pk, _mail_sk(certificate.registrant_id, certificate.scope)) | {
            "body": {"S": json.dumps({"issued_on": certificate.issued_on.isoformat()})}}
        return self._transact([
            {"ConditionCheck": {"TableName": self.table, "Key": registered,
                                "ConditionExpression": "attribute_exists(pk)"}},
            {"Update": {"TableName": self.table, "Key": _key(pk, _cert_sk(certificate)),
                        "UpdateExpression": "SET body = :body",
                        "ConditionExpression": "attribute_not_exists(body)",
                        "ExpressionAttributeValues": body}},
            {"Update": {"TableName": self.table,
                        "Key": _key(_verification_pk(certificate.certificate_id), "CERTIFICATE"),
                        "UpdateExpression": "SET body = :body",
                        "ExpressionAttributeValues": body}},
            {"Put": {"TableName": self.table, "Item": to_email}}])

    def emailed(self, series_id: str, registrant_id: str, scope: str) -> None:
        self.client.delete_item(TableName=self.table, Key=_key(
            _series_pk(series_id), _mail_sk(registrant_id, scope)))

    def revoke(self, certificate_id: str, series_id: str | None = None) -> bool:
        """Both items marked revoked, each only if it still exists (an erasure between the
        read and the write makes this False, and writes nothing); with ``series_id``, only
        a certificate of that series (an organiser of one series cannot revoke another's)."""
        found = self._get(_verification_pk(certificate_id), "CERTIFICATE")
        if found is None or series_id not in (None, found[0]["series_id"]):
            return False
        body = found[0]
        own = _key(_series_pk(body["series_id"]),
                   f"{_person(body['registrant_id'])}CERT#{body['scope']}")
        return self._transact([
            {"Update": {"TableName": self.table, "Key": key,
                        "UpdateExpression": "SET revoked = :yes",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":yes": {"BOOL": True}}}}
            for key in (_key(_verification_pk(certificate_id), "CERTIFICATE"), own)])

    def erase_person(self, series_id: str, registrant_id: str) -> int:
        """The verification records first, then the person's items: a failure part-way
        leaves the certificate items that lead a repeated erasure to what is left."""
        pk = _series_pk(series_id)
        own: list[tuple[str, str]] = []
        public: list[tuple[str, str]] = []
        listed: list[tuple[str, str]] = []
        for sk, body, _ in self._query(pk, _person(registrant_id)):
            own.append((pk, sk))
            if "#CERT#" in sk:
                public.append((_verification_pk(body["certificate_id"]), "CERTIFICATE"))
                listed.append((pk, _mail_sk(registrant_id, body["scope"])))
        for keys in (public, listed + own):
            for start in range(0, len(keys), BATCH_WRITE):
                self._delete_batch(keys[start:start + BATCH_WRITE])
        return len(own)

    def _delete_batch(self, keys: Sequence[tuple[str, str]]) -> None:
        requests: list[Any] = [{"DeleteRequest": {"Key": _key(pk, sk)}} for pk, sk in keys]
        for attempt in range(6):
            answer = self.client.batch_write_item(RequestItems={self.table: requests})
            requests = list((answer.get("UnprocessedItems") or {}).get(self.table, []))
            if not requests:
                return
            pause(attempt)
        raise RetryableError("DynamoDB left deletions unprocessed (throttled): erase again")

    def _transact(self, writes: list[dict[str, Any]]) -> bool:
        """True when written; False when a condition failed; sent again when it only met
        another transaction (RetryableError if that keeps happening)."""
        for attempt in range(TRANSACT_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
                return True
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                codes = {str(reason.get("Code", "None"))
                         for reason in error.response.get("CancellationReasons") or []}
                if "ConditionalCheckFailed" in codes:
                    return False
                if "TransactionConflict" not in codes:
                    raise
            pause(attempt)
        raise RetryableError("the certificate is being changed concurrently; retry")
