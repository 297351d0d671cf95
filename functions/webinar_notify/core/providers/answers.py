"""From a form's answers to our registrant, through the series file's mapping for that form.

    forms:
      typeform:
        email: email                 # the question's ref (Typeform), key or label (Tally)
        full_name: [first_name, last_name]
        time_zone: tz                # usually a hidden field filled by the page
        sessions: which_sessions     # choice labels, mapped to session ids by `choices`
        choices: {"26 Oct — Challenges & Opportunities": s1}
        consent: reminders_ok
        interests: {glasgow_course: estro24-pre-meeting}   # a yes/no or checkbox answer

A missing email, an answered time zone we do not know, or an unknown session choice is a
PayloadError (a 400, nothing stored); an unmapped or unanswered question is ignored (no time
zone: the series' zone).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import PayloadError
from ..registration import Registrant, RegistrationAction, RegistrationEvent
from ..series import Series
from ..text import clean_name, is_time_zone, normalise_email


def mapped_event(provider: str, event_id: object, created: int, answers: Mapping[str, Any],
                 series: Series, *, action: RegistrationAction = "created",
                 join_url: str | None = None,
                 fixed_sessions: tuple[str, ...] | None = None,
                 defaults: Mapping[str, Any] | None = None) -> RegistrationEvent:
    if provider not in series.forms:
        raise PayloadError(f"the series file has no `forms: {provider}:` mapping")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 200:
        raise PayloadError("the delivery has no event or response id")
    for session_id in fixed_sessions or ():
        session = series.session(session_id)
        if session is None or session.cancelled:
            raise PayloadError(f"the mapping points at {session_id!r}, which is not a session "
                               "open for registration")
    mapping = {**(defaults or {}), **series.forms[provider]}
    email_key = str(mapping.get("email", "email"))
    registrant = Registrant(
        email=normalise_email(_text(answers.get(email_key)), field=f"answer {email_key!r}"),
        full_name=clean_name(" ".join(_text(answers.get(k)) for k in _keys(
            mapping.get("full_name", "full_name"))).strip()),
        time_zone=_zone(answers.get(str(mapping.get("time_zone", ""))),
                        str(mapping.get("time_zone", ""))),
        join_url=join_url)
    sessions = fixed_sessions if fixed_sessions is not None else _sessions(mapping, answers,
                                                                           series)
    consent_key = mapping.get("consent")
    interests = tuple(item for key, item in (mapping.get("interests") or {}).items()
                      if _truthy(answers.get(key)))
    return RegistrationEvent(
        provider=provider, event_id=event_id, action=action, created=created,
        registrant=registrant, session_ids=sessions,
        consent={"answer": _truthy(answers.get(consent_key))} if consent_key else {},
        interests=tuple(i for i in interests if any(c.id == i for c in series.coming)))


def iso_unix(value: object, field: str) -> int:
    """Unix seconds of a provider's ISO timestamp, or a PayloadError naming the field."""
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())
    except (ValueError, OverflowError):
        raise PayloadError(f"{field} is not a time") from None


def _sessions(mapping: Mapping[str, Any], answers: Mapping[str, Any],
              series: Series) -> tuple[str, ...] | None:
    key = mapping.get("sessions")
    if not key or answers.get(key) in (None, "", []):
        return None  # no sessions question, or not answered: the whole series
    picked = answers[key] if isinstance(answers[key], list) else [answers[key]]
    choices = mapping.get("choices") or {}
    chosen: list[str] = []
    for label in picked:
        session_id = choices.get(str(label), str(label))
        session = series.session(session_id)
        if session is None or session.cancelled:
            raise PayloadError(f"answer {key!r}: {str(label)[:60]!r} is not a session of "
                               "this series (add it to `choices` in the series file)")
        chosen.append(session.id)
    return tuple(dict.fromkeys(chosen))


def _keys(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _text(value: object) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _zone(value: object, key: str) -> str:
    """An answered zone must be one we know (a 400 otherwise); no answer: the series' zone."""
    if value in (None, ""):
        return ""
    if isinstance(value, str) and is_time_zone(value.strip()):
        return value.strip()
    raise PayloadError(f"answer {key!r}: {str(value)[:40]!r} is not a time zone such as "
                       "Europe/Brussels")


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on", "y")
    return bool(value)
