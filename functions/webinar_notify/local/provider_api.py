"""A stand-in for a provider's API (Eventbrite's orders) behind the same ``Fetcher`` port that
production uses, so an Eventbrite delivery can be rehearsed end to end without the network.

It answers only what it was given, and only where the real fetcher would ask: the same
checks of scheme, host and path come first, a URL it was not given answers 404 as the API
would (the delivery then gets a 400), and a status it was given is answered as such (a 4xx
refuses the delivery, a 5xx asks the provider to retry). An order is listed by its URL as the
webhook's ``api_url`` gives it, and answered whatever expansion the intake asks with (so write
it as the expanded order reads). Each answers map, one URL each:

    "https://www.eventbriteapi.com/v3/orders/5126713099/": {file: orders/5126713099.json}
    "https://www.eventbriteapi.com/v3/orders/42/": {json: {id: "42", ...}}
    "https://www.eventbriteapi.com/v3/orders/43/": {status: 503}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..adapters.fetcher import allowed_url
from ..core.errors import InvalidInputError, PayloadError, RetryableError
from ..series_files import read_yaml

ANSWER_FIELDS = {"file", "json", "status"}


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    status: int
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Fetched:
    """One read of the stand-in, for the rehearsal's timeline (never the token)."""

    url: str
    status: int


@dataclass
class LocalFetcher:
    answers: Mapping[str, ProviderAnswer]
    fetched: list[Fetched] = field(default_factory=list)

    def get_json(self, url: str, token: str, allowed_host: str) -> dict[str, Any]:
        if not allowed_url(url, allowed_host):
            raise PayloadError("refusing to fetch that URL")
        answer = self.answers.get(_key(url)) if token else ProviderAnswer(401, {})
        status = answer.status if answer is not None else 404
        self.fetched.append(Fetched(url, status))
        if answer is None or 400 <= status < 500:  # not ours to read: a bad delivery
            raise PayloadError(f"the provider's API answered {status}")
        if status >= 500:
            raise RetryableError(f"the provider's API answered {status}")
        return dict(answer.body)


def read_answers(data: Any, base: Path, field_name: str) -> dict[str, ProviderAnswer]:
    """The answers of a scenario's ``provider_api`` (or a ``serve`` answers file), checked:
    every error names the field."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInputError(f"{field_name}: expected a mapping of API URL to its answer")
    answers = {}
    for url, spec in data.items():
        where = f"{field_name}[{url!r}]"
        if not isinstance(url, str) or not url.startswith("https://"):
            raise InvalidInputError(f"{where}: expected an https URL as the key")
        answers[_key(url)] = _answer(spec, base, where)
    return answers


def load_answers(path: Path) -> dict[str, ProviderAnswer]:
    """A file of answers (YAML or JSON) as ``serve --provider-answers FILE`` reads it; files it
    names are relative to it."""
    return read_answers(read_yaml(path, InvalidInputError), path.parent, str(path))


def _answer(spec: Any, base: Path, where: str) -> ProviderAnswer:
    if not isinstance(spec, dict) or not spec:
        raise InvalidInputError(f"{where}: expected file:, json: or status:")
    unknown = sorted(set(spec) - ANSWER_FIELDS)
    if unknown:
        raise InvalidInputError(f"{where}.{unknown[0]}: unknown field")
    status = spec.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise InvalidInputError(f"{where}.status: expected an HTTP status, 200 to 599")
    if "file" in spec and "json" in spec:
        raise InvalidInputError(f"{where}: give file: or json:, not both")
    body: Any = {}
    if "file" in spec:
        try:
            body = json.loads((base / str(spec["file"])).read_text(encoding="utf-8"))
        except OSError as error:
            raise InvalidInputError(f"{where}.file: {error.strerror}") from None
        except ValueError:
            raise InvalidInputError(f"{where}.file: not a JSON document") from None
    elif "json" in spec:
        body = spec["json"]
    elif status < 300:
        raise InvalidInputError(f"{where}: a 2xx answer needs file: or json:")
    if not isinstance(body, dict):
        raise InvalidInputError(f"{where}: the answer must be a JSON object")
    return ProviderAnswer(status, json.loads(json.dumps(body, default=str)))


def _key(url: str) -> str:
    """One key for ``.../orders/1`` and ``.../orders/1/``, with or without the expansion the
    real fetcher asks for: the API answers all of them with the same order."""
    return urlsplit(url)._replace(query="").geturl().rstrip("/")
