"""A series' registration policy: seats per session, a waitlist, and approval by an organiser.

Read from the series file::

    capacity: 120                # every session's seats, unless a session has its own
    approval: manual             # or automatic (the default): everyone is accepted
    auto_approve:
      domains: [estro.org]       # these addresses (and their subdomains) need no approval
    sessions:
      - id: glasgow-course
        capacity: 40

Everything here is pure: the rules of a seat and of a promotion (``has_free_seat``,
``promotions``) are the ones the in-memory seats apply and the DynamoDB seats write out as
conditions (``adapters/seats.py``); ``placements`` only previews, from counts read earlier,
what a registration would get: the seats adapter decides, under its conditions. What a
registration form answers can only ask for sessions: whether a seat, a place in line or an
approval is given follows from the policy and the counts alone, so every provider gets the
same rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from .errors import InvalidInputError, SeriesFileError

ApprovalMode = Literal["automatic", "manual"]
APPROVAL_MODES: tuple[ApprovalMode, ...] = ("automatic", "manual")
SeatState = Literal["confirmed", "waitlisted", "pending"]
ApprovalState = Literal["pending", "approved", "declined"]
Decision = Literal["approve", "decline"]
MAX_CAPACITY = 1_000_000
MAX_DOMAINS = 500
MAX_REASON_LENGTH = 1_000
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


@dataclass(frozen=True, slots=True)
class Policy:
    """Who gets a seat, and whether someone must approve them first."""

    capacity: int | None = None  # every session's, unless it has its own; None: unlimited
    session_capacity: Mapping[str, int] = field(default_factory=dict, hash=False)
    approval: ApprovalMode = "automatic"
    auto_approve_domains: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Read-only, so the frozen policy cannot change under a caller (and stays hashable:
        # equal policies hash alike without the mapping).
        object.__setattr__(self, "session_capacity",
                           MappingProxyType(dict(self.session_capacity)))

    def capacity_of(self, session_id: str) -> int | None:
        """The session's seats (its own, else the series'); None when unlimited."""
        return self.session_capacity.get(session_id, self.capacity)

    @property
    def counts_seats(self) -> bool:
        """Whether registrations need the seats adapter at all (a capacity or approval)."""
        return self.capacity is not None or bool(self.session_capacity) \
            or self.approval == "manual"

    def needs_approval(self, email: str) -> bool:
        """An organiser must approve this address first (manual approval, no rule for it)."""
        if self.approval != "manual":
            return False
        domain = _email_domain(email)
        return not any(domain == listed or domain.endswith("." + listed)
                       for listed in self.auto_approve_domains)


@dataclass(frozen=True, slots=True)
class SeatCounts:
    """One session's registrants by standing, as the seats adapter keeps them."""

    confirmed: int = 0
    waitlisted: int = 0
    pending: int = 0


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one registrant stands for one session; a place (1 = next) when waitlisted.

    ``since`` (unix seconds, 0 when not stored yet) is when this standing began: the same
    for everyone who reads it, so an email about it can have one delivery key.
    """

    state: SeatState
    place: int | None = None
    since: int = 0


class ApprovalError(InvalidInputError):
    """Approving or declining someone who is not waiting for it: a 409, nothing changes."""

    status = 409


# ---- reading the series file ----------------------------------------------------------------

def read_policy(document: Mapping[str, Any]) -> Policy:
    """The policy of a series document (its other fields are the series parser's business);
    SeriesFileError naming the field for a bad value."""
    capacity = _capacity(document.get("capacity"), "capacity")
    sessions: dict[str, int] = {}
    listed = document.get("sessions")
    for i, session in enumerate(listed if isinstance(listed, list) else []):
        if isinstance(session, Mapping) and session.get("capacity") is not None:
            own = _capacity(session["capacity"], f"sessions[{i}].capacity")
            if own is not None and isinstance(session.get("id"), str):
                sessions[session["id"]] = own
    mode = document.get("approval")
    if mode is None:
        mode = "automatic"
    if mode not in APPROVAL_MODES:
        raise SeriesFileError(f"approval: {str(mode)[:40]!r} is not one of "
                              f"{', '.join(APPROVAL_MODES)}")
    domains = _auto_approve(document.get("auto_approve"))
    if domains and mode != "manual":
        raise SeriesFileError("auto_approve: only with approval: manual")
    return Policy(capacity=capacity, session_capacity=sessions, approval=mode,
                  auto_approve_domains=domains)


def policy_fields(policy: Policy) -> dict[str, Any]:
    """The series-level fields of a policy as the series file has them (defaults left out);
    each session's own capacity goes under that session (``Policy.session_capacity``)."""
    fields: dict[str, Any] = {}
    if policy.capacity is not None:
        fields["capacity"] = policy.capacity
    if policy.approval != "automatic":
        fields["approval"] = policy.approval
    if policy.auto_approve_domains:
        fields["auto_approve"] = {"domains": sorted(policy.auto_approve_domains)}
    return fields


def normalise_domain(raw: object, *, field_name: str = "domain") -> str:
    """A domain such as ``estro.org`` in lower-case ASCII (IDNA for other scripts), or a
    SeriesFileError: no address, no scheme, no wildcard, at least two labels."""
    text = raw.strip().rstrip(".") if isinstance(raw, str) else ""
    try:
        ascii_domain = text.encode("idna").decode("ascii").lower() if text else ""
    except UnicodeError:
        ascii_domain = ""
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or len(labels) < 2 \
            or not all(_LABEL.fullmatch(label) for label in labels):
        raise SeriesFileError(f"{field_name}: {str(raw)[:60]!r} is not a domain such as "
                              "estro.org")
    return ascii_domain


def _capacity(raw: object, name: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise SeriesFileError(f"{name}: expected a whole number of seats (got {str(raw)[:40]!r})")
    if not 0 <= raw <= MAX_CAPACITY:
        raise SeriesFileError(f"{name}: from 0 to {MAX_CAPACITY:,} seats (got {raw})")
    return raw


def _auto_approve(raw: object) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, Mapping):
        raise SeriesFileError("auto_approve: expected a mapping such as {domains: [estro.org]}")
    unknown = sorted(str(k) for k in raw if k != "domains")
    if unknown:
        raise SeriesFileError(f"auto_approve.{unknown[0]}: unknown field")
    domains = raw.get("domains")
    if domains is None:
        return frozenset()
    if not isinstance(domains, list):
        raise SeriesFileError("auto_approve.domains: expected a list of domains")
    if len(domains) > MAX_DOMAINS:
        raise SeriesFileError(f"auto_approve.domains: at most {MAX_DOMAINS} domains")
    return frozenset(normalise_domain(d, field_name=f"auto_approve.domains[{i}]")
                     for i, d in enumerate(domains))


def _email_domain(email: str) -> str:
    domain = email.rpartition("@")[2].strip().rstrip(".")
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return domain.lower()


# ---- decisions ------------------------------------------------------------------------------

def has_free_seat(capacity: int | None, counts: SeatCounts) -> bool:
    """A newcomer may be seated: a seat is free and nobody waits for it (the line first)."""
    return capacity is None or (counts.waitlisted == 0 and counts.confirmed < capacity)


def placements(policy: Policy, email: str, session_ids: Sequence[str],
               counts: Mapping[str, SeatCounts], *, approved: bool = False
               ) -> dict[str, Standing]:
    """Where a registrant asking for these sessions would stand, given the counts: a
    preview only (a page or the read API saying what to expect). The seats adapter decides,
    under its own conditions, whatever these counts said.

    Pending everywhere while an approval is needed (a pending registrant holds no seat);
    otherwise confirmed where a seat is free and nobody waits, else waitlisted at the end of
    the line. Only the address counts, for the approval rules: nothing a form answered.
    """
    if not approved and policy.needs_approval(email):
        return {s: Standing("pending") for s in session_ids}
    found: dict[str, Standing] = {}
    for session_id in session_ids:
        seats = counts.get(session_id, SeatCounts())
        found[session_id] = Standing("confirmed") \
            if has_free_seat(policy.capacity_of(session_id), seats) \
            else Standing("waitlisted", place=seats.waitlisted + 1)
    return found


def promotions(capacity: int | None, confirmed: int, line: Sequence[str]) -> list[str]:
    """Who leaves the waitlist for a seat: the first in line, as many as the free seats
    (what MemorySeats applies and DynamoSeats' conditions enforce).

    After a cancellation, a dropped session or a capacity raise. A capacity lowered below
    the seats taken promotes nobody and unseats nobody: the line waits until enough leave.
    """
    if capacity is None:
        return list(line)
    return list(line[:max(0, capacity - confirmed)])


def first_approval(policy: Policy, email: str) -> ApprovalState:
    """A new registrant's approval: pending under manual approval unless a rule approves."""
    return "pending" if policy.needs_approval(email) else "approved"


def approval_after(current: ApprovalState, decision: Decision) -> ApprovalState:
    """The approval after an organiser's decision; only a pending registrant can be approved
    or declined (ApprovalError otherwise, so a decline never undoes an approval)."""
    if current != "pending":
        raise ApprovalError(f"only a pending registrant can be {decision}d "
                            f"(this one is {current})")
    return "approved" if decision == "approve" else "declined"


@dataclass(frozen=True, slots=True)
class BulkDecision:
    changed: dict[str, ApprovalState]  # registrant id -> the approval now
    refused: dict[str, str]  # registrant id -> why not (not pending)


def decide_many(current: Mapping[str, ApprovalState], decision: Decision) -> BulkDecision:
    """One decision for many registrants (in the order given): the pending ones change,
    the others are listed with the reason, and none of them stops the rest."""
    changed: dict[str, ApprovalState] = {}
    refused: dict[str, str] = {}
    for registrant_id, state in current.items():
        try:
            changed[registrant_id] = approval_after(state, decision)
        except ApprovalError as error:
            refused[registrant_id] = str(error)
    return BulkDecision(changed, refused)


def clean_reason(raw: object) -> str:
    """An organiser's optional reason, as it may appear in an email: text, control
    characters other than line breaks made spaces, at most MAX_REASON_LENGTH characters."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise InvalidInputError("reason: expected text")
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n"))
    kept = "".join(ch if ch == "\n" or unicodedata.category(ch)[0] not in "CZ" else " "
                   for ch in text)
    lines = [" ".join(line.split()) for line in kept.split("\n")]
    reason = "\n".join(lines).strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInputError(f"reason: at most {MAX_REASON_LENGTH} characters")
    return reason
