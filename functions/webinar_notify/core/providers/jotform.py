"""Jotform webhooks: ``multipart/form-data`` with the answers as JSON in the ``rawRequest``
part, and no signature: the webhook URL carries ``?token=<secret>`` instead. Answers are keyed
``q<number>_<name>``; a name answer is ``{"first": ..., "last": ...}``, a dropdown or single
choice a string, checkboxes a list. Jotform encodes answers as HTML (``O&#039;Brien``): they
are decoded here, once, and nowhere else."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from .. import edge
from ..errors import PayloadError
from ..forms import multipart_fields
from ..registration import RegistrationEvent
from ..series import Series
from .answers import mapped_event
from .static_token import verify_token

NAME_PARTS = ("prefix", "first", "middle", "last", "suffix")


class JotformProvider:
    name = "jotform"

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str],
               now: int) -> None:
        verify_token(headers.get("?token"), secrets, "token in the webhook URL")

    def parse(self, body: bytes, series: Series,
              secrets: Sequence[str] = ()) -> RegistrationEvent:
        parts = _form_parts(body)
        raw = edge.json_object(parts.get("rawRequest", ""), "rawRequest")
        answers = {str(key): _answer(value) for key, value in raw.items()}
        submission = parts.get("submissionID") or str(raw.get("event_id", ""))
        if not submission:
            raise PayloadError("submissionID is missing")
        return mapped_event(self.name, submission, 0, answers, series)


def _answer(value: object) -> object:
    """One answer as typed: HTML entities decoded once (``O&#039;Brien`` → ``O'Brien``,
    ``&amp;amp;`` → ``&amp;``), a name field joined, options ticked (a list, or lines of one
    text) as a list."""
    if isinstance(value, dict) and {"first", "last"} & set(value):
        parts = (value.get(part) for part in NAME_PARTS)
        return " ".join(html.unescape(p) for p in parts if isinstance(p, str) and p.strip())
    if isinstance(value, list):
        return [_answer(item) for item in value]
    if isinstance(value, str):
        text = html.unescape(value)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines if len(lines) > 1 else text
    return value


def _form_parts(body: bytes) -> dict[str, str]:
    """The fields of the posted form; its first line names the boundary (Jotform's own
    Content-Type is not relied on)."""
    first = body.split(b"\r\n", 1)[0]
    if not first.startswith(b"--") or len(first) < 3 or len(first) > 200:
        raise PayloadError("expected a multipart/form-data body")
    boundary = first[2:].decode("ascii", "replace").replace('"', "")
    return multipart_fields(f'multipart/form-data; boundary="{boundary}"', body)
