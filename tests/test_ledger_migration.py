"""A stack updated from the former ledger layout (``DELIVERY#<key> / DELIVERY``): what it
sent before is found again after ``webinar-notify ledger migrate`` (never sent twice, listed
for the person, counted by a repair), and what was queued before the update is checked where
the ledger kept it then."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

from conftest import SERIES_ID, Harness
from webinar_notify import cli
from webinar_notify.adapters.ledger import DynamoLedger, legacy_key
from webinar_notify.adapters.ledger_migration import migrate_ledger
from webinar_notify.core.jobs import EmailJob, delivery_key
from webinar_notify.core.registration import Registrant
from webinar_notify.services.counts_repair import repair_counts

LEASE = timedelta(minutes=5)


def _job(about: str, registrant_id: str = "r1") -> EmailJob:
    return EmailJob(kind="reminder", series_id=SERIES_ID, series_revision=1,
                    registrant_id=registrant_id,
                    recipient=Registrant("x@example.org", "X", "UTC"), session_ids=("s1",),
                    key=delivery_key("reminder", SERIES_ID, registrant_id, about))


def _former(job: EmailJob, state: str, **more: dict[str, Any]) -> dict[str, Any]:
    """A ledger item as the former layout wrote it: a claim ("sending") held only its state
    and times; marking it sent added what the console shows and the `Mail` index keys."""
    item: dict[str, Any] = {**legacy_key(job.key), "state": {"S": state},
                            "claimed_at": {"N": "1698000000"}, "expires_at": {"N": "1800000000"}}
    if state == "sent":
        item |= {"sent_at": {"S": "2023-10-19T13:00:00+00:00"},
                 "series": {"S": SERIES_ID}, "registrant": {"S": job.registrant_id},
                 "kind": {"S": job.kind}, "sessions": {"L": [{"S": "s1"}]},
                 "mail_pk": {"S": f"MAIL#{SERIES_ID}"},
                 "mail_sk": {"S": f"{job.registrant_id}#2023-10-19T13:00:00+00:00#reminder"}}
    return item | more


def test_what_was_sent_before_the_move_is_found_again_after_the_migration(
        harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    table = harness.runtime.resources.table
    sent, crashed = _job("sent-before"), _job("crashed-before")
    for item in (_former(sent, "sent", events={"SS": ["bounced"]},
                         delivery={"S": "bounced"}, delivery_at={"S": "t1"}),
                 _former(crashed, "sending", claimed_at={
                     "N": str(int((harness.clock.now() - timedelta(days=1)).timestamp()))}),
                 {**legacy_key("reminder#not-a-delivery-key"), "state": {"S": "sent"}}):
        client.put_item(TableName=table, Item=item)
    now = harness.clock.now()
    ledger = DynamoLedger(client, table)
    # Before the migration a new message (version 3) finds nothing: the reason to migrate.
    assert ledger.claim(_job("other"), now, LEASE, ledger.sent_log(now)) == "claimed"

    assert cli.main(["ledger", "migrate", "--table", table, "--region", "eu-west-1"]) == 0
    assert capsys.readouterr().out.strip() == (
        "1 email(s) copied, 0 already in place, 1 claim(s) still unfinished (run it again "
        "later), 1 with a key of another form left as they were")
    # An SES report reaching the former item after the copy is carried over by a later run;
    # nothing is copied twice.
    client.update_item(TableName=table, Key=legacy_key(sent.key),
                       UpdateExpression="ADD events :seen",
                       ExpressionAttributeValues={":seen": {"SS": ["delivered"]}})
    again = migrate_ledger(client, table)
    assert (again.copied, again.present, again.unfinished) == (0, 1, 1)

    assert ledger.claim(sent, now, LEASE, ledger.sent_log(now)) == "sent"
    # A claim the former ledger never settled is not copied: the email is claimed anew, as
    # the former ledger would have after the lease.
    assert ledger.claim(crashed, now, LEASE, ledger.sent_log(now)) == "claimed"
    [shown] = [m for m in harness.runtime.store.registrant_mail(SERIES_ID, "r1")
               if m.sent_at.startswith("2023-10-19")]
    assert (shown.kind, shown.delivery) == ("reminder", "bounced")
    changed = repair_counts(harness.runtime.store, SERIES_ID)
    assert changed["mail reminder|s1|sent"][1] == 3  # the copied one, the crashed, the other
    assert changed["mail reminder|s1|bounced"] == (0, 1)
    assert changed["mail reminder|s1|delivered"] == (0, 1)  # carried over by the second run
    assert not [name for name in changed if "|-|" in name or name.startswith("mail |")]


def test_a_job_queued_before_the_move_is_checked_where_the_ledger_kept_it(
        harness: Harness) -> None:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    table = harness.runtime.resources.table
    ledger, now = DynamoLedger(client, table), harness.clock.now()
    sent, held = _job("sent"), _job("held")
    client.put_item(TableName=table, Item=_former(sent, "sent"))
    client.put_item(TableName=table, Item=_former(
        held, "sending", claimed_at={"N": str(int(now.timestamp()))}))

    def queued_before(job: EmailJob) -> EmailJob:
        old = EmailJob.from_json(json.dumps(json.loads(job.to_json()) | {"v": 2}))
        assert old.legacy_ledger
        return old

    assert ledger.claim(queued_before(sent), now, LEASE, ledger.sent_log(now)) == "sent"
    assert ledger.claim(queued_before(held), now, LEASE, ledger.sent_log(now)) == "busy"
    assert ledger.expire(queued_before(sent), now) is False  # sent: never listed as expired
    # An SES event about the email sent before the move finds its former item.
    store = harness.runtime.store
    assert store.record_delivery(sent.key, "complained", "t1", "abuse").outcome == "recorded"
    item = client.get_item(TableName=table, Key=legacy_key(sent.key))["Item"]
    assert item["delivery"] == {"S": "complained"}
    # A job queued since (version 3) does not look there: `ledger migrate` is what copies it.
    assert ledger.claim(sent, now, LEASE, ledger.sent_log(now)) == "claimed"
