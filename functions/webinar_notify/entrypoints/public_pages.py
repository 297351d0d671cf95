"""Pages registrants reach from their emails (no login: the signed token is the credential).

Every answer on these paths, pages, feed, data download and every error, leaves through
``secured``, the one place that sets the security headers. A POST must come from the page
itself (or from no browser at all) and carry a form; RFC 8058's one-click unsubscribe is the
one exception, because mail providers send it from their own servers.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from ..bootstrap import services
from ..core import edge
from ..core.errors import InvalidInputError, NotFoundError, PayloadError
from ..core.forms import multipart_fields
from .request_body import raw_body

metrics = Metrics()  # the same metric set as the API's handler, which flushes it
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
PAGE_PREFIXES = ("/manage/", "/unsubscribe/", "/optin/", "/calendar/")
# No script at all; the pages style with inline style attributes (the same markup as the
# emails), so inline styles are the one thing allowed. Forms post only to the page itself.
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                           "base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never hand it on
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "private, no-store",  # unless the route says otherwise (the feed)
}
FEED_CACHE = "private, max-age=900"  # calendar apps poll; the ETag makes a repeat a 304
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FORM_BYTES = 16 * 1024  # the biggest form here is a few hundred bytes
MAX_FORM_FIELDS = 20
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058: the body of the one-click POST
SAME_SITE = ("same-origin", "none")  # Sec-Fetch-Site values of the page's own buttons


class Refused(InvalidInputError):
    """A request the pages do not take (cross-site, odd body); nothing is read or changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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


def secured(event: Mapping[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The security headers on every answer on a page path, whatever produced it (a page,
    the feed, a refusal, a 404 for a path that matches no route); a header a route set
    itself (the feed's caching) is kept."""
    path = str(event.get("rawPath") or "")
    if path.startswith(PAGE_PREFIXES):
        headers = answer.setdefault("headers", {})
        present = {name.lower() for name in headers}
        headers.update({name: value for name, value in SECURITY_HEADERS.items()
                        if name.lower() not in present})
    return answer


def _same_site_form() -> dict[str, str]:
    form = _form()
    _refuse_cross_site()
    return form


def _refuse_cross_site() -> None:
    """403 unless the POST came from the page itself. Browsers say where a request comes from
    in Sec-Fetch-Site; those that do not send it send Origin (with Referrer-Policy
    no-referrer a browser's own form sends "Origin: null", which is only trusted with
    Sec-Fetch-Site). A request with neither comes from no browser: no web page can make a
    browser leave both out, so it is no cross-site request (the token is its credential)."""
    event = router.current_event
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    site = headers.get("sec-fetch-site")
    if site is not None:
        if site.lower() not in SAME_SITE:
            raise Refused(403, "this form can only be sent from its own page")
        return
    origin = headers.get("origin")
    if origin is None:
        return
    own = {headers.get("host", "").lower(), str(event.request_context.domain_name).lower()}
    if origin == "null" or urlsplit(origin).netloc.lower() not in own:
        raise Refused(403, "this form can only be sent from its own page")


def _form() -> dict[str, str]:
    """The posted form: URL-encoded or multipart (RFC 8058 mail providers send either), at most
    16 KB; an empty body is an empty form. Anything else is a 415 or a 400."""
    event = router.current_event
    body = raw_body(event)
    if len(body) > MAX_FORM_BYTES:
        raise Refused(413, f"the form is larger than {MAX_FORM_BYTES} bytes")
    content_type = (event.headers or {}).get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if not body and not kind:
        return {}
    if kind not in FORM_TYPES:
        raise Refused(415, "send the form as application/x-www-form-urlencoded or "
                           "multipart/form-data")
    try:
        if kind == FORM_TYPES[0]:
            fields = parse_qs(body.decode("utf-8"), max_num_fields=MAX_FORM_FIELDS)
            return {name: values[0] for name, values in fields.items()}
        return multipart_fields(content_type, body, MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError, PayloadError):
        raise Refused(400, "the form could not be read") from None


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
