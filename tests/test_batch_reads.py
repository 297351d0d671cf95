"""BatchGetItem as DynamoDB answers it under load: keys it leaves unprocessed (throttling) are
asked again after a pause, a few times, then the caller gets a RetryableError (the sender
defers the email) instead of a spin until the function's timeout. moto never does this."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from conftest import Harness
from webinar_notify.adapters import dynamo
from webinar_notify.adapters.dynamo import BATCH_GET_ATTEMPTS, batch_get, key
from webinar_notify.core.errors import RetryableError

KEYS = [key("SUPPRESSED#a", "SUPPRESSED"), key("SERIES#s", "REG#r1")]


class Throttled:
    """A DynamoDB client whose BatchGetItem, ``throttled`` times, reads only the first
    ``reads`` keys and leaves the rest unprocessed; the requests it got."""

    def __init__(self, throttled: int, reads: int = 1) -> None:
        self.throttled = throttled
        self.reads = reads
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(RequestItems)
        keys = RequestItems["t"]["Keys"]
        if self.throttled:
            self.throttled -= 1
            rest = keys[self.reads:]
            return {"Responses": {"t": [dict(k) for k in keys[:self.reads]]},
                    "UnprocessedKeys": {"t": {"Keys": rest}} if rest else {}}
        return {"Responses": {"t": [dict(k) for k in keys]}, "UnprocessedKeys": {}}


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    paused: list[int] = []
    monkeypatch.setattr(dynamo, "pause", paused.append)
    return paused


def test_unprocessed_keys_are_asked_again_after_a_pause(no_pauses: list[int]) -> None:
    client = Throttled(throttled=1)
    found = batch_get(client, "t", list(KEYS), consistent=False, projection="pk")
    assert found == KEYS
    assert [r["t"]["Keys"] for r in client.requests] == [KEYS, KEYS[1:]]
    assert client.requests[0]["t"]["ConsistentRead"] is False
    assert client.requests[0]["t"]["ProjectionExpression"] == "pk"
    assert no_pauses == [0]


def test_a_read_still_throttled_after_its_attempts_is_a_retryable_error(
        no_pauses: list[int]) -> None:
    client = Throttled(throttled=100, reads=0)
    with pytest.raises(RetryableError, match="throttled"):
        batch_get(client, "t", list(KEYS))
    assert len(client.requests) == BATCH_GET_ATTEMPTS
    assert no_pauses == list(range(BATCH_GET_ATTEMPTS))


def test_more_than_100_keys_go_in_requests_of_100_as_dynamodb_requires() -> None:
    keys = [key("SERIES#s", f"SEATS#s{i}#WHO#r") for i in range(230)]
    client = Throttled(throttled=0)
    assert batch_get(client, "t", keys) == keys
    assert [len(r["t"]["Keys"]) for r in client.requests] == [100, 100, 30]


def test_the_sender_defers_an_email_whose_check_was_throttled(harness: Harness) -> None:
    """The read before sending was throttled past its attempts: the email waits on the queue
    (a deferral, as SES throttling gets), and goes once the table answers again."""
    harness.register(sessions=["s1"])
    store = harness.runtime.store
    answering = store.recipient

    def throttled(*args: Any) -> Any:
        raise RetryableError("DynamoDB left 3 key(s) unread after 6 attempts (throttled)")

    store.recipient = throttled  # type: ignore[method-assign]
    assert harness.runtime.drain() == 1  # handled: deferred, not failed
    assert harness.outbox.entries() == [] and harness.queued() == 1
    store.recipient = answering  # type: ignore[method-assign]
    harness.clock.advance(timedelta(minutes=5))
    harness.runtime.drain()
    assert [e["kind"] for e in harness.outbox.entries()] == ["confirmation"]
