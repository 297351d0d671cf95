"""From a form's answers to our registrant, through the series file's mapping for that form.

    forms:
      typeform:
        email: email                 # the question's ref (Typeform), key or label (Tally)
        full_name: [first_name, last_name]
        time_zone: tz                # the answer itself is an IANA zone (a hidden field)
        sessions: which_sessions     # choice labels, mapped to session ids by `choices`
        choices: {"26 Oct — Challenges & Opportunities": s1}
        language: {question: lang, values: {Français: fr, English: en}}
        consent: reminders_ok
        interests: {glasgow_course: estro24-pre-meeting}   # a yes/no or checkbox answer

Each of time_zone, sessions, language and consent is an answer key (the answer itself is the
value) or ``{question: <key>, values: {<option label or id>: <our value>}}``; interests also
take that form, for one multiple-choice question whose options are coming items. An option is
found by its id, then its label, then its label compared loosely (choices.lookup); an option
``values`` does not list may still be the value itself (an IANA zone, a session id, a tag).

A missing email, or an answer that maps to nothing we know (a zone, a session, a language, a
consent option) is a PayloadError naming the question (a 400, nothing stored); an unmapped or
unanswered question is ignored (no time zone: the series' zone). Interests are extras a person
opts into: an option there that is no coming item (an "other" typed in) is passed over, never
a reason to refuse the registration.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import PayloadError
from ..registration import Registrant, RegistrationAction, RegistrationEvent
from ..series import Series
from ..text import clean_name, folded, is_time_zone, language_tag, normalise_email
from .choices import Choice, Question, lookup, normalised, picked

YES = frozenset({"true", "yes", "1", "on", "y"})
NO = frozenset({"false", "no", "0", "off", "n"})


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
    answers = {str(key): normalised(value) for key, value in answers.items()}
    mapping = {**(defaults or {}), **series.forms[provider]}
    email_key = str(mapping.get("email", "email"))
    registrant = Registrant(
        email=normalise_email(_text(answers.get(email_key)), field=f"answer {email_key!r}"),
        full_name=clean_name(" ".join(_text(answers.get(k)) for k in _keys(
            mapping.get("full_name", "full_name"))).strip()),
        time_zone=_zone(Question.of(mapping.get("time_zone")), answers),
        join_url=join_url,
        language=_language(Question.of(mapping.get("language")), answers))
    sessions = fixed_sessions if fixed_sessions is not None else _sessions(
        Question.of(mapping.get("sessions")), mapping.get("choices") or {}, answers, series)
    consent = Question.of(mapping.get("consent"))
    return RegistrationEvent(
        provider=provider, event_id=event_id, action=action, created=created,
        registrant=registrant, session_ids=sessions,
        consent={"answer": _consent(consent, answers)} if consent else {},
        interests=_interests(mapping.get("interests"), answers, series))


def iso_unix(value: object, field: str) -> int:
    """Unix seconds of a provider's ISO timestamp, or a PayloadError naming the field."""
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())
    except (ValueError, OverflowError):
        raise PayloadError(f"{field} is not a time") from None


def _one(question: Question, answers: Mapping[str, Any], what: str) -> Choice | None:
    """The one option picked for a single-answer question (None: not answered)."""
    options = list(dict.fromkeys(picked(answers.get(question.key))))
    if len(options) > 1:
        raise PayloadError(f"answer {question.key!r}: expected one {what}, got {len(options)}")
    return options[0] if options else None


def _listed(question: Question, choice: Choice) -> tuple[bool, Any]:
    return lookup(question.values, choice) if question.values else (False, None)


def _zone(question: Question | None, answers: Mapping[str, Any]) -> str:
    """An answered zone must be one we know (a 400 otherwise); no answer: the series' zone."""
    choice = _one(question, answers, "time zone") if question else None
    if question is None or choice is None:
        return ""
    found, zone = _listed(question, choice)
    if found:
        return str(zone or "")  # an option mapped to null: the series' zone
    if is_time_zone(choice.label):
        return choice.label
    raise PayloadError(f"answer {question.key!r}: {choice.label[:40]!r} is not a time zone "
                       "such as Europe/Brussels (or map it in `values`)")


def _language(question: Question | None, answers: Mapping[str, Any]) -> str:
    """A BCP 47 tag, normalised (``fr-be`` → ``fr-BE``); "" when not asked or not answered."""
    choice = _one(question, answers, "language") if question else None
    if question is None or choice is None:
        return ""
    found, tag = _listed(question, choice)
    if found:
        return language_tag(tag, field=f"answer {question.key!r}") if tag else ""
    try:
        return language_tag(choice.label)
    except PayloadError:
        raise PayloadError(f"answer {question.key!r}: {choice.label[:40]!r} is not a language "
                           "tag such as fr or pt-BR (or map it in `values`)") from None


def _sessions(question: Question | None, choices: Mapping[str, Any],
              answers: Mapping[str, Any], series: Series) -> tuple[str, ...] | None:
    """The sessions picked; None (the whole series) when not asked, not answered, or an
    option mapped to ``"*"`` was picked."""
    options = picked(answers.get(question.key)) if question else []
    if question is None or not options:
        return None
    table = {**{str(k): v for k, v in choices.items()}, **(question.values or {})}
    chosen: list[str] = []
    for choice in options:
        found, target = lookup(table, choice) if table else (False, None)
        if found and target == "*":
            return None
        session = series.session(str(target) if found else choice.label)
        if session is None or session.cancelled:
            raise PayloadError(f"answer {question.key!r}: {choice.label[:60]!r} is not a session "
                               "of this series (add it to `values` or `choices` in the series "
                               "file)")
        chosen.append(session.id)
    return tuple(dict.fromkeys(chosen))


def _consent(question: Question, answers: Mapping[str, Any]) -> bool:
    value = answers.get(question.key)
    if not question.values:
        return _agrees(value)
    agreed = False
    for choice in picked(value):
        found, meaning = _listed(question, choice)
        if not found and folded(choice.label) not in YES | NO:
            raise PayloadError(f"answer {question.key!r}: {choice.label[:60]!r} is not an "
                               "option of `values` for consent")
        agreed |= _agrees(meaning if found else choice.label)
    return agreed


def _interests(spec: object, answers: Mapping[str, Any], series: Series) -> tuple[str, ...]:
    """Coming items to hear about: ``{answer: item}`` (a yes/no or checkbox answer per item),
    or ``{question: <key>, values: {<option>: <item>}}`` (one multiple-choice question)."""
    if not isinstance(spec, Mapping):
        return ()
    known = {c.id for c in series.coming}
    question = Question.of(spec) if "question" in spec else None
    if question is None:
        items = [str(item) for key, item in spec.items() if _agrees(answers.get(str(key)))]
        return tuple(i for i in dict.fromkeys(items) if i in known)
    wanted: list[str] = []
    for choice in picked(answers.get(question.key)):
        found, item = _listed(question, choice)
        if found and item is not None:
            wanted.append(str(item))
        elif not found:
            wanted.append(choice.label)  # a coming item's id, or an option that is none
    return tuple(i for i in dict.fromkeys(wanted) if i in known)


def _keys(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _text(value: object) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _agrees(value: object) -> bool:
    """A yes/no answer: a word such as yes or true, or options ticked (none of them "no")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return folded(value) in YES
    options = picked(value)
    return bool(options) and all(folded(c.label) not in NO for c in options)
