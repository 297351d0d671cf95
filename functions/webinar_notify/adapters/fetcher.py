"""Reading a provider's API (Eventbrite's orders), only from the host the provider allows."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..core.errors import RetryableError


class Fetcher(Protocol):
    def get_json(self, url: str, token: str, allowed_host: str) -> dict[str, Any]: ...


class HttpsFetcher:
    def get_json(self, url: str, token: str, allowed_host: str) -> dict[str, Any]:
        if urlsplit(url).hostname != allowed_host or not url.startswith("https://"):
            raise ValueError("refusing to fetch from another host")
        request = urllib.request.Request(url, headers={  # noqa: S310 (https, allowed host)
            "Authorization": f"Bearer {token}", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
                value = json.loads(answer.read())
        except (urllib.error.URLError, TimeoutError, ValueError) as error:
            raise RetryableError(f"could not read the order ({type(error).__name__})") from None
        return value if isinstance(value, dict) else {}
