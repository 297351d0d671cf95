"""Scenario files: a series, a time span, secrets, and requests as providers send them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInputError
from ..core.series import Series
from ..organiser_requests import ACTIONS as ORGANISER_ACTIONS
from ..series_files import load_series_file, read_yaml

SCENARIO_FIELDS = {"series", "start", "until", "secrets", "token_secret", "steps", "description"}


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


Step = HttpStep | OrganiserStep


@dataclass(frozen=True, slots=True)
class Scenario:
    series: Series
    start: datetime
    until: datetime
    secrets: dict[str, str]
    steps: tuple[Step, ...]
    token_secret: str | None = None
    base: Path = Path()  # the scenario's folder: files in organiser steps are relative to it


def load_scenario(path: Path) -> Scenario:
    data = read_yaml(path, ScenarioError)
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping")
    unknown = sorted(set(data) - SCENARIO_FIELDS)
    if unknown:
        raise ScenarioError(f"{path}: {unknown[0]}: unknown field")
    base = path.parent
    if not isinstance(data.get("series"), str):
        raise ScenarioError(f"{path}: series: required, a path relative to the scenario")
    series = load_series_file(base / data["series"])
    start, until = _instant(data.get("start"), "start"), _instant(data.get("until"), "until")
    if until < start:
        raise ScenarioError("until: must not be before start")
    secrets = data.get("secrets") or {}
    if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
        raise ScenarioError("secrets: expected a mapping of provider to secret")
    raw_steps = data.get("steps") or []
    if not isinstance(raw_steps, list):
        raise ScenarioError("steps: expected a list")
    steps = tuple(sorted((_step(s, f"steps[{i}]", base) for i, s in enumerate(raw_steps)),
                         key=lambda step: step.at))
    return Scenario(series=series, start=start, until=until, secrets=dict(secrets),
                    steps=steps, token_secret=data.get("token_secret"), base=base)


def _step(data: Any, path: str, base: Path) -> Step:
    if isinstance(data, dict) and isinstance(data.get("organiser"), dict):
        action = dict(data["organiser"])
        if action.get("action") not in ORGANISER_ACTIONS:
            raise ScenarioError(f"{path}.organiser.action: expected one of "
                                f"{', '.join(ORGANISER_ACTIONS)}")
        return OrganiserStep(at=_instant(data.get("at"), f"{path}.at"), action=action,
                             note=str(data.get("note", "")))
    if not isinstance(data, dict) or "request" not in data:
        raise ScenarioError(f"{path}: expected `at` and a `request` or an `organiser` action")
    request = data["request"]
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
    return HttpStep(at=_instant(data.get("at"), f"{path}.at"),
                    method=str(request.get("method", "POST")).upper(), path=path_value,
                    headers={str(k): str(v) for k, v in headers.items()}, body=body,
                    note=str(data.get("note", "")))


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

