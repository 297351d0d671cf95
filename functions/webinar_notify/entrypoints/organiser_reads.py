"""Read routes of the organiser API (JSON): everything the console's pages show, for other
tools. API Gateway's JWT authorizer has verified the Cognito ID token; its claims arrive in
the request context and give the organiser's series and role, as on the console's pages.
Lists are paginated with an opaque ``cursor``; every read is a Get or a Query page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from ..bootstrap import services
from ..core import edge
from ..core.errors import PayloadError, SignatureError
from ..core.organiser_access import OrganiserIdentity, identity_from_claims, require
from ..core.series import Series
from ..core.text import whole_number
from ..services.console_exports import jobs_from
from ..services.console_views import ConsoleViews, views_from
from ..services.seat_views import approvals_view

metrics = Metrics()  # the same metric set as the API's handler, which flushes it
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
SERIES = "/organiser/series/<series_id>"
MAX_LIMIT = 200


def _read(series_id: str, view: Callable[[ConsoleViews, Series, OrganiserIdentity],
                                         dict[str, Any]], **ids: str) -> Response[str]:
    """Authorised by the token's groups (401 without claims, 403 for another series), ids
    checked, then the view model as JSON."""
    claims = _claims()
    if not claims:
        return _json(401, {"error": "sign in: send a Cognito ID token as a Bearer token"})
    try:
        identity = identity_from_claims(claims)
    except SignatureError as error:
        return _json(401, {"error": str(error)})
    for name, value in {"series_id": series_id, **ids}.items():
        edge.check_id(value, name.replace("_", " "))
    require(identity, series_id, "viewer")
    views = views_from(services())
    body = view(views, views.series(series_id), identity)
    return _json(200, body)


def _claims() -> dict[str, Any]:
    context = router.current_event.raw_event.get("requestContext") or {}
    jwt = (context.get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims")
    return dict(claims) if isinstance(claims, dict) else {}


def _query(name: str) -> str:
    return str((router.current_event.query_string_parameters or {}).get(name, ""))


def _limit(default: int) -> int:
    text = _query("limit")
    if not text:
        return default
    limit = whole_number(text)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise PayloadError(f"limit: a whole number from 1 to {MAX_LIMIT}")
    return limit


@router.get(SERIES)
def overview(series_id: str) -> Response[str]:
    return _read(series_id, lambda v, s, _i: v.overview(s, _query("tz")))


@router.get(f"{SERIES}/registrants")
def registrants(series_id: str) -> Response[str]:
    return _read(series_id, lambda v, s, _i: v.registrants(s, _query("q"), _query("cursor"),
                                                           _limit(50)))


@router.get(f"{SERIES}/registrants/<registrant_id>")
def registrant(series_id: str, registrant_id: str) -> Response[str]:
    return _read(series_id, lambda v, s, _i: v.registrant(s, registrant_id, _query("tz")),
                 registrant_id=registrant_id)


@router.get(f"{SERIES}/approvals")
def approvals(series_id: str) -> Response[str]:
    """Registrants awaiting approval (``cursor``), every session's seats, and one session's
    waitlist in order (``session``, paged by ``line``)."""
    return _read(series_id, lambda v, s, _i: {"series": v.head(s), **approvals_view(
        services().store, s, _query("cursor"), _query("session"), _query("line"),
        services().clock.now())})


@router.get(f"{SERIES}/timeline")
def timeline(series_id: str) -> Response[str]:
    return _read(series_id, lambda v, s, _i: v.timeline(s, _query("tz")))


@router.get(f"{SERIES}/delivery")
def delivery(series_id: str) -> Response[str]:
    return _read(series_id, lambda v, s, _i: v.delivery(s, _query("cursor"), _limit(50)))


@router.get(f"{SERIES}/audit")
def audit(series_id: str) -> Response[str]:
    return _read(series_id, lambda v, s, i: v.audit_trail(s, {i.caller: i.name},
                                                          _query("cursor"), _limit(50)))


@router.get(f"{SERIES}/jobs/<job_id>")
def job(series_id: str, job_id: str) -> Response[str]:
    """A job's progress (``summary`` says it in words); once an export is done, a link to it
    that works for five minutes, handed out (and audited) as the console's download is."""
    return _read(series_id, lambda _v, _s, i: jobs_from(services()).state_with_link(
        series_id, job_id, i.caller, i.name, router.current_event.path), job_id=job_id)


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    metrics.add_metric(name="OrganiserReads", unit=MetricUnit.Count, value=1)
    return Response(status, "application/json", json.dumps(body, ensure_ascii=False))


def include(app: APIGatewayHttpResolver) -> None:
    app.include_router(router)
