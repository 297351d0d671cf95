"""Our own signed JSON: the format any sender can produce (see docs/webhooks.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from .. import edge
from ..errors import PayloadError
from ..registration import Registrant, RegistrationAction, RegistrationEvent
from ..series import Series
from ..signatures import verify
from ..text import clean_name, is_time_zone, language_tag, nfc, normalise_email

_ACTIONS: dict[str, RegistrationAction] = {
    "registration.created": "created",
    "registration.cancelled": "cancelled",
}
MAX_EVENT_ID_LENGTH = 200


class GenericProvider:
    name = "generic"

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str],
               now: int) -> None:
        verify(headers.get("webinar-signature"), body, secrets, now)

    def parse(self, body: bytes, series: Series,
              secrets: Sequence[str] = ()) -> RegistrationEvent:
        doc = _object(_json(body), "body")
        event_id = doc.get("id")
        if not isinstance(event_id, str) or not event_id.strip() \
                or len(event_id) > MAX_EVENT_ID_LENGTH or not event_id.isprintable():
            raise PayloadError("id must be a non-empty printable string of at most 200 characters")
        event_type = doc.get("type")
        if event_type not in _ACTIONS:
            raise PayloadError(f"type must be one of {', '.join(_ACTIONS)}")
        created = doc.get("created")
        if isinstance(created, bool) or not isinstance(created, int) or created <= 0:
            raise PayloadError("created must be a unix timestamp in seconds")
        data = _object(doc.get("data"), "data")
        person = _object(data.get("registrant"), "data.registrant")
        registrant = Registrant(
            email=normalise_email(_nfc(person.get("email")), field="data.registrant.email"),
            full_name=clean_name(person.get("full_name"), field="data.registrant.full_name"),
            time_zone=_zone_or_blank(person.get("time_zone")),
            language=_language(person.get("language")),
        )
        consent = data.get("consent", {})
        if not isinstance(consent, dict):
            raise PayloadError("data.consent must be an object")
        return RegistrationEvent(
            provider=self.name,
            event_id=event_id.strip(),
            action=_ACTIONS[event_type],
            created=created,
            registrant=registrant,
            session_ids=_sessions(data.get("sessions"), series,
                                  interest_only_allowed=bool(data.get("interests"))),
            consent=consent,
            interests=_interests(data.get("interests"), series),
        )


def _json(body: bytes) -> Any:
    return edge.json_value(body)


def _object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{path} must be a JSON object")
    return cast(dict[str, Any], value)


def _nfc(value: object) -> object:
    return nfc(value) if isinstance(value, str) else value


def _zone_or_blank(value: object) -> str:
    """The registrant's IANA zone when it is one we know; "" (the series' zone) otherwise."""
    return value if isinstance(value, str) and is_time_zone(value) else ""


def _language(value: object) -> str:
    """An optional BCP 47 tag (``fr-BE``); a malformed one is a 400, none is ""."""
    if value is None or value == "":
        return ""
    return language_tag(value, field="data.registrant.language")


def _interests(value: object, series: Series) -> tuple[str, ...]:
    """Coming items (e.g. the pre-meeting course) the person wants to hear about."""
    if value is None:
        return ()
    known = {item.id for item in series.coming}
    if not isinstance(value, list) or not all(isinstance(v, str) and v in known for v in value):
        raise PayloadError("data.interests must be a list of coming-item ids of this series: "
                           + (", ".join(sorted(known)) or "it has none"))
    return tuple(dict.fromkeys(value))


def _sessions(value: object, series: Series,
              interest_only_allowed: bool = False) -> tuple[str, ...] | None:
    if value is None:
        return None
    if value == [] and interest_only_allowed:
        return ()  # only to hear about a coming item, no session
    if not isinstance(value, list) or not value:
        raise PayloadError("data.sessions must be a non-empty list of session ids; omit it to "
                           "register for the whole series (it may be empty only together "
                           "with data.interests)")
    chosen: list[str] = []
    for item in value:
        session = series.session(item) if isinstance(item, str) else None
        if session is None:
            raise PayloadError(f"data.sessions: unknown session {str(item)[:40]!r}")
        if session.cancelled:
            raise PayloadError(f"data.sessions: session {session.id!r} is cancelled")
        if session.id not in chosen:
            chosen.append(session.id)
    return tuple(chosen)
