"""SES's word about delivered mail: hard bounces and complaints suppress the address for every
series (only a keyed hash of it is kept); soft bounces are only counted."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..adapters.clock import Clock
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.text import suppression_id


class Feedback:
    def __init__(self, store: Store, secrets: Secrets, clock: Clock) -> None:
        self.store = store
        self.secrets = secrets
        self.clock = clock

    def handle(self, event: dict[str, Any]) -> Counter[str]:
        """One SES event (as its configuration set publishes it); returns what it counted."""
        counts: Counter[str] = Counter()
        kind = event.get("eventType") or event.get("notificationType")
        if kind == "Bounce":
            bounce = event.get("bounce") or {}
            permanent = bounce.get("bounceType") == "Permanent"
            for address in _addresses(bounce.get("bouncedRecipients")):
                if permanent:
                    self._suppress(address, "bounce")
                counts["hard_bounces" if permanent else "soft_bounces"] += 1
        elif kind == "Complaint":
            for address in _addresses((event.get("complaint") or {}).get("complainedRecipients")):
                self._suppress(address, "complaint")
                counts["complaints"] += 1
        else:
            counts[f"other:{str(kind)[:30]}"] += 1
        return counts

    def _suppress(self, address: str, reason: str) -> None:
        key = self.secrets.registrant_key()
        self.store.suppress(suppression_id(key, address), reason, self.clock.now())


def _addresses(recipients: object) -> list[str]:
    if not isinstance(recipients, list):
        return []
    return [str(r["emailAddress"]) for r in recipients
            if isinstance(r, dict) and isinstance(r.get("emailAddress"), str)]
