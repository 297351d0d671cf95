"""Verifies a Cognito ID token as API Gateway's JWT authorizer does, for the console's cookie.

Checked: the RS256 signature against the user pool's published keys (JWKS), the issuer
(``https://cognito-idp.<region>.amazonaws.com/<pool id>``), the audience (the app client),
``token_use == "id"`` and the expiry (with a small leeway for clock skew). The keys are
fetched once per container; a key id not seen before triggers one more fetch at most every
five minutes (Cognito rotates keys rarely). Every refusal is a ``SignatureError`` (401) with
a message that says what to do, never a traceback.

Locally, moto signs tokens with a fixed key whose public half ships with moto:
``moto_jwks()`` reads it.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, Protocol

import jwt

from ..core.errors import SignatureError

ALGORITHM = "RS256"
LEEWAY_SECONDS = 30
JWKS_TIMEOUT_SECONDS = 3.0
REFETCH_AFTER_SECONDS = 300.0
MAX_TOKEN_CHARS = 8192  # Cognito ID tokens are a few KB; more is not a token of ours


class JwksSource(Protocol):
    def __call__(self) -> Mapping[str, Any]: ...


class Verifier(Protocol):
    def verify(self, id_token: str) -> dict[str, Any]: ...


def issuer_url(region: str, user_pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def https_jwks(issuer: str, timeout: float = JWKS_TIMEOUT_SECONDS) -> JwksSource:
    """The pool's public keys from ``<issuer>/.well-known/jwks.json``."""
    url = f"{issuer}/.well-known/jwks.json"
    if not url.startswith("https://"):
        raise ValueError("the issuer must be an https URL")

    def fetch() -> Mapping[str, Any]:
        request = urllib.request.Request(  # noqa: S310 (https only, checked above)
            url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (https only)
            return dict(json.loads(answer.read(1024 * 1024)))

    return fetch


def moto_jwks() -> Mapping[str, Any]:
    """The public keys moto signs its Cognito tokens with (bundled with moto)."""
    data = resources.files("moto").joinpath("cognitoidp/resources/jwks-public.json.gz")
    return dict(json.loads(gzip.decompress(data.read_bytes())))


class TokenVerifier:
    """Verifies ID tokens of one user pool and app client."""

    def __init__(self, region: str, user_pool_id: str, client_id: str,
                 jwks: JwksSource | None = None, leeway: int = LEEWAY_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.issuer = issuer_url(region, user_pool_id)
        self.client_id = client_id
        self.leeway = leeway
        self._source = jwks or https_jwks(self.issuer)
        self._monotonic = monotonic
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def verify(self, id_token: str) -> dict[str, Any]:
        """The token's claims, once every check has passed; else ``SignatureError``."""
        if not id_token or len(id_token) > MAX_TOKEN_CHARS or id_token.count(".") != 2:
            raise SignatureError("the session token is malformed: sign in again")
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise SignatureError("the session token is malformed: sign in again") from None
        if header.get("alg") != ALGORITHM:
            raise SignatureError(f"the session token must be signed with {ALGORITHM}")
        key = self._key(str(header.get("kid") or ""))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token, key=key.key, algorithms=[ALGORITHM], audience=self.client_id,
                issuer=self.issuer, leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]})
        except jwt.ExpiredSignatureError:
            raise SignatureError("the session has expired: sign in again") from None
        except jwt.InvalidAudienceError:
            raise SignatureError("the session token was issued for another application"
                                 ) from None
        except jwt.InvalidIssuerError:
            raise SignatureError("the session token was issued by another user pool") from None
        except jwt.MissingRequiredClaimError as error:
            raise SignatureError(f"the session token lacks the {error.claim!r} claim: "
                                 "is it an ID token?") from None
        except jwt.InvalidSignatureError:
            raise SignatureError("the session token's signature is not valid") from None
        except jwt.PyJWTError:
            raise SignatureError("the session token is not valid: sign in again") from None
        if claims.get("token_use") != "id":
            raise SignatureError("the session token is not an ID token")
        return claims

    def _key(self, kid: str) -> jwt.PyJWK:
        if not kid:
            raise SignatureError("the session token names no signing key")
        keys = self._keys
        if keys is None or (kid not in keys and self._may_refetch()):
            keys = self._fetch()
        if kid not in keys:
            raise SignatureError("the session token was signed with an unknown key")
        return keys[kid]

    def _may_refetch(self) -> bool:
        return self._monotonic() - self._fetched_at >= REFETCH_AFTER_SECONDS

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        with self._lock:
            try:
                document = self._source()
                keys = {str(k["kid"]): jwt.PyJWK(dict(k), algorithm=ALGORITHM)
                        for k in document.get("keys", [])
                        if k.get("kid") and k.get("kty") == "RSA"
                        and k.get("use", "sig") == "sig"}
            except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError,
                    jwt.PyJWTError):
                if self._keys is not None:  # keep what we had; try again later
                    self._fetched_at = self._monotonic()
                    return self._keys
                raise SignatureError("the sign-in keys cannot be fetched right now; "
                                     "try again in a minute") from None
            self._keys, self._fetched_at = keys, self._monotonic()
            return keys
