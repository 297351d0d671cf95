"""SES events for emails the local outbox sent, as the configuration set publishes them
through SNS, so a rehearsal or a test can play a delivery, a hard bounce or a complaint of one
particular email through the real feedback function.

    event = ses_event(outbox.entries()[0], "Bounce", at=clock.now())
    feedback.lambda_handler(sns_delivery(event), context)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

EventType = Literal["Send", "Delivery", "Bounce", "Complaint", "Reject", "DeliveryDelay"]
ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:eu-west-1:{ACCOUNT}:webinar-notify-feedback"
CONFIGURATION_SET = "webinar-notify"


def ses_event(entry: Mapping[str, Any], event_type: EventType, *, at: datetime,
              bounce_type: str = "Permanent", bounce_subtype: str = "General",
              complaint_type: str = "abuse", message_id: str = "") -> dict[str, Any]:
    """The event SES publishes about the email of this outbox log entry (a log.jsonl line):
    ``mail`` with its tags as SES lists them, and the part named after the event type."""
    address = str(entry["to"])
    tags = {name: [str(value)] for name, value in dict(entry.get("tags") or {}).items()}
    stamp = _iso(at)
    mail = {"timestamp": _iso_text(str(entry.get("sent_at", stamp))),
            "source": "webinars@estro.example", "sendingAccountId": ACCOUNT,
            "messageId": message_id or f"local-{entry.get('file', 'message')}",
            "destination": [address], "headersTruncated": False,
            "tags": {"ses:configuration-set": [CONFIGURATION_SET], **tags}}
    event: dict[str, Any] = {"eventType": event_type, "mail": mail}
    if event_type == "Send":
        event["send"] = {}
    elif event_type == "Delivery":
        event["delivery"] = {"timestamp": stamp, "processingTimeMillis": 812,
                             "recipients": [address], "smtpResponse": "250 2.0.0 OK",
                             "reportingMTA": "a1-2.smtp-out.eu-west-1.amazonses.com"}
    elif event_type == "Bounce":
        permanent = bounce_type == "Permanent"
        event["bounce"] = {
            "bounceType": bounce_type, "bounceSubType": bounce_subtype, "timestamp": stamp,
            "feedbackId": "local-feedback",
            "bouncedRecipients": [{"emailAddress": address, "action": "failed",
                                   "status": "5.1.1" if permanent else "4.2.2",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"
                                   if permanent else "smtp; 452 4.2.2 mailbox full"}]}
    elif event_type == "Complaint":
        event["complaint"] = {"complainedRecipients": [{"emailAddress": address}],
                              "timestamp": stamp, "feedbackId": "local-feedback",
                              "complaintFeedbackType": complaint_type}
    elif event_type == "Reject":
        event["reject"] = {"reason": "Bad content"}
    else:
        event["deliveryDelay"] = {
            "timestamp": stamp, "delayType": "TransientCommunicationFailure",
            "expirationTime": _iso(at + timedelta(hours=12)),
            "delayedRecipients": [{"emailAddress": address, "status": "4.4.1",
                                   "diagnosticCode": "smtp; 421 4.4.1 try again later"}]}
    return event


def sns_delivery(*events: Mapping[str, Any]) -> dict[str, Any]:
    """The Lambda event SNS delivers to the feedback function, one record per SES event."""
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {
        "Type": "Notification", "MessageId": f"local-{i}", "TopicArn": TOPIC,
        "Message": json.dumps(event)}} for i, event in enumerate(events)]}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_text(text: str) -> str:
    try:
        return _iso(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text
