"""What goes on the send queue: one email to one person, with a deterministic key.

A job carries everything the sender needs to write the email: the person, the sessions, and
its kind's typed payload (core/kinds/); what is about delivery, not content (the moment after
which it is no use, how often it was put back), are fields of the job. Just before sending,
the sender reads only whether it is still wanted (core/send_check.py), in one request; the
series is read once per container and revision.

On the queue a job is JSON, ``"v": 3``. Versions 2 (the same fields) and 1 (a string map,
``extra``) are still read, as a queue may hold them while a new version is deployed; such a job
was queued when the ledger kept its emails elsewhere, so it is marked ``legacy_ledger`` (and
keeps the mark when put back on the queue) for the sender to look there too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .errors import PayloadError
from .kinds import REGISTRY, Payload
from .registration import Registrant

EmailKind = Literal["confirmation", "reminder", "update", "cancellation", "announcement",
                    "waitlisted", "pending", "declined", "certificate"]
KINDS: tuple[EmailKind, ...] = ("confirmation", "reminder", "update", "cancellation",
                                "announcement", "waitlisted", "pending", "declined",
                                "certificate")
VERSION = 3
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
    payload: Payload | None = None  # the kind's own; None: the kind's default
    not_after: datetime | None = None  # no use after this (e.g. a reminder after the start)
    deferrals: int = 0  # times the sender put it back on the queue for later
    legacy_ledger: bool = False  # queued before the ledger moved (version 1 or 2)

    def __post_init__(self) -> None:
        kind = REGISTRY.get(self.kind)
        if kind is None:
            raise ValueError(f"no kind of email {self.kind!r}")
        if self.payload is None:
            object.__setattr__(self, "payload", kind.payload())
        elif not isinstance(self.payload, kind.payload):
            raise ValueError(f"a {self.kind} job given a {type(self.payload).__name__}")

    def to_json(self) -> str:
        payload = self.payload.to_doc() if self.payload is not None else {}
        return json.dumps({
            "v": VERSION, "kind": self.kind, "series": self.series_id,
            "rev": self.series_revision, "rid": self.registrant_id,
            "sessions": list(self.session_ids), "key": self.key, "also": list(self.also),
            "to": {"email": self.recipient.email, "name": self.recipient.full_name,
                   "tz": self.recipient.time_zone, "join": self.recipient.join_url}
            | ({"lang": self.recipient.language} if self.recipient.language else {}),
        } | ({"payload": payload} if payload else {})
          | ({"not_after": self.not_after.isoformat()} if self.not_after else {})
          | ({"deferrals": self.deferrals} if self.deferrals else {})
          | ({"legacy_ledger": True} if self.legacy_ledger else {}),
            separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> EmailJob:
        """Parse a queue message (version 3, or 2 or 1 from before an update); a malformed one
        raises PayloadError (and ends in the DLQ)."""
        try:
            doc: dict[str, Any] = json.loads(text)
            to = doc["to"]
            kind = REGISTRY.get(doc["kind"])
            if kind is None:
                raise ValueError("kind")
            version = doc.get("v")
            legacy = version != VERSION or doc.get("legacy_ledger") is True
            if version in (2, VERSION):
                payload, not_after, deferrals = (
                    kind.payload.from_doc(doc.get("payload", {})), doc.get("not_after"),
                    doc.get("deferrals", 0))
            elif version == 1:
                extra = _strings(doc.get("extra", {}))
                payload, not_after, deferrals = (kind.payload.from_v1(extra),
                                                 extra.get("not_after"),
                                                 int(extra.get("deferrals", "0")))
            else:
                raise ValueError("version")
            if not isinstance(deferrals, int) or isinstance(deferrals, bool) or deferrals < 0:
                raise ValueError("deferrals")
            if delivery_owner(str(doc["key"])) != (str(doc["series"]), str(doc["rid"])):
                raise ValueError("key")  # the ledger keeps the email under its owner
            return cls(kind=kind.name, series_id=str(doc["series"]),
                       series_revision=int(doc["rev"]), registrant_id=str(doc["rid"]),
                       recipient=Registrant(email=str(to["email"]), full_name=str(to["name"]),
                                            time_zone=str(to["tz"]), join_url=to.get("join"),
                                            language=str(to.get("lang", ""))),
                       session_ids=tuple(str(s) for s in doc["sessions"]), key=str(doc["key"]),
                       also=tuple(str(s) for s in doc.get("also", ())), payload=payload,
                       not_after=_instant(not_after), deferrals=deferrals,
                       legacy_ledger=legacy)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise PayloadError(f"malformed email job: {type(error).__name__}") from None


def _strings(extra: object) -> Mapping[str, str]:
    if not isinstance(extra, dict):
        raise TypeError("extra")
    return {str(k): str(v) for k, v in extra.items()}


def _instant(value: object) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("not_after")
    return moment


def delivery_key(kind: EmailKind, series_id: str, registrant_id: str, *scope: object) -> str:
    """Deterministic key of one email: kind, series, what it is about, and to whom."""
    about = hashlib.sha256("\n".join(str(s) for s in scope).encode()).hexdigest()[:16]
    return f"{kind}#{series_id}#{about}#{registrant_id}"


def delivery_owner(key: str) -> tuple[str, str]:
    """The series and registrant a delivery key names (ValueError for a key not made by
    ``delivery_key``): the ledger keeps each email under them."""
    kind, _, rest = key.partition("#")
    series_id, about, registrant_id = [*rest.rsplit("#", 2), "", ""][:3]
    if kind not in KINDS or not series_id or len(about) != 16 or not registrant_id:
        raise ValueError("not a delivery key")
    return series_id, registrant_id
