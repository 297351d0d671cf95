"""Eventbrite ``order.placed`` webhooks carry only an ``api_url``: the order is fetched from
Eventbrite's API host (and nowhere else) with the organiser's OAuth token. Eventbrite does not
sign webhooks, so the URL carries ``?token=<secret>`` as Jotform's does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..errors import PayloadError
from ..registration import RegistrationEvent
from ..series import Series
from .answers import iso_unix, mapped_event
from .base import Delivery, DirectAnswer, FetchFirst
from .hmac_body import json_object
from .static_token import verify_token

API_HOST = "www.eventbriteapi.com"


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
        return FetchFirst(url, API_HOST)

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
                            dict(order), series,
                            fixed_sessions=None if target == "*" else (str(target),),
                            defaults={"email": "email",
                                      "full_name": ["first_name", "last_name"]})
