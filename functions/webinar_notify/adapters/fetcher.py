"""Reading a provider's API (Eventbrite's orders), only from the host the provider allows:
no redirects (they would carry the organiser's token elsewhere), a bounded read, and only
the kinds of URL the provider's webhooks point at: an order, read as it is or with the one
expansion that returns the answers to the organiser's questions."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..core.errors import PayloadError, RetryableError
from ..core.providers.eventbrite import ORDER_EXPANSION

MAX_BYTES = 512 * 1024
ALLOWED_PATHS = re.compile(r"/v3/orders/\d+/?")
ALLOWED_QUERIES = frozenset({"", ORDER_EXPANSION})


class Fetcher(Protocol):
    def get_json(self, url: str, token: str, allowed_host: str) -> dict[str, Any]: ...


def allowed_url(url: str, allowed_host: str) -> bool:
    """An order on the provider's own API host, over https, with no query but the one
    expansion (exactly), no credentials, port or fragment of its own."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return False
    return (parts.scheme == "https" and parts.hostname == allowed_host and port is None
            and not parts.username and not parts.password and not parts.fragment
            and ALLOWED_PATHS.fullmatch(parts.path) is not None
            and parts.query in ALLOWED_QUERIES)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is answered as an error, never followed


class HttpsFetcher:
    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(_NoRedirects())

    def get_json(self, url: str, token: str, allowed_host: str) -> dict[str, Any]:
        if not allowed_url(url, allowed_host):
            raise PayloadError("refusing to fetch that URL")
        request = urllib.request.Request(url, headers={  # noqa: S310 (https, allowed host)
            "Authorization": f"Bearer {token}", "Accept": "application/json"})
        try:
            with self.opener.open(request, timeout=5) as answer:
                value = json.loads(answer.read(MAX_BYTES + 1)[:MAX_BYTES])
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500:  # not ours to read: a bad delivery, not a retry
                raise PayloadError(f"the provider's API answered {error.code}") from None
            raise RetryableError(f"the provider's API answered {error.code}") from None
        except (urllib.error.URLError, TimeoutError, ValueError) as error:
            raise RetryableError(f"could not read the order ({type(error).__name__})") from None
        return value if isinstance(value, dict) else {}
