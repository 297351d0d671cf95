"""The port every registration form provider implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ..registration import RegistrationEvent
from ..series import Series


class Provider(Protocol):
    name: str

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str],
               now: int) -> None:
        """Raise SignatureError unless the raw body was signed with one of the secrets."""

    def parse(self, body: bytes, series: Series) -> RegistrationEvent:
        """Map the provider's payload to a RegistrationEvent; raise PayloadError if unusable."""
