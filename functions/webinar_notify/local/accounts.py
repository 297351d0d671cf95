"""The organisers' user pool on moto, built from infra/template.yaml's own properties, and
local organiser accounts (with a password set, so nobody waits for an email)."""

from __future__ import annotations

import functools
import json
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

from ..adapters.accounts import AccountsAdmin, CognitoAccounts, SignIn
from ..adapters.token_verifier import TokenVerifier, moto_jwks
from ..core.organiser_access import Role
from .infra import REGION, load_template

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp.client import CognitoIdentityProviderClient

# Template properties create_user_pool / create_user_pool_client take under the same name.
_POOL_PROPERTIES = ("Policies", "DeletionProtection", "AutoVerifiedAttributes",
                    "UsernameAttributes", "UsernameConfiguration", "MfaConfiguration",
                    "AdminCreateUserConfig", "AccountRecoverySetting", "Schema")
_CLIENT_PROPERTIES = ("GenerateSecret", "ExplicitAuthFlows", "IdTokenValidity",
                      "AccessTokenValidity", "RefreshTokenValidity", "TokenValidityUnits",
                      "PreventUserExistenceErrors", "ReadAttributes", "EnableTokenRevocation")


@dataclass(frozen=True, slots=True)
class LocalPool:
    pool_id: str
    client_id: str
    region: str = REGION


def create_user_pool(template: dict[str, Any] | None = None) -> LocalPool:
    """Create the template's user pool and app client on the current (moto) endpoint."""
    pool, client = _properties(json.dumps(template)) if template else _template_properties()
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool_id = cognito.create_user_pool(
        PoolName="webinar-notify-organisers",
        **{name: pool[name] for name in _POOL_PROPERTIES if name in pool})["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName=str(client.get("ClientName", "console")),
        **{name: client[name] for name in _CLIENT_PROPERTIES if name in client},
    )["UserPoolClient"]["ClientId"]
    return LocalPool(pool_id, client_id)


@functools.lru_cache(maxsize=1)
def _template_properties() -> tuple[dict[str, Any], dict[str, Any]]:
    """infra/template.yaml's pool and client properties, read once per process (every local
    runtime builds a pool)."""
    return _properties(json.dumps(load_template()))


def _properties(template_json: str) -> tuple[dict[str, Any], dict[str, Any]]:
    resources = json.loads(template_json)["Resources"]
    return (resources["OrganiserUserPool"]["Properties"],
            resources["OrganiserUserPoolClient"]["Properties"])


def new_password() -> str:
    """A random password that meets the pool's policy (upper, lower, digit; 20+ characters)."""
    return f"{secrets.token_urlsafe(15)}Aa1"


def add_organiser(accounts_admin: AccountsAdmin, email: str, name: str, series_id: str,
                  role: Role, password: str | None = None) -> str:
    """An organiser account with the role on the series, signed in with the returned password
    (``password``, or a new random one); the same steps ``organisers add`` takes on AWS."""
    chosen = password or new_password()
    accounts_admin.add_organiser(email, name, series_id, role, password=chosen)
    return chosen


class OnDemandPool:
    """The local pool, made at first use (moto builds each pool's signing key, about 0.1 s,
    which most local runs never need); the runtime's accounts and verifier both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: LocalPool | None = None
        self._verifier: TokenVerifier | None = None
        self._client: CognitoIdentityProviderClient | None = None

    @property
    def pool(self) -> LocalPool:
        with self._lock:
            if self._pool is None:
                self._pool = create_user_pool()
                self._client = boto3.client("cognito-idp", region_name=REGION)
                self._verifier = TokenVerifier(self._pool.region, self._pool.pool_id,
                                               self._pool.client_id, jwks=moto_jwks)
            return self._pool

    def admin(self) -> AccountsAdmin:
        return AccountsAdmin(self._cognito(), self.pool.pool_id)

    def sign_in(self, username: str, password: str) -> SignIn:
        return CognitoAccounts(self._cognito(), self.pool.client_id).sign_in(username, password)

    def choose_password(self, username: str, session: str, new_password: str) -> SignIn:
        return CognitoAccounts(self._cognito(), self.pool.client_id).choose_password(
            username, session, new_password)

    def verify(self, id_token: str) -> dict[str, Any]:
        self.pool  # noqa: B018 (made on first use)
        assert self._verifier is not None
        return self._verifier.verify(id_token)

    def _cognito(self) -> CognitoIdentityProviderClient:
        self.pool  # noqa: B018 (made on first use, with its client)
        assert self._client is not None
        return self._client
