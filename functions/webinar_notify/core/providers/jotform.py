"""Jotform webhooks: ``multipart/form-data`` with the answers as JSON in the ``rawRequest``
part, and no signature: the webhook URL carries ``?token=<secret>`` instead. Answers are keyed
``q<number>_<name>``; a name answer is ``{"first": ..., "last": ...}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import edge
from ..errors import PayloadError
from ..forms import multipart_fields
from ..registration import RegistrationEvent
from ..series import Series
from .answers import mapped_event
from .static_token import verify_token


class JotformProvider:
    name = "jotform"

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str],
               now: int) -> None:
        verify_token(headers.get("?token"), secrets, "token in the webhook URL")

    def parse(self, body: bytes, series: Series,
              secrets: Sequence[str] = ()) -> RegistrationEvent:
        parts = _form_parts(body)
        raw = edge.json_object(parts.get("rawRequest", ""), "rawRequest")
        answers: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, dict) and {"first", "last"} & set(value):
                value = f"{value.get('first', '')} {value.get('last', '')}".strip()
            answers[key] = value
        submission = parts.get("submissionID") or str(raw.get("event_id", ""))
        if not submission:
            raise PayloadError("submissionID is missing")
        return mapped_event(self.name, submission, 0, answers, series)


def _form_parts(body: bytes) -> dict[str, str]:
    """The fields of the posted form; its first line names the boundary (Jotform's own
    Content-Type is not relied on)."""
    first = body.split(b"\r\n", 1)[0]
    if not first.startswith(b"--") or len(first) < 3 or len(first) > 200:
        raise PayloadError("expected a multipart/form-data body")
    boundary = first[2:].decode("ascii", "replace").replace('"', "")
    return multipart_fields(f'multipart/form-data; boundary="{boundary}"', body)
