"""The numbers an organiser sees, kept with the writes that change them.

A registration counts under a few keys (its tally); the store adds the keys a new version
gains and takes away the ones it loses, in the same transaction as the write, so the counts
are read with one request whatever the size of the series. Mail is counted per kind, session
and delivery state, by the sender (``sent``) and by SES's events (the rest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from .registration import Registration

MAIL_STATES = ("sent", "delivered", "bounced", "soft_bounced", "complained", "rejected",
               "delayed", "expired")  # expired: its window closed before it could be sent
COUNT_SHARDS = 8  # counter items per series: concurrent writes spread over these
SESSION_PREFIX = "session:"
PENDING_TALLY = "awaiting_approval"  # active, under manual approval, not decided yet
TALLY_KEYS = frozenset({"registered", "awaiting_opt_in", "cancelled", "whole_series",
                        "awaiting_approval", "declined"})


def tally(registration: Registration) -> frozenset[str]:
    """The counters this registration adds 1 to.

    "registered": active and opted in (or in a series without double opt-in);
    "awaiting_opt_in": active, not confirmed yet; "cancelled"; under manual approval
    "awaiting_approval" and "declined" apart from the registered; and for the registered ones
    "whole_series" or one "session:<id>" per session they chose. Erased: nothing.
    """
    if registration.status == "cancelled":
        return frozenset({"cancelled"})
    if registration.approval != "approved":
        return frozenset({"awaiting_approval" if registration.approval == "pending"
                          else "declined"})
    if not registration.opted_in:
        return frozenset({"awaiting_opt_in"})
    if registration.whole_series:
        return frozenset({"registered", "whole_series"})
    return frozenset({"registered"} | {SESSION_PREFIX + s for s in registration.session_ids})


def count_shard(text: str) -> int:
    """The counter shard of a registrant (registration counts) or an email (mail counts), so
    that a burst of registrations or a fan-out does not queue up on one item."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % COUNT_SHARDS


def is_tally_key(name: str) -> bool:
    return name in TALLY_KEYS or name.startswith(SESSION_PREFIX)


def counted_session(session_ids: tuple[str, ...] | list[str]) -> str:
    """The session an email is counted under: its one session, or "" (several, or none)."""
    return session_ids[0] if len(session_ids) == 1 else ""


def mail_attribute(kind: str, session: str, state: str) -> str:
    """The mail counter's attribute for one email of this kind about this session."""
    return f"{kind}|{session or '-'}|{state}"


def parse_mail_attribute(name: str) -> tuple[str, str, str] | None:
    """(kind, session or "", state) of a mail counter attribute; None for anything else."""
    parts = name.split("|")
    if len(parts) != 3 or parts[2] not in MAIL_STATES:
        return None
    return parts[0], "" if parts[1] == "-" else parts[1], parts[2]


@dataclass(frozen=True, slots=True)
class SeriesCounts:
    registered: int = 0
    awaiting_opt_in: int = 0
    cancelled: int = 0
    whole_series: int = 0
    per_session: Mapping[str, int] = field(default_factory=dict)  # session-only registrants
    mail: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    attendance_unmatched: int = 0  # attendance reported for no session of the series
    awaiting_approval: int = 0  # manual approval: not decided yet
    declined: int = 0

    @classmethod
    def from_counters(cls, registrations: Mapping[str, int],
                      mail: Mapping[tuple[str, str, str], int],
                      attendance_unmatched: int = 0) -> SeriesCounts:
        return cls(registered=registrations.get("registered", 0),
                   awaiting_opt_in=registrations.get("awaiting_opt_in", 0),
                   cancelled=registrations.get("cancelled", 0),
                   whole_series=registrations.get("whole_series", 0),
                   per_session={k.removeprefix(SESSION_PREFIX): n
                                for k, n in registrations.items()
                                if k.startswith(SESSION_PREFIX) and n},
                   mail={k: n for k, n in mail.items() if n},
                   attendance_unmatched=attendance_unmatched,
                   awaiting_approval=registrations.get("awaiting_approval", 0),
                   declined=registrations.get("declined", 0))

    def session_registered(self, session_id: str) -> int:
        """Everyone this session's emails go to: whole-series registrants and its own."""
        return self.whole_series + self.per_session.get(session_id, 0)

    def mail_count(self, state: str = "sent", kind: str | None = None,
                   session: str | None = None) -> int:
        return sum(n for (k, s, st), n in self.mail.items()
                   if st == state and kind in (None, k) and session in (None, s))

    def rate(self, state: str) -> float:
        """Share of the emails sent that reached this state (SES reviews bounces at 5 % and
        complaints at 0.1 %); 0.0 while nothing was sent."""
        sent = self.mail_count("sent")
        return self.mail_count(state) / sent if sent else 0.0


@dataclass(frozen=True, slots=True)
class SentMail:
    """An email the ledger marks sent, as a recount of the mail counters sees it."""

    delivery_key: str
    registrant_id: str
    kind: str
    session_ids: tuple[str, ...]
    states: frozenset[str]  # what SES said of it, each state once
    sent_log: str = ""  # the sent log of the batch that sent it ("" before the ledger moved)

    def shards(self) -> dict[int, frozenset[str]]:
        """The counter shard of each attribute it adds 1 to: "sent" on its batch's (the
        sender counts a batch on the shard of its sent log), SES's states on its own."""
        own = count_shard(self.delivery_key)
        batch = count_shard(self.sent_log) if self.sent_log else own
        found: dict[int, set[str]] = {}
        for name in self.counters():
            found.setdefault(batch if name.endswith("|sent") else own, set()).add(name)
        return {shard: frozenset(names) for shard, names in found.items()}

    def counters(self) -> frozenset[str]:
        """The mail counter attributes it adds 1 to: "sent", and each state SES reported."""
        session = counted_session(self.session_ids)
        sent = set() if "expired" in self.states else {"sent"}  # an expired one never went
        return frozenset(mail_attribute(self.kind, session, state)
                         for state in {*sent, *self.states} if state in MAIL_STATES)


@dataclass(frozen=True, slots=True)
class MailRecord:
    """One email sent to one registrant, and what SES said of it (no address)."""

    kind: str
    session_ids: tuple[str, ...]
    sent_at: str
    delivery: str  # "" while SES has said nothing yet; else one of MAIL_STATES
    delivery_at: str
    detail: str  # bounce type/subtype or complaint type


def newest_first(records: list[MailRecord]) -> list[MailRecord]:
    """One person's mail as the console lists it: by when it went (or expired), newest
    first."""
    return sorted(records, key=lambda r: r.sent_at or r.delivery_at, reverse=True)


@dataclass(frozen=True, slots=True)
class SuppressionRecord:
    suppression_id: str  # a keyed hash of the address
    reason: str  # "bounce" or "complaint"
    since: str
