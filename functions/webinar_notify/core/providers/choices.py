"""Choice answers, read the same way for every provider.

A provider hands over each picked option as a ``Choice`` that keeps both what the person saw
(the label) and what the form calls it (its option id, and Typeform's ref), so the series file
can map an option by either. A question of the mapping is a plain answer key, or
``{question: <key>, values: {<option label or id>: <our value>}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..text import folded, nfc


@dataclass(frozen=True, slots=True)
class Choice:
    """One picked option of a dropdown, single or multiple choice or checkbox question."""

    label: str
    id: str = ""
    ref: str = ""

    def __str__(self) -> str:  # a choice read as text (e.g. a name picked from a list)
        return self.label


@dataclass(frozen=True, slots=True)
class Question:
    """One mapped question: the answer key, and the table from its options to our values
    (None: the answer itself is the value)."""

    key: str
    values: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, spec: object) -> Question | None:
        """The mapping's entry (already checked when the series file was read)."""
        if isinstance(spec, Mapping) and spec.get("question"):
            values = spec.get("values")
            return cls(str(spec["question"]), {str(k): v for k, v in values.items()}
                       if isinstance(values, Mapping) else None)
        if isinstance(spec, str) and spec:
            return cls(spec)
        return None


def picked(value: object) -> list[Choice]:
    """Every option an answer holds, as choices; a text answer is one choice with no id."""
    if value is None or value == "":
        return []
    if isinstance(value, Choice):
        return [value]
    if isinstance(value, list | tuple):
        return [choice for item in value for choice in picked(item)]
    if isinstance(value, bool):
        return [Choice("yes" if value else "no")]
    if isinstance(value, str):
        return [Choice(value.strip())] if value.strip() else []
    if isinstance(value, int | float):
        return [Choice(str(value))]
    return []


def lookup(values: Mapping[str, Any], choice: Choice) -> tuple[bool, Any]:
    """(found, our value) for a picked option: by exact id (or ref), then exact label, then
    the label compared loosely (NFC, case and runs of white space ignored)."""
    for key in (choice.id, choice.ref, choice.label):
        if key and key in values:
            return True, values[key]
    wanted = folded(choice.label)
    for key, value in values.items():
        if folded(str(key)) == wanted:
            return True, value
    return False, None


def normalised(value: object) -> Any:
    """Every text in an answer in NFC (labels of choices too), once, at the door."""
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, Choice):
        return Choice(nfc(value.label), value.id, value.ref)
    if isinstance(value, list | tuple):
        return [normalised(item) for item in value]
    if isinstance(value, dict):
        return {key: normalised(item) for key, item in value.items()}
    return value
