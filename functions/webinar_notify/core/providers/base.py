"""The port every registration form provider implements, and what a delivery can be."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..registration import RegistrationEvent
from ..series import Series


@dataclass(frozen=True, slots=True)
class DirectAnswer:
    """Answered at once and nothing stored (e.g. Zoom's URL validation challenge)."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Attendance:
    """Someone joined a session (e.g. Zoom's participant_joined); ``session_id`` None when the
    event names no session of the series (an occurrence that matches none): counted, not lost.
    """

    session_id: str | None
    email: str


@dataclass(frozen=True, slots=True)
class FetchFirst:
    """The payload only points at the data (Eventbrite's api_url): fetch it from the provider's
    own API host, with the organiser's token, then ``parse_fetched``."""

    url: str
    allowed_host: str


Delivery = RegistrationEvent | DirectAnswer | Attendance | FetchFirst


class Provider(Protocol):
    name: str

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str],
               now: int) -> None:
        """Raise SignatureError unless the raw body was signed with one of the secrets."""

    def parse(self, body: bytes, series: Series, secrets: Sequence[str]) -> Delivery:
        """Map the provider's payload; raise PayloadError if it is unusable."""
