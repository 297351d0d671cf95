"""Certificates of attendance: the rules of a series, who earned what, and how it is verified.

The rules come from the series file's ``certificates:`` mapping::

    certificates:
      threshold: 85%            # presence needed per session (default 85 %; 0.85 works too)
      credits_per_hour: 1       # 1 ECMEC per hour by default (EACCME)
      credit_label: ECMEC       # what the credits are called on the certificate
      credit_step: 0.5          # credits are rounded down to a multiple of this
      credit_basis: session     # session: a session's scheduled hours; presence: time present
      series:                   # one certificate for the series...
        sessions: all           # every session that was held, or a list of session ids
        evaluation: required    # ...once the series' evaluation is done (or: none)
      sessions: all             # one per session attended (all, a list, or per id:
                                #   {s1: {evaluation: required}})

Either ``series`` or ``sessions`` (or both) must be given. A cancelled session is never
required and never certified. A session counts as attended when the person was present for at
least ``threshold`` of its scheduled length (core.attendance). Presence that rests on a guessed
join or leave (``Presence.assumed``: a webhook was lost) is never enough on its own: such a
certificate is ``needs_review`` until an organiser uploads the attendee report or marks the
session by hand.

A certificate's scope is ``series`` for the series' certificate and ``session:<id>`` for a
session's, and so is the key of the evaluation it needs: a session whose id is ``series``
cannot be mistaken for the series.

Credits are never overstated: hours are summed exactly, multiplied by ``credits_per_hour`` and
rounded down to a multiple of ``credit_step`` (a 90-minute session: 1.5 ECMEC).

A certificate id is an HMAC of (series, registrant, scope) under a secret: the same person gets
the same id for the same certificate whenever it is made again, and nobody can make or guess
an id without the secret. It is 80 bits in base32, written in four groups of four.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import Any, Literal

from .attendance import DEFAULT_THRESHOLD, Presence
from .errors import SeriesFileError
from .series import Session

SERIES_SCOPE = "series"  # the scope of a series certificate
SERIES_EVALUATION = "series"  # the evaluation key of the series' own evaluation
SESSION_PREFIX = "session:"  # a session certificate's scope and evaluation key: session:<id>
Basis = Literal["session", "presence"]
AssessmentState = Literal["earned", "needs_evaluation", "needs_review", "not_earned"]
_ID_GROUPS = 4
_ID_PATTERN = re.compile(r"^[A-Z2-7]{16}$")
_MAX_CREDITS_PER_HOUR = Decimal(10)


@dataclass(frozen=True, slots=True)
class ScopeRule:
    """What one certificate needs: each of ``sessions`` attended, and the evaluation done
    (its key: ``session_scope(id)`` for a session certificate, "series" for the series')."""

    sessions: tuple[str, ...] | None  # None: every session that was not cancelled
    evaluation: bool = False


@dataclass(frozen=True, slots=True)
class CertificateRules:
    threshold: Fraction = DEFAULT_THRESHOLD
    credits_per_hour: Decimal = Decimal(1)
    credit_label: str = "ECMEC"
    credit_step: Decimal = Decimal("0.5")
    credit_basis: Basis = "session"
    series: ScopeRule | None = None
    sessions: Mapping[str, ScopeRule] | None = None  # None with per_session_all
    per_session_all: bool = False  # ``sessions: all``: a certificate for any session attended
    per_session_evaluation: bool = False  # ... each needing its own evaluation

    def session_rule(self, session_id: str) -> ScopeRule | None:
        if self.per_session_all:
            return ScopeRule((session_id,), self.per_session_evaluation)
        return (self.sessions or {}).get(session_id)


def session_scope(session_id: str) -> str:
    """The scope (and evaluation key) of a session's certificate."""
    return SESSION_PREFIX + session_id


# -- reading the rules ----------------------------------------------------------------------
def rules_from_mapping(doc: object, session_ids: Collection[str]) -> CertificateRules:
    """The ``certificates:`` mapping of a series file, checked; SeriesFileError names the
    field that is wrong."""
    if not isinstance(doc, Mapping):
        raise SeriesFileError("certificates: must be a mapping")
    known = {"threshold", "credits_per_hour", "credit_label", "credit_step", "credit_basis",
             "series", "sessions"}
    unknown = sorted(str(k) for k in doc if k not in known)
    if unknown:
        raise SeriesFileError(f"certificates: unknown field {unknown[0]!r} "
                              f"(known: {', '.join(sorted(known))})")
    if doc.get("series") is None and doc.get("sessions") is None:
        raise SeriesFileError("certificates: give series:, sessions: or both")
    basis = doc.get("credit_basis", "session")
    if basis not in ("session", "presence"):
        raise SeriesFileError("certificates.credit_basis: must be session or presence")
    label = doc.get("credit_label", "ECMEC")
    if not isinstance(label, str) or not label.strip() or len(label) > 40:
        raise SeriesFileError("certificates.credit_label: must be a short text")
    per_hour = _decimal(doc.get("credits_per_hour", 1), "certificates.credits_per_hour")
    if not Decimal(0) < per_hour <= _MAX_CREDITS_PER_HOUR:
        raise SeriesFileError("certificates.credits_per_hour: must be more than 0 and at "
                              f"most {_MAX_CREDITS_PER_HOUR}")
    step = _decimal(doc.get("credit_step", "0.5"), "certificates.credit_step")
    if not Decimal(0) < step <= Decimal(10):
        raise SeriesFileError("certificates.credit_step: must be more than 0 and at most 10")
    series_rule = None if doc.get("series") is None else _scope_rule(
        doc["series"], "certificates.series", session_ids)
    sessions_doc = doc.get("sessions")
    per_all, per_eval, per_session = _session_rules(sessions_doc, session_ids)
    return CertificateRules(
        threshold=parse_threshold(doc.get("threshold", "85%")),
        credits_per_hour=per_hour, credit_label=label.strip(), credit_step=step,
        credit_basis=basis, series=series_rule, sessions=per_session,
        per_session_all=per_all, per_session_evaluation=per_eval)


def parse_threshold(value: object) -> Fraction:
    """"85%", 85 % written as 0.85, or a whole percentage above 1 (85): a fraction in (0, 1]."""
    field = "certificates.threshold"
    text = str(value).strip()
    try:
        if text.endswith("%"):
            fraction = Fraction(Decimal(text[:-1].strip())) / 100
        else:
            fraction = Fraction(Decimal(text))
            if fraction > 1:
                fraction /= 100
    except (ArithmeticError, ValueError):
        raise SeriesFileError(f"{field}: expected a percentage like 85% or 0.85") from None
    if not Fraction(0) < fraction <= Fraction(1):
        raise SeriesFileError(f"{field}: must be more than 0 % and at most 100 %")
    return fraction


def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool):
        raise SeriesFileError(f"{field}: expected a number")
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise SeriesFileError(f"{field}: expected a number") from None
    if not number.is_finite():
        raise SeriesFileError(f"{field}: expected a number")
    return number


def _evaluation(value: object, field: str) -> bool:
    if value in (None, "none", False):
        return False
    if value in ("required", True):
        return True
    raise SeriesFileError(f"{field}.evaluation: must be required or none")


def _session_list(value: object, field: str, session_ids: Collection[str]
                  ) -> tuple[str, ...] | None:
    if value == "all":
        return None
    if not isinstance(value, list) or not value or \
            not all(isinstance(s, str) for s in value):
        raise SeriesFileError(f"{field}: must be all or a list of session ids")
    unknown = [s for s in value if s not in session_ids]
    if unknown:
        raise SeriesFileError(f"{field}: no session {unknown[0]!r} in this series")
    return tuple(dict.fromkeys(value))


def _scope_rule(doc: object, field: str, session_ids: Collection[str]) -> ScopeRule:
    if not isinstance(doc, Mapping):
        raise SeriesFileError(f"{field}: must be a mapping with sessions: and evaluation:")
    unknown = sorted(str(k) for k in doc if k not in ("sessions", "evaluation"))
    if unknown:
        raise SeriesFileError(f"{field}: unknown field {unknown[0]!r}")
    return ScopeRule(_session_list(doc.get("sessions", "all"), f"{field}.sessions",
                                   session_ids),
                     _evaluation(doc.get("evaluation"), field))


def _session_rules(doc: object, session_ids: Collection[str]
                   ) -> tuple[bool, bool, dict[str, ScopeRule] | None]:
    """``sessions:`` as (every session, each needing its evaluation, or rules per id)."""
    field = "certificates.sessions"
    if doc is None:
        return False, False, None
    if doc == "all":
        return True, False, None
    if isinstance(doc, list):
        listed = _session_list(doc, field, session_ids) or ()
        return False, False, {s: ScopeRule((s,)) for s in listed}
    if not isinstance(doc, Mapping):
        raise SeriesFileError(f"{field}: must be all, a list of session ids or a mapping")
    if set(doc) <= {"sessions", "evaluation"} and doc.get("sessions") == "all":
        return True, _evaluation(doc.get("evaluation"), field), None
    rules: dict[str, ScopeRule] = {}
    for session_id, rule in doc.items():
        if session_id not in session_ids:
            raise SeriesFileError(f"{field}: no session {str(session_id)!r} in this series")
        if rule is not None and not isinstance(rule, Mapping):
            raise SeriesFileError(f"{field}.{session_id}: must be a mapping "
                                  "(evaluation: required) or empty")
        extra = sorted(str(k) for k in (rule or {}) if k != "evaluation")
        if extra:
            raise SeriesFileError(f"{field}.{session_id}: unknown field {extra[0]!r}")
        rules[str(session_id)] = ScopeRule(
            (str(session_id),), _evaluation((rule or {}).get("evaluation"),
                                            f"{field}.{session_id}"))
    return False, False, rules


# -- who earned what ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CertifiedSession:
    """A session as a certificate lists it."""

    id: str
    title: str
    start: datetime  # aware, in the series' zone
    duration: timedelta
    minutes_present: int


@dataclass(frozen=True, slots=True)
class Assessment:
    """One certificate for one person: earned, waiting only for the evaluation, or not."""

    scope: str  # "series" or "session:<id>"
    state: AssessmentState
    sessions: tuple[CertifiedSession, ...]  # the sessions it certifies (attended ones)
    hours: Decimal
    credits: Decimal
    missing: tuple[str, ...] = ()  # required sessions not attended (not_earned)
    unconfirmed: tuple[str, ...] = ()  # attended only on a guessed join or leave (review)


def assess(rules: CertificateRules, sessions: Sequence[Session],
           attendance: Mapping[str, Presence], evaluations: Collection[str]
           ) -> list[Assessment]:
    """Every certificate the rules define, judged for one person: ``attendance`` is their
    presence per session id, ``evaluations`` the evaluation keys they completed
    ("session:<id>", "series"). Session certificates come first, in series order, then the
    series'. One whose sessions are all attended but some only on an assumed join or leave is
    ``needs_review``: never earned automatically."""
    held = [s for s in sessions if not s.cancelled]
    by_id = {s.id: s for s in held}
    attended = {s.id for s in held
                if (seen := attendance.get(s.id)) is not None and seen.meets(rules.threshold)}
    results: list[Assessment] = []
    for session in held:
        rule = rules.session_rule(session.id)
        if rule is not None:
            results.append(_judge(rules, session_scope(session.id), rule, by_id, attended,
                                  attendance, evaluations, session_scope(session.id)))
    if rules.series is not None:
        results.append(_judge(rules, SERIES_SCOPE, rules.series, by_id, attended, attendance,
                              evaluations, SERIES_EVALUATION))
    return results


def _judge(rules: CertificateRules, scope: str, rule: ScopeRule, held: Mapping[str, Session],
           attended: Collection[str], attendance: Mapping[str, Presence],
           evaluations: Collection[str], evaluation_key: str) -> Assessment:
    required = [s for s in (rule.sessions if rule.sessions is not None else tuple(held))
                if s in held]
    missing = tuple(s for s in required if s not in attended)
    unconfirmed = tuple(s for s in required if s in attended and attendance[s].assumed > 0)
    certified = tuple(_certified(held[s], attendance[s]) for s in required if s in attended)
    hours = _hours(rules, certified)
    if missing or not required:
        state: AssessmentState = "not_earned"
    elif unconfirmed:
        state = "needs_review"
    elif rule.evaluation and evaluation_key not in evaluations:
        state = "needs_evaluation"
    else:
        state = "earned"
    return Assessment(scope, state, certified, hours, credits_for(rules, hours), missing,
                      unconfirmed)


def _certified(session: Session, seen: Presence) -> CertifiedSession:
    return CertifiedSession(session.id, session.title, session.start, session.duration,
                            min(seen.minutes, int(session.duration.total_seconds() // 60)))


def _hours(rules: CertificateRules, certified: Sequence[CertifiedSession]) -> Decimal:
    """Hours of the certified sessions: scheduled, or present (rules.credit_basis)."""
    if rules.credit_basis == "session":
        seconds = sum(int(s.duration.total_seconds()) for s in certified)
    else:  # the whole minutes the certificate prints per session, so the rows add up
        seconds = sum(60 * s.minutes_present for s in certified)
    return (Decimal(seconds) / Decimal(3600)).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


def credits_for(rules: CertificateRules, hours: Decimal) -> Decimal:
    """Hours times credits per hour, rounded down to a multiple of the credit step, without
    trailing zeros and never in exponent form (10, not 1E+1)."""
    raw = hours * rules.credits_per_hour
    steps = (raw / rules.credit_step).to_integral_value(rounding=ROUND_FLOOR)
    return Decimal(decimal_text(steps * rules.credit_step)) if steps else Decimal(0)


def decimal_text(value: Decimal) -> str:
    """A number as people write it: 1.50 -> 1.5, 10 -> 10 (never 1E+1)."""
    return f"{value.normalize():f}"


_DROPPED_CATEGORIES = ("Cc", "Cf")
_KEPT_FORMAT = frozenset("\u200c\u200d")  # ZWNJ and ZWJ: part of spelling in some scripts


def clean_name(raw: str) -> str:
    """A name as it is printed and verified: composed (NFC), without control or format
    characters (a right-to-left override could make it read as another name), ZWNJ and ZWJ
    kept; ValueError when nothing is left."""
    name = "".join(ch for ch in unicodedata.normalize("NFC", raw)
                   if unicodedata.category(ch) not in _DROPPED_CATEGORIES
                   or ch in _KEPT_FORMAT).strip()
    if not name:
        raise ValueError("a certificate needs a name")
    return name


# -- ids and verification -------------------------------------------------------------------
def certificate_id(secret: str, series_id: str, registrant_id: str, scope: str) -> str:
    """Stable and unguessable: HMAC-SHA256 of (series, registrant, scope), 80 bits in base32,
    as XXXX-XXXX-XXXX-XXXX."""
    if not secret:
        raise ValueError("a certificate secret is required")
    digest = hmac.new(secret.encode(), f"certificate\n{series_id}\n{registrant_id}\n{scope}"
                      .encode(), hashlib.sha256).digest()
    text = base64.b32encode(digest[:10]).decode("ascii")
    return "-".join(text[i:i + _ID_GROUPS] for i in range(0, len(text), _ID_GROUPS))


def normalised_id(text: str) -> str | None:
    """An id as someone typed it (any case, spaces or dashes, 0/1 misread as O/I) in its
    canonical form; None when it cannot be one."""
    compact = re.sub(r"[\s-]", "", text.strip().upper()[:40]).replace("0", "O").replace("1", "I")
    if not _ID_PATTERN.match(compact):
        return None
    return "-".join(compact[i:i + _ID_GROUPS] for i in range(0, len(compact), _ID_GROUPS))


@dataclass(frozen=True, slots=True)
class Certificate:
    """What a certificate says: the PDF's content and the record kept to verify it."""

    certificate_id: str
    series_id: str
    registrant_id: str
    scope: str
    name: str  # as the person typed it (NFC, without control characters: clean_name)
    series_title: str
    sessions: tuple[CertifiedSession, ...]
    hours: Decimal
    credits: Decimal
    credit_label: str
    organisers: tuple[str, ...]
    issued_on: date
    verification_url: str
    revoked: bool = False
    basis: Basis = "session"  # what the hours count: sessions' length or time present

    def verification(self) -> dict[str, Any]:
        """What the public verification page may show: name, series, credits, revoked; never
        the address, the sessions' presence or anything else."""
        return {"certificate_id": self.certificate_id, "name": self.name,
                "series": self.series_title, "credits": decimal_text(self.credits),
                "credit_label": self.credit_label, "revoked": self.revoked}


def issue(assessment: Assessment, *, secret: str, series_id: str, series_title: str,
          registrant_id: str, name: str, rules: CertificateRules, organisers: Sequence[str],
          issued_on: date, verify_base_url: str) -> Certificate:
    """The certificate for an earned assessment (ValueError for one not earned, or a name
    that is empty once cleaned). The name is kept as typed, composed and without control
    characters (clean_name), so the PDF and the verification page show the same text."""
    if assessment.state != "earned":
        raise ValueError(f"certificate {assessment.scope} is not earned ({assessment.state})")
    cid = certificate_id(secret, series_id, registrant_id, assessment.scope)
    return Certificate(cid, series_id, registrant_id, assessment.scope, clean_name(name),
                       series_title,
                       assessment.sessions, assessment.hours, assessment.credits,
                       rules.credit_label, tuple(organisers), issued_on,
                       f"{verify_base_url.rstrip('/')}/{cid}", basis=rules.credit_basis)
