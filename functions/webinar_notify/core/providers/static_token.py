"""Senders that cannot sign a body: a secret token compared in constant time, from a header
(Microsoft Forms through Power Automate) or from the webhook URL's query (Jotform)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from ..errors import SignatureError


def verify_token(given: str | None, secrets: Sequence[str], where: str) -> None:
    if not given:
        raise SignatureError(f"missing {where}")
    if not any(secrets):
        raise SignatureError("no webhook secret is configured for this series and provider")
    matched = False
    for secret in secrets:
        if secret:
            matched |= hmac.compare_digest(secret.encode(), given.encode("utf-8", "replace"))
    if not matched:
        raise SignatureError(f"{where} does not match")
