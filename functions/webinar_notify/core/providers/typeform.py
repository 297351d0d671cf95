"""Typeform ``form_response`` webhooks: ``Typeform-Signature: sha256=<base64 HMAC>`` over the
raw body; answers matched by their question's ``ref`` (or its field id), hidden fields by name.
An answer's ``field`` may carry only ``{id, type}`` (as in Typeform's published example): its
ref is then read from ``definition.fields``. A dropdown or multiple choice answer is
``choice: {id, label, ref}`` (or ``{other}``); several picked are ``choices: {ids, labels,
refs, other}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import PayloadError
from ..registration import RegistrationEvent
from ..series import Series
from .answers import iso_unix, mapped_event
from .choices import Choice
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
        hidden, given = response.get("hidden"), response.get("answers")
        answers: dict[str, Any] = dict(hidden) if isinstance(hidden, dict) else {}
        refs = _refs(response.get("definition"))
        for answer in given if isinstance(given, list) else []:
            field = answer.get("field") if isinstance(answer, dict) else None
            if isinstance(answer, dict) and isinstance(field, dict):
                field_id = str(field.get("id") or "")
                value = _value(answer)
                ref = field.get("ref") or refs.get(field_id)
                if ref:
                    answers[str(ref)] = value
                if field_id:
                    answers.setdefault(field_id, value)
        return mapped_event(self.name, doc.get("event_id") or response.get("token"),
                            iso_unix(response.get("submitted_at"), "form_response.submitted_at"),
                            answers, series)


def _value(answer: dict[str, Any]) -> Any:
    """The value sits under the key named by the answer's type; a picked option keeps its
    label, id and ref (``choice``: one, ``choices``: several, with ``other`` typed in)."""
    kind = answer.get("type")
    value = answer.get(str(kind))
    if kind == "choice" and isinstance(value, dict):
        if value.get("label"):
            return Choice(str(value["label"]), str(value.get("id") or ""),
                          str(value.get("ref") or ""))
        return Choice(str(value["other"])) if value.get("other") else None
    if kind == "choices" and isinstance(value, dict):
        labels, ids, refs = (_strings(value.get(k)) for k in ("labels", "ids", "refs"))
        picked = [Choice(label, ids[i] if i < len(ids) else "", refs[i] if i < len(refs) else "")
                  for i, label in enumerate(labels)]
        return picked + ([Choice(str(value["other"]))] if value.get("other") else [])
    return value


def _refs(definition: object) -> dict[str, str]:
    """Each question's ref by its field id, from the form's definition."""
    fields = definition.get("fields") if isinstance(definition, dict) else None
    return {str(f["id"]): str(f["ref"]) for f in fields if isinstance(f, dict)
            and f.get("id") and f.get("ref")} if isinstance(fields, list) else {}


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
