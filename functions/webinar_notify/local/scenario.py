"""Scenario files: one or more series, a time span, secrets, what a provider's API answers,
and steps: requests as providers send them, organiser actions, links followed from earlier
emails, SES events and Zoom participants (docs/rehearsal.md describes every field)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from ..adapters.secrets import split_secrets
from ..core.errors import InvalidInputError
from ..core.jobs import KINDS
from ..core.series import Series
from ..organiser_requests import ACTIONS as ORGANISER_ACTIONS
from ..series_files import load_series_file, read_yaml
from .email_links import LINK_PATHS, EmailRef
from .provider_api import ProviderAnswer, read_answers
from .signed_events import ZoomParticipantEvent

SCENARIO_FIELDS = {"series", "start", "until", "secrets", "token_secret", "steps", "description",
                   "provider_api"}
STEP_KINDS = ("request", "organiser", "follow", "ses", "zoom")
STEP_FIELDS = {"at", "note", "series", *STEP_KINDS}
EMAIL_FIELDS = {"to", "kind", "series", "session", "announcement", "pick"}
FOLLOW_FIELDS = {"email", "link", "method", "form", "one_click", "from_page", "headers"}
SES_EVENTS = ("delivery", "hard_bounce", "soft_bounce", "complaint", "reject")
SesEvent = Literal["delivery", "hard_bounce", "soft_bounce", "complaint", "reject"]
ZOOM_FIELDS = {"event", "webinar", "email", "name", "occurrence_start"}


class ScenarioError(InvalidInputError):
    """A scenario file with a bad field; the message names it."""


@dataclass(frozen=True, slots=True)
class HttpStep:
    at: datetime
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    note: str = ""


@dataclass(frozen=True, slots=True)
class OrganiserStep:
    at: datetime
    action: dict[str, Any]
    note: str = ""
    series_id: str = ""  # which series (the scenario's first when it has one)


@dataclass(frozen=True, slots=True)
class FollowStep:
    """A registrant follows a link of an earlier email (a browser, or a mail provider's
    one-click POST)."""

    at: datetime
    email: EmailRef
    link: str  # manage, calendar, unsubscribe, opt_in, or a path prefix
    method: str = "GET"
    form: dict[str, str] = field(default_factory=dict)
    one_click: bool = False  # RFC 8058: POST List-Unsubscribe=One-Click, from no browser
    from_page: bool = False  # the form as the previous answer on this link shows it
    headers: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True, slots=True)
class SesStep:
    """An SES event about an email sent to an address, through the feedback function."""

    at: datetime
    event: SesEvent
    email: EmailRef
    note: str = ""


@dataclass(frozen=True, slots=True)
class ZoomStep:
    """A participant joins or leaves a Zoom webinar; posted to the webhook, signed as Zoom."""

    at: datetime
    event: ZoomParticipantEvent
    webinar: str
    email: str
    name: str
    series_id: str
    occurrence_start: datetime | None = None
    note: str = ""


Step = HttpStep | OrganiserStep | FollowStep | SesStep | ZoomStep


@dataclass(frozen=True, slots=True)
class Scenario:
    series: Series  # the first series (a scenario with one series has only this one)
    start: datetime
    until: datetime
    secrets: dict[str, str]
    steps: tuple[Step, ...]
    token_secret: str | None = None
    base: Path = Path()  # the scenario's folder: files in organiser steps are relative to it
    all_series: tuple[Series, ...] = ()  # every series, the first one first
    provider_api: dict[str, ProviderAnswer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.all_series:
            object.__setattr__(self, "all_series", (self.series,))


def load_scenario(path: Path) -> Scenario:
    data = read_yaml(path, ScenarioError)
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping")
    unknown = sorted(set(data) - SCENARIO_FIELDS)
    if unknown:
        raise ScenarioError(f"{path}: {unknown[0]}: unknown field")
    base = path.parent
    files = data.get("series")
    files = [files] if isinstance(files, str) else files
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise ScenarioError(f"{path}: series: required, a path relative to the scenario "
                            "(or a list of them)")
    all_series = tuple(load_series_file(base / name) for name in files)
    ids = [s.id for s in all_series]
    if len(set(ids)) != len(ids):
        raise ScenarioError(f"series: {sorted(i for i in ids if ids.count(i) > 1)[0]} is "
                            "listed twice")
    start, until = _instant(data.get("start"), "start"), _instant(data.get("until"), "until")
    if until < start:
        raise ScenarioError("until: must not be before start")
    secrets = data.get("secrets") or {}
    if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
        raise ScenarioError("secrets: expected a mapping of provider to secret")
    raw_steps = data.get("steps") or []
    if not isinstance(raw_steps, list):
        raise ScenarioError("steps: expected a list")
    context = _Context(base, tuple(ids), dict(secrets))
    steps = tuple(sorted((_step(s, f"steps[{i}]", context) for i, s in enumerate(raw_steps)),
                         key=lambda step: step.at))
    try:
        provider_api = read_answers(data.get("provider_api"), base, "provider_api")
    except InvalidInputError as error:
        raise ScenarioError(str(error)) from None
    return Scenario(series=all_series[0], start=start, until=until, secrets=dict(secrets),
                    steps=steps, token_secret=data.get("token_secret"), base=base,
                    all_series=all_series, provider_api=provider_api)


@dataclass(frozen=True, slots=True)
class _Context:
    base: Path
    series_ids: tuple[str, ...]
    secrets: dict[str, str]

    def series_of(self, data: dict[str, Any], path: str) -> str:
        """The series a step acts on: its ``series:``, needed when there are several."""
        chosen = data.get("series")
        if chosen is None:
            if len(self.series_ids) > 1:
                raise ScenarioError(f"{path}.series: required when the scenario has several "
                                    f"series ({', '.join(self.series_ids)})")
            return self.series_ids[0]
        if chosen not in self.series_ids:
            raise ScenarioError(f"{path}.series: expected one of {', '.join(self.series_ids)}")
        return str(chosen)


def _step(data: Any, path: str, context: _Context) -> Step:
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected `at` and one of {', '.join(STEP_KINDS)}")
    kinds = [kind for kind in STEP_KINDS if kind in data]
    if len(kinds) != 1:
        raise ScenarioError(f"{path}: expected `at` and one of {', '.join(STEP_KINDS)}")
    unknown = sorted(str(k) for k in set(data) - STEP_FIELDS)
    if unknown:
        raise ScenarioError(f"{path}.{unknown[0]}: unknown field")
    at, note = _instant(data.get("at"), f"{path}.at"), str(data.get("note", ""))
    if "series" in data and kinds[0] not in ("organiser", "zoom"):
        raise ScenarioError(f"{path}.series: only organiser and zoom steps name a series "
                            "(a request names it in its path, an email reference in email:)")
    if kinds[0] == "organiser":
        if not isinstance(data["organiser"], dict):
            raise ScenarioError(f"{path}.organiser: expected a mapping with an action")
        action = dict(data["organiser"])
        if action.get("action") not in ORGANISER_ACTIONS:
            raise ScenarioError(f"{path}.organiser.action: expected one of "
                                f"{', '.join(ORGANISER_ACTIONS)}")
        return OrganiserStep(at=at, action=action, note=note,
                             series_id=context.series_of(data, path))
    if kinds[0] == "follow":
        return _follow(data["follow"], f"{path}.follow", at, note)
    if kinds[0] == "ses":
        return _ses(data["ses"], f"{path}.ses", at, note)
    if kinds[0] == "zoom":
        return _zoom(data["zoom"], path, at, note, context, context.series_of(data, path))
    return _request(data["request"], path, at, note, context.base)


def _request(request: Any, path: str, at: datetime, note: str, base: Path) -> HttpStep:
    if not isinstance(request, dict):
        raise ScenarioError(f"{path}.request: expected a mapping")
    headers = request.get("headers") or {}
    if not isinstance(headers, dict):
        raise ScenarioError(f"{path}.request.headers: expected a mapping")
    if "body_file" in request:
        try:
            body = (base / str(request["body_file"])).read_bytes()
        except OSError as error:
            raise ScenarioError(f"{path}.request.body_file: {error.strerror}") from None
    elif isinstance(request.get("body", ""), str):
        body = str(request.get("body", "")).encode("utf-8")
    else:
        raise ScenarioError(f"{path}.request.body: expected the raw body as a string")
    path_value = request.get("path")
    if not isinstance(path_value, str) or not path_value.startswith("/"):
        raise ScenarioError(f"{path}.request.path: expected a path like /webhooks/generic/ID")
    return HttpStep(at=at, method=str(request.get("method", "POST")).upper(), path=path_value,
                    headers={str(k): str(v) for k, v in headers.items()}, body=body, note=note)


def _follow(data: Any, path: str, at: datetime, note: str) -> FollowStep:
    spec = _mapping(data, path, FOLLOW_FIELDS)
    link = spec.get("link")
    if not isinstance(link, str) or not (link in LINK_PATHS or link.startswith("/")):
        raise ScenarioError(f"{path}.link: expected one of {', '.join(LINK_PATHS)} or a path "
                            "prefix such as /manage/")
    one_click = _flag(spec, "one_click", path)
    method = str(spec.get("method", "POST" if one_click else "GET")).upper()
    if method not in ("GET", "POST"):
        raise ScenarioError(f"{path}.method: expected GET or POST")
    form = _strings(spec.get("form"), f"{path}.form")
    if one_click and (method != "POST" or form or link != "unsubscribe"):
        raise ScenarioError(f"{path}.one_click: a bare POST of the unsubscribe link, "
                            "without method GET or form fields")
    from_page = _flag(spec, "from_page", path)
    if from_page and (method != "POST" or not form):
        raise ScenarioError(f"{path}.from_page: needs method POST and the form fields that "
                            "pick the form (such as action: erase_confirmed)")
    return FollowStep(at=at, email=_email_ref(spec.get("email"), f"{path}.email"), link=link,
                      method=method, form=form, one_click=one_click, from_page=from_page,
                      headers=_strings(spec.get("headers"), f"{path}.headers"), note=note)


def _ses(data: Any, path: str, at: datetime, note: str) -> SesStep:
    spec = _mapping(data, path, {"event", "to", "email"})
    event = spec.get("event")
    if event not in SES_EVENTS:
        raise ScenarioError(f"{path}.event: expected one of {', '.join(SES_EVENTS)}")
    about = spec.get("email") or {}
    if not isinstance(about, dict):
        raise ScenarioError(f"{path}.email: expected a mapping (kind, series, session, pick)")
    if "to" in spec and "to" in about:
        raise ScenarioError(f"{path}.to: give the address once (to: or email.to:)")
    ref = _email_ref({**about, **({"to": spec["to"]} if "to" in spec else {})}, path)
    return SesStep(at=at, event=cast(SesEvent, event), email=ref, note=note)


def _zoom(data: Any, path: str, at: datetime, note: str, context: _Context,
          series_id: str) -> ZoomStep:
    where = f"{path}.zoom"
    spec = _mapping(data, where, ZOOM_FIELDS)
    if spec.get("event") not in ("joined", "left"):
        raise ScenarioError(f"{where}.event: expected joined or left")
    webinar = spec.get("webinar")
    if not isinstance(webinar, str | int) or isinstance(webinar, bool) \
            or not str(webinar).isdigit():
        raise ScenarioError(f"{where}.webinar: expected the Zoom webinar id (digits)")
    address = spec.get("email")
    if not isinstance(address, str) or "@" not in address:
        raise ScenarioError(f"{where}.email: expected the participant's address")
    if not split_secrets(context.secrets.get("zoom", "")):
        raise ScenarioError(f"{where}: the scenario's secrets need a zoom secret to sign with")
    start = spec.get("occurrence_start")
    return ZoomStep(at=at, event=cast(ZoomParticipantEvent, spec["event"]),
                    webinar=str(webinar), email=address, name=str(spec.get("name", "")),
                    series_id=series_id, note=note,
                    occurrence_start=None if start is None
                    else _instant(start, f"{where}.occurrence_start"))


def _email_ref(data: Any, path: str) -> EmailRef:
    spec = _mapping(data, path, EMAIL_FIELDS)
    to = spec.get("to")
    if not isinstance(to, str) or "@" not in to:
        raise ScenarioError(f"{path}.to: expected the recipient's address")
    pick = spec.get("pick", "last")
    if not (pick in ("first", "last") or (isinstance(pick, int) and not isinstance(pick, bool)
                                          and pick >= 1)):
        raise ScenarioError(f"{path}.pick: expected first, last or a number from 1")
    texts = {}
    for name in ("kind", "series", "session", "announcement"):
        value = spec.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise ScenarioError(f"{path}.{name}: expected text")
        texts[name] = value
    if texts["kind"] is not None and texts["kind"] not in KINDS:
        raise ScenarioError(f"{path}.kind: expected one of {', '.join(KINDS)}")
    return EmailRef(to=to, pick=pick, **texts)


def _mapping(data: Any, path: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping")
    unknown = sorted(str(k) for k in set(data) - allowed)
    if unknown:
        raise ScenarioError(f"{path}.{unknown[0]}: unknown field")
    return data


def _flag(spec: dict[str, Any], name: str, path: str) -> bool:
    value = spec.get(name, False)
    if not isinstance(value, bool):
        raise ScenarioError(f"{path}.{name}: expected true or false")
    return value


def _strings(data: Any, path: str) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, str | int | bool) for v in
                                             data.values()):
        raise ScenarioError(f"{path}: expected a mapping of names to text")
    return {str(k): str(v) for k, v in data.items()}


def _instant(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ScenarioError(f"{field}: expected an ISO UTC time like "
                                "2023-10-02T09:00:00Z") from None
    if moment.tzinfo is None:
        raise ScenarioError(f"{field}: give the offset (Z for UTC)")
    return moment.astimezone(UTC)

