"""The delivery ledger: one item per email, so that no email goes out twice.

A sender claims the email's key (a conditional write), sends, then marks it sent. A redelivered
message finds "sent" and sends nothing. A claim that is older than the lease belongs to a
sender that crashed and may be taken over. The one window left: SES accepted the email and
the sender died before marking it sent; the email is then sent again after the lease.

Marking it sent also records what the console shows of it (series, registrant, kind,
sessions, time: no address) under the `Mail` index; then the email is counted on one of the
series' mail counter shards, at once or, for a batch, once per shard with the batch's sums
(``mail_counts.MailTally``). An organiser's test copy is kept on the ledger, so it never goes
out twice, and counted nowhere:

    DELIVERY#<key>           / DELIVERY   the email's state; mail_pk, mail_sk for the index
    COUNTS#<series>#<shard>  / MAIL       "<kind>|<session or ->|<state>" -> n
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from botocore.exceptions import ClientError

from ..core.counts import count_shard, counted_session, mail_attribute
from ..core.jobs import ORGANISER_COPY, EmailJob
from .conflicts import is_write_conflict, pause
from .dynamo import is_condition_failure, key
from .mail_counts import MailTally, add_counts

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

ClaimResult = Literal["claimed", "sent", "busy"]
LEDGER_TTL = timedelta(days=400)  # outlives any series: a resent email is worse than a row
CONFLICT_ATTEMPTS = 5  # SES events of one email racing each other


class Ledger(Protocol):
    def claim(self, delivery_key: str, now: datetime, lease: timedelta) -> ClaimResult: ...
    def complete(self, job: EmailJob, now: datetime, message_id: str,
                 tally: MailTally | None = None) -> None: ...
    def count(self, tally: MailTally) -> None: ...
    def release(self, delivery_key: str) -> None: ...
    def expire(self, job: EmailJob, now: datetime) -> bool: ...


class DynamoLedger:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def claim(self, delivery_key: str, now: datetime, lease: timedelta) -> ClaimResult:
        try:
            self.client.update_item(
                TableName=self.table, Key=key(f"DELIVERY#{delivery_key}", "DELIVERY"),
                UpdateExpression="SET #state = :sending, claimed_at = :now, expires_at = :exp",
                ConditionExpression="attribute_not_exists(pk) OR "
                                    "(#state = :sending AND claimed_at < :stale)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":sending": {"S": "sending"}, ":now": {"N": str(int(now.timestamp()))},
                    ":stale": {"N": str(int((now - lease).timestamp()))},
                    ":exp": {"N": str(int((now + LEDGER_TTL).timestamp()))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            old = cast(dict[str, Any], dict(error.response).get("Item", {}))
            return "sent" if old.get("state", {}).get("S") == "sent" else "busy"
        return "claimed"

    def complete(self, job: EmailJob, now: datetime, message_id: str,
                 tally: MailTally | None = None) -> None:
        """Sent: the state and what the console shows of the email; then +1 on its counter,
        at once or in ``tally`` (written by ``count``). Should the count fail after the state
        was written (beyond the retries of a conflict), the email stays sent (and is never
        sent twice): a count short by one beats a duplicate email. An organiser's test copy
        is not counted."""
        sent_at = now.isoformat()
        ledger: dict[str, Any] = {
            "TableName": self.table, "Key": key(f"DELIVERY#{job.key}", "DELIVERY"),
            "UpdateExpression": "SET #state = :sent, sent_at = :now, message_id = :id, "
                                "series = :series, registrant = :rid, kind = :kind, "
                                "sessions = :sessions, mail_pk = :mail_pk, mail_sk = :mail_sk",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {
                ":sent": {"S": "sent"}, ":now": {"S": sent_at}, ":id": {"S": message_id},
                ":series": {"S": job.series_id}, ":rid": {"S": job.registrant_id},
                ":kind": {"S": job.kind},
                ":sessions": {"L": [{"S": s} for s in job.session_ids]},
                ":mail_pk": {"S": f"MAIL#{job.series_id}"},
                ":mail_sk": {"S": f"{job.registrant_id}#{sent_at}#{job.kind}"}}}
        self.client.update_item(**ledger)
        if job.registrant_id == ORGANISER_COPY:
            return
        name = mail_attribute(job.kind, counted_session(job.session_ids), "sent")
        if tally is not None:
            tally.add(job.series_id, job.key, name)
        else:
            self._add(job, name)

    def count(self, tally: MailTally) -> None:
        """A batch's counts: one write per counter shard it touched."""
        add_counts(self.client, self.table, tally.take())

    def _add(self, job: EmailJob, name: str) -> None:
        """+1 on the job's counter shard under ``name`` (``count`` of a tally of one)."""
        once = MailTally()
        once.add(job.series_id, job.key, name)
        self.count(once)

    def expire(self, job: EmailJob, now: datetime) -> bool:
        """Too late to send (its window closed, e.g. a reminder after the start): recorded
        once, in the series' mail list as "expired" and +1 on its counter, for the organiser;
        False when the email has a ledger item already (sent, or being sent)."""
        at = now.isoformat()
        try:
            self.client.update_item(
                TableName=self.table, Key=key(f"DELIVERY#{job.key}", "DELIVERY"),
                UpdateExpression="SET #state = :expired, delivery = :expired, delivery_at = :at, "
                                 "series = :series, registrant = :rid, kind = :kind, "
                                 "sessions = :sessions, mail_pk = :mail_pk, "
                                 "mail_sk = :mail_sk, expires_at = :exp",
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":expired": {"S": "expired"}, ":at": {"S": at},
                    ":series": {"S": job.series_id}, ":rid": {"S": job.registrant_id},
                    ":kind": {"S": job.kind},
                    ":sessions": {"L": [{"S": s} for s in job.session_ids]},
                    ":mail_pk": {"S": f"MAIL#{job.series_id}"},
                    ":mail_sk": {"S": f"{job.registrant_id}#{at}#{job.kind}"},
                    ":exp": {"N": str(int((now + LEDGER_TTL).timestamp()))}})
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        if job.registrant_id != ORGANISER_COPY:
            self._add(job, mail_attribute(job.kind, counted_session(job.session_ids),
                                          "expired"))
        return True

    def release(self, delivery_key: str) -> None:
        """Give a claim back after a failure before SES accepted the email."""
        try:
            self.client.delete_item(
                TableName=self.table, Key=key(f"DELIVERY#{delivery_key}", "DELIVERY"),
                ConditionExpression="#state = :sending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":sending": {"S": "sending"}})
        except ClientError as error:
            if not is_condition_failure(error):
                raise


class MemoryLedger:
    """The ledger's local stand-in, with DynamoLedger's rules (its contract test runs both):
    fast enough for fault soaks of thousands of emails."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.counters: dict[tuple[str, int], dict[str, int]] = {}  # (series, shard) -> counts

    def claim(self, delivery_key: str, now: datetime, lease: timedelta) -> ClaimResult:
        old = self.items.get(delivery_key)
        stale = int((now - lease).timestamp())
        if old is None or (old["state"] == "sending" and old["claimed_at"] < stale):
            self.items[delivery_key] = {"state": "sending", "claimed_at": int(now.timestamp())}
            return "claimed"
        return "sent" if old["state"] == "sent" else "busy"

    def complete(self, job: EmailJob, now: datetime, message_id: str,
                 tally: MailTally | None = None) -> None:
        sent_at = now.isoformat()
        self.items[job.key] = {
            **self.items.get(job.key, {}), "state": "sent", "sent_at": sent_at,
            "message_id": message_id, "series": job.series_id, "registrant": job.registrant_id,
            "kind": job.kind, "sessions": list(job.session_ids),
            "mail_pk": f"MAIL#{job.series_id}",
            "mail_sk": f"{job.registrant_id}#{sent_at}#{job.kind}"}
        if job.registrant_id == ORGANISER_COPY:
            return
        name = mail_attribute(job.kind, counted_session(job.session_ids), "sent")
        if tally is not None:
            tally.add(job.series_id, job.key, name)
            return
        shard = self.counters.setdefault((job.series_id, count_shard(job.key)), {})
        shard[name] = shard.get(name, 0) + 1

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

    def release(self, delivery_key: str) -> None:
        if self.items.get(delivery_key, {}).get("state") == "sending":
            del self.items[delivery_key]


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
        item_key = key(f"DELIVERY#{delivery_key}", "DELIVERY")
        series_id = ""
        item = self._ledger_item(item_key)
        for attempt in range(CONFLICT_ATTEMPTS):
            if not item or "series" not in item or item.get("state", {}).get("S") != "sent":
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
                item = self._ledger_item(item_key)
                continue
            if state != "sent" and item.get("registrant", {}).get("S") != ORGANISER_COPY:
                self._count(series_id, delivery_key, item, state, tally)
            return DeliveryUpdate("recorded", series_id)
        item = self._ledger_item(item_key)
        if state in item.get("events", {}).get("SS", []):  # it got there in the end
            return DeliveryUpdate("duplicate", series_id)
        return DeliveryUpdate("lost", series_id)

    def _ledger_item(self, item_key: dict[str, Any]) -> dict[str, Any]:
        """The email's ledger item; read again consistently when the cheaper read does not
        show it sent (an event may follow its email by less than a replica's lag)."""
        item = self.client.get_item(TableName=self.table, Key=item_key).get("Item") or {}
        if item.get("state", {}).get("S") != "sent":
            item = self.client.get_item(TableName=self.table, Key=item_key,
                                        ConsistentRead=True).get("Item") or {}
        return dict(item)

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
