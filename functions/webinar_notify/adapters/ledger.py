"""The delivery ledger: one item per email, so that no email goes out twice.

A sender claims the email with one conditional write, which also records what the console
shows of it (series, kind, sessions, time: no address), sends it, and notes it in its batch's
sent log. A redelivered message finds the claim and sends nothing: while the claim is younger
than the lease its sender may still be at work ("busy": look again later); once older, the
claim's sent log says whether SES accepted it ("sent"). If the log does not name it, its sender
died before SES's answer was noted, and the email is claimed again and sent. The window left:
SES accepted the email and the sender died before its log was written (fewer than
FLUSH_EMAILS emails of one instance: an item is written at each tenth, or, as an email is
noted, once the oldest unwritten is FLUSH_SECONDS old, and when the batch ends); those are sent
again after the lease.

So an email costs one write, not two: a sent log takes FLUSH_EMAILS emails in one small item.
The item sits under its series and registrant, so the console reads one person's mail with a
Query of the table itself and no index is written. The email is counted "sent" on one of the
series' mail counter shards, the batch's own (chosen by its sent log), once per batch with
the batch's sums (``mail_counts.MailTally``). An organiser's test copy is kept on the
ledger, so it never goes out twice, and counted nowhere:

    LEDGER#<series>#<registrant> / <delivery key>   the email: its claim, SES's word on it
    SENTLOG#<log>                / <part>           which of a batch's claims SES accepted
    COUNTS#<series>#<shard>      / MAIL             "<kind>|<session or ->|<state>" -> n
    DELIVERY#<key>               / DELIVERY         an email recorded before the ledger moved
                                                    here: read, given SES's later word, copied out
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from botocore.exceptions import ClientError

from ..core.counts import count_shard, counted_session, mail_attribute
from ..core.jobs import ORGANISER_COPY, EmailJob, delivery_owner
from .conflicts import is_write_conflict, pause
from .dynamo import is_condition_failure, key
from .mail_counts import MailTally, add_counts

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

ClaimResult = Literal["claimed", "sent", "busy"]
LEDGER_TTL = timedelta(days=400)  # outlives any series: a resent email is worse than a row
FLUSH_EMAILS = 10  # accepted emails per sent-log item (what a dead sender may send again)
FLUSH_SECONDS = 1.0  # or sooner, once the oldest unwritten one is this old
CONFLICT_ATTEMPTS = 5  # SES events of one email racing each other
CLAIMED = "claimed"
SENT_STATES = frozenset({CLAIMED, "sent", "sending"})  # "sent", "sending": the former layout


def ledger_key(delivery_key: str) -> dict[str, Any]:
    """Where the ledger keeps an email: under its series and registrant."""
    series_id, registrant_id = delivery_owner(delivery_key)
    return key(f"LEDGER#{series_id}#{registrant_id}", delivery_key)


def legacy_key(delivery_key: str) -> dict[str, Any]:
    """Where the ledger kept an email before it moved under its registrant."""
    return key(f"DELIVERY#{delivery_key}", "DELIVERY")


def former_item(client: DynamoDBClient, table: str, delivery_key: str) -> dict[str, Any]:
    """The email as the ledger kept it before it moved under its registrant ({}: not there),
    read consistently: for a job queued before the move, and SES's word on an email sent
    before it."""
    return dict(client.get_item(TableName=table, Key=legacy_key(delivery_key),
                                ConsistentRead=True).get("Item") or {})


def sent_mark(delivery_key: str) -> str:
    """An email's mark in a sent log: 64 bits of its key's hash (a false match among one
    batch's emails is about 1 in 10^16)."""
    return hashlib.sha256(delivery_key.encode()).hexdigest()[:16]


def taken_claim(state: str, claimed_at: int, stale: int,
                logged: Callable[[], bool]) -> Literal["sent", "busy", "retake"]:
    """What a claim found in place means: sent; busy (its sender may still be at work, or
    the email expired); or, older than the lease, sent if its batch's sent log names the
    email (``logged``, read only then), else to be taken again (its sender died first)."""
    if state == "sent":
        return "sent"
    if state in SENT_STATES and claimed_at < stale:
        return "sent" if logged() else "retake"
    return "busy"


class SentLog:
    """A batch's claims that SES accepted, written FLUSH_EMAILS at a time, or once the oldest
    unwritten one is FLUSH_SECONDS old, and when the batch ends; and the batch's "sent"
    counts. Shared by the batch's threads. A log write that fails is tried again with the
    next; if the last one fails, its emails stay sent and unnoted (``missed`` counts them),
    and only the same email asked for again after the lease would send them again."""

    def __init__(self, log_id: str, write: Callable[[str, int, list[str]], None]) -> None:
        self.log_id = log_id
        self.tally = MailTally()
        self.missed = 0
        self._write = write
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._oldest = 0.0
        self._parts = 0
        # Dead batches' logs this batch read (log id -> marks): a batch back after its
        # sender died asks for that sender's log once per email (DynamoLedger._marks).
        self.read_logs: dict[str, frozenset[str]] = {}

    def sent(self, job: EmailJob) -> None:
        """SES accepted this claimed email."""
        if job.registrant_id != ORGANISER_COPY:  # on the batch's own shard: one write a batch
            self.tally.add(job.series_id, self.log_id,
                           mail_attribute(job.kind, counted_session(job.session_ids), "sent"))
        with self._lock:
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.append(sent_mark(job.key))
            due = len(self._pending) >= FLUSH_EMAILS \
                or time.monotonic() - self._oldest >= FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self, *, last: bool = False) -> None:
        """Write what is noted and not yet written. A write that fails leaves its marks for
        the next one; one that fails at the ``last`` flush leaves the emails sent but
        unnoted (the sender's metric reports them)."""
        with self._lock:
            marks, self._pending = self._pending, []
            part, self._parts = self._parts, self._parts + (1 if marks else 0)
        if not marks:
            return
        try:
            self._write(self.log_id, part, marks)
        except Exception:
            with self._lock:
                if last:
                    self.missed += len(marks)
                else:
                    self._pending[:0] = marks


class Ledger(Protocol):
    def sent_log(self, now: datetime) -> SentLog: ...
    def claim(self, job: EmailJob, now: datetime, lease: timedelta,
              log: SentLog) -> ClaimResult: ...
    def count(self, tally: MailTally) -> None: ...
    def release(self, job: EmailJob, log: SentLog) -> None: ...
    def expire(self, job: EmailJob, now: datetime) -> bool: ...


def _claim_values(job: EmailJob, now: datetime, log: SentLog) -> dict[str, Any]:
    return {":claimed": {"S": CLAIMED}, ":now": {"N": str(int(now.timestamp()))},
            ":exp": {"N": str(int((now + LEDGER_TTL).timestamp()))},
            ":log": {"S": log.log_id}, ":series": {"S": job.series_id},
            ":kind": {"S": job.kind},
            ":sessions": {"L": [{"S": s} for s in job.session_ids]}}


CLAIM_UPDATE = ("SET #state = :claimed, claimed_at = :now, expires_at = :exp, sent_log = :log, "
                "series = :series, kind = :kind, sessions = :sessions")


class DynamoLedger:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def sent_log(self, now: datetime) -> SentLog:
        # As long as the claims it speaks for: the same email may be asked for again at any
        # time (a form sent twice, a seat given again), and its claim must then say "sent".
        expires = str(int((now + LEDGER_TTL).timestamp()))

        def write(log_id: str, part: int, marks: list[str]) -> None:
            self.client.put_item(TableName=self.table, Item={
                **key(f"SENTLOG#{log_id}", f"{part:05d}"), "marks": {"SS": marks},
                "expires_at": {"N": expires}})

        return SentLog(uuid.uuid4().hex, write)

    def claim(self, job: EmailJob, now: datetime, lease: timedelta,
              log: SentLog) -> ClaimResult:
        if job.legacy_ledger:  # queued before the ledger moved: its claim may be there
            old = former_item(self.client, self.table, job.key)
            if old and (seen := self._taken(job, old, now, lease, log)) != "retake":
                return seen
        item_key = ledger_key(job.key)
        try:
            self.client.update_item(
                TableName=self.table, Key=item_key, UpdateExpression=CLAIM_UPDATE,
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=_claim_values(job, now, log),
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            old = cast(dict[str, Any], dict(error.response).get("Item", {}))
            seen = self._taken(job, old, now, lease, log)
            return self._retake(job, old, now, log) if seen == "retake" else seen
        return "claimed"

    def _taken(self, job: EmailJob, old: dict[str, Any], now: datetime,
               lease: timedelta, log: SentLog) -> Literal["sent", "busy", "retake"]:
        log_id = old.get("sent_log", {}).get("S", "")
        return taken_claim(old.get("state", {}).get("S", ""),
                           int(old.get("claimed_at", {}).get("N", "0")),
                           int((now - lease).timestamp()),
                           lambda: bool(log_id)
                           and sent_mark(job.key) in self._marks(log_id, log))

    def _marks(self, log_id: str, reader: SentLog) -> frozenset[str]:
        """Every mark of the sent log of a claim older than the lease (its batch is over:
        nothing writes to it any more), read once per batch that asks."""
        known = reader.read_logs.get(log_id)
        if known is not None:
            return known
        request: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": "pk = :pk",
            "ConsistentRead": True,
            "ExpressionAttributeValues": {":pk": {"S": f"SENTLOG#{log_id}"}}}
        marks: set[str] = set()
        while True:
            answer = self.client.query(**request)
            marks.update(m for item in answer["Items"] for m in item.get("marks", {}).get("SS", []))
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        reader.read_logs[log_id] = found = frozenset(marks)
        return found

    def _retake(self, job: EmailJob, old: dict[str, Any], now: datetime,
                log: SentLog) -> ClaimResult:
        """Claim again an email whose sender died before SES accepted it, unless another
        sender did so first."""
        values = _claim_values(job, now, log) | {":was": old.get("claimed_at", {"N": "0"})}
        try:
            self.client.update_item(
                TableName=self.table, Key=ledger_key(job.key), UpdateExpression=CLAIM_UPDATE,
                ConditionExpression="claimed_at = :was AND #state = :claimed",
                ExpressionAttributeNames={"#state": "state"}, ExpressionAttributeValues=values)
        except ClientError as error:
            if is_condition_failure(error):
                return "busy"
            raise
        return "claimed"

    def count(self, tally: MailTally) -> None:
        """A batch's counts: one write per counter shard it touched."""
        add_counts(self.client, self.table, tally.take())

    def expire(self, job: EmailJob, now: datetime) -> bool:
        """Too late to send (its window closed, e.g. a reminder after the start): recorded
        once, in the person's mail as "expired" and +1 on its counter, for the organiser;
        False when the email has a ledger item already (sent, or being sent), here or, for a
        job queued before the ledger moved, where the ledger kept it then."""
        if job.legacy_ledger and former_item(self.client, self.table, job.key):
            return False
        try:
            self.client.update_item(
                TableName=self.table, Key=ledger_key(job.key),
                UpdateExpression="SET #state = :expired, delivery = :expired, delivery_at = :at, "
                                 "series = :series, kind = :kind, sessions = :sessions, "
                                 "expires_at = :exp",
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":expired": {"S": "expired"}, ":at": {"S": now.isoformat()},
                    ":series": {"S": job.series_id}, ":kind": {"S": job.kind},
                    ":sessions": {"L": [{"S": s} for s in job.session_ids]},
                    ":exp": {"N": str(int((now + LEDGER_TTL).timestamp()))}})
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        if job.registrant_id != ORGANISER_COPY:
            once = MailTally()
            once.add(job.series_id, job.key, mail_attribute(
                job.kind, counted_session(job.session_ids), "expired"))
            self.count(once)
        return True

    def release(self, job: EmailJob, log: SentLog) -> None:
        """Give a claim back after a failure before SES accepted the email; only while the
        claim is still this batch's (``log``), never one another sender has taken since."""
        try:
            self.client.delete_item(
                TableName=self.table, Key=ledger_key(job.key),
                ConditionExpression="#state = :claimed AND sent_log = :log",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":claimed": {"S": CLAIMED},
                                           ":log": {"S": log.log_id}})
        except ClientError as error:
            if not is_condition_failure(error):
                raise


class MemoryLedger:
    """The ledger's local stand-in, with DynamoLedger's rules (its contract test runs both):
    fast enough for fault soaks of thousands of emails."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.counters: dict[tuple[str, int], dict[str, int]] = {}  # (series, shard) -> counts
        self.logs: dict[str, set[str]] = {}  # log id -> marks

    def sent_log(self, now: datetime) -> SentLog:
        def write(log_id: str, part: int, marks: list[str]) -> None:
            self.logs.setdefault(log_id, set()).update(marks)

        return SentLog(uuid.uuid4().hex, write)

    def claim(self, job: EmailJob, now: datetime, lease: timedelta,
              log: SentLog) -> ClaimResult:
        old = self.items.get(job.key)
        if old is not None:
            seen = taken_claim(old["state"], old.get("claimed_at", 0),
                               int((now - lease).timestamp()),
                               lambda: sent_mark(job.key) in self.logs.get(old["sent_log"], ()))
            if seen != "retake":
                return seen
        self.items[job.key] = {
            "state": CLAIMED, "claimed_at": int(now.timestamp()), "sent_log": log.log_id,
            "series": job.series_id, "registrant": job.registrant_id, "kind": job.kind,
            "sessions": list(job.session_ids)}
        return "claimed"

    def count(self, tally: MailTally) -> None:
        for (series_id, shard_number), sums in tally.take().items():
            shard = self.counters.setdefault((series_id, shard_number), {})
            for name, n in sums.items():
                shard[name] = shard.get(name, 0) + n

    def expire(self, job: EmailJob, now: datetime) -> bool:
        if job.key in self.items:
            return False
        self.items[job.key] = {"state": "expired", "delivery": "expired",
                               "delivery_at": now.isoformat(), "series": job.series_id,
                               "registrant": job.registrant_id, "kind": job.kind,
                               "sessions": list(job.session_ids)}
        if job.registrant_id != ORGANISER_COPY:
            shard = self.counters.setdefault((job.series_id, count_shard(job.key)), {})
            name = mail_attribute(job.kind, counted_session(job.session_ids), "expired")
            shard[name] = shard.get(name, 0) + 1
        return True

    def release(self, job: EmailJob, log: SentLog) -> None:
        item = self.items.get(job.key, {})
        if item.get("state") == CLAIMED and item.get("sent_log") == log.log_id:
            del self.items[job.key]


def sent_time(state: str, claimed_at: int | None, recorded: str = "") -> str:
    """When an email went (ISO 8601): the former layout's own record, else the claim's time
    (its sender sent it at once); "" for an email that expired unsent."""
    if recorded:
        return recorded
    if state not in SENT_STATES or claimed_at is None:
        return ""
    return datetime.fromtimestamp(claimed_at, UTC).isoformat()


def sent_at(item: Mapping[str, Any]) -> str:
    """``sent_time`` of a ledger item as DynamoDB returns it."""
    claimed = item.get("claimed_at", {}).get("N")
    return sent_time(item.get("state", {}).get("S", ""),
                     int(claimed) if claimed is not None else None,
                     item.get("sent_at", {}).get("S", ""))


# "lost": it kept meeting other writes on the email or its counter shard and was given up
DeliveryOutcome = Literal["recorded", "duplicate", "unknown", "lost"]
# Which state an email shows when SES said several things: a later word never hides a worse
# one (a "delivered" arriving after its complaint keeps showing the complaint).
STATE_RANK = {"sent": 0, "delayed": 1, "soft_bounced": 2, "delivered": 3, "rejected": 4,
              "bounced": 4, "complained": 5}


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    outcome: DeliveryOutcome
    series_id: str = ""  # the series whose email it was ("" when unknown)


class DeliveryStateWrites:
    """SES's word about one email, on its ledger item and the series' mail counters (mixed
    into the DynamoDB store, which the feedback function holds): each state counts at most
    once per email, and only for an email this ledger sent; an organiser's test copy keeps
    its state and is counted nowhere.

    The item's state is one conditional write (it holds only if nothing changed since the
    item was read); its count goes on the counter shard at once or in the batch's ``tally``,
    after the state, so a failure in between leaves the count short, never doubled."""

    client: DynamoDBClient
    table: str

    def record_delivery(self, delivery_key: str, state: str, at: str, detail: str,
                        tally: MailTally | None = None) -> DeliveryUpdate:
        try:
            item_key, item = self._ledger_item(delivery_key)
        except ValueError:  # not a key this ledger makes
            return DeliveryUpdate("unknown")
        series_id = ""
        for attempt in range(CONFLICT_ATTEMPTS):
            if not item or "series" not in item \
                    or item.get("state", {}).get("S") not in SENT_STATES:
                return DeliveryUpdate("unknown")
            series_id = item["series"]["S"]
            if state in item.get("events", {}).get("SS", []):
                return DeliveryUpdate("duplicate", series_id)
            shown = item.get("delivery", {}).get("S", "")
            try:
                self.client.update_item(**_state_update(
                    self.table, item_key, state, at, detail,
                    show=STATE_RANK.get(state, 0) >= STATE_RANK.get(shown, -1), shown=shown))
            except ClientError as error:
                if is_condition_failure(error):  # another event of this email came first
                    item = cast(dict[str, Any], dict(error.response).get("Item") or {})
                    continue
                if not is_write_conflict(error):
                    raise
                pause(attempt)  # a transaction held the item: nothing was applied
                item = self._read(item_key, consistent=True)
                continue
            if state != "sent" and delivery_owner(delivery_key)[1] != ORGANISER_COPY:
                self._count(series_id, delivery_key, item, state, tally)
            return DeliveryUpdate("recorded", series_id)
        item = self._read(item_key, consistent=True)
        if state in item.get("events", {}).get("SS", []):  # it got there in the end
            return DeliveryUpdate("duplicate", series_id)
        return DeliveryUpdate("lost", series_id)

    def _ledger_item(self, delivery_key: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The email's ledger key and item; read again consistently when the cheaper read
        does not show it sent (an event may follow its email by less than a replica's lag),
        and in the former layout when the email is not under its registrant."""
        item_key = ledger_key(delivery_key)
        item = self._read(item_key, consistent=False)
        if item.get("state", {}).get("S") not in SENT_STATES:
            item = self._read(item_key, consistent=True)
        if item.get("state", {}).get("S") not in SENT_STATES:  # not here: sent before?
            old = former_item(self.client, self.table, delivery_key)
            if old:
                return legacy_key(delivery_key), old
        return item_key, item

    def _read(self, item_key: dict[str, Any], *, consistent: bool) -> dict[str, Any]:
        return dict(self.client.get_item(TableName=self.table, Key=item_key,
                                         ConsistentRead=consistent).get("Item") or {})

    def _count(self, series_id: str, delivery_key: str, item: dict[str, Any], state: str,
               tally: MailTally | None) -> None:
        """+1 for this state on the email's counter (the sender counted it sent already)."""
        sessions = [v["S"] for v in item.get("sessions", {}).get("L", [])]
        attribute = mail_attribute(item.get("kind", {}).get("S", ""), counted_session(sessions),
                                   state)
        batch = tally if tally is not None else MailTally()
        batch.add(series_id, delivery_key, attribute)
        if tally is None:
            add_counts(self.client, self.table, batch.take())


def _state_update(table: str, item_key: dict[str, Any], state: str, at: str, detail: str,
                  *, show: bool, shown: str) -> dict[str, Any]:
    """The ledger item's part: the state joins the ones seen (at most once), and is shown
    unless a worse one is; both only if nothing changed since the item was read."""
    values: dict[str, Any] = {":seen": {"SS": [state]}, ":state": {"S": state}}
    condition = "attribute_exists(pk) AND NOT contains(events, :state) AND "
    if shown:
        values[":shown"] = {"S": shown}
        condition += "delivery = :shown"
    else:
        condition += "attribute_not_exists(delivery)"
    update = "ADD events :seen"
    if show:
        update += " SET delivery = :state, delivery_at = :at, delivery_detail = :detail"
        values |= {":at": {"S": at}, ":detail": {"S": detail}}
    return {"TableName": table, "Key": item_key, "UpdateExpression": update,
            "ConditionExpression": condition, "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
