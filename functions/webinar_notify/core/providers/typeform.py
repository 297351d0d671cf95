"""Typeform ``form_response`` webhooks: ``Typeform-Signature: sha256=<base64 HMAC>`` over the
raw body; answers matched by their question's ``field.ref``, hidden fields by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import PayloadError
from ..registration import RegistrationEvent
from ..series import Series
from .answers import iso_unix, mapped_event
from .hmac_body import json_object, verify_body_hmac


class TypeformProvider:
    name = "typeform"

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str],
               now: int) -> None:
        header = headers.get("typeform-signature", "")
        verify_body_hmac(header.removeprefix("sha256=") if header.startswith("sha256=")
                         else None, body, secrets, "Typeform-Signature")

    def parse(self, body: bytes, series: Series,
              secrets: Sequence[str] = ()) -> RegistrationEvent:
        doc = json_object(body)
        response = doc.get("form_response")
        if doc.get("event_type") != "form_response" or not isinstance(response, dict):
            raise PayloadError("expected a Typeform form_response event")
        answers: dict[str, Any] = dict(response.get("hidden") or {})
        for answer in response.get("answers") or []:
            if isinstance(answer, dict):
                ref = (answer.get("field") or {}).get("ref")
                if ref:
                    answers[str(ref)] = _value(answer)
        return mapped_event(self.name, doc.get("event_id") or response.get("token"),
                            iso_unix(response.get("submitted_at"), "form_response.submitted_at"),
                            answers, series)


def _value(answer: dict[str, Any]) -> Any:
    """The value sits under the key named by the answer's type."""
    kind = answer.get("type")
    value = answer.get(str(kind))
    if kind == "choice" and isinstance(value, dict):
        return value.get("label") or value.get("other")
    if kind == "choices" and isinstance(value, dict):
        return list(value.get("labels") or []) + ([value["other"]] if value.get("other") else [])
    return value
