"""Reading one field of a series document: typed, checked, and named in every error."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from .durations import parse_duration
from .edge import ID_PATTERN
from .errors import InvalidInputError, SeriesFileError

_SLUG = re.compile(ID_PATTERN)
_URL = re.compile(r"^https?://[^\s<>\"]+$")
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))+")
T = TypeVar("T")


class FieldReader:
    """Reads one mapping, remembering where it is for error messages."""

    def __init__(self, data: object, path: str, allowed: set[str]) -> None:
        if not isinstance(data, Mapping):
            raise SeriesFileError(f"{path or 'series'}: expected a mapping")
        self.data = cast(Mapping[str, Any], data)
        self.path = path
        unknown = sorted(str(k) for k in self.data if k not in allowed)
        if unknown:
            raise SeriesFileError(f"{self.at(unknown[0])}: unknown field")

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def text(self, key: str, *, required: bool = False, limit: int = 10_000) -> str:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise SeriesFileError(f"{self.at(key)}: required")
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise SeriesFileError(f"{self.at(key)}: expected text")
        text = str(value).strip()
        if len(text) > limit:
            raise SeriesFileError(f"{self.at(key)}: longer than {limit} characters")
        if any(ch in text for ch in "\x00\r") or (limit <= 300 and "\n" in text):
            raise SeriesFileError(f"{self.at(key)}: must be a single line of text")
        return text

    def slug(self, key: str) -> str:
        value = self.text(key, required=True)
        if not _SLUG.fullmatch(value):
            raise SeriesFileError(
                f"{self.at(key)}: use lower-case letters, digits and hyphens (got {value!r})")
        return value

    def url(self, key: str) -> str | None:
        value = self.text(key)
        if value and not _URL.match(value):
            raise SeriesFileError(f"{self.at(key)}: expected an http(s) URL")
        return value or None

    def convert(self, key: str, convert: Callable[[Any], T], *, default: T) -> T:
        if key not in self.data or self.data[key] is None:
            return default
        try:
            return convert(self.data[key])
        except InvalidInputError as error:
            raise SeriesFileError(f"{self.at(key)}: {error}") from None
        except (TypeError, ValueError) as error:
            raise SeriesFileError(f"{self.at(key)}: {error}") from None

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise SeriesFileError(f"{self.at(key)}: expected a list")
        return value


def local_start(value: object, zone: ZoneInfo) -> datetime:
    """A wall-clock time in the series' zone (or an explicit offset), checked to exist."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError("a time of day is required, e.g. 2023-10-26T15:00")
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected a local date-time like 2023-10-26T15:00, "
                             f"got {value!r}") from None
    elif isinstance(value, date):
        raise ValueError("a time of day is required, e.g. 2023-10-26T15:00")
    else:
        raise ValueError("expected a local date-time like 2023-10-26T15:00")
    if not 1900 <= moment.year <= 2200:
        raise ValueError("expected a year between 1900 and 2200")
    if moment.tzinfo is not None:
        return moment.astimezone(zone)
    local = moment.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ValueError(f"{moment:%Y-%m-%d %H:%M} does not exist in {zone.key} "
                         "(clocks move forward then)")
    if local.utcoffset() != local.replace(fold=1).utcoffset():
        example = local.isoformat(timespec="minutes")
        raise ValueError(f"{moment:%Y-%m-%d %H:%M} happens twice in {zone.key} (clocks go "
                         f"back then): add the offset, e.g. {example}")
    return local


def utc_instant(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("expected a UTC time with offset")
    return moment.astimezone(UTC)


FORM_KEYS = {"email", "full_name", "time_zone", "sessions", "choices", "consent", "interests",
             "webinars"}


def form_mappings(value: object) -> dict[str, dict[str, Any]]:
    """``forms: {provider: {email: <answer key>, full_name: ..., ...}}`` (docs/providers/)."""
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of provider to its answer mapping")
    for provider, mapping in value.items():
        if not isinstance(mapping, dict):
            raise ValueError(f"{provider}: expected a mapping")
        unknown = sorted(set(mapping) - FORM_KEYS)
        if unknown:
            raise ValueError(f"{provider}.{unknown[0]}: unknown field")
        for name in ("choices", "interests", "webinars"):
            if name in mapping and not isinstance(mapping[name], dict):
                raise ValueError(f"{provider}.{name}: expected a mapping")
    return {str(k): dict(v) for k, v in value.items()}


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def hostname(value: object) -> str:
    """A DNS name such as events.example.org (it ends every calendar UID and Message-ID)."""
    if not isinstance(value, str) or not _HOSTNAME.fullmatch(value) or len(value) > 253:
        raise ValueError("expected a host name such as events.example.org")
    return value.lower()


def whole_minutes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 24 * 60:
        raise ValueError("expected whole minutes between 1 and 1440")
    return value


def non_negative(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected a whole number ≥ 0")
    return value


def offsets(value: object) -> tuple[timedelta, ...]:
    if not isinstance(value, list):
        raise ValueError("expected a list of durations like [7d, 1d, 1h]")
    offsets = sorted({parse_duration(v) for v in value}, reverse=True)
    return tuple(offsets)


def single_line(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value.strip():
        raise SeriesFileError(f"{path}: expected a single line of text")
    return value.strip()


def unique_ids(ids: list[str], path: str) -> None:
    seen: set[str] = set()
    for i, item_id in enumerate(ids):
        if item_id in seen:
            raise SeriesFileError(f"{path}[{i}].id: duplicate id {item_id!r}")
        seen.add(item_id)
