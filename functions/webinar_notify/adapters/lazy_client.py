"""AWS clients made on first use: a function builds only the clients it calls, and only when
it first calls them, not at every cold start (making one loads its service model)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

Client = TypeVar("Client")
# boto3's default session is not safe to make clients from in several threads at once.
_MAKING = threading.Lock()


class _OnFirstUse:
    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        client = self._client
        if client is None:
            with _MAKING:
                if self._client is None:
                    self._client = self._make()
                client = self._client
        return getattr(client, name)


def on_first_use(make: Callable[[], Client]) -> Client:
    """A stand-in for ``make()`` that calls it when the client is first used."""
    return cast(Client, _OnFirstUse(make))
