"""Organisers sign in with Cognito (moto's here) and see only their series: groups to roles,
ID tokens checked as API Gateway's JWT authorizer checks them, the session cookie and CSRF."""

from __future__ import annotations

import gzip
import http.client
import importlib.resources
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import SERIES_ID, Harness
from webinar_notify.adapters.token_verifier import TokenVerifier, moto_jwks
from webinar_notify.core import console_session
from webinar_notify.core.errors import SignatureError
from webinar_notify.core.organiser_access import (
    AccessDenied,
    group_name,
    identity_from_claims,
    parse_group,
    require,
)
from webinar_notify.local.events import http_api_event
from webinar_notify.local.server import LocalKey, LocalServer

PASSWORD = "Correct-Horse-42"


# -- groups and roles (pure) ----------------------------------------------------------------

def test_groups_name_a_series_and_a_role_and_nothing_else_counts() -> None:
    assert group_name("reirradiation-2023", "editor") == "reirradiation-2023.editor"
    assert parse_group("reirradiation-2023.viewer") == ("reirradiation-2023", "viewer")
    for other in ("admins", "reirradiation-2023.owner", "Reirradiation.editor", ".editor",
                  "a b.editor", "x.editor.viewer"):
        assert parse_group(other) is None, other


@pytest.mark.parametrize("groups", [
    ["a-series.viewer", "a-series.editor", "b-series.viewer", "admins"],  # in the token
    "[a-series.viewer a-series.editor b-series.viewer admins]",  # as API Gateway passes it on
])
def test_the_identity_holds_the_strongest_role_per_series(groups: Any) -> None:
    identity = identity_from_claims({"sub": "1234-abcd", "name": "Ada", "email": "a@x.example",
                                     "cognito:groups": groups})
    assert dict(identity.roles) == {"a-series": "editor", "b-series": "viewer"}
    assert identity.caller == "cognito:1234-abcd"
    assert identity.can_edit("a-series") and identity.can_view("a-series")
    assert identity.can_view("b-series") and not identity.can_edit("b-series")
    assert not identity.can_view("c-series")
    require(identity, "a-series", "editor")
    require(identity, "b-series", "viewer")
    with pytest.raises(AccessDenied) as refused:
        require(identity, "b-series", "editor")
    assert refused.value.status == 403
    with pytest.raises(AccessDenied):
        require(identity, "c-series", "viewer")


def test_claims_without_groups_give_no_series_and_without_a_subject_no_identity() -> None:
    assert identity_from_claims({"sub": "s"}).roles == {}
    with pytest.raises(SignatureError):
        identity_from_claims({"cognito:groups": ["a-series.editor"]})


# -- the session cookie and CSRF (pure) ------------------------------------------------------

def test_the_session_cookie_is_httponly_secure_strict_and_only_for_the_console() -> None:
    cookie = console_session.session_cookie("header.payload.signature", 3600)
    parts = [p.strip() for p in cookie.split(";")]
    assert parts[0] == "wn_console=header.payload.signature"
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/console", "Max-Age=3600"} <= set(parts)
    cleared = [p.strip() for p in console_session.cleared_cookie().split(";")]
    assert cleared[0] == "wn_console=" and "Max-Age=0" in cleared and "Path=/console" in cleared


def test_the_session_token_is_read_from_the_event_cookies_or_the_header() -> None:
    read = console_session.token_from_cookies
    assert read(["theme=dark", "wn_console=t.o.k"], None) == "t.o.k"
    assert read(None, "theme=dark; wn_console=t.o.k; x=1") == "t.o.k"
    assert read(["wn_console="], "other=1") is None
    assert read(None, None) is None and read([], "") is None


def test_a_csrf_token_fits_its_session_only() -> None:
    secret = console_session.csrf_secret("token-secret")
    assert secret != console_session.csrf_secret("another-secret")
    token = console_session.csrf_token(secret, "session-a")
    assert console_session.csrf_ok(secret, "session-a", token)
    assert not console_session.csrf_ok(secret, "session-b", token)  # another session's form
    assert not console_session.csrf_ok(console_session.csrf_secret("x"), "session-a", token)
    assert not console_session.csrf_ok(secret, "session-a", token[:-1] + "0")
    assert not console_session.csrf_ok(secret, "session-a", "")
    assert not console_session.csrf_ok(secret, "", token)


# -- tokens from moto's Cognito ---------------------------------------------------------------

def _private_key(kid: str = "dummy") -> Any:
    """moto's signing key (its private JWKS ships with moto), to forge what moto would sign."""
    data = importlib.resources.files("moto").joinpath("cognitoidp/resources/jwks-private.json.gz")
    return jwt.PyJWK(json.loads(gzip.decompress(data.read_bytes())), algorithm="RS256").key


def _sign(claims: dict[str, Any], key: Any = None, kid: str = "dummy",
          algorithm: str = "RS256") -> str:
    return jwt.encode(claims, key if key is not None else _private_key(), algorithm=algorithm,
                      headers={"kid": kid})


@pytest.fixture
def signed_in(harness: Harness) -> tuple[str, dict[str, Any]]:
    """An editor of the seed series and a viewer of another, signed in: (ID token, claims)."""
    runtime = harness.runtime
    runtime.add_organiser("ada@example.com", "Ada Lovelace", SERIES_ID, "editor", PASSWORD)
    runtime.add_organiser("ada@example.com", "Ada Lovelace", "other-series", "viewer", PASSWORD)
    answer = runtime.services.accounts.sign_in("ada@example.com", PASSWORD)
    assert answer.id_token and answer.challenge is None
    return answer.id_token, runtime.services.verifier.verify(answer.id_token)


def test_signing_in_on_cognito_gives_a_verifiable_id_token_with_the_groups(
        harness: Harness, signed_in: tuple[str, dict[str, Any]]) -> None:
    _token, claims = signed_in
    pool = harness.runtime.pool
    assert claims["iss"] == f"https://cognito-idp.{pool.region}.amazonaws.com/{pool.pool_id}"
    assert claims["aud"] == pool.client_id and claims["token_use"] == "id"
    assert claims["email"] == "ada@example.com" and claims["name"] == "Ada Lovelace"
    identity = identity_from_claims(claims)
    assert dict(identity.roles) == {SERIES_ID: "editor", "other-series": "viewer"}


def _refusal(verifier: Any, token: str) -> str:
    with pytest.raises(SignatureError) as refused:
        verifier.verify(token)
    assert refused.value.status == 401
    return str(refused.value)


def test_forged_expired_foreign_and_access_tokens_are_refused(
        harness: Harness, signed_in: tuple[str, dict[str, Any]]) -> None:
    token, claims = signed_in
    verifier = harness.runtime.services.verifier
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    assert "signature" in _refusal(verifier, _sign(claims, key=other_key))
    assert "expired" in _refusal(verifier, _sign({**claims, "iat": now - 7200,
                                                  "exp": now - 3600}))
    assert "another application" in _refusal(verifier, _sign({**claims, "aud": "other-client"}))
    assert "another user pool" in _refusal(verifier, _sign({
        **claims, "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other"}))
    access = {k: v for k, v in claims.items() if k not in ("aud", "email", "name")}
    access |= {"token_use": "access", "client_id": claims["aud"]}
    assert "ID token" in _refusal(verifier, _sign(access))
    assert "not an ID token" in _refusal(verifier, _sign({**claims, "token_use": "access"}))
    assert "unknown key" in _refusal(verifier, _sign(claims, kid="another"))
    assert "RS256" in _refusal(verifier, _sign(claims, key="a-shared-secret-of-32-bytes-long!",
                                               algorithm="HS256"))
    header, payload, signature = token.split(".")
    tampered = json.loads(jwt.utils.base64url_decode(payload))
    tampered["cognito:groups"] = ["other-series.editor"]
    forged = jwt.utils.base64url_encode(json.dumps(tampered).encode()).decode()
    assert "signature" in _refusal(verifier, f"{header}.{forged}.{signature}")
    for junk in ("", "not-a-token", "a.b.c", "x" * 10_000):
        assert "sign in again" in _refusal(verifier, junk)
    assert verifier.verify(token)["sub"] == claims["sub"]  # the real one still passes


def test_the_keys_are_fetched_once_and_an_unreachable_jwks_is_a_clear_refusal() -> None:
    fetches: list[int] = []

    def counted() -> dict[str, Any]:
        fetches.append(1)
        return dict(moto_jwks())

    verifier = TokenVerifier("eu-west-1", "eu-west-1_pool", "client", jwks=counted)
    now = int(time.time())
    claims = {"sub": "s", "aud": "client", "token_use": "id", "iat": now, "exp": now + 600,
              "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_pool"}
    for _ in range(3):
        assert verifier.verify(_sign(claims))["sub"] == "s"
    _refusal(verifier, _sign(claims, kid="rotated"))  # unknown key: no refetch within 5 min
    assert len(fetches) == 1

    def unreachable() -> dict[str, Any]:
        raise OSError("network is unreachable")

    offline = TokenVerifier("eu-west-1", "eu-west-1_pool", "client", jwks=unreachable)
    assert "try again" in _refusal(offline, _sign(claims))


# -- what reaches the handler, and the local server's JWT check -------------------------------

def test_claims_reach_the_handler_as_the_jwt_authorizer_passes_them() -> None:
    from datetime import UTC, datetime

    event = http_api_event("GET", "/organiser/series/x", {}, b"", datetime.now(UTC),
                           jwt_claims={"sub": "s", "exp": 5,
                                       "cognito:groups": ["a.editor", "b.viewer"]})
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims == {"sub": "s", "exp": "5", "cognito:groups": "[a.editor b.viewer]"}
    assert dict(identity_from_claims(claims).roles) == {"a": "editor", "b": "viewer"}


@pytest.fixture
def server(harness: Harness) -> Iterator[int]:
    log = io.StringIO()
    local = LocalServer(("127.0.0.1", 0), log)
    local.install(harness.runtime, LocalKey("LOCALKEY", "local-secret"), idle_timeout=5.0)
    threading.Thread(target=local.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        yield local.server_address[1]
    finally:
        local.shutdown()
        local.server_close()


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_the_local_server_wants_a_valid_id_token_on_organiser_reads(
        server: int, signed_in: tuple[str, dict[str, Any]]) -> None:
    token, claims = signed_in
    path = f"/organiser/series/{SERIES_ID}/no-such-read"
    unauthorized = (401, {"message": "Unauthorized"})
    assert _get(server, path, {}) == unauthorized
    assert _get(server, path, {"Authorization": "Bearer not.a.token"}) == unauthorized
    assert _get(server, path, {"Authorization": f"Bearer {_sign(claims, kid='x')}"}) == \
        unauthorized
    now = int(time.time())
    expired = _sign({**claims, "iat": now - 7200, "exp": now - 3600})
    assert _get(server, path, {"Authorization": f"Bearer {expired}"}) == unauthorized
    status, body = _get(server, path, {"Authorization": f"Bearer {token}"})
    assert status == 404 and "error" in body  # past the authorizer: the API's own answer


def test_the_lambda_builds_sign_in_from_the_pool_it_is_given_or_refuses_it() -> None:
    from webinar_notify import bootstrap
    from webinar_notify.adapters.accounts import CognitoAccounts

    env = {"TABLE_NAME": "t", "SEND_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q",
           "SES_CONFIGURATION_SET": "cs", "WEBHOOK_SECRETS_PATH": "/w",
           "TOKEN_SECRET_PARAMETER": "/t", "REGISTRANT_KEY_PARAMETER": "/r"}
    configured = bootstrap.from_environment({**env, "USER_POOL_ID": "eu-central-1_Pool",
                                             "USER_POOL_CLIENT_ID": "client-1"})
    assert isinstance(configured.accounts, CognitoAccounts)
    assert isinstance(configured.verifier, TokenVerifier)
    assert configured.verifier.issuer == \
        "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Pool"
    assert configured.verifier.client_id == "client-1"
    bare = bootstrap.from_environment(env)  # the sender, scheduler and feedback functions
    for attempt in (lambda: bare.verifier.verify("a.b.c"),
                    lambda: bare.accounts.sign_in("a@x.example", "password")):
        with pytest.raises(bootstrap.SignInUnavailable) as refused:
            attempt()
        assert refused.value.status == 503
