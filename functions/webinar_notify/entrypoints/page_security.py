"""What every HTML page of the API shares: the security headers on every answer (set in one
place, whatever produced the answer), and the checks a posted form passes before anything is
read from it: its size and type, and that it came from the site's own page.

Registrants' pages carry no script at all; the organiser console loads its own stylesheet and
one small script (a live preview), so its policy allows 'self' for those and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from ..core.errors import InvalidInputError, PayloadError
from ..core.forms import multipart_fields
from .request_body import raw_body

PAGE_PREFIXES = ("/manage/", "/unsubscribe/", "/optin/", "/calendar/")
CONSOLE_PREFIX = "/console/"
# No script at all; the pages style with inline style attributes (the same markup as the
# emails), so inline styles are the one thing allowed. Forms post only to the page itself.
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                           "base-uri 'none'; frame-ancestors 'none'")
# The console: its own stylesheet and script, a same-origin fetch for the live preview, and
# the preview itself in a sandboxed srcdoc frame (images in an email may be data: URLs).
CONSOLE_SECURITY_POLICY = ("default-src 'none'; style-src 'self' 'unsafe-inline'; "
                           "script-src 'self'; connect-src 'self'; img-src 'self' data:; "
                           "frame-src 'self'; form-action 'self'; base-uri 'none'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never hand it on
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "private, no-store",  # unless the route says otherwise (the feed)
}
CONSOLE_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": CONSOLE_SECURITY_POLICY}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FORM_BYTES = 16 * 1024  # the biggest registrant form is a few hundred bytes
MAX_FORM_FIELDS = 20
SAME_SITE = ("same-origin", "none")  # Sec-Fetch-Site values of the page's own buttons


class Refused(InvalidInputError):
    """A request the pages do not take (cross-site, odd body); nothing is read or changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def secured(event: Mapping[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The security headers on every answer on a page path, whatever produced it (a page,
    the feed, a refusal, a 404 for a path that matches no route); a header a route set
    itself (the feed's caching) is kept."""
    path = str(event.get("rawPath") or "")
    if path.startswith(PAGE_PREFIXES):
        wanted = SECURITY_HEADERS
    elif path.startswith(CONSOLE_PREFIX) or path == CONSOLE_PREFIX.rstrip("/"):
        wanted = CONSOLE_HEADERS
    else:
        return answer
    headers = answer.setdefault("headers", {})
    present = {name.lower() for name in headers}
    headers.update({name: value for name, value in wanted.items()
                    if name.lower() not in present})
    return answer


def same_site_form(event: APIGatewayProxyEventV2, max_bytes: int = MAX_FORM_BYTES,
                   max_fields: int = MAX_FORM_FIELDS, keep_blank: bool = False
                   ) -> dict[str, str]:
    form = read_form(event, max_bytes, max_fields, keep_blank)
    refuse_cross_site(event)
    return form


def refuse_cross_site(event: APIGatewayProxyEventV2) -> None:
    """403 unless the POST came from the page itself. Browsers say where a request comes from
    in Sec-Fetch-Site; those that do not send it send Origin (with Referrer-Policy
    no-referrer a browser's own form sends "Origin: null", which is only trusted with
    Sec-Fetch-Site). A request with neither comes from no browser: no web page can make a
    browser leave both out, so it is no cross-site request."""
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


def read_form(event: APIGatewayProxyEventV2, max_bytes: int = MAX_FORM_BYTES,
              max_fields: int = MAX_FORM_FIELDS, keep_blank: bool = False) -> dict[str, str]:
    """The posted form: URL-encoded or multipart (RFC 8058 mail providers send either), at most
    ``max_bytes``; an empty body is an empty form. Anything else is a 415 or a 400. With
    ``keep_blank``, an empty field is kept as "" (a form that clears a value)."""
    body = raw_body(event)
    if len(body) > max_bytes:
        raise Refused(413, f"the form is larger than {max_bytes} bytes")
    content_type = (event.headers or {}).get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if not body and not kind:
        return {}
    if kind not in FORM_TYPES:
        raise Refused(415, "send the form as application/x-www-form-urlencoded or "
                           "multipart/form-data")
    try:
        if kind == FORM_TYPES[0]:
            fields = parse_qs(body.decode("utf-8"), max_num_fields=max_fields,
                              keep_blank_values=keep_blank)
            return {name: values[0] for name, values in fields.items()}
        return multipart_fields(content_type, body, max_fields)
    except (UnicodeDecodeError, ValueError, PayloadError):
        raise Refused(400, "the form could not be read") from None
