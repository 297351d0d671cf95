"""A wave: the reminders of one slot that wait for one moment (quiet hours moved them).

A pass over a slot's registrants sends now what is due now and parks the rest, grouped by
moment, next to the schedule; each group is a wave, decided once like any task, that sends
its parked emails when its moment comes. The registrations are read by the passes only, so
the cost of quiet hours does not grow with the number of zones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

WAVE_TYPE = "wave"


@dataclass(frozen=True, slots=True)
class Wave:
    slot_key: str
    moment: datetime
    closes: datetime

    @property
    def key(self) -> str:
        return f"wave#{self.slot_key}#{self.moment:%Y%m%dT%H%MZ}"

    @property
    def opens(self) -> datetime:
        return self.moment

    def to_doc(self) -> dict[str, Any]:
        return {"type": WAVE_TYPE, "slot": self.slot_key, "moment": self.moment.isoformat(),
                "closes": self.closes.isoformat()}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Wave:
        return cls(str(doc["slot"]), datetime.fromisoformat(doc["moment"]),
                   datetime.fromisoformat(doc["closes"]))


def is_wave(doc: dict[str, Any]) -> bool:
    return doc.get("type") == WAVE_TYPE
