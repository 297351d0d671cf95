"""Tally ``FORM_RESPONSE`` webhooks: ``Tally-Signature: <base64 HMAC>`` over the raw body;
every answer (hidden fields too) is an entry of ``data.fields``, choice values (dropdown,
multiple choice, checkboxes, multi-select) are lists of option ids whose text comes from the
field's ``options``; each ticked checkbox also comes as its own ``true`` entry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import PayloadError
from ..registration import RegistrationEvent
from ..series import Series
from .answers import iso_unix, mapped_event
from .choices import Choice
from .hmac_body import json_object, verify_body_hmac


class TallyProvider:
    name = "tally"

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str],
               now: int) -> None:
        verify_body_hmac(headers.get("tally-signature"), body, secrets, "Tally-Signature")

    def parse(self, body: bytes, series: Series,
              secrets: Sequence[str] = ()) -> RegistrationEvent:
        doc = json_object(body)
        data = doc.get("data")
        if doc.get("eventType") != "FORM_RESPONSE" or not isinstance(data, dict):
            raise PayloadError("expected a Tally FORM_RESPONSE event")
        answers: dict[str, Any] = {}
        fields = data.get("fields")
        for entry in fields if isinstance(fields, list) else []:
            if isinstance(entry, dict):
                value = _value(entry)
                for name in (entry.get("key"), entry.get("label")):
                    if name:
                        answers.setdefault(str(name), value)
        return mapped_event(self.name, doc.get("eventId") or data.get("responseId"),
                            iso_unix(doc.get("createdAt"), "createdAt"), answers, series)


def _value(entry: dict[str, Any]) -> Any:
    """A choice field's value is its picked option ids (a list; a single id in older
    deliveries), whose text is in ``options``: each becomes a Choice keeping both."""
    value = entry.get("value")
    options = {str(o.get("id")): str(o.get("text") or "") for o in entry.get("options") or []
               if isinstance(o, dict) and o.get("id") is not None}
    if not options or not isinstance(value, list | str):
        return value
    ids = value if isinstance(value, list) else [value]
    return [Choice(options[str(i)], str(i)) if str(i) in options else i for i in ids]
