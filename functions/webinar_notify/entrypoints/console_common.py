"""What every console page shares: who is signed in (the session cookie, its CSRF token), the
two wrappers every handler runs in (``visit`` and ``series_visit``, which turn a refusal into
a page), the one write path for actions, and rendering, redirects and error pages.

The console's routers are included in the API's resolver (``console_pages.include``); this
module's ``router`` is included too, so that ``router.current_event`` here is the request
being answered, whichever console module's route it reached.
"""

from __future__ import annotations

import json
import secrets as random_tokens
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie

from ..bootstrap import services
from ..core import console_session, edge
from ..core.console_views import moment_in
from ..core.errors import InvalidInputError, SignatureError
from ..core.organiser_access import (
    AccessDenied,
    OrganiserIdentity,
    Role,
    identity_from_claims,
    require,
)
from ..services.answers import Answer
from ..services.console_views import ConsoleViews, views_from
from ..services.organising import Organiser
from .page_security import read_form, refuse_cross_site

metrics = Metrics()  # the same metric set as the API's handler, which flushes it
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
CONSOLE = "/console"
SIGN_IN = f"{CONSOLE}/sign-in"
SERIES = f"{CONSOLE}/series/<series_id>"
HTML = "text/html; charset=utf-8"
MAX_CONSOLE_FORM = 64 * 1024  # an announcement's Markdown may be long


@dataclass(frozen=True, slots=True)
class Visit:
    """A signed-in organiser on a page: who they are, their session and its CSRF token."""

    identity: OrganiserIdentity
    token: str
    csrf: str


class SignedOut(Exception):
    """No valid session: go to sign in (clearing the cookie when one was refused)."""

    def __init__(self, clear: bool) -> None:
        super().__init__("sign in")
        self.clear = clear


class NotFound(InvalidInputError):
    status = 404


def visit(handle: Callable[[Visit], Response[str]]) -> Response[str]:
    """A page for anyone signed in."""
    try:
        return handle(signed_in())
    except SignedOut as out:
        return redirect(SIGN_IN, cookie=console_session.cleared_cookie() if out.clear
                        else None)
    except InvalidInputError as error:
        return error_page(error, None)


def series_visit(series_id: str, role: Role,
                 handle: Callable[[Visit, ConsoleViews], Response[str]],
                 json_errors: bool = False, **ids: str) -> Response[str]:
    """A page of one series: signed in, holding ``role`` on it, ids well-formed."""
    seen: Visit | None = None
    try:
        seen = signed_in()
        for name, value in {"series_id": series_id, **ids}.items():
            edge.check_id(value, name.replace("_", " "))
        require(seen.identity, series_id, role)
        return handle(seen, views_from(services()))
    except SignedOut as out:
        if json_errors:
            return json_answer(401, {"error": "sign in again"})
        return redirect(SIGN_IN, cookie=console_session.cleared_cookie() if out.clear
                        else None)
    except InvalidInputError as error:
        if json_errors:
            return json_answer(error.status, {"error": str(error)})
        return error_page(error, seen)


def signed_in() -> Visit:
    event = router.current_event
    raw = event.raw_event
    cookies = raw.get("cookies") if isinstance(raw.get("cookies"), list) else None
    token = console_session.token_from_cookies(cookies, (event.headers or {}).get("cookie"))
    if token is None:
        raise SignedOut(clear=False)
    try:
        claims = services().verifier.verify(token)
        identity = identity_from_claims(claims)
    except SignatureError:
        metrics.add_metric(name="ConsoleSessionsRefused", unit=MetricUnit.Count, value=1)
        raise SignedOut(clear=True) from None
    return Visit(identity, token, console_session.csrf_token(_csrf_secret(), token))


def _csrf_secret() -> bytes:
    return console_session.csrf_secret(services().organiser.secrets.token_secrets()[0])


def checked_form(seen: Visit) -> dict[str, str]:
    """The posted form, once it is known to come from this session's own page."""
    event = router.current_event
    form = read_form(event, MAX_CONSOLE_FORM, 40, keep_blank=True)
    refuse_cross_site(event)
    if not console_session.csrf_ok(_csrf_secret(), seen.token, form.get("csrf", "")):
        raise AccessDenied("this form has expired or was not sent from the console: "
                           "reload the page and try again")
    return form


def plain_form() -> dict[str, str]:
    """A posted form before anyone is signed in (the sign-in form), from the console's page."""
    event = router.current_event
    form = read_form(event, keep_blank=True)
    refuse_cross_site(event)
    return form


def perform(seen: Visit, form: Mapping[str, str], action: str, series_id: str,
            body: dict[str, Any], run: Callable[[Organiser], Answer]) -> Answer:
    """An action through the organiser's one write path, idempotent by the form's key."""
    organiser = services().organiser
    request = {"path": request_path(), "body": body, "by": seen.identity.name}
    answer = organiser.perform(seen.identity.caller, form.get("key", ""), action, series_id,
                               request, lambda: run(organiser))
    metrics.add_metric(name="OrganiserActions", unit=MetricUnit.Count, value=1)
    return answer


def answer_notice(answer: Answer, done: str) -> str:
    return done if answer.status < 300 else str(answer.body.get("error", "Not done."))


def request_path() -> str:
    return router.current_event.path


def query(name: str) -> str:
    return str((router.current_event.query_string_parameters or {}).get(name, ""))


def series_url(series_id: str, page: str, **params: str) -> str:
    return f"{CONSOLE}/series/{series_id}/{page}" + (f"?{urlencode(params)}" if params else "")


def job_link(series_id: str, answer: Answer) -> dict[str, str] | None:
    """Where to follow what an action handed to a job (a fan-out sending mail now)."""
    job = answer.body.get("job")
    if not isinstance(job, str) or not job:
        return None
    return {"href": series_url(series_id, f"jobs/{job}"), "text": "Follow its progress"}


def render(template: str, seen: Visit | None, **context: Any) -> str:
    base: dict[str, Any] = {
        "signed_in": seen is not None,
        "organiser_name": seen.identity.name if seen else "",
        "my_series": list(seen.identity.series_ids) if seen else [],
        "csrf": seen.csrf if seen else "",
        "series": None, "nav": "", "can_edit": False, "notice": "", "notice_link": None,
        "errors": [], "key": random_tokens.token_urlsafe(18), "console": CONSOLE,
        "page_notice": query("notice") if seen else "",
    }
    return services().organiser.renderer.render(f"console/{template}", base | context)


def series_page(template: str, seen: Visit, model: dict[str, Any], nav: str,
                heading: str = "", **context: Any) -> str:
    """A page of one series, headed ``heading`` or "<nav item>: <series title>"; ``nav`` is
    the navigation item marked current (none matches "session": a session is no overview)."""
    series_id = model["series"]["id"]
    zone = str(model["series"].get("time_zone") or "UTC")
    return render(template, seen, **model, nav=nav,
                  can_edit=seen.identity.can_edit(series_id),
                  # the console's own clock: a rehearsal's virtual time shows as such
                  now_words=moment_in(services().clock.now(), zone),
                  title=heading or f"{_TITLES[nav]}: {model['series']['title']}",
                  base_url=f"{CONSOLE}/series/{series_id}", **context)


_TITLES = {"overview": "Overview", "registrants": "Registrants", "timeline": "Timeline",
           "delivery": "Delivery", "compose": "Compose", "audit": "Audit trail",
           "certificates": "Certificates"}


def not_found_page() -> Response[str]:
    """A console path that matches no route: a page, as every other console answer is."""
    return html(404, render("error.html", None, title="Not found",
                            message="There is no such page in the console."))


def error_page(error: InvalidInputError, seen: Visit | None) -> Response[str]:
    titles = {400: "That did not work", 403: "Not allowed", 404: "Not found",
              409: "Try again", 413: "Too large", 415: "Not a form", 422: "Not accepted",
              429: "Too many attempts"}
    metrics.add_metric(name="ConsolePagesRefused", unit=MetricUnit.Count, value=1)
    return html(error.status, render("error.html", seen,
                                     title=titles.get(error.status, "That did not work"),
                                     message=str(error)))


def html(status: int, body: str) -> Response[str]:
    metrics.add_metric(name="ConsolePages", unit=MetricUnit.Count, value=1)
    return Response(status, HTML, body)


def json_answer(status: int, body: dict[str, Any]) -> Response[str]:
    metrics.add_metric(name="ConsolePreviews", unit=MetricUnit.Count, value=1)
    return Response(status, "application/json", json.dumps(body, ensure_ascii=False))


def redirect(location: str, cookie: str | None = None) -> Response[str]:
    metrics.add_metric(name="ConsoleRedirects", unit=MetricUnit.Count, value=1)
    cookies = [cast(Cookie, _SetCookie(cookie))] if cookie else None
    return Response(303, HTML, "", headers={"Location": location}, cookies=cookies)


class _SetCookie:
    """A Set-Cookie value made elsewhere (core/console_session.py), passed on as it is."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:
        return self.value
