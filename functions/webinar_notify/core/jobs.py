"""What goes on the send queue: one email to one person, with a deterministic key.

A job carries everything the sender needs to write the email; just before sending, the sender
reads only whether it is still wanted (core/send_check.py), in one request; the series is read
once per container and revision.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import PayloadError
from .registration import Registrant

EmailKind = Literal["confirmation", "reminder", "update", "cancellation", "announcement"]
KINDS: tuple[EmailKind, ...] = ("confirmation", "reminder", "update", "cancellation",
                                "announcement")
# The registrant id of an organiser's previews and test copies: no registrant, so never
# counted in the series' mail figures (its ledger item still keeps it from going out twice).
ORGANISER_COPY = "organiser-copy"


@dataclass(frozen=True, slots=True)
class EmailJob:
    kind: EmailKind
    series_id: str
    series_revision: int
    registrant_id: str
    recipient: Registrant
    session_ids: tuple[str, ...]  # what the email is about
    key: str  # the delivery ledger key: the same email always has the same key
    also: tuple[str, ...] = ()  # the recipient's other sessions, mentioned in passing
    extra: dict[str, str] = field(default_factory=dict)  # e.g. a changed session's old times

    def to_json(self) -> str:
        return json.dumps({
            "v": 1, "kind": self.kind, "series": self.series_id, "rev": self.series_revision,
            "rid": self.registrant_id, "sessions": list(self.session_ids), "key": self.key,
            "also": list(self.also), "extra": self.extra,
            "to": {"email": self.recipient.email, "name": self.recipient.full_name,
                   "tz": self.recipient.time_zone, "join": self.recipient.join_url}
            | ({"lang": self.recipient.language} if self.recipient.language else {}),
        }, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> EmailJob:
        """Parse a queue message; a malformed one raises PayloadError (and ends in the DLQ)."""
        try:
            doc: dict[str, Any] = json.loads(text)
            to = doc["to"]
            kind = doc["kind"]
            if kind not in KINDS:
                raise ValueError(kind)
            return cls(kind=kind, series_id=str(doc["series"]), series_revision=int(doc["rev"]),
                       registrant_id=str(doc["rid"]),
                       recipient=Registrant(email=str(to["email"]), full_name=str(to["name"]),
                                            time_zone=str(to["tz"]), join_url=to.get("join"),
                                            language=str(to.get("lang", ""))),
                       session_ids=tuple(str(s) for s in doc["sessions"]), key=str(doc["key"]),
                       also=tuple(str(s) for s in doc.get("also", ())),
                       extra={str(k): str(v) for k, v in doc.get("extra", {}).items()})
        except (ValueError, KeyError, TypeError) as error:
            raise PayloadError(f"malformed email job: {type(error).__name__}") from None


def delivery_key(kind: EmailKind, series_id: str, registrant_id: str, *scope: object) -> str:
    """Deterministic key of one email: kind, series, what it is about, and to whom."""
    about = hashlib.sha256("\n".join(str(s) for s in scope).encode()).hexdigest()[:16]
    return f"{kind}#{series_id}#{about}#{registrant_id}"
