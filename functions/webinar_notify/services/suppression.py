"""Whether an address may be mailed: bounced and complaining addresses are suppressed for every
series, and every use case that sends asks here, by a keyed hash of the address."""

from __future__ import annotations

from typing import Protocol

from ..adapters.secrets import Secrets
from ..core.text import suppression_id


class SuppressionList(Protocol):
    def suppressed(self, suppression_ids: list[str]) -> set[str]: ...


def is_suppressed(suppressions: SuppressionList, secrets: Secrets, email: str) -> bool:
    return bool(suppressions.suppressed([suppression_id(secrets.registrant_key(), email)]))
