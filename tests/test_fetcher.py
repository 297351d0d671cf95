"""The Eventbrite fetcher refuses anything but an order on the allowed host (read as it is,
or with the one expansion that returns its answers), before any request is made."""

from __future__ import annotations

import pytest

from webinar_notify.adapters.fetcher import HttpsFetcher, allowed_url
from webinar_notify.core.errors import PayloadError
from webinar_notify.core.providers.eventbrite import ORDER_EXPANSION

HOST = "www.eventbriteapi.com"
REFUSED = [
    "http://www.eventbriteapi.com/v3/orders/1/",
    "https://www.eventbriteapi.com.attacker.example/v3/orders/1/",
    "https://www.eventbriteapi.com/v3/users/me/",
    "https://www.eventbriteapi.com/v3/orders/1/?expand=attendees",
    "https://www.eventbriteapi.com/v3/orders/1/?expand=answers,attendees",
    "https://www.eventbriteapi.com/v3/orders/1/?expand=attendees,answers&token=x",
    "https://www.eventbriteapi.com/v3/orders/1/?expand=attendees,answers,event",
    "https://www.eventbriteapi.com/v3/orders/1/?expand=attendees%2Canswers",
    "https://www.eventbriteapi.com/v3/orders/1/#expand=attendees,answers",
    "https://user@www.eventbriteapi.com/v3/orders/1/?expand=attendees,answers",
    "https://www.eventbriteapi.com:8443/v3/orders/1/?expand=attendees,answers",
    "https://www.eventbriteapi.com:x/v3/orders/1/",
    "https://www.eventbriteapi.com/v3/orders/1/../../users/me/",
    "https://169.254.169.254/latest/meta-data/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_only_orders_on_the_allowed_host_are_fetched(url: str) -> None:
    assert not allowed_url(url, HOST)
    with pytest.raises(PayloadError, match="refusing"):
        HttpsFetcher().get_json(url, "token", HOST)


@pytest.mark.parametrize("url", [
    f"https://{HOST}/v3/orders/5126713099/?{ORDER_EXPANSION}",
    f"https://{HOST}/v3/orders/5126713099?{ORDER_EXPANSION}",
    f"https://{HOST}/v3/orders/5126713099/",
])
def test_an_order_and_its_answers_expansion_are_allowed(url: str) -> None:
    assert ORDER_EXPANSION == "expand=attendees,answers"
    assert allowed_url(url, HOST)
