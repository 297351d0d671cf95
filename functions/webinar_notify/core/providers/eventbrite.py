"""Eventbrite ``order.placed`` webhooks carry only an ``api_url``: the order is fetched from
Eventbrite's API host (and nowhere else) with the organiser's OAuth token. Eventbrite does not
sign webhooks, so the URL carries ``?token=<secret>`` as Jotform's does.

An order as Eventbrite returns it by default holds only the buyer and the money: the answers
to the organiser's own questions come only when asked for, so the order is read with
``ORDER_EXPANSION``: the buyer's answers (``answers``) and each ticket's (``attendees[].answers``),
each ``{question_id, question, type, answer}``. They are mapped by question text or id like
any form's; a checkbox answer holds the ticked options joined by ``" | "``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import PayloadError
from ..registration import RegistrationEvent
from ..series import Series
from .answers import iso_unix, mapped_event
from .base import Delivery, DirectAnswer, FetchFirst
from .hmac_body import json_object
from .static_token import verify_token

API_HOST = "www.eventbriteapi.com"
ORDER_EXPANSION = "expand=attendees,answers"  # the one query the fetcher lets through
CHECKBOX_SEPARATOR = " | "


class EventbriteProvider:
    name = "eventbrite"

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str],
               now: int) -> None:
        verify_token(headers.get("?token"), secrets, "token in the webhook URL")

    def parse(self, body: bytes, series: Series, secrets: Sequence[str] = ()) -> Delivery:
        doc = json_object(body)
        action = (doc.get("config") or {}).get("action")
        if action != "order.placed":
            return DirectAnswer(200, {"status": "ignored", "event": str(action)[:40]})
        url = str(doc.get("api_url", ""))
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.hostname != API_HOST or parts.port not in (None, 443):
            raise PayloadError(f"api_url must be an https URL on {API_HOST}")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise PayloadError("api_url must name an order, with no query of its own")
        return FetchFirst(urlunsplit(("https", API_HOST, parts.path, ORDER_EXPANSION, "")),
                          API_HOST)

    def parse_fetched(self, order: Mapping[str, Any], series: Series) -> RegistrationEvent:
        """An order as Eventbrite's API returns it (the buyer's name and address)."""
        events = (series.forms.get("eventbrite") or {}).get("webinars") or {}
        target = events.get(str(order.get("event_id")))
        if target is None:
            raise PayloadError(f"Eventbrite event {str(order.get('event_id'))[:20]} is not "
                               "mapped to a session (forms: eventbrite: webinars:)")
        try:
            created = iso_unix(order.get("created"), "created")
        except PayloadError:
            created = 0  # the intake then uses the time it received the delivery
        order_id = order.get("id")
        return mapped_event(self.name, f"order-{order_id}" if order_id else None, created,
                            order_answers(order), series,
                            fixed_sessions=None if target == "*" else (str(target),),
                            defaults={"email": "email",
                                      "full_name": ["first_name", "last_name"]})


def order_answers(order: Mapping[str, Any]) -> dict[str, Any]:
    """The order's own fields (email, first_name, last_name...), and the answers to the
    organiser's questions: the buyer's (the order's ``answers``), then those of the buyer's
    ticket (the attendee with the buyer's address, else the first), each by its question
    text and by its ``question_id``."""
    answers: dict[str, Any] = {}
    for source in (order.get("answers"), _buyers_ticket(order).get("answers")):
        for answer in source if isinstance(source, list) else []:
            if isinstance(answer, dict) and "answer" in answer:
                value = _value(answer)
                for name in (answer.get("question"), answer.get("question_id")):
                    if isinstance(name, str | int) and str(name).strip():
                        answers.setdefault(str(name).strip(), value)
    answers.update({str(k): v for k, v in order.items() if isinstance(v, str | int | float)})
    return answers


def _buyers_ticket(order: Mapping[str, Any]) -> Mapping[str, Any]:
    attendees = order.get("attendees")
    tickets = [a for a in attendees if isinstance(a, dict)] if isinstance(attendees, list) else []
    email = str(order.get("email") or "").strip().lower()
    for ticket in tickets:
        profile = ticket.get("profile")
        if isinstance(profile, dict) and email \
                and str(profile.get("email") or "").strip().lower() == email:
            return ticket
    return tickets[0] if tickets else {}


def _value(answer: Mapping[str, Any]) -> Any:
    """A checkbox answer is one text of the ticked options joined by " | "; every other
    choice (dropdown, radio) is the option's text, as shown."""
    value = answer["answer"]
    if answer.get("type") == "checkbox" and isinstance(value, str):
        return [part.strip() for part in value.split(CHECKBOX_SEPARATOR) if part.strip()]
    return value
