"""Pages registrants reach from their emails (no login: the signed token is the credential)."""

from __future__ import annotations

import html
import json
from urllib.parse import parse_qs

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from ..bootstrap import services
from ..core.errors import NotFoundError, PayloadError

metrics = Metrics()  # the same metric set as the API's handler, which flushes it
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
PAGE_HEADERS = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer",
                "X-Robots-Tag": "noindex"}


@router.get("/manage/<series_id>/<token>")
def manage_page(series_id: str, token: str) -> Response[str]:
    return _page(lambda: services().manage.render(series_id, token))


@router.post("/manage/<series_id>/<token>")
def manage_action(series_id: str, token: str) -> Response[str]:
    form = _form()
    return _page(lambda: services().manage.act(series_id, token, form))


@router.get("/manage/<series_id>/<token>/data")
def download(series_id: str, token: str) -> Response[str]:
    try:
        data = services().manage.data(series_id, token)
    except NotFoundError as error:
        return Response(404, "application/json", json.dumps({"error": str(error)}))
    metrics.add_metric(name="DataDownloads", unit=MetricUnit.Count, value=1)
    return Response(200, "application/json", json.dumps(data, ensure_ascii=False, indent=2),
                    headers={**PAGE_HEADERS, "Content-Disposition":
                             f'attachment; filename="{series_id}-my-data.json"'})


@router.get("/optin/<series_id>/<token>")
def opt_in_page(series_id: str, token: str) -> Response[str]:
    return _page(lambda: services().preferences.opt_in_page(series_id, token))


@router.post("/optin/<series_id>/<token>")
def opt_in(series_id: str, token: str) -> Response[str]:
    return _page(lambda: services().preferences.opt_in(series_id, token))


@router.get("/unsubscribe/<series_id>/<token>")
def unsubscribe_page(series_id: str, token: str) -> Response[str]:
    scope = (router.current_event.query_string_parameters or {}).get("scope", "all")
    return _page(lambda: services().preferences.page(series_id, token, scope))


@router.post("/unsubscribe/<series_id>/<token>")
def unsubscribe(series_id: str, token: str) -> Response[str]:
    """RFC 8058: a bare POST with List-Unsubscribe=One-Click unsubscribes; so does the page's
    button, which may also say "subscribe again"."""
    form = _form()
    scope = form.get("scope") or \
        (router.current_event.query_string_parameters or {}).get("scope", "all")
    preferences = services().preferences

    def act() -> str:
        if form.get("action") == "resubscribe":
            preferences.resubscribe(series_id, token)
            metrics.add_metric(name="Resubscribed", unit=MetricUnit.Count, value=1)
            return preferences.page(series_id, token, scope, done="resubscribed")
        preferences.unsubscribe(series_id, token, scope)
        metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
        return preferences.page(series_id, token, scope, done="unsubscribed")

    return _page(act)


@router.get("/calendar/<series_id>/<token>")
def calendar_feed(series_id: str, token: str) -> Response[str]:
    """A personal feed a calendar app subscribes to (webcal://); cached for a little while."""
    try:
        body, etag = services().manage.feed(series_id, token)
    except NotFoundError as error:
        metrics.add_metric(name="LinksRefused", unit=MetricUnit.Count, value=1)
        return Response(404, "text/plain; charset=utf-8", str(error), headers=PAGE_HEADERS)
    metrics.add_metric(name="CalendarFeedsServed", unit=MetricUnit.Count, value=1)
    if (router.current_event.headers or {}).get("if-none-match") == etag:
        return Response(304, "text/calendar; charset=utf-8", "", headers={
            "ETag": etag, "Cache-Control": "private, max-age=900"})
    return Response(200, "text/calendar; charset=utf-8", body.decode("utf-8"), headers={
        "ETag": etag, "Cache-Control": "private, max-age=900", "X-Robots-Tag": "noindex"})


def _form() -> dict[str, str]:
    """The posted form (application/x-www-form-urlencoded); an undecodable body is empty."""
    try:
        raw = router.current_event.decoded_body or ""
    except UnicodeDecodeError:
        raw = ""
    return {k: v[0] for k, v in parse_qs(raw).items()}


def _page(render: object) -> Response[str]:
    try:
        body = render()  # type: ignore[operator]
    except NotFoundError as error:
        metrics.add_metric(name="LinksRefused", unit=MetricUnit.Count, value=1)
        return Response(404, "text/html; charset=utf-8", f"<p>{html.escape(str(error))}</p>",
                        headers=PAGE_HEADERS)
    except PayloadError as error:
        metrics.add_metric(name="LinksRefused", unit=MetricUnit.Count, value=1)
        return Response(400, "text/html; charset=utf-8", f"<p>{html.escape(str(error))}</p>",
                        headers=PAGE_HEADERS)
    metrics.add_metric(name="PagesShown", unit=MetricUnit.Count, value=1)
    return Response(200, "text/html; charset=utf-8", str(body), headers=PAGE_HEADERS)


def include(app: APIGatewayHttpResolver) -> None:
    app.include_router(router)
