"""Reading one field of a series document: typed, checked, and named in every error."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from . import i18n
from .durations import parse_duration
from .edge import ID_PATTERN
from .errors import InvalidInputError, PayloadError, SeriesFileError
from .quiet_hours import QuietHours
from .text import is_time_zone, language_tag

_SLUG = re.compile(ID_PATTERN)
_URL = re.compile(r"^https?://[^\s<>\"]+$")
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))+")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
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


_NOT_FORMS = {"zoom", "eventbrite"}  # no evaluation form: webinars and ticket orders


def certificate_settings(value: object, session_ids: Collection[str]) -> dict[str, Any]:
    """``certificates:`` checked (core/certificates reads the rules; ``evaluations:`` maps
    the series' or a session's evaluation to a provider's form and the question holding the
    address: ``{series: {provider: tally, email: <answer key>}, s3: {...}}``); {}: none."""
    if value is None:
        return {}
    from .certificates import rules_from_mapping
    from .providers import PROVIDERS

    if not isinstance(value, Mapping):
        raise SeriesFileError("certificates: must be a mapping")
    doc = {str(k): v for k, v in value.items()}
    evaluations = doc.pop("evaluations", None) or {}
    note = doc.pop("absentee_note", None)  # what the absentees' follow-up says (follow_ups)
    rules_from_mapping(doc, session_ids)
    if note is not None:
        from .follow_ups import checked_absentee_note

        doc["absentee_note"] = checked_absentee_note(note)
    if not isinstance(evaluations, Mapping):
        raise SeriesFileError("certificates.evaluations: must be a mapping of series or a "
                              "session id to {provider:, email:}")
    for key, spec in evaluations.items():
        path = f"certificates.evaluations.{key}"
        if key != "series" and key not in session_ids:
            raise SeriesFileError(f"{path}: no session {str(key)!r} in this series")
        if not isinstance(spec, Mapping) or not set(spec) <= {"provider", "email"}:
            raise SeriesFileError(f"{path}: expected {{provider: <name>, email: <answer key>}}")
        forms = sorted(set(PROVIDERS) - _NOT_FORMS)
        if spec.get("provider") not in forms:
            raise SeriesFileError(f"{path}.provider: a form provider ({', '.join(forms)})")
        if "email" in spec and not _is_key(spec["email"]):
            raise SeriesFileError(f"{path}.email: expected the answer key (text)")
    if evaluations:
        doc["evaluations"] = {str(k): dict(v) for k, v in evaluations.items()}
    return doc


FORM_KEYS = {"email", "full_name", "time_zone", "sessions", "choices", "language", "consent",
             "interests", "webinars"}
QUESTION_KEYS = {"question", "values"}
CONSENT_WORDS = {"yes": True, "no": False, "true": True, "false": False}


def form_mappings(value: object, session_ids: Collection[str] | None = None,
                  coming_ids: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
    """``forms: {provider: {email: <answer key>, full_name: ..., ...}}`` (docs/providers/).

    With the series' session and coming-item ids, every session and item a mapping points at
    must be one of them; every zone must be one we know and every language tag well formed.
    """
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of provider to its answer mapping")
    for provider, mapping in value.items():
        if not isinstance(mapping, dict):
            raise ValueError(f"{provider}: expected a mapping")
        unknown = sorted(set(mapping) - FORM_KEYS)
        if unknown:
            raise ValueError(f"{provider}.{unknown[0]}: unknown field")
        for name in ("choices", "webinars"):
            if name in mapping and not isinstance(mapping[name], dict):
                raise ValueError(f"{provider}.{name}: expected a mapping")
        _answer_keys(mapping, str(provider))
        checks: dict[str, Callable[[object], str]] = {
            "time_zone": _zone_value, "sessions": _session_value(session_ids),
            "language": _language_value, "consent": _consent_value}
        for name, check in checks.items():
            if name in mapping:
                _question(mapping[name], f"{provider}.{name}", check)
        for label, target in (mapping.get("choices") or {}).items():
            _checked(_session_value(session_ids), target, f"{provider}.choices.{label}")
        if "interests" in mapping:
            _interests(mapping["interests"], f"{provider}.interests", coming_ids)
    return {str(k): dict(v) for k, v in value.items()}


def _answer_keys(mapping: dict[str, Any], path: str) -> None:
    if "email" in mapping and not _is_key(mapping["email"]):
        raise ValueError(f"{path}.email: expected the answer key (text)")
    name = mapping.get("full_name")
    if name is not None and not (_is_key(name) or (
            isinstance(name, list) and name and all(_is_key(n) for n in name))):
        raise ValueError(f"{path}.full_name: expected an answer key or a list of them")


def _is_key(value: object) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) != ""


def _question(spec: object, path: str, check: Callable[[object], str]) -> None:
    """An answer key, or ``{question: <key>, values: {<option label or id>: <value>}}``."""
    if _is_key(spec):
        return
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: expected an answer key or {{question: <key>, values: "
                         "{<option>: <value>}}")
    unknown = sorted(str(k) for k in set(spec) - QUESTION_KEYS)
    if unknown:
        raise ValueError(f"{path}.{unknown[0]}: unknown field (expected question and values)")
    if not _is_key(spec.get("question")):
        raise ValueError(f"{path}.question: expected the answer key (text)")
    values = spec.get("values", {})
    if not isinstance(values, dict):
        raise ValueError(f"{path}.values: expected a mapping of option label or id to a value")
    for option, target in values.items():
        if not isinstance(option, str | int) or isinstance(option, bool):
            raise ValueError(f"{path}.values.{option}: an option must be text; put it in "
                             f"quotes (YAML reads a bare {option} as {option!r})")
        _checked(check, target, f"{path}.values.{option}")


def _checked(check: Callable[[object], str], target: object, path: str) -> None:
    try:
        check(target)
    except (ValueError, InvalidInputError) as error:
        raise ValueError(f"{path}: {error}") from None


def _zone_value(target: object) -> str:
    if target is None or (isinstance(target, str) and is_time_zone(target)):
        return ""  # null: the series' zone
    raise ValueError(f"{str(target)[:40]!r} is not a time zone such as Europe/Brussels")


def _language_value(target: object) -> str:
    if target is None:
        return ""  # null: the series' language
    try:
        return language_tag(target)
    except PayloadError:
        raise ValueError(f"{str(target)[:40]!r} is not a language tag such as fr or pt-BR") \
            from None


def _consent_value(target: object) -> str:
    if isinstance(target, bool) or (isinstance(target, str)
                                    and target.strip().lower() in CONSENT_WORDS):
        return ""
    raise ValueError("expected yes or no")


def _session_value(session_ids: Collection[str] | None) -> Callable[[object], str]:
    def check(target: object) -> str:
        if not isinstance(target, str) or not target:
            raise ValueError("expected a session id, or \"*\" for the whole series")
        if target != "*" and session_ids is not None and target not in session_ids:
            raise ValueError(f"{target[:40]!r} is not a session of this series")
        return target
    return check


def _interests(spec: object, path: str, coming_ids: Collection[str] | None) -> None:
    """``{answer: item}`` or ``{question: <key>, values: {<option>: <item or null>}}``."""
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: expected a mapping")

    def item(target: object, *, blank_ok: bool) -> str:
        if target is None and blank_ok:
            return ""  # an option that stands for no coming item
        if not isinstance(target, str) or not target:
            raise ValueError("expected a coming-item id")
        if coming_ids is not None and target not in coming_ids:
            raise ValueError(f"{target[:40]!r} is not a coming item of this series")
        return target

    if "question" in spec:
        _question(spec, path, lambda t: item(t, blank_ok=True))
        return
    for key, target in spec.items():
        _checked(lambda t: item(t, blank_ok=False), target, f"{path}.{key}")


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


def template_folder(value: object) -> str:
    """The series' template overrides: a folder name under templates/series/ (shipped with the
    templates, so it is the same locally and in the Lambda artifact)."""
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise ValueError("expected a folder name under templates/series/: lower-case letters, "
                         "digits and hyphens")
    return value


def series_language(value: object) -> str:
    """The series' default language: one we have a catalog for (fr-BE is read as fr)."""
    try:
        tag = language_tag(value)
    except PayloadError:
        raise ValueError(f"{str(value)[:40]!r} is not a language tag such as fr") from None
    found = i18n.nearest(tag)
    if found is None:
        raise ValueError(f"{tag!r} is not a language we write in; one of "
                         f"{', '.join(i18n.LANGUAGES)}")
    return found


def non_negative(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected a whole number ≥ 0")
    return value


def quiet_hours(value: object) -> QuietHours | None:
    """``off`` (or false), or ``{from: "21:00", to: "08:00"}``: local times in which no
    day-offset reminder arrives."""
    if value is False or (isinstance(value, str) and value.strip().lower() == "off"):
        return None
    if not isinstance(value, Mapping) or set(value) != {"from", "to"}:
        raise ValueError('expected off, or from and to times such as '
                         '{from: "21:00", to: "08:00"}')
    start, end = _clock_time(value["from"], "from"), _clock_time(value["to"], "to")
    if start == end:
        raise ValueError("from and to are the same time; use off to turn quiet hours off")
    return QuietHours(start, end)


def _clock_time(value: object, name: str) -> time:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        value = f"{value // 60:02d}:{value % 60:02d}"  # YAML 1.1 reads a bare 21:00 as 1260
    match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f'{name}: expected a time of day such as "08:00" '
                         f'(got {str(value)[:20]!r})')
    return time(int(match[1]), int(match[2]))


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
