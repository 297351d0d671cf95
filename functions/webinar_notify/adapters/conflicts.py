"""DynamoDB's answers to writes that met a transaction on the same item.

A plain write to an item a transaction holds is refused with ``TransactionConflictException``,
and a transaction that meets another one is cancelled with reason ``TransactionConflict``:
in both cases nothing was applied and nothing failed a condition, so the same write may be
sent again. botocore does not retry either, so the adapters do, after a short pause with
full jitter (writers that collided once should not collide again in step).
"""

from __future__ import annotations

import random
import time

from botocore.exceptions import ClientError

FIRST_PAUSE = 0.01  # seconds; doubles with each attempt, drawn uniformly below that bound
LONGEST_PAUSE = 0.2
_jitter = random.SystemRandom()


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_write_conflict(error: ClientError) -> bool:
    """A plain write refused because a transaction held the item (it was not applied)."""
    return error_code(error) == "TransactionConflictException"


def is_conflict_only(error: ClientError) -> bool:
    """A transaction cancelled only because another transaction held one of its items: no
    condition failed, so the same transaction may simply be sent again."""
    if error_code(error) != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    codes = {str(reason.get("Code", "None")) for reason in reasons}
    return "TransactionConflict" in codes and codes <= {"TransactionConflict", "None"}


def pause(attempt: int) -> None:
    """Wait before attempt ``attempt + 1`` (0-based): up to 10, 20, 40 ... 200 ms."""
    time.sleep(_jitter.uniform(0, min(LONGEST_PAUSE, FIRST_PAUSE * 2 ** attempt)))
