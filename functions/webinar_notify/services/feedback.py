"""SES's word about delivered mail.

Every event names its email by the ``delivery`` tag the sender put on it (the ledger key), so
the email's delivery state and the series' mail counters follow it: sent, delivered, delayed,
soft or hard bounced, complained, rejected. An event whose tag names no email this ledger sent
changes neither, and is counted; so is one given up after meeting other writes again and
again (``lost_events``: the email's state and the counters miss it). Hard bounces and
complaints also suppress the address for every series (only a keyed hash of it is kept),
listed under the series whose email it was, at once, whatever else the batch holds.

A batch of events (``handle_all``) writes each email's state as it comes and the series' mail
counters once per shard at the end, with the batch's sums: a counter item holds a whole
shard of the series' counts, so writing it once per email would cost more than the email's
own record. Should that last write fail, the states stay recorded and the batch's counts are
missing (``counts_missed``, for a repair), never counted twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..adapters.clock import Clock
from ..adapters.mail_counts import MailTally, write_tally
from ..adapters.mailer import delivery_key_of
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.text import suppression_id

# SES event type -> (the part of the event that describes it, what it is counted as)
_EVENTS = {"Send": ("send", "sends"), "Delivery": ("delivery", "deliveries"),
           "Reject": ("reject", "rejects"), "DeliveryDelay": ("deliveryDelay", "delays"),
           "Bounce": ("bounce", ""), "Complaint": ("complaint", "complaints")}
MAX_DETAIL = 80


class Feedback:
    def __init__(self, store: Store, secrets: Secrets, clock: Clock) -> None:
        self.store = store
        self.secrets = secrets
        self.clock = clock

    def handle_all(self, events: Sequence[dict[str, Any]]) -> list[Counter[str] | Exception]:
        """A batch of SES events: what each one counted, or the error it met (that event
        alone is to be tried again); the mail counters written once at the end."""
        tally = MailTally()
        results: list[Counter[str] | Exception] = []
        for event in events:
            try:
                results.append(self.handle(event, tally))
            except Exception as error:  # reported for this event; the others go on
                results.append(error)
        missed = write_tally(self.store.add_mail_counts, tally)  # the states are written
        first = next((r for r in results if isinstance(r, Counter)), None)
        if missed and first is not None:
            first["counts_missed"] += missed
        return results

    def handle(self, event: dict[str, Any], tally: MailTally | None = None) -> Counter[str]:
        """One SES event (as its configuration set publishes it); returns what it counted.
        Its count goes into ``tally`` when given (the caller writes it), else on its counter
        at once."""
        counts: Counter[str] = Counter()
        kind = event.get("eventType") or event.get("notificationType")
        if kind not in _EVENTS:
            counts[f"other:{str(kind)[:30]}"] += 1
            return counts
        part, counted = _EVENTS[str(kind)]
        given = event.get(part)
        body: dict[str, Any] = given if isinstance(given, dict) else {}
        state, detail = _state(str(kind), body)
        series_id = self._record(event, state, detail, body, counts, tally)
        if kind == "Bounce":
            permanent = state == "bounced"
            for address in _addresses(body.get("bouncedRecipients")):
                if permanent:
                    self._suppress(address, "bounce", series_id)
                counts["hard_bounces" if permanent else "soft_bounces"] += 1
        elif kind == "Complaint":
            for address in _addresses(body.get("complainedRecipients")):
                self._suppress(address, "complaint", series_id)
                counts[counted] += 1
        else:
            counts[counted] += 1
        return counts

    def _record(self, event: dict[str, Any], state: str, detail: str,
                body: dict[str, Any], counts: Counter[str], tally: MailTally | None) -> str:
        """The email's state and counters; the series it belongs to ("" if not known)."""
        tag = _tag(event, "delivery")
        if tag is None:  # sent before emails carried the tag: only suppression applies
            return ""
        delivery_key = delivery_key_of(tag)
        if delivery_key is None:
            counts["unknown_delivery"] += 1
            return ""
        at = body.get("timestamp")
        update = self.store.record_delivery(
            delivery_key, state, at if isinstance(at, str) and len(at) <= 40
            else self.clock.now().isoformat(), detail, tally)
        if update.outcome == "unknown":
            counts["unknown_delivery"] += 1
        elif update.outcome == "duplicate":
            counts["duplicate_events"] += 1
        elif update.outcome == "lost":
            counts["lost_events"] += 1
        return update.series_id

    def _suppress(self, address: str, reason: str, series_id: str) -> None:
        key = self.secrets.registrant_key()
        self.store.suppress(suppression_id(key, address), reason, self.clock.now(), series_id)


def _state(kind: str, body: dict[str, Any]) -> tuple[str, str]:
    """The delivery state an event means, and its detail (types only, never an address)."""
    if kind == "Bounce":
        bounce_type = str(body.get("bounceType", ""))
        detail = f"{bounce_type}/{body.get('bounceSubType', '')}"
        return ("bounced" if bounce_type == "Permanent" else "soft_bounced"), detail[:MAX_DETAIL]
    if kind == "Complaint":
        return "complained", str(body.get("complaintFeedbackType", ""))[:MAX_DETAIL]
    if kind == "Reject":
        return "rejected", str(body.get("reason", ""))[:MAX_DETAIL]
    if kind == "DeliveryDelay":
        return "delayed", str(body.get("delayType", ""))[:MAX_DETAIL]
    return ("delivered" if kind == "Delivery" else "sent"), ""


def _tag(event: dict[str, Any], name: str) -> str | None:
    mail = event.get("mail")
    tags = mail.get("tags") if isinstance(mail, dict) else None
    values = tags.get(name) if isinstance(tags, dict) else None
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0]
    return None


def _addresses(recipients: object) -> list[str]:
    if not isinstance(recipients, list):
        return []
    return [str(r["emailAddress"]) for r in recipients
            if isinstance(r, dict) and isinstance(r.get("emailAddress"), str)]
