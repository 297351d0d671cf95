"""The Eventbrite fetcher refuses anything but an order on the allowed host, before any
request is made."""

from __future__ import annotations

import pytest

from webinar_notify.adapters.fetcher import HttpsFetcher
from webinar_notify.core.errors import PayloadError


@pytest.mark.parametrize("url", [
    "http://www.eventbriteapi.com/v3/orders/1/",
    "https://www.eventbriteapi.com.attacker.example/v3/orders/1/",
    "https://www.eventbriteapi.com/v3/users/me/",
    "https://www.eventbriteapi.com/v3/orders/1/?expand=attendees",
    "https://169.254.169.254/latest/meta-data/",
])
def test_only_orders_on_the_allowed_host_are_fetched(url: str) -> None:
    with pytest.raises(PayloadError, match="refusing"):
        HttpsFetcher().get_json(url, "token", "www.eventbriteapi.com")
