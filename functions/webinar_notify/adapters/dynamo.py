"""Small helpers shared by the DynamoDB adapters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError


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
