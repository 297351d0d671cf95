"""Reading a provider's API (Eventbrite's orders), only from the host the provider allows:
no redirects (they would carry the organiser's token elsewhere), a bounded read, and only
the kinds of path the provider's webhooks point at."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..core.errors import PayloadError, RetryableError

MAX_BYTES = 512 * 1024
ALLOWED_PATHS = re.compile(r"/v3/orders/\d+/?")


class Fetcher(Protocol):
    def get_json(self, url: str, token: str, allowed_host: str) -> dict[str, Any]: ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is answered as an error, never followed


class HttpsFetcher:
    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(_NoRedirects())

    def get_json(self, url: str, token: str, allowed_host: str) -> dict[str, Any]:
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.hostname != allowed_host \
                or not ALLOWED_PATHS.fullmatch(parts.path) or parts.query:
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
