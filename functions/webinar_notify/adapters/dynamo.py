"""Small helpers shared by the DynamoDB adapters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ..core.errors import RetryableError
from .conflicts import pause

BATCH_GET_ATTEMPTS = 6  # rounds for keys DynamoDB left unprocessed (throttling), with pauses


class StaleWriteError(Exception):
    """A conditional write lost: someone else wrote the item first; read again and retry."""


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def conditional(write: Callable[[], object]) -> None:
    """Run a conditional write, turning a failed condition into StaleWriteError."""
    try:
        write()
    except ClientError as error:
        if is_condition_failure(error):
            raise StaleWriteError from None
        raise


def is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


BATCH_GET_KEYS = 100  # DynamoDB's limit of keys in one BatchGetItem


def batch_get(client: Any, table: str, keys: list[dict[str, Any]], *,
              consistent: bool = True, projection: str = "") -> list[dict[str, Any]]:
    """Every item found of these keys, 100 per BatchGetItem (DynamoDB's limit): keys it leaves
    unprocessed (throttling) are asked again after a pause with jitter, a few times, then a
    RetryableError (the caller's retry, not a spin until the timeout)."""
    if len(keys) > BATCH_GET_KEYS:
        return [item for start in range(0, len(keys), BATCH_GET_KEYS)
                for item in batch_get(client, table, keys[start:start + BATCH_GET_KEYS],
                                      consistent=consistent, projection=projection)]
    found: list[dict[str, Any]] = []
    for attempt in range(BATCH_GET_ATTEMPTS):
        request: dict[str, Any] = {"Keys": keys, "ConsistentRead": consistent}
        if projection:
            request["ProjectionExpression"] = projection
        answer = client.batch_get_item(RequestItems={table: request})
        found += [dict(item) for item in answer["Responses"].get(table, [])]
        unprocessed: dict[str, Any] = dict(answer.get("UnprocessedKeys") or {})
        keys = list(unprocessed.get(table, {}).get("Keys", []))
        if not keys:
            return found
        pause(attempt)
    raise RetryableError(f"DynamoDB left {len(keys)} key(s) unread after "
                         f"{BATCH_GET_ATTEMPTS} attempts (throttled)")
