"""SES bounces and complaints: a hard bounce stops all further mail to that address."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from conftest import Harness
from webinar_notify.local.events import LocalContext

S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)


def ses_event(kind: str, address: str, bounce_type: str = "Permanent") -> dict[str, object]:
    """An SNS delivery of an SES configuration-set event, shaped as SES publishes it."""
    detail: dict[str, object] = {"eventType": kind, "mail": {
        "timestamp": "2023-10-19T13:00:01.000Z", "source": "webinars@estro.example",
        "messageId": "0100018b-example", "destination": [address]}}
    if kind == "Bounce":
        detail["bounce"] = {"bounceType": bounce_type, "bounceSubType": "General",
                            "bouncedRecipients": [{"emailAddress": address,
                                                   "action": "failed", "status": "5.1.1"}]}
    else:
        detail["complaint"] = {"complainedRecipients": [{"emailAddress": address}],
                               "complaintFeedbackType": "abuse"}
    return {"Records": [{"EventSource": "aws:sns", "Sns": {
        "Type": "Notification", "MessageId": "m-1", "Message": json.dumps(detail),
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:feedback"}}]}


def test_a_hard_bounce_stops_all_further_mail(harness: Harness) -> None:
    from webinar_notify.entrypoints import feedback

    for i, address in enumerate(("gone@example.org", "fine@example.org")):
        harness.register(email=address, name="X", event_id=f"e{i}")
    harness.runtime.drain()
    counted = feedback.lambda_handler(ses_event("Bounce", "Gone@Example.org"),
                                      LocalContext("feedback"))  # type: ignore[arg-type]
    assert counted == {"hard_bounces": 1}

    harness.clock.set(S1 - timedelta(days=7))
    harness.runtime.tick()
    harness.runtime.drain()
    harness.register(email="gone@example.org", name="X", event_id="e-again", sessions=["s2"])
    harness.runtime.drain()
    sent = [(e["to"], e["kind"]) for e in harness.outbox.entries()]
    assert sent.count(("gone@example.org", "confirmation")) == 1  # only the one from before
    assert ("gone@example.org", "reminder") not in sent
    assert ("fine@example.org", "reminder") in sent


def test_soft_bounces_are_counted_and_complaints_suppress(harness: Harness) -> None:
    from webinar_notify.entrypoints import feedback

    harness.register(email="busy@example.org", name="X", event_id="e1")
    harness.register(email="angry@example.org", name="Y", event_id="e2")
    harness.runtime.drain()
    soft = feedback.lambda_handler(ses_event("Bounce", "busy@example.org", "Transient"),
                                   LocalContext("feedback"))  # type: ignore[arg-type]
    complaint = feedback.lambda_handler(ses_event("Complaint", "angry@example.org"),
                                        LocalContext("feedback"))  # type: ignore[arg-type]
    assert soft == {"soft_bounces": 1} and complaint == {"complaints": 1}
    harness.clock.set(S1 - timedelta(days=7))
    harness.runtime.tick()
    harness.runtime.drain()
    reminded = {e["to"] for e in harness.outbox.entries() if e["kind"] == "reminder"}
    assert reminded == {"busy@example.org"}


def test_an_unreadable_notification_changes_nothing(harness: Harness) -> None:
    from webinar_notify.entrypoints import feedback

    event = {"Records": [{"Sns": {"Message": "not json"}}]}
    assert feedback.lambda_handler(event, LocalContext("feedback")) == {"unreadable": 1}  # type: ignore[arg-type]
