"""Pages registrants reach from their emails (no login: the signed token is the credential).

Every answer on these paths, pages, feed, data download and every error, leaves through
``secured``, the one place that sets the security headers. A POST must come from the page
itself (or from no browser at all) and carry a form; RFC 8058's one-click unsubscribe is the
one exception, because mail providers send it from their own servers.

Pages speak the person's stored language, else the browser's ``Accept-Language``, else the
series' default (the services choose); error pages, which may know no person, speak the
browser's language. Each answer says its language in ``Content-Language``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from ..bootstrap import services
from ..core import edge, i18n
from ..core.errors import InvalidInputError, NotFoundError
from . import page_security

metrics = Metrics()  # the same metric set as the API's handler, which flushes it
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
FEED_CACHE = "private, max-age=900"  # calendar apps poll; the ETag makes a repeat a 304
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058: the body of the one-click POST
secured = page_security.secured  # the API's handler passes every answer through it
_PAGE_LANGUAGE = re.compile(r'<html lang="([A-Za-z0-9-]{1,35})"')
# What a registrant may read on an error page, translated in the catalogs.
PAGE_ERRORS = (
    i18n.mark("this link is not valid or has expired; use the link from your latest email"),
    i18n.mark("link token must be <registrant id>.<expiry day>.<signature> as in the emails; "
              "check that the whole link was copied"),
    i18n.mark("this form can only be sent from its own page"),
    i18n.mark("the form could not be read"),
    i18n.mark("this confirmation is missing or has expired: press \"Delete my data\" again, "
              "then confirm within 10 minutes"),
    i18n.mark("that session cannot be changed any more"),
    i18n.mark("unknown action"),
    i18n.mark("scope must be announcements or all"),
    i18n.mark("no such certificate"),
    i18n.mark("this certificate was revoked: it can no longer be downloaded"),
)


@router.get("/manage/<series_id>/<token>")
def manage_page(series_id: str, token: str) -> Response[str]:
    return _page(lambda: services().manage.render(series_id, token,
                                                  accept_language=_accept_language()),
                 (series_id, token))


@router.post("/manage/<series_id>/<token>")
def manage_action(series_id: str, token: str) -> Response[str]:
    return _page(lambda: services().manage.act(series_id, token, _same_site_form(),
                                               accept_language=_accept_language()),
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


@router.get("/manage/<series_id>/<token>/certificates/<certificate_id>")
def certificate_download(series_id: str, token: str, certificate_id: str
                         ) -> Response[bytes] | Response[str]:
    """One of the person's certificates as a PDF (made on demand), by the manage link's own
    token; a revoked one, or an id that is not theirs, is the error page (404)."""
    try:
        edge.check_page_path(series_id, token)
        pdf, filename = services().manage.certificate(series_id, token, certificate_id[:40],
                                                      accept_language=_accept_language())
    except InvalidInputError as error:
        return _refusal(error)
    metrics.add_metric(name="CertificatesDownloaded", unit=MetricUnit.Count, value=1)
    return Response(200, "application/pdf", pdf, headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/optin/<series_id>/<token>")
def opt_in_page(series_id: str, token: str) -> Response[str]:
    return _page(lambda: services().preferences.opt_in_page(
        series_id, token, accept_language=_accept_language()), (series_id, token))


@router.post("/optin/<series_id>/<token>")
def opt_in(series_id: str, token: str) -> Response[str]:
    def confirm() -> str:
        _same_site_form()
        return services().preferences.opt_in(series_id, token,
                                             accept_language=_accept_language())

    return _page(confirm, (series_id, token))


@router.get("/unsubscribe/<series_id>/<token>")
def unsubscribe_page(series_id: str, token: str) -> Response[str]:
    scope = (router.current_event.query_string_parameters or {}).get("scope", "all")
    return _page(lambda: services().preferences.page(series_id, token, scope,
                                                     accept_language=_accept_language()),
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
            return preferences.page(series_id, token, scope, done="resubscribed",
                                    accept_language=_accept_language())
        preferences.unsubscribe(series_id, token, scope)
        metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
        return preferences.page(series_id, token, scope, done="unsubscribed",
                                accept_language=_accept_language())

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
        language = i18n.from_accept_language(_accept_language()) or i18n.SOURCE
        return Response(404, "text/plain; charset=utf-8", i18n.tr(language, str(error)),
                        headers={"Content-Language": language})
    metrics.add_metric(name="CalendarFeedsServed", unit=MetricUnit.Count, value=1)
    cached = {"ETag": etag, "Cache-Control": FEED_CACHE}
    if (router.current_event.headers or {}).get("if-none-match") == etag:
        return Response(304, "text/calendar; charset=utf-8", "", headers=cached)
    return Response(200, "text/calendar; charset=utf-8", body.decode("utf-8"), headers=cached)


@router.get("/verify")
def verify_form() -> Response[str]:
    """The verification page, and its answer to an id typed in its form (``?id=``)."""
    return _verify((router.current_event.query_string_parameters or {}).get("id", ""))


@router.get("/verify/<certificate_id>")
def verify_page(certificate_id: str) -> Response[str]:
    """A certificate's verification URL: valid (name, series, credits), revoked, or no such
    certificate (never issued, or erased with the registrant's data): the same page, one
    lookup whatever was typed, so the answer's shape tells nothing more than its words."""
    return _verify(certificate_id)


def _verify(typed: str) -> Response[str]:
    from ..core.certificates import normalised_id

    typed = typed.strip()[:40]
    language = i18n.from_accept_language(_accept_language()) or i18n.SOURCE
    record = services().certificates.verification(typed) if typed else None
    state = "" if not typed else "unknown" if record is None else \
        "revoked" if record["revoked"] else "valid"
    metrics.add_metric(name="CertificatesVerified" if record else "CertificatesUnknown",
                       unit=MetricUnit.Count, value=1)
    shown = {k: record[k] for k in ("name", "series", "credits", "credit_label")} \
        if record else None
    body = services().manage.renderer.render("verify.html", {
        "series": None, "subject": i18n.tr(language, "Certificate verification"),
        "state": state, "record": shown, "certificate_id": normalised_id(typed) or typed,
        "typed": typed, "form_action": "/verify"}, language)
    return Response(404 if state == "unknown" else 200, "text/html; charset=utf-8", body,
                    headers={"Content-Language": language, "Cache-Control": "no-store"})


def _accept_language() -> str:
    return (router.current_event.headers or {}).get("accept-language", "")[:500]


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
        return _refusal(error)
    metrics.add_metric(name="PagesShown", unit=MetricUnit.Count, value=1)
    found = _PAGE_LANGUAGE.search(body[:400])
    return Response(200, "text/html; charset=utf-8", body,
                    headers={"Content-Language": found[1] if found else i18n.SOURCE})


def _refusal(error: InvalidInputError) -> Response[str]:
    """The error page with the error's status, in the person's language where the error
    knows it, else the browser's."""
    metrics.add_metric(name="LinksRefused", unit=MetricUnit.Count, value=1)
    language = error.language or i18n.from_accept_language(_accept_language()) or i18n.SOURCE
    return Response(error.status, "text/html; charset=utf-8", _error_page(str(error), language),
                    headers={"Content-Language": language})


def _error_page(message: str, language: str = i18n.SOURCE) -> str:
    """The error in the reader's language when the catalogs know it, else as raised, on a
    page like the others (templates/error.html)."""
    return services().manage.renderer.render("error.html", {
        "series": None, "subject": i18n.tr(language, "Webinar series"),
        "message": i18n.tr(language, message)}, language)


def include(app: APIGatewayHttpResolver) -> None:
    app.include_router(router)
