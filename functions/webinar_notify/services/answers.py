"""What an organiser action answers, and the refusals particular to organiser actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


class ConflictError(InvalidInputError):
    status = 409


class KeyReusedError(InvalidInputError):
    status = 422
