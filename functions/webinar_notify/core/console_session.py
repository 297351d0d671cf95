"""The console's session cookie and its CSRF tokens.

The session is the Cognito ID token itself, in a cookie scripts cannot read
(``HttpOnly``), sent only over HTTPS (``Secure``), never on a request another site starts
(``SameSite=Strict``) and only to the console (``Path=/console``). Every console form carries
a CSRF token: an HMAC of that session under a secret of the server's, so a token is worth
nothing with another session, and a new sign-in makes the old ones useless.
"""

from __future__ import annotations

import hashlib
import hmac
from http.cookies import CookieError, SimpleCookie

COOKIE = "wn_console"
PATH = "/console"
_ATTRIBUTES = f"Path={PATH}; HttpOnly; Secure; SameSite=Strict"
_CSRF_LABEL = b"console-csrf"


def session_cookie(id_token: str, max_age: int) -> str:
    """The Set-Cookie value that starts a session lasting ``max_age`` seconds."""
    return f"{COOKIE}={id_token}; Max-Age={max(0, int(max_age))}; {_ATTRIBUTES}"


def cleared_cookie() -> str:
    """The Set-Cookie value that ends the session (sign-out, or a refused token)."""
    return f"{COOKIE}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; {_ATTRIBUTES}"


def token_from_cookies(cookies: list[str] | None, header: str | None) -> str | None:
    """The session token from an HTTP API event's ``cookies`` list (payload 2.0) or, failing
    that, a raw ``Cookie`` header; None when there is none."""
    for part in [*(cookies or []), *((header or "").split(";"))]:
        name, eq, value = part.strip().partition("=")
        if eq and name == COOKIE and value:
            return _unquoted(value)
    return None


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            parsed = SimpleCookie(f"{COOKIE}={value}")
        except CookieError:
            return value
        morsel = parsed.get(COOKIE)
        return morsel.value if morsel else value
    return value


def csrf_secret(token_secret: str) -> bytes:
    """The console's CSRF key, derived from the link-token secret under its own label, so the
    two never sign the same thing."""
    return hmac.new(token_secret.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).digest()


def csrf_token(secret: bytes, id_token: str) -> str:
    """The CSRF token for forms shown to this session."""
    return hmac.new(secret, _CSRF_LABEL + b"\0" + id_token.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, id_token: str, submitted: str) -> bool:
    """Whether a submitted form's token belongs to this session (constant-time)."""
    if not submitted or not id_token:
        return False
    return hmac.compare_digest(csrf_token(secret, id_token).encode("ascii"),
                               submitted.encode("utf-8", "replace"))
