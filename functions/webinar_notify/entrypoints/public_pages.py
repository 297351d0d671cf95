"""Pages registrants reach from their emails (no login: the signed token is the credential).

Every answer on these paths, pages, feed, data download and every error, leaves through
``secured``, the one place that sets the security headers. A POST must come from the page
itself (or from no browser at all) and carry a form; RFC 8058's one-click unsubscribe is the
one exception, because mail providers send it from their own servers.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from ..bootstrap import services
from ..core import edge
from ..core.errors import InvalidInputError, NotFoundError
from . import page_security

metrics = Metrics()  # the same metric set as the API's handler, which flushes it
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
FEED_CACHE = "private, max-age=900"  # calendar apps poll; the ETag makes a repeat a 304
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058: the body of the one-click POST
secured = page_security.secured  # the API's handler passes every answer through it


@router.get("/manage/<series_id>/<token>")
def manage_page(series_id: str, token: str) -> Response[str]:
    return _page(lambda: services().manage.render(series_id, token), (series_id, token))


@router.post("/manage/<series_id>/<token>")
def manage_action(series_id: str, token: str) -> Response[str]:
    return _page(lambda: services().manage.act(series_id, token, _same_site_form()),
                 (series_id, token))


@router.get("/manage/<series_id>/<token>/data")
def download(series_id: str, token: str) -> Response[str]:
    try:
        edge.check_page_path(series_id, token)
        data = services().manage.data(series_id, token)
    except NotFoundError as error:
        metrics.add_metric(name="LinksRefused", unit=MetricUnit.Count, value=1)
        return Response(404, "application/json", json.dumps({"error": str(error)}))
    metrics.add_metric(name="DataDownloads", unit=MetricUnit.Count, value=1)
    return Response(200, "application/json", json.dumps(data, ensure_ascii=False, indent=2),
                    headers={"Content-Disposition":
                             f'attachment; filename="{series_id}-my-data.json"'})


@router.get("/optin/<series_id>/<token>")
def opt_in_page(series_id: str, token: str) -> Response[str]:
    return _page(lambda: services().preferences.opt_in_page(series_id, token),
                 (series_id, token))


@router.post("/optin/<series_id>/<token>")
def opt_in(series_id: str, token: str) -> Response[str]:
    def confirm() -> str:
        _same_site_form()
        return services().preferences.opt_in(series_id, token)

    return _page(confirm, (series_id, token))


@router.get("/unsubscribe/<series_id>/<token>")
def unsubscribe_page(series_id: str, token: str) -> Response[str]:
    scope = (router.current_event.query_string_parameters or {}).get("scope", "all")
    return _page(lambda: services().preferences.page(series_id, token, scope),
                 (series_id, token))


@router.post("/unsubscribe/<series_id>/<token>")
def unsubscribe(series_id: str, token: str) -> Response[str]:
    """RFC 8058: a POST whose body is List-Unsubscribe=One-Click unsubscribes, from wherever
    it comes (a mail provider's server); so does the page's own button, which may also say
    "subscribe again"."""
    preferences = services().preferences

    def act() -> str:
        form = _form()
        one_click = form.get(ONE_CLICK[0]) == ONE_CLICK[1]
        if not one_click:
            _refuse_cross_site()
        scope = form.get("scope") or \
            (router.current_event.query_string_parameters or {}).get("scope", "all")
        if form.get("action") == "resubscribe" and not one_click:
            preferences.resubscribe(series_id, token)
            metrics.add_metric(name="Resubscribed", unit=MetricUnit.Count, value=1)
            return preferences.page(series_id, token, scope, done="resubscribed")
        preferences.unsubscribe(series_id, token, scope)
        metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
        return preferences.page(series_id, token, scope, done="unsubscribed")

    return _page(act, (series_id, token))


@router.get("/calendar/<series_id>/<token>")
def calendar_feed(series_id: str, token: str) -> Response[str]:
    """A personal feed a calendar app subscribes to (webcal://). Cached privately for a little
    while, unlike the pages: apps poll it, and a 304 costs less than the feed."""
    try:
        edge.check_page_path(series_id, token.removesuffix(".ics"))
        body, etag = services().manage.feed(series_id, token)
    except NotFoundError as error:
        metrics.add_metric(name="LinksRefused", unit=MetricUnit.Count, value=1)
        return Response(404, "text/plain; charset=utf-8", str(error))
    metrics.add_metric(name="CalendarFeedsServed", unit=MetricUnit.Count, value=1)
    cached = {"ETag": etag, "Cache-Control": FEED_CACHE}
    if (router.current_event.headers or {}).get("if-none-match") == etag:
        return Response(304, "text/calendar; charset=utf-8", "", headers=cached)
    return Response(200, "text/calendar; charset=utf-8", body.decode("utf-8"), headers=cached)


def _same_site_form() -> dict[str, str]:
    return page_security.same_site_form(router.current_event)


def _refuse_cross_site() -> None:
    page_security.refuse_cross_site(router.current_event)


def _form() -> dict[str, str]:
    return page_security.read_form(router.current_event)


def _page(render: Callable[[], str], path: tuple[str, str]) -> Response[str]:
    """The page, or the error page with the error's status; a series id or token that cannot
    be one we made is refused before anything is looked up."""
    try:
        edge.check_page_path(*path)
        body = render()
    except InvalidInputError as error:
        metrics.add_metric(name="LinksRefused", unit=MetricUnit.Count, value=1)
        return Response(error.status, "text/html; charset=utf-8", _error_page(str(error)))
    metrics.add_metric(name="PagesShown", unit=MetricUnit.Count, value=1)
    return Response(200, "text/html; charset=utf-8", body)


def _error_page(message: str) -> str:
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<title>Webinar series</title></head>'
            '<body style="margin:0;padding:24px 16px;font-family:Helvetica,Arial,sans-serif;'
            f'color:#1f2933;"><p style="max-width:600px;">{html.escape(message)}</p>'
            '</body></html>\n')


def include(app: APIGatewayHttpResolver) -> None:
    app.include_router(router)
