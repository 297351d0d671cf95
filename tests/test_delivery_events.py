"""SES's events follow each email: its state on the registrant's timeline, the series' mail
counters and rates, and the series' suppressions, which an organiser can lift."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from conftest import SERIES_ID, Harness
from webinar_notify.adapters.mailer import OutgoingMessage, delivery_key_of, delivery_tag
from webinar_notify.core.jobs import ORGANISER_COPY, delivery_key
from webinar_notify.core.text import registrant_id, suppression_id
from webinar_notify.local.events import LocalContext
from webinar_notify.local.ses_events import EventType, ses_event, sns_delivery

KEY = "local-development-only"
S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)
ADA = registrant_id(KEY, SERIES_ID, "ada@example.com")


def _feedback(*events: dict[str, Any]) -> dict[str, Any]:
    from webinar_notify.entrypoints import feedback

    return dict(feedback.lambda_handler(sns_delivery(*events),
                                        LocalContext("feedback")))  # type: ignore[arg-type]


def _sent(harness: Harness) -> list[dict[str, Any]]:
    """Ada's confirmation, then her reminder a week before s1."""
    harness.register("ada@example.com", "Ada", "e1", sessions=["s1"])
    harness.register("grace@example.org", "Grace", "e2", sessions=["s1"])
    harness.runtime.drain()
    harness.clock.set(S1 - timedelta(days=7))
    harness.runtime.tick()
    harness.runtime.drain()
    return [e for e in harness.outbox.entries() if e["to"] == "ada@example.com"]


def _event(entry: dict[str, Any], kind: EventType, harness: Harness,
           **options: Any) -> dict[str, Any]:
    return ses_event(entry, kind, at=harness.clock.now(), **options)


def _table(harness: Harness) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    items = client.scan(TableName=harness.runtime.resources.table)["Items"]
    return sorted((dict(i) for i in items), key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def test_a_registrants_mail_shows_newest_first_and_is_counted_as_sent(harness: Harness) -> None:
    confirmation, reminder = _sent(harness)
    mail = harness.runtime.store.registrant_mail(SERIES_ID, ADA)
    assert [(m.kind, m.session_ids, m.delivery) for m in mail] == [
        ("reminder", ("s1",), ""), ("confirmation", ("s1",), "")]
    assert mail[0].sent_at > mail[1].sent_at
    counts = harness.runtime.store.counts(SERIES_ID)
    assert counts.mail_count("sent", kind="reminder", session="s1") == 2  # Ada and Grace
    assert counts.mail_count("sent", kind="confirmation") == 2
    assert counts.rate("bounced") == 0.0
    for entry in (confirmation, reminder):  # the outbox records the tags SES gets
        tags = entry["tags"]
        assert set(tags) == {"kind", "series", "delivery"} and tags["series"] == SERIES_ID
        assert delivery_key_of(tags["delivery"]).endswith(f"#{ADA}")  # type: ignore[union-attr]
        assert "ada" not in json.dumps(tags).lower()


def test_a_simulated_hard_bounce_shows_counts_suppresses_and_can_be_lifted(
        harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    _, reminder = _sent(harness)
    capsys.readouterr()
    counted = _feedback(_event(reminder, "Bounce", harness))
    assert counted == {"hard_bounces": 1}
    logged = capsys.readouterr()  # the function's metrics and log lines: counts only
    assert "ada@" not in (logged.out + logged.err).lower()

    store = harness.runtime.store
    latest = store.registrant_mail(SERIES_ID, ADA)[0]
    assert (latest.kind, latest.delivery, latest.detail) == \
        ("reminder", "bounced", "Permanent/General")
    counts = store.counts(SERIES_ID)
    assert counts.mail_count("bounced", kind="reminder", session="s1") == 1
    assert counts.rate("bounced") == 1 / 4  # two confirmations and two reminders sent
    sid = suppression_id(KEY, "ada@example.com")
    assert store.suppressed([sid]) == {sid}
    [listed], cursor = store.suppressions(SERIES_ID, None, 50)
    assert (listed.suppression_id, listed.reason, cursor) == (sid, "bounce", None)

    assert _feedback(_event(reminder, "Bounce", harness)) == {"hard_bounces": 1,
                                                               "duplicate_events": 1}
    assert store.counts(SERIES_ID).mail_count("bounced") == 1  # SNS delivered it twice

    assert store.lift_suppression(SERIES_ID, sid) is True
    assert store.suppressed([sid]) == set() and store.suppressions(SERIES_ID, None, 50)[0] == []
    assert store.lift_suppression(SERIES_ID, sid) is False


def test_a_series_cannot_lift_a_suppression_it_did_not_cause(harness: Harness) -> None:
    _, reminder = _sent(harness)
    _feedback(_event(reminder, "Complaint", harness))
    store = harness.runtime.store
    sid = suppression_id(KEY, "ada@example.com")
    assert store.lift_suppression("another-series", sid) is False
    assert store.suppressed([sid]) == {sid}
    assert store.suppressions(SERIES_ID, None, 50)[0][0].reason == "complaint"


def test_an_organisers_test_copy_and_its_bounce_leave_the_series_counts_as_they_were(
        harness: Harness) -> None:
    _sent(harness)
    store = harness.runtime.store
    before = store.counts(SERIES_ID)
    answer = harness.runtime.organiser(f"/organiser/series/{SERIES_ID}/announcements", {
        "id": "course", "subject": "The course", "body_markdown": "Soon.",
        "audience": {"all": True}, "test_to": "organiser@example.org"}, "course-test-1")
    assert answer.status == 202, answer.body
    harness.runtime.drain()
    [copy] = [e for e in harness.outbox.entries() if e["to"] == "organiser@example.org"]
    assert _feedback(_event(copy, "Bounce", harness)) == {"hard_bounces": 1}
    assert store.counts(SERIES_ID) == before
    assert (before.mail_count("sent"), before.rate("bounced")) == (4, 0.0)
    [shown] = store.registrant_mail(SERIES_ID, ORGANISER_COPY)  # its state is still kept
    assert (shown.kind, shown.delivery) == ("announcement", "bounced")


def test_each_event_sets_the_state_and_a_later_word_never_hides_a_worse_one(
        harness: Harness) -> None:
    confirmation, reminder = _sent(harness)
    assert _feedback(_event(reminder, "Send", harness),
                     _event(reminder, "DeliveryDelay", harness),
                     _event(reminder, "Delivery", harness),
                     _event(reminder, "Delivery", harness)) == {
        "sends": 1, "delays": 1, "deliveries": 2, "duplicate_events": 1}
    store = harness.runtime.store
    assert store.registrant_mail(SERIES_ID, ADA)[0].delivery == "delivered"
    _feedback(_event(reminder, "Complaint", harness), _event(reminder, "Delivery", harness))
    latest = store.registrant_mail(SERIES_ID, ADA)[0]
    assert (latest.delivery, latest.detail) == ("complained", "abuse")
    _feedback(_event(confirmation, "Bounce", harness, bounce_type="Transient",
                     bounce_subtype="MailboxFull"),
              _event(confirmation, "Reject", harness))
    counts = store.counts(SERIES_ID)
    assert {state: counts.mail_count(state) for state in (
        "sent", "delivered", "delayed", "complained", "soft_bounced", "rejected", "bounced")} \
        == {"sent": 4, "delivered": 1, "delayed": 1, "complained": 1, "soft_bounced": 1,
            "rejected": 1, "bounced": 0}
    assert counts.rate("complained") == 0.25
    assert store.registrant_mail(SERIES_ID, ADA)[1].delivery == "rejected"


def test_an_event_with_a_forged_or_unknown_tag_changes_nothing_and_is_counted(
        harness: Harness) -> None:
    _, reminder = _sent(harness)
    before = _table(harness)
    forged = [
        {**reminder, "tags": {**reminder["tags"], "delivery": "not*base64!"}},
        {**reminder, "tags": {**reminder["tags"], "delivery": delivery_tag(
            delivery_key("reminder", SERIES_ID, ADA, "never-sent"))}},
        {**reminder, "tags": {**reminder["tags"], "delivery": delivery_tag("SERIES#x")}}]
    counted = _feedback(*[_event(e, "Delivery", harness) for e in forged])
    assert counted == {"deliveries": 3, "unknown_delivery": 3}
    assert _table(harness) == before


def test_the_delivery_tag_fits_ses_and_names_the_key() -> None:
    longest = delivery_key("announcement", "a" * 63, "r" + "f" * 31, "x" * 200)
    tag = delivery_tag(longest)
    assert len(tag) <= 256 and tag.replace("-", "").replace("_", "").isalnum()
    assert delivery_key_of(tag) == longest
    message = OutgoingMessage(raw=b"", sender="s@estro.example", to="a@example.org",
                              kind="reminder", series_id="reirradiation-2023",
                              session_ids=("s1",), subject="x", delivery_key=longest)
    assert message.tags() == {"kind": "reminder", "series": "reirradiation-2023",
                              "delivery": tag}
