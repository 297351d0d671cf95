"""The organiser console: pages rendered on the server, every action a plain form.

The session is the Cognito ID token in an HttpOnly cookie (core/console_session.py); every
page verifies it and reads the organiser's series and role from it. A page without a valid
session sends the browser to sign in (and clears a refused cookie); a series the organiser
holds no role on is a 403 page. Every POST carries the session's CSRF token and must come
from the console's own page; every action goes through the organiser's one write path
(``Organiser.perform``) with the Idempotency-Key the form was rendered with, so a double
submit acts once and the audit trail says who did it.

This module has the series' own pages (overview, registrants, timeline, delivery, audit) and
puts the console together (``include``): signing in, composing, sessions and jobs are in the
``console_*`` modules beside it, what they share in ``console_common``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from ..bootstrap import find_templates, services
from ..core import edge
from ..core.errors import InvalidInputError, PayloadError
from ..core.series import Series
from ..services.answers import Answer
from ..services.console_views import ConsoleViews, views_from, zone_choices
from ..services.organising import Organiser
from ..services.registrant_care import (
    RegistrantCancelled,
    RegistrantErased,
    SuppressionLifted,
)
from . import (
    console_approvals,
    console_certificates,
    console_common,
    console_compose,
    console_jobs,
    console_session_pages,
    console_sessions,
)
from . import console_forms as forms
from .console_common import (
    CONSOLE,
    SERIES,
    Visit,
    answer_notice,
    checked_form,
    html,
    metrics,
    not_found_page,
    perform,
    query,
    redirect,
    render,
    series_page,
    series_url,
    series_visit,
    visit,
)

__all__ = ["CONSOLE", "include", "not_found_page"]
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
ROUTERS = (console_common.router, console_session_pages.router, router,
           console_jobs.router, console_compose.router, console_sessions.router,
           console_approvals.router, console_certificates.router)
STATIC_TYPES = {"console.css": "text/css; charset=utf-8",
                "preview.js": "text/javascript; charset=utf-8",
                "job.js": "text/javascript; charset=utf-8"}


def include(app: APIGatewayHttpResolver) -> None:
    """Every console router, and the shared one whose ``current_event`` the helpers read."""
    for each in ROUTERS:
        app.include_router(each)


@router.get(f"{CONSOLE}/")
def console_root() -> Response[str]:
    return redirect(CONSOLE)


# The home is /console itself: on API Gateway, /console/{proxy+} does not route a bare
# "/console/", and /console is the one address that works everywhere.
@router.get(CONSOLE)
def home() -> Response[str]:
    def page(seen: Visit) -> Response[str]:
        listed = views_from(services()).home(seen.identity)
        return html(200, render("home.html", seen, title="Your series", listed=listed))
    return visit(page)


@router.get(SERIES)
def series_root(series_id: str) -> Response[str]:
    edge.check_id(series_id, "series id")
    return redirect(f"{CONSOLE}/series/{series_id}/")


@router.get(f"{SERIES}/")
def overview(series_id: str) -> Response[str]:
    return _zoned_page(series_id, "overview", ConsoleViews.overview)


@router.get(f"{SERIES}/registrants")
def registrants(series_id: str) -> Response[str]:
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        model = views.registrants(views.series(series_id), query("q"), query("cursor"))
        return html(200, series_page("registrants.html", seen, model, "registrants"))
    return series_visit(series_id, "viewer", page)


@router.get(f"{SERIES}/registrants/<registrant_id>")
def registrant(series_id: str, registrant_id: str) -> Response[str]:
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        return _registrant_page(seen, views, series_id, registrant_id, confirm="")
    return series_visit(series_id, "viewer", page, registrant_id=registrant_id)


@router.post(f"{SERIES}/registrants/<registrant_id>")
def registrant_action(series_id: str, registrant_id: str) -> Response[str]:
    def act(seen: Visit, views: ConsoleViews) -> Response[str]:
        form = checked_form(seen)
        action = form.get("action", "")
        if action in ("cancel", "erase"):  # the first press: ask once more
            return _registrant_page(seen, views, series_id, registrant_id, confirm=action)
        if action not in ("cancel_confirmed", "erase_confirmed"):
            raise PayloadError("unknown action")
        verb = action.removesuffix("_confirmed")

        def run(o: Organiser) -> Answer:
            if verb == "cancel":
                return _care_answer(o.cancel_registrant(series_id, registrant_id))
            return _care_answer(o.erase_registrant(series_id, registrant_id))
        answer = perform(seen, form, f"{verb}_registrant", series_id,
                         {"registrant": registrant_id}, run)
        if verb == "erase" and answer.status < 300:
            return redirect(series_url(series_id, "registrants", notice="erased"))
        return _registrant_page(seen, views, series_id, registrant_id, confirm="",
                                notice=answer_notice(answer, "Registration cancelled."))
    return series_visit(series_id, "editor", act, registrant_id=registrant_id)


@router.get(f"{SERIES}/timeline")
def timeline(series_id: str) -> Response[str]:
    return _zoned_page(series_id, "timeline", ConsoleViews.timeline)


@router.get(f"{SERIES}/delivery")
def delivery(series_id: str) -> Response[str]:
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        model = views.delivery(views.series(series_id), query("cursor"))
        return html(200, series_page("delivery.html", seen, model, "delivery",
                                     address="", errors=[]))
    return series_visit(series_id, "viewer", page)


@router.post(f"{SERIES}/delivery")
def lift_suppression(series_id: str) -> Response[str]:
    def act(seen: Visit, views: ConsoleViews) -> Response[str]:
        form = checked_form(seen)
        series = views.series(series_id)
        try:
            sid = views.suppression_of(form.get("address", ""))
        except InvalidInputError as error:
            model = views.delivery(series)
            return html(400, series_page("delivery.html", seen, model, "delivery",
                                         address=form.get("address", ""),
                                         errors=[forms.error("address", str(error))]))
        answer = perform(seen, form, "lift_suppression", series_id, {"suppression": sid},
                         lambda o: _care_answer(o.lift_suppression(series_id, sid)))
        lifted = bool(answer.body.get("lifted"))
        notice = ("The address may be mailed again." if lifted else
                  "That address is not suppressed for this series.")
        model = views.delivery(series)
        return html(200, series_page("delivery.html", seen, model, "delivery", address="",
                                     errors=[], notice=notice))
    return series_visit(series_id, "editor", act)


@router.get(f"{SERIES}/audit")
def audit(series_id: str) -> Response[str]:
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        model = views.audit_trail(views.series(series_id),
                                  {seen.identity.caller: seen.identity.name},
                                  query("cursor"))
        return html(200, series_page("audit.html", seen, model, "audit"))
    return series_visit(series_id, "viewer", page)


@router.get(f"{CONSOLE}/static/<name>")
def static(name: str) -> Response[str]:
    content_type = STATIC_TYPES.get(name)
    if content_type is None:
        return html(404, render("error.html", None, title="Not found",
                                message="There is no such file."))
    body = (find_templates() / "console" / "static" / name).read_text("utf-8")
    metrics.add_metric(name="ConsoleFiles", unit=MetricUnit.Count, value=1)
    return Response(200, content_type, body, headers={"Cache-Control": "private, max-age=300"})


def _zoned_page(series_id: str, name: str,
                build: Callable[[ConsoleViews, Series, str], dict[str, Any]]) -> Response[str]:
    """A page whose times show in a zone the viewer picks (``?tz=``), with the zone menu."""
    def page(seen: Visit, views: ConsoleViews) -> Response[str]:
        series = views.series(series_id)
        model = build(views, series, query("tz"))
        return html(200, series_page(f"{name}.html", seen, model, name,
                                     zones=zone_choices(series, model["viewer_zone"])))
    return series_visit(series_id, "viewer", page)


def _registrant_page(seen: Visit, views: ConsoleViews, series_id: str, registrant_id: str,
                     confirm: str, notice: str = "") -> Response[str]:
    model = views.registrant(views.series(series_id), registrant_id, query("tz"))
    name = str(model["registrant"].get("name") or "A registrant")
    return html(200, series_page("registrant.html", seen, model, "registrants",
                                 heading=f"{name}: {model['series']['title']}",
                                 confirm=confirm, notice=notice))


def _care_answer(result: RegistrantCancelled | RegistrantErased | SuppressionLifted) -> Answer:
    match result:
        case RegistrantCancelled():
            return Answer(200, {"status": "cancelled", "registrant": result.registrant_id,
                                "recipients": result.recipients})
        case RegistrantErased():
            return Answer(200, {"status": "erased", "registrant": result.registrant_id})
        case SuppressionLifted():
            return Answer(200, {"lifted": result.lifted,
                                "suppression": result.suppression_id})

