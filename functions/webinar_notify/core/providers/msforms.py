"""Microsoft Forms, through a Power Automate flow ("When a new response is submitted" → "Get
response details" → "HTTP" POST). The flow sends ``X-Webinar-Token: <secret>`` and a JSON body
``{"id": <response id>, "submitted": <ISO time>, "answers": {<question title>: <answer>}}``;
the series file maps question titles to our fields (docs/providers/)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .. import edge
from ..errors import PayloadError
from ..registration import RegistrationEvent
from ..series import Series
from .answers import iso_unix, mapped_event
from .hmac_body import json_object
from .static_token import verify_token


class MicrosoftFormsProvider:
    name = "msforms"

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str],
               now: int) -> None:
        verify_token(headers.get("x-webinar-token"), secrets, "X-Webinar-Token header")

    def parse(self, body: bytes, series: Series,
              secrets: Sequence[str] = ()) -> RegistrationEvent:
        doc = json_object(body)
        answers = doc.get("answers")
        if not isinstance(answers, dict) or not doc.get("id"):
            raise PayloadError("expected {id, submitted, answers: {question: answer}}")
        created = iso_unix(doc.get("submitted"), "submitted")
        values = {k: _choices(v) for k, v in answers.items()}
        return mapped_event(self.name, str(doc["id"]), created, values, series)


def _choices(value: object) -> object:
    """Several choices arrive as a JSON array in a string ("Get response details"), or joined
    with ";" by older flows."""
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = edge.json_value(value, "answer")
        except PayloadError:
            return value
        return [str(v) for v in parsed] if isinstance(parsed, list) else value
    if isinstance(value, str) and ";" in value:
        return [part for part in value.split(";") if part]
    return value
