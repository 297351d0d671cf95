"""Who an organiser is and which series they may see or change, from their Cognito groups.

A group named ``<series id>.<role>`` gives its members that role on that series: ``viewer``
sees everything of the series, ``editor`` also acts on it. Groups of any other shape give
nothing, so a pool may hold groups for other purposes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from .edge import ID_PATTERN
from .errors import InvalidInputError, SignatureError

Role = Literal["viewer", "editor"]
ROLES: tuple[Role, ...] = get_args(Role)
GROUPS_CLAIM = "cognito:groups"
_RANK = {"viewer": 1, "editor": 2}


class AccessDenied(InvalidInputError):
    """A signed-in organiser asked for a series or an action their groups do not give."""

    status = 403


def group_name(series_id: str, role: Role) -> str:
    """The Cognito group whose members hold ``role`` on the series."""
    return f"{series_id}.{role}"


def parse_group(name: str) -> tuple[str, Role] | None:
    """(series id, role) for a group named ``<series id>.<role>``; None for any other name."""
    series_id, dot, role = name.rpartition(".")
    for known in ROLES:
        if dot and role == known and re.fullmatch(ID_PATTERN, series_id):
            return series_id, known
    return None


@dataclass(frozen=True, slots=True)
class OrganiserIdentity:
    subject: str  # Cognito's `sub`: stable, never an address
    name: str  # the `name` attribute, for greeting; may be ""
    email: str  # the organiser's own address: for test copies only, never logged
    roles: Mapping[str, Role] = field(default_factory=dict)  # series id -> strongest role

    def can_view(self, series_id: str) -> bool:
        return series_id in self.roles

    def can_edit(self, series_id: str) -> bool:
        return self.roles.get(series_id) == "editor"

    @property
    def caller(self) -> str:
        """The idempotency scope and the audit trail's "who": the subject, not the address."""
        return f"cognito:{self.subject}"

    @property
    def series_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self.roles))


def identity_from_claims(claims: Mapping[str, Any]) -> OrganiserIdentity:
    """The organiser a verified ID token's claims describe, either as the token holds them or
    as API Gateway's JWT authorizer passes them on (every value a string; a list as
    ``"[a b]"``)."""
    subject = str(claims.get("sub") or "")
    if not subject:
        raise SignatureError("the session names no account: sign in again")
    if claims.get("token_use", "id") != "id":  # API Gateway's authorizer lets access tokens by
        raise SignatureError("send the ID token, not the access token")
    roles: dict[str, Role] = {}
    for group in groups_of(claims.get(GROUPS_CLAIM)):
        parsed = parse_group(group)
        if parsed is None:
            continue
        series_id, role = parsed
        if _RANK[role] > _RANK.get(roles.get(series_id, ""), 0):
            roles[series_id] = role
    verified = str(claims.get("email_verified", "")).lower() == "true"
    return OrganiserIdentity(subject=subject, name=str(claims.get("name") or ""),
                             email=str(claims.get("email") or "") if verified else "",
                             roles=roles)


def groups_of(value: Any) -> list[str]:
    """The group names of a ``cognito:groups`` claim: a JSON list in the token, the string
    ``"[a b]"`` once API Gateway's JWT authorizer has passed it on, or absent."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part for part in text.replace(",", " ").split() if part]


def require(identity: OrganiserIdentity, series_id: str, role: Role) -> None:
    """Refuse (403) unless the organiser holds ``role`` (or more) on the series."""
    allowed = identity.can_edit(series_id) if role == "editor" else identity.can_view(series_id)
    if not allowed:
        what = "change" if role == "editor" else "see"
        raise AccessDenied(f"your account may not {what} series {series_id}")
