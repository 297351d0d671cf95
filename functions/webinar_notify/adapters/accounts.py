"""Organiser accounts in an Amazon Cognito user pool: signing in, and adding organisers.

Signing in uses the app client's ``USER_PASSWORD_AUTH`` flow (``InitiateAuth``) and, for an
account made by an administrator, the ``NEW_PASSWORD_REQUIRED`` step
(``RespondToAuthChallenge``): both are unauthenticated Cognito calls, so the API function
needs no IAM permission for them. A wrong password and an unknown address get the same
answer, as the client's ``PreventUserExistenceErrors`` makes Cognito give.

Adding organisers (``AccountsAdmin``) is the operator's work, with their own credentials: it
creates the account if needed and puts it in the group ``<series id>.<role>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError, ParamValidationError

from ..core.errors import InvalidInputError
from ..core.organiser_access import ROLES, Role, group_name

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp.client import CognitoIdentityProviderClient
    from mypy_boto3_cognito_idp.type_defs import AttributeTypeTypeDef

NEW_PASSWORD_REQUIRED = "NEW_PASSWORD_REQUIRED"  # noqa: S105 (a challenge name)
# The user pool's password policy in words; infra/template.yaml sets the same (a test checks).
PASSWORD_MINIMUM_LENGTH = 12
PASSWORD_RULES = (f"at least {PASSWORD_MINIMUM_LENGTH} characters, with an upper-case letter, "
                  "a lower-case letter and a digit")
REFUSED = "the email address or the password is not right"
# One answer for all: telling them apart would say which addresses have accounts.
_REFUSING = {"NotAuthorizedException", "UserNotFoundException", "UserNotConfirmedException",
             "PasswordResetRequiredException"}
_BUSY = {"TooManyRequestsException", "LimitExceededException",
         "TooManyFailedAttemptsException"}
MAX_FIELD_CHARS = 256


class SignInRefused(InvalidInputError):
    """Wrong address or password (the same answer for both), or an expired sign-in step."""

    status = 401


class PasswordRefused(InvalidInputError):
    """The new password does not meet the pool's policy."""

    status = 400


class SignInBusy(InvalidInputError):
    """Cognito throttled the sign-in (too many attempts): try again shortly."""

    status = 429


@dataclass(frozen=True, slots=True)
class SignIn:
    """Signed in (``id_token`` set, valid ``expires_in`` seconds), or a step to take first
    (``challenge``, e.g. NEW_PASSWORD_REQUIRED, with Cognito's ``session`` for that step)."""

    id_token: str | None
    expires_in: int
    challenge: str | None = None
    session: str | None = None


class Accounts(Protocol):
    def sign_in(self, username: str, password: str) -> SignIn: ...
    def choose_password(self, username: str, session: str, new_password: str) -> SignIn: ...


class CognitoAccounts:
    """Sign-in through one app client of a user pool (no client secret)."""

    def __init__(self, client: CognitoIdentityProviderClient, client_id: str) -> None:
        self.client = client
        self.client_id = client_id

    def sign_in(self, username: str, password: str) -> SignIn:
        username = _username(username)
        if not username or not password or len(username) > MAX_FIELD_CHARS \
                or len(password) > MAX_FIELD_CHARS:
            raise SignInRefused(REFUSED)
        try:
            answer = self.client.initiate_auth(
                ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password})
        except ClientError as error:
            raise _refusal(error) from None
        except ParamValidationError:  # outside Cognito's bounds: no such account
            raise SignInRefused(REFUSED) from None
        return _sign_in(answer)

    def choose_password(self, username: str, session: str, new_password: str) -> SignIn:
        username = _username(username)
        if not username or len(username) > MAX_FIELD_CHARS \
                or not 20 <= len(session) <= 2048:  # Cognito's bounds for a session
            raise SignInRefused("the sign-in step has expired: sign in again")
        if len(new_password) < PASSWORD_MINIMUM_LENGTH or len(new_password) > MAX_FIELD_CHARS:
            raise PasswordRefused(f"choose a password of {PASSWORD_RULES}")
        try:
            answer = self.client.respond_to_auth_challenge(
                ClientId=self.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=session,
                ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": new_password})
        except ClientError as error:
            code = _code(error)
            if code == "InvalidPasswordException":
                raise PasswordRefused(f"choose a password of {PASSWORD_RULES}") from None
            if code in ("NotAuthorizedException", "CodeMismatchException",
                        "ExpiredCodeException", "ResourceNotFoundException"):
                # An unknown or expired session (moto says ResourceNotFound).
                raise SignInRefused("the sign-in step has expired: sign in again") from None
            raise _refusal(error) from None
        except ParamValidationError:
            raise SignInRefused("the sign-in step has expired: sign in again") from None
        return _sign_in(answer)


def _username(typed: str) -> str:
    """The address as the pool knows it: the pool ignores case (``CaseSensitive: false``);
    lower case makes moto, which compares exactly, agree."""
    return typed.strip().lower()


def _sign_in(answer: object) -> SignIn:
    data = dict(answer)  # type: ignore[call-overload]
    result = data.get("AuthenticationResult") or {}
    if result.get("IdToken"):
        return SignIn(id_token=str(result["IdToken"]),
                      expires_in=int(result.get("ExpiresIn") or 3600))
    challenge = str(data.get("ChallengeName") or "")
    if challenge == NEW_PASSWORD_REQUIRED:
        return SignIn(id_token=None, expires_in=0, challenge=challenge,
                      session=str(data.get("Session") or ""))
    raise SignInRefused(f"this account needs a sign-in step the console does not offer "
                        f"({challenge or 'unknown'}); ask the operator")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _refusal(error: ClientError) -> InvalidInputError:
    code = _code(error)
    if code in _REFUSING:
        return SignInRefused(REFUSED)
    if code in _BUSY:
        return SignInBusy("too many sign-in attempts: wait a minute and try again")
    if code in ("InvalidParameterException", "InvalidPasswordException"):
        return SignInRefused(REFUSED)
    raise error  # Cognito unavailable or misconfigured: a server fault, not the caller's


# -- adding organisers (operator credentials) ----------------------------------------------

@dataclass(frozen=True, slots=True)
class AddedOrganiser:
    group: str
    account_created: bool  # False: the account existed and got this role added
    group_created: bool
    password_set: bool  # a permanent password was set (local use); else Cognito emails one
    replaced_role: Role | None = None  # the other role on this series, which it no longer has


class AccountsAdmin:
    """Adds organisers to a user pool: account, group and membership, each only if missing."""

    def __init__(self, client: CognitoIdentityProviderClient, user_pool_id: str) -> None:
        self.client = client
        self.user_pool_id = user_pool_id

    def add_organiser(self, email: str, name: str, series_id: str, role: Role,
                      password: str | None = None) -> AddedOrganiser:
        """Give the account of ``email`` the role on the series, creating what is missing.

        Without ``password``, a new account gets a temporary password by email from Cognito
        and chooses its own at first sign-in; with one, the password is set as permanent.
        """
        from ..core.edge import check_id

        check_id(series_id, "series id")
        if role not in ROLES:
            raise InvalidInputError(f"role must be one of {', '.join(ROLES)}")
        email = _username(email)
        if "@" not in email or len(email) > MAX_FIELD_CHARS or any(c.isspace() for c in email):
            raise InvalidInputError("give the organiser's email address")
        group = group_name(series_id, role)
        group_created = self._ensure_group(group, f"{role} of series {series_id}")
        account_created = self._ensure_user(email, name.strip(), suppress=password is not None)
        if password is not None:
            self._call("admin_set_user_password", UserPoolId=self.user_pool_id, Username=email,
                       Password=password, Permanent=True)
        replaced = self._drop_other_role(email, series_id, role)
        self._call("admin_add_user_to_group", UserPoolId=self.user_pool_id, Username=email,
                   GroupName=group)
        return AddedOrganiser(group, account_created, group_created, password is not None,
                              replaced)

    def _ensure_group(self, group: str, description: str) -> bool:
        try:
            self.client.create_group(UserPoolId=self.user_pool_id, GroupName=group,
                                     Description=description)
        except ClientError as error:
            if _code(error) == "GroupExistsException":
                return False
            raise _admin_error(error) from None
        return True

    def _ensure_user(self, email: str, name: str, suppress: bool) -> bool:
        attributes: list[AttributeTypeTypeDef] = [
            {"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
        if name:
            attributes.append({"Name": "name", "Value": name})
        try:
            if suppress:
                self.client.admin_create_user(UserPoolId=self.user_pool_id, Username=email,
                                              UserAttributes=attributes,
                                              MessageAction="SUPPRESS")
            else:
                self.client.admin_create_user(UserPoolId=self.user_pool_id, Username=email,
                                              UserAttributes=attributes,
                                              DesiredDeliveryMediums=["EMAIL"])
        except ClientError as error:
            if _code(error) == "UsernameExistsException":
                return False
            raise _admin_error(error) from None
        return True

    def _drop_other_role(self, email: str, series_id: str, role: Role) -> Role | None:
        other: Role = "viewer" if role == "editor" else "editor"
        listed = self.client.admin_list_groups_for_user(UserPoolId=self.user_pool_id,
                                                        Username=email, Limit=60)
        names = {g.get("GroupName") for g in listed.get("Groups", [])}
        if group_name(series_id, other) not in names:
            return None
        self._call("admin_remove_user_from_group", UserPoolId=self.user_pool_id,
                   Username=email, GroupName=group_name(series_id, other))
        return other

    def _call(self, operation: str, **params: object) -> None:
        try:
            getattr(self.client, operation)(**params)
        except ClientError as error:
            raise _admin_error(error) from None


def _admin_error(error: ClientError) -> Exception:
    code = _code(error)
    if code == "InvalidPasswordException":
        return PasswordRefused(f"the password must be {PASSWORD_RULES}")
    if code in ("InvalidParameterException", "ResourceNotFoundException"):
        message = error.response.get("Error", {}).get("Message", "")
        return InvalidInputError(f"Cognito refused: {code} ({message})")
    return error
